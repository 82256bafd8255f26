# tests/t-safety.sh: the job store's safety: two commands on one job at
# once (held at a known point by the crash-test build's hold hook), a job
# whose binary changed, stores and job directories that are not safe, rm of
# damaged jobs and leftovers, root freezing another user's job.
# Sourced by tests/run.sh (after t-crash.sh, whose crash_setup it uses).
# shellcheck shell=bash

# sf_hold PHASE TAG ARGS...: `jobfreeze-crashtest ARGS` as the test user
# with this test's store, in the background, held at PHASE (the hook of
# ckpt/crashpoint.c) until sf_release; returns once it is held there.
sf_hold() {
	local phase=$1 tag=$2 i
	shift 2
	HOLD=$TDIR/hold.$tag
	(
		timeout -k 5 "$T_DUMP" "${RUNAS[@]}" env "XDG_STATE_HOME=$TDIR/state" \
			"JOBFREEZE_HOLD_AT=$phase" "JOBFREEZE_HOLD_FILE=$HOLD" \
			"${USER_SH[@]}" "$TDIR/run" "$TDIR/$tag.out" "$TDIR/$tag.err" "$CJF" "$@"
		exit $?
	) 2>/dev/null &
	HOLD_PID=$!
	for ((i = 0; i < 200; i++)); do
		[ -e "$HOLD.held" ] && return 0
		sleep 0.05
	done
	diag "jobfreeze-crashtest $* never reached $phase"
	diag_file "its stderr" "$TDIR/$tag.err" 5
	sf_release
	return 1
}

# sf_release: lets the held command go on; its status in HOLD_ST
sf_release() {
	touch "$HOLD"
	wait "$HOLD_PID"
	HOLD_ST=$?
}

# sf_thaw_compare ID: thaws job ID; it ends as the uninterrupted run and
# leaves nothing in the store
sf_thaw_compare() {
	st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw "$1"
	if [ "$ST" != "$REFST" ]; then
		diag_file "thaw stderr" "$TDIR/thaw.err"
		fail "thaw of job $1 exited $ST, the uninterrupted run $REFST"
		return 1
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" ||
		{ fail "the thawed job's output differs from the uninterrupted run"; return 1; }
	st_store_clean "" "the thawed job left something in the store"
}

# sf_frozen: a counter job of 25 lines run a while and frozen as job 1
sf_frozen() {
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return 1; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	st_expect 0 '^frozen 1: ' "freeze" freeze "$JOB_PID" || return 1
	wait_job "$JOB_PID" 5
}

# Two freezes of one job: the second finds it held by the first, says so
# and exits 5 leaving nothing; the first freezes it.
t_sf_two_freezes() {
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	local pid=$JOB_PID left
	sf_hold dump-seized first freeze "$pid" || { fail "the first freeze was not held"; return; }
	st_expect 5 "held by another jobfreeze command" "a second freeze of a job being frozen" \
		freeze "$pid" || { sf_release; return; }
	left=$(store_entries)
	sf_release
	if [[ ! $left =~ ^\.new-[0-9]+-[A-Za-z0-9]+\ $ ]]; then
		fail "while the first freeze worked the store held '$left', not its directory alone"
		return
	fi
	if [ "$HOLD_ST" != 0 ] || ! grep -q '^frozen 1: ' "$TDIR/first.out"; then
		diag_file "first freeze's stderr" "$TDIR/first.err"
		fail "the first freeze exited $HOLD_ST"
		return
	fi
	wait_job "$pid" 5
	sf_thaw_compare 1
}

# The same race lost later: the second freeze looked before the first one
# seized the job, and finds it traced when it attaches: busy all the same.
t_sf_freeze_race() {
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	local pid=$JOB_PID
	sf_hold store-checked second freeze "$pid" || { fail "the second freeze was not held"; return; }
	local second=$HOLD_PID late=$HOLD
	sf_hold dump-seized first freeze "$pid" || { touch "$late"; wait "$second"; fail "no first freeze"; return; }
	touch "$late"
	wait "$second"
	local st=$?
	sf_release
	if [ "$st" != 5 ] || ! grep -q "held by another jobfreeze command" "$TDIR/second.err"; then
		diag_file "second freeze's stderr" "$TDIR/second.err"
		fail "the freeze that lost the race at the attach exited $st, not 5 saying why"
		return
	fi
	grep -q '^frozen 1: ' "$TDIR/first.out" ||
		{ diag_file "first freeze's stderr" "$TDIR/first.err"; fail "the first freeze exited $HOLD_ST"; return; }
	wait_job "$pid" 5
	sf_thaw_compare 1
}

# A freeze of a job while its thaw rebuilds it: busy; the thaw goes on.
t_sf_freeze_thawing() {
	sf_frozen || return
	sf_hold restore-built thaw thaw 1 || { fail "the thaw was not held"; return; }
	# the job's process as we see it: the one the restore traces
	local p job=""
	for p in $(leftovers); do
		[ "$(awk '/^TracerPid/ { print $2 }' "/proc/$p/status" 2>/dev/null)" -gt 0 ] 2>/dev/null &&
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = counter ] && job=$p
	done
	if [ -z "$job" ]; then
		diag "processes: $(for p in $(leftovers); do printf '%s(%s) ' "$p" "$(cat /proc/$p/comm)"; done)"
		sf_release
		fail "no traced counter process while the thaw was held"
		return
	fi
	st_expect 5 "held by another jobfreeze command" "a freeze of a job being thawed" freeze "$job" ||
		{ sf_release; return; }
	sf_release
	if [ "$HOLD_ST" != "$REFST" ]; then
		diag_file "thaw stderr" "$TDIR/thaw.err"
		fail "the thaw exited $HOLD_ST, the uninterrupted run $REFST"
		return
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || { fail "the thawed job's output differs"; return; }
	st_store_clean "" "the refused freeze or the thaw left something in the store"
}

# A thaw of a job that rm holds (locked, then renamed away): busy, saying
# it is being removed; rm goes on. The snapshots leave the job undisturbed.
t_sf_thaw_removing() {
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	local pid=$JOB_PID phase id=0
	st_expect 0 '^frozen 1: ' "snapshot" freeze -R "$pid" || return
	st_expect 0 '^frozen 2: ' "snapshot" freeze -R "$pid" || return
	for phase in rm-locked rm-renamed; do
		id=$((id + 1))
		sf_hold "$phase" "rm$id" rm "$id" || { fail "rm was not held at $phase"; return; }
		st_expect 5 "being thawed or removed|being removed" "a thaw of a job rm holds ($phase)" \
			thaw "$id" || { sf_release; return; }
		sf_release
		grep -q "^removed $id: " "$TDIR/rm$id.out" ||
			{ diag_file "rm stderr" "$TDIR/rm$id.err"; fail "rm held at $phase exited $HOLD_ST"; return; }
	done
	st_store_clean "" "rm left something in the store" || return
	wait_job "$pid" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || { fail "the job exited $JOB_STATUS, not $REFST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job snapshotted was disturbed"
}

# rm (and a second thaw) of a job being thawed: busy; the thaw goes on.
t_sf_rm_thawing() {
	sf_frozen || return
	sf_hold thaw-aside thaw thaw 1 || { fail "the thaw was not held"; return; }
	st_expect 5 "being thawed by another jobfreeze command" "rm of a job being thawed" rm 1 ||
		{ sf_release; return; }
	st_expect 5 "being thawed by another jobfreeze command" "a second thaw" thaw 1 ||
		{ sf_release; return; }
	sf_release
	[ "$HOLD_ST" = "$REFST" ] ||
		{ diag_file "thaw stderr" "$TDIR/thaw.err"; fail "the thaw exited $HOLD_ST, not $REFST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || { fail "the thawed job's output differs"; return; }
	st_store_clean "" "the refused rm or the thaw left something in the store"
}

# The job's binary (a copy the test owns) gone, then changed: the thaw is
# refused naming it, exit 1, the job stays frozen; with the file back it
# thaws as the uninterrupted run.
t_sf_changed_binary() {
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	REFST=$(cat "$REF.status")
	local run=$TDIR/run
	mkdir_user "$run"
	as_user cp "$WL/counter" "$run/counter" || { fail "cannot copy the workload"; return; }
	start_job "$run" "$run/out.txt" "$run/err.txt" "$run/counter" 25 ||
		{ fail "the job did not start"; return; }
	rand_sleep 300 800
	st_expect 0 '^frozen 1: ' "freeze" freeze "$JOB_PID" || return
	wait_job "$JOB_PID" 5
	as_user mv "$run/counter" "$run/counter.away"
	st_expect 1 "$run/counter.*gone" "a thaw without the job's binary" thaw 1 || return
	as_user mv "$run/counter.away" "$run/counter"
	sf_spoil_thaw "$run/counter" "the job's binary"
}

# sf_spoil_thaw FILE WHAT: FILE of frozen job 1 made a byte longer: the
# thaw is refused naming it, exit 1, the job stays listed; with FILE back
# it thaws as the uninterrupted run.
sf_spoil_thaw() {
	local file=$1 what=$2
	as_user cp -p "$file" "$file.orig"
	printf 'x' | as_user tee -a "$file" >/dev/null
	st_expect 1 "$file.*changed" "a thaw with $what changed" thaw 1 || return
	st_expect 0 '^1	' "the job is still listed" list --completion || return
	as_user mv -f "$file.orig" "$file"
	sf_thaw_compare 1
}

# The same for a library the job maps: a copy of its libc, by
# LD_LIBRARY_PATH; changed (a byte more), the thaw names it.
t_sf_changed_library() {
	local libc
	libc=$(ldd "$WL/counter" | awk '$1 == "libc.so.6" { print $3 }')
	[ -f "$libc" ] || { skip "no libc.so.6 in ldd's answer"; return; }
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	REFST=$(cat "$REF.status")
	local run=$TDIR/run
	mkdir_user "$run" "$run/lib"
	as_user cp "$libc" "$run/lib/libc.so.6" || { fail "cannot copy $libc"; return; }
	EXPECT_EXE=$WL/counter start_job "$run" "$run/out.txt" "$run/err.txt" \
		env "LD_LIBRARY_PATH=$run/lib" "$WL/counter" 25 || { fail "the job did not start"; return; }
	grep -q "$run/lib/libc.so.6" "/proc/$JOB_PID/maps" ||
		{ fail "the job does not map the copy of libc"; return; }
	rand_sleep 300 800
	st_expect 0 '^frozen 1: ' "freeze" freeze "$JOB_PID" || return
	wait_job "$JOB_PID" 5
	sf_spoil_thaw "$run/lib/libc.so.6" "a library of the job"
}

# Stores and job directories that are not safe: refused, saying why.
t_sf_unsafe_dirs() {
	local store=$TDIR/state/jobfreeze
	mkdir_user "$TDIR/run" "$TDIR/state" "$TDIR/elsewhere"
	as_user ln -s "$TDIR/elsewhere" "$store"
	st_expect 1 "not a symlink" "a store that is a symlink" list || return
	rm "$store"
	mkdir_user "$store"
	chmod 0770 "$store"
	st_expect 1 "can be written by others" "a group-writable store" list || return
	chmod 0700 "$store"
	if [ -n "$TEST_USER" ]; then
		chown root:root "$store" && chmod 0755 "$store"
		st_expect 1 "belongs to uid 0" "a store of another user" list || return
		chown "$TEST_USER:$TEST_USER" "$store" && chmod 0700 "$store"
	fi
	as_user touch "$TDIR/elsewhere/keep"
	as_user ln -s "$TDIR/elsewhere" "$store/5"
	st_expect 0 "5 is a symlink" "a job directory that is a symlink, listed" list || return
	st_expect 3 "5 is a symlink" "a job directory that is a symlink, thawed" thaw 5 || return
	as_user mkdir -m 0700 "$store/6" && chmod 0777 "$store/6"
	st_expect 0 "6 can be written by others" "a job directory others can write" list || return
	if [ -n "$TEST_USER" ]; then
		mkdir -m 0755 "$store/7"
		st_expect 0 "7 belongs to uid 0" "a job directory of another user" list || return
	fi
	st_expect 0 "^removed 5: " "rm of a symlinked job" rm 5 || return
	st_expect 0 "^removed 6: " "rm of a job others can write" rm 6 || return
	[ -z "$TEST_USER" ] || st_expect 0 "^removed 7: " "rm of a job of another user" rm 7 || return
	[ -e "$TDIR/elsewhere/keep" ] || { fail "rm of a symlinked job deleted what it pointed to"; return; }
	st_store_clean "" "rm left something in the store"
}

# rm of damaged jobs (no job.meta, a bad one) and of a job with what dead
# commands left of it: all gone. The job snapshotted goes on undisturbed.
t_sf_rm_damaged() {
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	local pid=$JOB_PID store=$TDIR/state/jobfreeze dead
	st_expect 0 '^frozen 1: ' "snapshot" freeze -R "$pid" || return
	st_expect 0 '^frozen 2: ' "snapshot" freeze -R "$pid" || return
	st_expect 0 '^frozen 3: ' "snapshot" freeze -R "$pid" || return
	rm "$store/1/job.meta"
	echo "not metadata" | as_user tee "$store/2/job.meta" >/dev/null
	st_expect 0 "1 is damaged; 'jobfreeze rm 1' deletes it" "list of a damaged job" list || return
	st_expect 0 "^removed 1: " "rm of a job without job.meta" rm 1 || return
	st_expect 0 "^removed 2: " "rm of a job with a bad job.meta" rm 2 || return
	sleep 0 &
	dead=$!
	wait $dead
	as_user cp -a "$store/3" "$store/.thawing-$dead-3"
	as_user cp -a "$store/3" "$store/.del-$dead-3"
	as_user mkdir "$store/.new-$dead-abcdef"
	st_expect 0 "^removed 3: " "rm of a job with leftovers" rm 3 || return
	st_store_clean "" "rm left something in the store" || return
	wait_job "$pid" "$T_RUN"
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job snapshotted was disturbed"
}

# What a dead command left (".new-PID-...") is swept even when PID is now
# another process's (pid_max is small, a busy machine reuses pids within
# seconds): one that started after the leftover last changed did not make
# it. What a command still at work made is kept, and what one holds locked.
t_sf_pid_reused() {
	local store=$TDIR/state/jobfreeze before after="" try
	mkdir_user "$TDIR/run"
	st "$TDIR/l.out" "$TDIR/l.err" list
	[ "$ST" = 0 ] && [ -d "$store" ] || { diag_file "list" "$TDIR/l.err"; fail "list made no store"; return; }
	# a command at work: started before what it made
	"${RUNAS[@]}" sleep 60 &
	before=$!
	other_add "$before"
	sleep 0.1
	as_user mkdir "$store/.new-$before-keep" || { fail "cannot make a leftover"; return; }
	# an entry named by a command that ended but locked by one at work
	local dead locker
	"${RUNAS[@]}" true &
	dead=$!
	wait "$dead"
	as_user mkdir "$store/.del-$dead-9" || { fail "cannot make a locked entry"; return; }
	"${RUNAS[@]}" sh -c 'exec 9<"$1" && flock 9 && exec sleep 60' sh "$store/.del-$dead-9" &
	locker=$!
	other_add "$locker"
	for ((try = 0; try < 100; try++)); do
		[ "$(cat "/proc/$locker/comm" 2>/dev/null)" = sleep ] && break
		sleep 0.05
	done
	# a leftover named by a pid that is free again, then, well after it (a
	# process that started within 2 s of an entry may be its maker: the
	# clocks compared are not exact), a process that takes that pid
	local st=0
	"${RUNAS[@]}" true &
	after=$!
	wait "$after"
	as_user mkdir "$store/.new-$after-old" || { fail "cannot make the leftover"; return; }
	sleep 2.5
	"${RUNAS[@]}" "$WL/pidwrap" "$after" sleep 60 2>"$TDIR/pidwrap.err" || st=$?
	case $st in
	0) other_add "$after" ;;	# (else the pid may be anyone's)
	2) skip "pid_max is too large to wrap the pids around in a test"; return ;;
	*) skip "$(cat "$TDIR/pidwrap.err") (a busy machine)"; return ;;
	esac
	st "$TDIR/l.out" "$TDIR/l.err" list
	[ ! -e "$store/.new-$after-old" ] ||
		{ fail "what a dead command left was kept, its pid now another process's"; return; }
	[ -d "$store/.new-$before-keep" ] || { fail "what a command still at work made was swept"; return; }
	[ -d "$store/.del-$dead-9" ] || { fail "an entry locked by a command at work was swept"; return; }
	kill "$before" "$after" "$locker" 2>/dev/null
	wait "$before" "$after" "$locker" 2>/dev/null
	st "$TDIR/l.out" "$TDIR/l.err" list
	[ ! -s "$TDIR/l.err" ] || { diag_file "list" "$TDIR/l.err"; fail "list complained of what it swept"; return; }
	[ ! -e "$store/.new-$before-keep" ] || { fail "what the ended command made was not swept"; return; }
	[ ! -e "$store/.del-$dead-9" ] || { fail "an entry no longer locked was not swept"; return; }
	as_user sh -c 'rm -rf "$1"/.new-*-old' sh "$store"
}

# Root freezing another user's job: refused without --allow-other-user
# (exit 4, saying both ways); with it, the job goes to that user's own
# store in their home (theirs, 0700), and they thaw it with jobthaw. The
# user is made for the test (the test user has no home) and deleted after
# it; one an interrupted suite left is made again.
t_sf_other_user() {
	[ -n "$TEST_USER" ] || { skip "needs root"; return; }
	local u=${TEST_USER}o ret
	# (the reference as the test user, before RUNAS is the other one's)
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	REFST=$(cat "$REF.status")
	! id -u "$u" >/dev/null 2>&1 || userdel "$u" || { fail "cannot delete the old user $u"; return; }
	useradd --system --no-create-home --home-dir "$TDIR/ohome" --shell /usr/sbin/nologin "$u" ||
		{ fail "cannot make user $u"; return; }
	sf_other_user "$u"
	ret=$?
	kill_leftovers
	userdel "$u" 2>/dev/null
	return $ret
}

sf_other_user() {
	local u=$1 home=$TDIR/ohome pid owners
	mkdir -p "$home" "$TDIR/orun" "$TDIR/bin" && chown "$u:" "$home" "$TDIR/orun" && chmod 0700 "$home"
	ln -s "$JF" "$TDIR/bin/jobthaw"
	local RUNAS=(setpriv "--reuid=$u" "--regid=$u" --clear-groups --inh-caps=-all
		     env -i "HOME=$home" "PATH=/usr/bin:/bin" "LC_ALL=C" "SHELL=/bin/sh")
	start_job "$TDIR/orun" "$TDIR/orun/out.txt" "$TDIR/orun/err.txt" "$WL/counter" 25 ||
		{ fail "the job did not start"; return; }
	pid=$JOB_PID
	rand_sleep 300 800
	# root, with a store of its own in this test
	XDG_STATE_HOME=$TDIR/rootstate "$JF" freeze "$pid" >"$TDIR/f1.out" 2>"$TDIR/f1.err"
	if [ $? != 4 ] || ! grep -q "as that user" "$TDIR/f1.err" || ! grep -q -- "--allow-other-user" "$TDIR/f1.err"; then
		diag_file "freeze stderr" "$TDIR/f1.err"
		fail "root's freeze of $u's job without --allow-other-user was not refused with exit 4"
		return
	fi
	running "$pid" || { fail "the refused freeze stopped the job"; return; }
	XDG_STATE_HOME=$TDIR/rootstate "$JF" freeze --allow-other-user "$pid" >"$TDIR/f2.out" 2>"$TDIR/f2.err"
	if [ $? != 0 ] || ! grep -q "^frozen 1: " "$TDIR/f2.out"; then
		diag_file "freeze stderr" "$TDIR/f2.err"
		fail "root's freeze --allow-other-user of $u's job failed"
		return
	fi
	wait_job "$pid" 5
	owners=$(find "$home" -mindepth 1 -printf '%u %m %y\n' | sort | uniq -c | awk '{ $1 = ""; print }' | tr '\n' ';')
	if [ "$owners" != " $u 600 f; $u 700 d;" ]; then
		diag "in $home: $(find "$home" -mindepth 1 -printf '%p %u %m\n')"
		fail "the store made by root is not all $u's (0700 directories, 0600 files): '$owners'"
		return
	fi
	[ -z "$(ls -A "$TDIR/rootstate/jobfreeze" 2>/dev/null | grep -v '^\.')" ] ||
		{ fail "root's own store got the job too"; return; }
	(
		timeout -k 5 "$T_RESTORE" "${RUNAS[@]}" "${USER_SH[@]}" "$TDIR/orun" "$TDIR/orun/thaw.out" \
			"$TDIR/orun/thaw.err" "$TDIR/bin/jobthaw" 1
		exit $?
	) 2>/dev/null
	local st=$?
	if [ "$st" != "$REFST" ]; then
		diag_file "jobthaw stderr" "$TDIR/orun/thaw.err"
		fail "$u's jobthaw of the job root froze exited $st, not $REFST"
		return
	fi
	same_file "$REF.out" "$TDIR/orun/out.txt" "stdout" || { fail "the thawed job's output differs"; return; }
	local left
	left=$(ls -A "$home/.local/state/jobfreeze" | grep -v -e '^\.last-id$' -e '^\.warned$')
	[ -z "$left" ] || { fail "$u's store holds '$left' after the thaw"; return; }
}

run_test "safety: two freezes of one job at once"          t_sf_two_freezes
run_test "safety: two freezes, the second losing at the attach" t_sf_freeze_race
run_test "safety: a freeze of a job being thawed"          t_sf_freeze_thawing
run_test "safety: a thaw of a job being removed"           t_sf_thaw_removing
run_test "safety: rm and thaw of a job being thawed"       t_sf_rm_thawing
run_test "safety: a thaw after the job's binary changed"   t_sf_changed_binary
run_test "safety: a thaw after a library of the job changed" t_sf_changed_library
run_test "safety: unsafe store and job directories"        t_sf_unsafe_dirs
run_test "safety: rm of damaged jobs and leftovers"        t_sf_rm_damaged
run_test "safety: leftovers swept though their pid is reused" t_sf_pid_reused
run_test "safety: root freezes another user's job"         t_sf_other_user
