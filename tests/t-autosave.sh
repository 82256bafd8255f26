# tests/t-autosave.sh: periodic snapshots of a running job (`freeze
# --every`): taken, the newest kept, the job's state back from the newest
# after a crash (the autosaver and the job killed), a full disk that spares
# the previous snapshot, the snapshots gone with a job that ends, bad
# periods refused. (The D-Bus Freeze with every/keep: tests/t-dbus.sh.)
# Sourced by tests/run.sh.
# shellcheck shell=bash

AS_STORE=""	# the test's store: $TDIR/state/jobfreeze

# as_snapshots: the numbers of the snapshots in the store, one line each
# (read as root from the metadata: no command of the store runs meanwhile)
as_snapshots() {
	cat "$TDIR/state/jobfreeze"/[0-9]*/job.meta 2>/dev/null | sed -n 's/^snapshot=//p' | sort -n
}

# as_field ID KEY: a field of autosave ID's record
as_field() {
	sed -n "s/^$2=//p" "$TDIR/state/jobfreeze/.autosave-$1" 2>/dev/null
}

# as_start ARGS...: `freeze --every ARGS`, as the test user; AS_ID is the
# autosave's id, AS_PID its autosaver's pid
as_start() {
	st_expect 0 '^autosave [0-9]+: snapshot 1 of ' "the autosave did not start" freeze "$@" || return
	AS_ID=$(sed -n 's/^autosave \([0-9]*\): .*/\1/p' "$TDIR/st.out")
	AS_PID=$(as_field "$AS_ID" pid)
	[ -n "$AS_PID" ] && alive "$AS_PID" || { fail "no autosaver runs (record pid '$AS_PID')"; return; }
	other_add "$AS_PID"
}

# as_wait_for N SECS: until snapshot N is taken; fails if the store ever
# held more than AS_KEEP snapshots meanwhile
as_wait_for() {
	local want=$1 i n newest
	for ((i = 0; i < $2 * 10; i++)); do
		n=$(as_snapshots | wc -l)
		[ "$n" -le "$AS_KEEP" ] || { fail "the store holds $n snapshots, more than $AS_KEEP kept"; return; }
		newest=$(as_snapshots | tail -n 1)
		[ "${newest:-0}" -ge "$want" ] && return 0
		sleep 0.1
	done
	diag_file "autosave.log" "$TDIR/state/jobfreeze/autosave.log" 10
	fail "snapshot $want was not taken in $2 s (the newest: ${newest:-none})"
}

# as_crash PID: the machine "crashes": the autosaver, then the job, killed
as_crash() {
	kill -KILL "$AS_PID" 2>/dev/null
	kill -KILL "$1" 2>/dev/null
	wait_gone "$1" 5
	local i
	for ((i = 0; i < 50; i++)); do
		alive "$AS_PID" || return 0
		sleep 0.1
	done
	fail "the autosaver $AS_PID survived SIGKILL"
}

# as_thaw_compare KEY: thaw KEY (the job told to stop first) and compare
# with an uninterrupted run stopped where it stopped
as_thaw_compare() {
	tell_stop
	st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw "$1"
	ref_stopped || return 1
	if [ "$ST" != "$REFST" ]; then
		diag_file "thaw stderr" "$TDIR/thaw.err"
		fail "thaw $1 exited $ST, the uninterrupted run $REFST"
		return
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job thawed from its autosave differs"
}

# Every second, two kept; a "crash"; jobthaw ID gives the job back from the
# newest snapshot, as it would have gone on.
t_autosave_crash() {
	AS_KEEP=2
	start_again cpuloop 200 400 "$WL/cpuloop" || return 1
	local pid=$JOB_PID newest
	as_start --every 1 --keep 2 "$pid" || return
	runs_on "$pid" || { fail "the job does not run on after its first snapshot"; return; }
	as_wait_for 3 30 || return
	st_expect 0 "^$AS_ID +autosave every 1s, the newest 2 kept: next in .*; [12] snapshots?" \
		"list shows the autosave" list || return
	st_expect 0 "^$AS_ID@[0-9]+ .*cpuloop.*newest" "list shows its snapshots" list || return
	# a thaw while the job runs would run it twice
	st_expect 5 "still runs \\(process $pid\\).*'jobfreeze $pid' freezes it for real" \
		"a thaw of a running job's autosave" thaw "$AS_ID" || return
	runs_on "$pid" || { fail "the refused thaw disturbed the job"; return; }
	as_crash "$pid" || return
	newest=$(as_snapshots | tail -n 1)
	st_expect 0 "^$AS_ID +autosave .*interrupted" "list after the crash" list || return
	st_expect 0 "^id: .*" "show ID@N of the newest" show "$AS_ID@$newest" || return
	as_thaw_compare "$AS_ID" || return
	# the older snapshot and the record went with the thaw
	st_store_clean "autosave.log" "the thawed autosave left something in the store"
}

# A full disk during a snapshot: the snapshot fails, the previous one stays
# whole and thaws.
t_autosave_fulldisk() {
	[ -n "$TEST_USER" ] || { skip "needs root to mount a small tmpfs"; return; }
	mkdir_user "$TDIR/state"
	mount -t tmpfs -o size=4m,mode=0700 jftest-asfull "$TDIR/state" ||
		{ skip "cannot mount a tmpfs here"; return; }
	chown "$TEST_USER:$TEST_USER" "$TDIR/state"
	AS_PID=""
	as_fulldisk
	local r=$?
	[ -z "$AS_PID" ] || kill -KILL "$AS_PID" 2>/dev/null
	umount "$TDIR/state" 2>/dev/null || umount -l "$TDIR/state"
	return $r
}

as_fulldisk() {
	AS_KEEP=2
	start_again cpuloop 200 400 "$WL/cpuloop" || return 1
	local pid=$JOB_PID before i err
	as_start --every 1 --keep 2 "$pid" || return
	as_wait_for 2 30 || return
	# the disk fills up (as the user: no reserve of root's)
	as_user dd if=/dev/zero of="$TDIR/state/fill" bs=64k status=none 2>/dev/null
	before=$(as_snapshots | tr '\n' ' ')
	for ((i = 0; i < 300; i++)); do
		err=$(as_field "$AS_ID" error)
		[ -n "$err" ] && break
		sleep 0.1
	done
	[ -n "$err" ] || { fail "no snapshot failed on the full disk in 30 s"; return; }
	diag "the snapshot failed: $err"
	case $err in
	*"No space"*|*full*) ;;
	*) fail "the failure does not say the disk is full: $err"; return ;;
	esac
	runs_on "$pid" || { fail "the job does not run on after the failed snapshot"; return; }
	alive "$AS_PID" || { fail "the autosaver ended with the failed snapshot"; return; }
	# (a snapshot may have been taken between the fill and the failure)
	[ "$(as_snapshots | wc -l)" -ge 1 ] || { fail "no snapshot left after the failed one"; return; }
	st_expect 0 "the last snapshot failed: .*(No space|full)" "list says the snapshot failed" \
		list || return
	as_crash "$pid" || return
	rm -f "$TDIR/state/fill"
	diag "snapshots before the failure: $before; after: $(as_snapshots | tr '\n' ' ')"
	as_thaw_compare "$AS_ID"
}

# A job that ends: its autosave ends, its snapshots are deleted.
t_autosave_job_ends() {
	AS_KEEP=2
	start_again counter25 100 300 "$WL/counter" 25 || return 1
	local pid=$JOB_PID i
	as_start --every 1 --keep 2 "$pid" || return
	as_wait_for 2 30 || return
	wait_job "$pid" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || { fail "the job exited $JOB_STATUS, expected $REFST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || { fail "the snapshots disturbed the job"; return; }
	for ((i = 0; i < 100; i++)); do
		alive "$AS_PID" || break
		sleep 0.1
	done
	alive "$AS_PID" && { fail "the autosaver runs on after its job ended"; return; }
	grep -q "ended: its snapshots are of no use any more; [0-9]* deleted" \
		"$TDIR/state/jobfreeze/autosave.log" ||
		{ diag_file "autosave.log" "$TDIR/state/jobfreeze/autosave.log"; fail "the log does not say why"; return; }
	st_store_clean "autosave.log" "the snapshots of an ended job are left"
}

# Stopped on request, its snapshots kept; rm of the autosave deletes them.
t_autosave_stop_rm() {
	AS_KEEP=3
	start_again cpuloop 100 300 "$WL/cpuloop" || return 1
	local pid=$JOB_PID
	as_start --every 1 "$pid" || return
	as_wait_for 2 30 || return
	st_expect 0 "^stopped autosave $AS_ID" "autosave --stop" autosave --stop "$AS_ID" || return
	alive "$AS_PID" && { fail "the autosaver runs on after --stop"; return; }
	st_expect 0 "^$AS_ID: autosave every 1s, the newest 3 kept: stopped" "autosave lists it stopped" \
		autosave || return
	[ "$(as_snapshots | wc -l)" -ge 2 ] || { fail "--stop deleted the snapshots"; return; }
	st_expect 0 "^removed $AS_ID: autosave, [0-9]+ snapshots" "rm of the autosave" rm "$AS_ID" || return
	st_store_clean "autosave.log" "rm of an autosave left something" || return
	ends_undisturbed "$pid" "the snapshots disturbed the job"
}

# A snapshot that gives up on a process waiting in vfork() (after 3 s)
# cannot let it go then (a task is let go only once stopped, and it stops
# only when its vfork ends). The autosaver lives on: it must let it go
# once it stops, else the process stays stopped, traced, and every later
# snapshot fails. The snapshots then go on; the newest thaws as the job
# would have gone on.
t_autosave_vfork() {
	AS_KEEP=2
	STOP_REF=(cpuloop "$WL/cpuloop") REF="" REFST=""
	mkdir_user "$TDIR/run"
	EXPECT_EXE=$WL/cpuloop start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" \
		"$WL/unfreezable" vforklater "$WL/cpuloop" || { fail "the job did not start"; return; }
	local pid=$JOB_PID child="" s i newest
	rand_sleep 300 600
	child=$(cat /proc/"$pid"/task/*/children 2>/dev/null)
	[ -n "$child" ] || { fail "the job's child is missing"; return; }
	as_start --every 1 --keep 2 "$pid" || return
	as_user touch "$TDIR/run/vfork"
	for ((i = 0; i < 300; i++)); do
		grep -q "failed.*is in vfork()" "$TDIR/state/jobfreeze/autosave.log" 2>/dev/null && break
		sleep 0.1
	done
	grep -q "failed.*is in vfork()" "$TDIR/state/jobfreeze/autosave.log" ||
		{ diag_file "autosave.log" "$TDIR/state/jobfreeze/autosave.log"; fail "no snapshot gave up on the vfork()"; return; }
	newest=$(as_snapshots | tail -n 1)
	as_user touch "$TDIR/run/vforkend"
	# its vfork over, the child exits (a zombie: the job does not collect it)
	for ((i = 0; i < 50; i++)); do
		s=$(proc_state "$child")
		[ -z "$s" ] || [ "$s" = Z ] && break
		sleep 0.1
	done
	if [ -n "$s" ] && [ "$s" != Z ]; then
		diag "process $child: state $s, $(grep TracerPid /proc/"$child"/status 2>/dev/null)"
		fail "the process a snapshot gave up on did not go on after its vfork() (state $s)"
		return
	fi
	as_wait_for $((newest + 1)) 30 || return
	as_crash "$pid" || return
	as_thaw_compare "$AS_ID"
}

# Bad periods and counts, named.
t_autosave_args() {
	mkdir_user "$TDIR/run"
	st_expect 2 "--every takes a period .* not '0'" "--every 0" freeze --every 0 12345 || return
	st_expect 2 "--every takes a period .* not 'garbage'" "--every garbage" \
		freeze --every garbage 12345 || return
	st_expect 2 "--every takes a period .* not '10x'" "--every 10x" freeze -R --every 10x 12345 || return
	st_expect 2 "--every takes a period .* not '-5'" "--every -5" freeze --every=-5 12345 || return
	st_expect 2 "--keep takes a number .* not '0'" "--keep 0" freeze --every 1 --keep 0 12345 || return
	st_expect 2 "--keep .* give --every too" "--keep alone" freeze -R --keep 2 12345 || return
	st_expect 2 "--every autosaves one job" "--every of two pids" freeze --every 1m 12345 12346 || return
	st_expect 2 "--every autosaves one job" "--every with --tmux" freeze --every 1m --tmux || return
	st_expect 3 "no process 999999" "--every of no process" freeze --every 1m 999999 || return
	st_store_clean "" "a refused autosave left something"
}

run_test "autosave: snapshots every 1s, 2 kept, thawed after a crash" t_autosave_crash
run_test "autosave: a full disk spares the previous snapshot" t_autosave_fulldisk
run_test "autosave: ends with its job, snapshots deleted" t_autosave_job_ends
run_test "autosave: --stop keeps the snapshots, rm deletes them" t_autosave_stop_rm
run_test "autosave: a process a snapshot gave up on in vfork() goes on" t_autosave_vfork
run_test "autosave: bad --every and --keep refused" t_autosave_args
