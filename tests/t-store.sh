# tests/t-store.sh: the job store without a shell: freeze, list, show, rm,
# thaw; names and ids; every refusal with its exit status; two thaws at
# once; a job that had a terminal thawed where there is none.
# Sourced by tests/run.sh.

# A counter job of N lines in $TDIR/run (N = 0: endless, no reference run),
# started and let run a while.
st_counter() {
	if [ "$1" != 0 ]; then
		reference "counter$1" "$WORK/ref/counter$1.d" "$WL/counter" "$1" || return 1
		REFST=$(cat "$REF.status")
	fi
	mkdir_user "$TDIR/run"
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$WL/counter" "$1" ||
		{ fail "the job did not start"; return 1; }
	rand_sleep 300 1000
}

t_store_cycle() {
	st_counter 25 || return
	local pid=$JOB_PID perms
	st_expect 0 '^frozen 1: .*counter 25  \(1 process, ' "freeze by pid" freeze "$pid" || return
	wait_job "$pid" 5
	[ "$JOB_STATUS" = 137 ] || { fail "the frozen job was not ended (status $JOB_STATUS)"; return; }
	st_expect 0 '"id":"1".*"had_tty":false.*"processes":1,"state":"running"' "list --json" \
		list --json || return
	st_expect 0 'command: +.*counter 25' "show" show 1 || return
	perms=$(stat -c '%a %U' "$TDIR/state/jobfreeze" "$TDIR/state/jobfreeze/1" \
		"$TDIR/state/jobfreeze/1"/* | sort -u | tr '\n' ' ')
	if [ "$perms" != "600 ${TEST_USER:-$(id -un)} 700 ${TEST_USER:-$(id -un)} " ]; then
		fail "the store's modes and owners are '$perms', not 0700 directories and 0600 files"
		return
	fi
	# (the job writes on to out.txt through its own fd)
	st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw 1
	if [ "$ST" != "$REFST" ]; then
		diag_file "thaw stderr" "$TDIR/thaw.err"
		fail "thaw exited $ST, the uninterrupted run $REFST"
		return
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || return
	st_store_clean "" "the thawed job's images were not deleted" || return
	st_expect 3 "no frozen job '1'" "show of a thawed job" show 1
}

t_store_errors() {
	st_counter 0 || return
	local pid=$JOB_PID
	st_expect 0 '^frozen 1: ' "snapshot with --name" freeze -R --name scan "$pid" || return
	running "$pid" || { fail "freeze -R did not leave the job running"; return; }
	st_expect 0 '^1:scan ' "list shows the name" list || return
	st_expect 2 "already named 'scan'" "a name taken twice" freeze -R --name scan "$pid" || return
	st_expect 2 "cannot name a job" "a number as a name" freeze -R --name 42 "$pid" || return
	st_expect 2 "cannot name a job" "a name with a slash" freeze -R --name a/b "$pid" || return
	st_expect 3 "no process 999999" "a pid that does not exist" freeze 999999 || return
	st_expect 4 "system's init" "pid 1" freeze 1 || return
	if [ -n "$TEST_USER" ]; then
		st_expect 4 "belongs to uid 0" "a process of another user" freeze "$$" || return
	fi
	st_expect 2 "shell integration" "a job spec without the shell integration" freeze %1 || return
	st_expect 2 "not a process id" "a bad pid" freeze 12abc || return
	st_expect 3 "no frozen job '../1'" "an id with .." show ../1 || return
	st_expect 3 "no frozen job 'nosuch'" "thaw of an unknown job" thaw nosuch || return
	st_expect 3 "no frozen job '7'" "rm of an unknown job" rm 7 || return
	st_expect 2 "one job id" "thaw with two ids" thaw 1 2 || return
	st_expect 0 '^removed 1: ' "rm by name" rm scan || return
	st_store_clean "" "rm left something behind" || return
	st_expect 0 '^frozen 2: ' "ids are not reused" freeze "$pid" || return
	wait_job "$pid" 5
	st_expect 0 '^removed 2: ' "rm by id" rm 2
}

# Two thaws of one job at once: one runs it, the other says why not.
t_store_two_thaws() {
	st_counter 25 || return
	st_expect 0 '^frozen 1: ' "freeze" freeze "$JOB_PID" || return
	wait_job "$JOB_PID" 5
	( st "$TDIR/a.out" "$TDIR/a.err" thaw 1; exit "$ST" ) &
	local a=$!
	st "$TDIR/b.out" "$TDIR/b.err" thaw 1
	local stb=$ST sta
	wait $a
	sta=$?
	if [ "$sta" != 0 ] && [ "$stb" != 0 ]; then
		fail "neither thaw ran the job ($sta, $stb)"
		return
	fi
	local loser=$TDIR/b.err
	[ "$stb" = 0 ] && loser=$TDIR/a.err
	if [ "$sta" = "$stb" ] || ! grep -Eq "being thawed|just thawed|no frozen job" "$loser"; then
		diag "statuses $sta and $stb; the other said: $(cat "$loser")"
		fail "the second thaw did not say why it did not run"
		return
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout"
}

# A refused freeze leaves the job running and nothing in the store.
t_store_refused() {
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	# sleep holds a pipe whose other end the test keeps: outside the job
	exec {keep}> >(exec sleep 60)
	other_add "$!"
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$WL/cpuloop" ||
		{ fail "the job did not start"; exec {keep}>&-; return; }
	local pid=$JOB_PID
	exec {keep}>&-
	# a job of two processes, one with a pipe from outside
	st_expect 1 "not frozen and goes on running" "a refused freeze" freeze -R "$pid" || return
	running "$pid" || { fail "the job is not running after a refused freeze"; return; }
	st_store_clean "" "a refused freeze left something in the store" || return
	tell_stop
	wait_job "$pid" "$T_RUN"
	ref_stopped || return
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout"
}

# A job that ran on a terminal cannot be thawed where there is none; with
# --new-pty it gets one, relayed to the thaw's input and output.
t_store_no_tty() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return 77; }
	mkdir_user "$TDIR/run"
	tmux_cat_job 80 20 || return
	local tm=("${TM[@]}") pid=$CAT_PID
	st_expect 0 '^frozen 1: cat -n ' "freeze of a job on a terminal" freeze "$pid" ||
		{ as_user "${tm[@]}" kill-server; return; }
	as_user "${tm[@]}" kill-server 2>/dev/null
	st_expect 0 '"tty":"/dev/pts/[0-9]+","had_tty":true' "list --json names its terminal" list --json ||
		return
	st_expect 2 "ran on a terminal.*--new-pty" "a thaw without a terminal" thaw 1 || return
	st_store_clean "1" "the refused thaw did not keep the images" || return
	printf 'line after\n\004' >"$TDIR/run/input"
	chmod 0644 "$TDIR/run/input"
	(
		timeout -k 5 "$T_RESTORE" "${RUNAS[@]}" env "XDG_STATE_HOME=$TDIR/state" \
			/bin/sh -c 'cd "$1" && exec "$2" thaw --new-pty 1 <input >relayed 2>thaw.err' \
			sh "$TDIR/run" "$JF"
	) 2>/dev/null
	ST=$?
	if [ "$ST" != 0 ] || ! grep -Eq '^ +2[[:space:]]+line after' "$TDIR/run/relayed"; then
		diag "thaw --new-pty exited $ST; relayed: $(cat -A "$TDIR/run/relayed" | head -5)"
		diag_file "thaw stderr" "$TDIR/run/thaw.err"
		fail "cat -n did not go on in a new terminal"
		return
	fi
	st_store_clean "" "the thawed job's images were not deleted"
}

# --tty PATH: the job is given another terminal (a tmux window's), from a
# command that has none.
t_store_tty_path() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return 77; }
	local tty screen
	mkdir_user "$TDIR/run"
	tmux_cat_job 80 20 || return
	local tm=("${TM[@]}") pid=$CAT_PID
	as_user "${tm[@]}" new-window -d -t t:1 "exec sleep 60"
	tty=$(as_user "${tm[@]}" display-message -p -t t:1 '#{pane_tty}')
	st_expect 0 '^frozen 1: cat -n ' "freeze of a job on a terminal" freeze "$pid" ||
		{ as_user "${tm[@]}" kill-server; return; }
	( st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw --tty "$tty" 1; echo "$ST" >"$TDIR/thaw.st" ) &
	local thaw=$!
	sleep 1
	as_user "${tm[@]}" send-keys -t t:1 'line after' Enter
	sleep 0.3
	as_user "${tm[@]}" send-keys -t t:1 C-d
	wait $thaw
	screen=$(as_user "${tm[@]}" capture-pane -p -t t:1)
	as_user "${tm[@]}" kill-server
	if [ "$(cat "$TDIR/thaw.st")" != 0 ] || ! grep -Eq '^ +2[[:space:]]+line after$' <<<"$screen"; then
		diag "thaw --tty exited $(cat "$TDIR/thaw.st"); the window shows: $screen"
		diag_file "thaw stderr" "$TDIR/thaw.err"
		fail "cat -n did not go on in the terminal given by --tty"
	fi
}

# The store's commands under valgrind: no error, no leak, in any process
# they fork (a restore's starter and init too).
t_store_valgrind() {
	command -v valgrind >/dev/null || { skip "valgrind is not installed"; return 77; }
	if ldd "$JF" | grep -q libasan; then
		skip "sanitizer build: valgrind cannot run it"
		return 77
	fi
	# (a job that runs until told to stop: valgrind's start under load may
	# outlast any fixed amount of work)
	start_again cpuloop 300 1000 "$WL/cpuloop" || return
	local jf_bin=$JF pid=$JOB_PID cmd
	JF=valgrind
	local vg=(-q --leak-check=full --errors-for-leak-kinds=definite "$jf_bin")
	local ok=0
	: >"$TDIR/vg.err"
	st_expect 0 '^frozen 1: ' "freeze under valgrind" "${vg[@]}" freeze --name vg "$pid" || ok=1
	cat "$TDIR/st.err" >>"$TDIR/vg.err"
	[ $ok = 0 ] && { st_expect 0 '"name":"vg"' "list under valgrind" "${vg[@]}" list --json || ok=1; }
	cat "$TDIR/st.err" >>"$TDIR/vg.err"
	[ $ok = 0 ] && { st_expect 0 'command:' "show under valgrind" "${vg[@]}" show vg || ok=1; }
	cat "$TDIR/st.err" >>"$TDIR/vg.err"
	wait_job "$pid" 5
	tell_stop
	[ $ok = 0 ] && st "$TDIR/thaw.out" "$TDIR/thaw.err" "${vg[@]}" thaw vg
	JF=$jf_bin
	[ $ok = 0 ] || return
	ref_stopped || return
	[ "$ST" = "$REFST" ] || { diag_file "thaw" "$TDIR/thaw.err" 20; fail "thaw under valgrind exited $ST"; return; }
	if grep -Eq '^==[0-9]+==' "$TDIR/thaw.err" "$TDIR/vg.err"; then
		diag "$(grep -hE -A5 '^==[0-9]+==' "$TDIR/thaw.err" "$TDIR/vg.err" | head -20)"
		fail "valgrind found errors in the store's commands"
		return
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout"
}

# The note on images and secrets: at the first dump or freeze, then never.
t_store_note_once() {
	st_counter 0 || return
	local pid=$JOB_PID
	st_expect 0 "images hold its memory, passwords" "the first dump's note" \
		dump -R -t "$pid" -D "$TDIR/run/img1" || return
	st "$TDIR/st.out" "$TDIR/st.err" freeze -R "$pid"
	if [ "$ST" != 0 ] || grep -q "passwords" "$TDIR/st.err"; then
		diag "freeze exited $ST: $(cat "$TDIR/st.err")"
		fail "the note was said twice, or the freeze failed"
		return
	fi
	kill -KILL "$pid" 2>/dev/null
	wait_job "$pid" 5
}

# A dump whose HOME the user cannot write (root's HOME kept by setpriv) or
# that has none: the note cannot be remembered, which is no error; the
# dump works, says the note (each time) and no "error".
t_store_note_nohome() {
	st_counter 0 || return
	local pid=$JOB_PID home=$TDIR/rohome ok=0 n=0 e st
	mkdir_user "$home"
	chmod 0555 "$home"
	for e in "HOME=$home" "-u HOME" "HOME=$home"; do
		n=$((n + 1))
		# shellcheck disable=SC2086
		(cd "$TDIR" && timeout -k 5 "$T_DUMP" "${RUNAS[@]}" env $e "$JF" dump -R -t "$pid" \
			-D "$TDIR/img$n" >"$TDIR/d$n.out" 2>"$TDIR/d$n.err")
		st=$?
		if [ $st != 0 ] || [ ! -f "$TDIR/img$n/inventory.img" ] || grep -q "error:" "$TDIR/d$n.err" ||
		   ! grep -q "images hold its memory, passwords" "$TDIR/d$n.err"; then
			diag "dump -R with env $e exited $st, saying:"
			diag "$(cat "$TDIR/d$n.err")"
			ok=1
		fi
	done
	kill -KILL "$pid" 2>/dev/null
	wait_job "$pid" 5
	[ $ok = 0 ] || fail "a dump without a writable home said an error or no note"
}

run_test "store: freeze, list, show, thaw by id"        t_store_cycle
run_test "store: the note on secrets is said once"      t_store_note_once
run_test "store: the note without a writable home, no error" t_store_note_nohome
run_test "valgrind: the store's commands clean"         t_store_valgrind
run_test "store: thaw --tty PATH gives the job that terminal" t_store_tty_path
run_test "store: names, ids and every refusal"          t_store_errors
run_test "store: two thaws of one job at once"          t_store_two_thaws
run_test "store: a refused freeze leaves the job running" t_store_refused
run_test "store: a terminal job without a terminal, --new-pty" t_store_no_tty
