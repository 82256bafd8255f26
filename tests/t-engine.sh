# tests/t-engine.sh: the engine's kernel objects beyond memory and files:
# unix sockets, file locks (sourced by tests/run.sh, sharing its helpers).
# shellcheck shell=bash

# a client and its forked server over stream, datagram and seqpacket
# socketpairs, with messages waiting in both directions when frozen
t_sockpair() { freeze_thaw sockpair 0 300 1500 "$WL/sockpair"; }

run_test "freeze/thaw socketpairs across fork, queued both ways" t_sockpair

# python asyncio: its event loop wakes itself through a socketpair
t_asyncio() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw aio.py 0 300 1800 "$PYTHON" "$PYDIR/aio.py"
}
run_test "freeze/thaw a python asyncio loop" t_asyncio

# an fd in flight (sent with SCM_RIGHTS, not received yet) is refused
t_dump_inflight() {
	refused_cpuloop "an fd in flight" "in flight" '
import os, socket, sys
a, b = socket.socketpair()
socket.send_fds(a, [b"x"], [1])
os.set_inheritable(a.fileno(), True)
os.set_inheritable(b.fileno(), True)'
}
run_test "dump refuses a socket with an fd in flight" t_dump_inflight

# flock, POSIX and OFD locks held across the freeze: a checker process the
# job forks every 100 ms sees them held, by the same pid, before and after
t_locks() {
	freeze_thaw locker 0 300 1500 "$WL/locker" || return 1
	[ ! -e "$TDIR/run/lock.dat" ] || fail "the thawed job did not finish its rounds"
}
run_test "freeze/thaw flock, POSIX and OFD locks" t_locks

# a snapshot (dump -R) of the lock holder cannot be thawed while the
# original still holds the locks: the restore says so and nothing runs
t_locks_taken() {
	start_again locker 300 800 "$WL/locker" || return 1
	local pid=$JOB_PID
	dump_job "$pid" "$TDIR/img" -R || return 1
	jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] || ! grep -q "another process holds it now" "$TDIR/r.err"; then
		diag_file "restore stderr" "$TDIR/r.err"
		fail "restore of a lock taken by another process exited $JF_STATUS"
		return
	fi
	wait_job "$pid" "$T_RUN"
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the original job was disturbed"
}
run_test "thaw refused while the lock is held elsewhere" t_locks_taken
