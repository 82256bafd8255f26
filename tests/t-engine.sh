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
