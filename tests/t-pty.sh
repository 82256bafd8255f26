# tests/t-pty.sh: pseudo-terminals the job runs itself (ckpt/pty.c) come
# back as they were: numbers, settings, modes, the bytes waiting both
# ways, the sessions they are the terminals of; script(1), python's pty
# module and expect give what an uninterrupted run gives, byte for byte.
# Sourced by tests/run.sh.
# shellcheck shell=bash

# ptys of every kind in one job (tests/workloads/ptys.c): its report after
# the thaw is the uninterrupted run's
t_pty_kinds() { freeze_thaw ptys 0 300 2000 "$WL/ptys"; }
run_test "pty: numbers, settings, modes, queued bytes and a session come back" t_pty_kinds

# a snapshot (-R) copies what waits in the ptys and puts it back: the job
# goes on as if untouched, and the snapshot thaws the same (told to stop
# where the job stopped)
t_pty_snapshot() {
	start_again ptys 300 2000 "$WL/ptys" || return 1
	local pid=$JOB_PID n
	alive "$pid" || { fail "the job ended before it could be frozen"; return; }
	dump_job "$pid" "$TDIR/img" -R || return 1
	tell_stop
	wait_job "$pid" "$T_RUN"
	ref_stopped || return 1
	[ "$JOB_STATUS" = "$REFST" ] || { fail "the job went on and exited $JOB_STATUS"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout after a snapshot" ||
		{ fail "the job snapshotted with -R differs from the uninterrupted run"; return; }
	# the snapshot is told to stop where the job did
	n=$(sed -n 's/^.*: stopped after \([0-9][0-9]*\) [a-z]*$/\1/p' "$TDIR/run/out.txt" | tail -n 1)
	rm -f "$TDIR/run/out.txt" "$TDIR/run/stop"
	as_user touch "$TDIR/run/out.txt"
	as_user sh -c 'echo "$1" >"$2"' sh "$n" "$TDIR/run/stop"
	thaw_compare "$TDIR/img" >/dev/null
	# (the thawed job writes on at its offset, after what it had printed)
	tail -c +7 "$TDIR/run/out.txt" >"$TDIR/thawed.txt"
	tail -c +7 "$REF.out" >"$TDIR/ref.txt"
	same_file "$TDIR/ref.txt" "$TDIR/thawed.txt" "the snapshot's stdout" ||
		fail "the snapshot thawed differs from the uninterrupted run"
}
run_test "pty: a snapshot (-R) leaves the ptys as they were" t_pty_snapshot

# frozen, thawed detached, frozen again from outside (its ptys now in the
# thaw's own devpts), thawed again
t_pty_twice() {
	start_again ptys 200 600 "$WL/ptys" || return 1
	freeze_twice "$JOB_PID" 200 600 || return 1
	tell_stop
	thaw_compare "$TDIR/img2" || fail "the job frozen twice differs from the uninterrupted run"
}
run_test "pty: ptys frozen twice" t_pty_twice

# script(1) running a job in its pty: its output and its log (but the
# lines with the date) are the uninterrupted run's
t_pty_script() {
	command -v script >/dev/null || { skip "script (util-linux) is not installed"; return; }
	local job='for i in $(seq 60); do echo "line $i"; sleep 0.05; done; echo done'
	freeze_thaw script 0 300 1500 "$(command -v script)" -q -c "$job" log.txt || return 1
	grep -v '^Script \(started\|done\) on ' "$WORK/ref/script.d/log.txt" >"$TDIR/ref.log"
	grep -v '^Script \(started\|done\) on ' "$TDIR/run/log.txt" >"$TDIR/run.log"
	same_file "$TDIR/ref.log" "$TDIR/run.log" "the typescript" ||
		fail "script's log differs from the uninterrupted run's"
}
run_test "pty: script -c 'job' log, output and log" t_pty_script

# python's pty.fork() driving an interactive child line by line
t_pty_python() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw ptypy 0 300 1500 "$PYTHON" "$PYDIR/ptypy.py"
}
run_test "pty: python's pty module drives a child" t_pty_python

# expect driving an interactive sh
t_pty_expect() {
	command -v expect >/dev/null || { skip "expect is not installed"; return; }
	freeze_thaw ptyexpect 0 300 1500 "$(command -v expect)" "$PYDIR/ptyexpect.exp"
}
run_test "pty: expect drives an interactive sh" t_pty_expect

# Kept refusals: a pty of the job that a process outside it has open, or
# whose session is outside it, would be cut off from that process.
# pty_refused WHAT PATTERN CODE: the job holds a pty's master; CODE runs in
# an orphan (outside the job), with the slave S, and lives as long as the job
pty_refused() {
	refused_cpuloop "$1" "$2" "
import fcntl, os, sys, termios, time$UNTIL_GONE
m, s = os.openpty()
job = os.getpid()
if os.fork() == 0:
    if os.fork() == 0:
        os.close(m)
$3
        until_gone(job)
    os._exit(0)
os.wait()
os.close(s)
os.set_inheritable(m, True)" || return
	orphans_gone
}

t_pty_refused_holder() {
	pty_refused "a pty open outside the job" "open in process [0-9]+, outside the job" \
		"        pass"
}
run_test "pty: dump refuses a pty open outside the job" t_pty_refused_holder

t_pty_refused_session() {
	pty_refused "a pty that is the terminal of a session outside the job" \
		"controlling terminal of session [0-9]+, outside the job" "
        os.setsid()
        fcntl.ioctl(s, termios.TIOCSCTTY, 0)
        os.close(s)"
}
run_test "pty: dump refuses a pty that is another session's terminal" t_pty_refused_session
