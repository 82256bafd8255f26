# tests/t-engine.sh: the engine's kernel objects beyond memory and files:
# unix sockets, file locks (sourced by tests/run.sh, sharing its helpers).
# shellcheck shell=bash

# a client and its forked server over stream, datagram and seqpacket
# socketpairs, with messages waiting in both directions when frozen
t_sockpair() { freeze_thaw sockpair 0 300 800 "$WL/sockpair"; }
# a file and /dev/null sent over a socketpair, frozen before they are received
t_passfd() { freeze_thaw passfd 0 300 1400 "$WL/passfd"; }

run_test "freeze/thaw socketpairs across fork, queued both ways" t_sockpair
run_test "freeze/thaw files in flight in a unix socket (SCM_RIGHTS)" t_passfd

# python asyncio: its event loop wakes itself through a socketpair
t_asyncio() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw aio.py 0 300 1000 "$PYTHON" "$PYDIR/aio.py"
}
run_test "freeze/thaw a python asyncio loop" t_asyncio

# an epoll set in flight (sent with SCM_RIGHTS, not received yet) is
# refused: its watches name fds of the process that made it, which could
# not be made again outside it (pipes, sockets and files do travel:
# tests/t-sockets.sh)
t_dump_inflight() {
	refused_cpuloop "an epoll set in flight" "in flight .* on anon_inode:\\[eventpoll\\]" '
import os, select, socket, sys
a, b = socket.socketpair()
e = select.epoll()
e.register(b.fileno(), select.EPOLLIN)
socket.send_fds(a, [b"x"], [e.fileno()])
os.set_inheritable(a.fileno(), True)
os.set_inheritable(b.fileno(), True)'
}
run_test "dump refuses a socket with an epoll set in flight" t_dump_inflight

# flock, POSIX and OFD locks held across the freeze: a checker process the
# job forks every 100 ms sees them held, by the same pid, before and after
t_locks() {
	freeze_thaw locker 0 300 1000 "$WL/locker" || return 1
	[ ! -e "$TDIR/run/lock.dat" ] || fail "the thawed job did not finish its rounds"
}
run_test "freeze/thaw flock, POSIX and OFD locks" t_locks

# a write and a read lease held across the freeze: a checker the job forks
# every 100 ms sees them in /proc/locks, F_GETLEASE says them; at the end
# an open breaks the write lease and the holder is told (its F_SETSIG)
t_leases() {
	freeze_thaw leaser 0 300 1000 "$WL/leaser" || return 1
	[ ! -e "$TDIR/run/lease-w.dat" ] || fail "the thawed job did not finish its rounds"
}
run_test "freeze/thaw file leases, enforced after the thaw" t_leases

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

# dump_retry PID IMG [ARGS...]: dump_job, tried again (a refused dump
# leaves the job running untouched) while it is refused only because it
# was caught in the middle of making one of its own connections, or with
# inotify events it had not read yet
dump_retry() {
	local i
	for ((i = 0; i < 8; i++)); do
		dump_job "$@" && return 0
		grep -Eq "TCP socket|unix socket connected|not accepted yet|not read yet" "$TDIR/dump.err" || return 1
		sleep "0.0$((RANDOM % 9 + 1))"
	done
	return 1
}

# listener DIR HOLD tcp PORT|unix PATH: a listener of the test user,
# outside any job, at that address (a unix PATH is replaced); it touches
# DIR/listening, and with HOLD >= 0 greets one client and closes that
# connection after HOLD s, else just sleeps; its pid in LISTENER
listener() {
	local dir=$1 i
	rm -f "$dir/listening"
	(cd "$dir" && exec "${RUNAS[@]}" "$PYTHON" -c '
import os, socket, sys, time
hold, kind, addr = float(sys.argv[1]), sys.argv[2], sys.argv[3]
if kind == "tcp":
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("127.0.0.1", int(addr)))
else:
    if os.path.exists(addr):
        os.unlink(addr)
    s = socket.socket(socket.AF_UNIX)
    s.bind(addr)
s.listen()
open("listening", "w").close()
if hold < 0:
    time.sleep(60)
c, _ = s.accept()
c.sendall(b"hello\n")
time.sleep(hold)
c.close()' "${@:2}") &
	LISTENER=$!
	for ((i = 0; i < 100; i++)); do
		[ -e "$dir/listening" ] && return 0
		sleep 0.05
	done
	return 1
}

# occupy DIR tcp PORT | DIR unix PATH: someone else listens there (OCC)
occupy() {
	listener "$1" -1 "$2" "$3"
	local rc=$?
	OCC=$LISTENER
	return $rc
}

unoccupy() {
	kill "$OCC" 2>/dev/null
	wait "$OCC" 2>/dev/null
}

# expect_refused_restore IMG PATTERN WHAT: restore must fail saying PATTERN
expect_refused_restore() {
	jf "$TDIR" "$TDIR/rr.out" "$TDIR/rr.err" "$T_RESTORE" restore -D "$1"
	if [ "$JF_STATUS" = 0 ] || ! grep -Eq "$2" "$TDIR/rr.err"; then
		diag_file "restore stderr" "$TDIR/rr.err"
		fail "restore with $3 exited $JF_STATUS without saying so"
		return
	fi
}

# a TCP and a unix listener: refused at thaw (naming the address) while
# someone else listens there; once free, bound again and accepting
t_listeners() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	local port
	port=$(free_port)
	start_again "netserve-$port" 300 1000 "$WL/netserve" "$port" || return 1
	local pid=$JOB_PID
	dump_retry "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "job still there after the dump"; return; }
	occupy "$TDIR" tcp "$port" || { unoccupy; fail "cannot occupy port $port"; return; }
	expect_refused_restore "$TDIR/img" "127\.0\.0\.1:$port" "port $port taken"
	local rc=$?
	unoccupy
	[ $rc = 0 ] || return 1
	occupy "$TDIR/run" unix srv.sock || { unoccupy; fail "cannot occupy srv.sock"; return; }
	expect_refused_restore "$TDIR/img" "srv\.sock" "srv.sock taken"
	rc=$?
	unoccupy
	[ $rc = 0 ] || return 1
	thaw_compare "$TDIR/img" || fail "thawed server differs from the uninterrupted run"
}
run_test "freeze/thaw TCP and unix listeners, re-bound at thaw" t_listeners

# outside_server DIR tcp PORT|unix PATH HOLD: a server outside the job that
# greets one client and closes the connection after HOLD s; sets OUTSIDE
outside_server() {
	listener "$1" "$4" "$2" "$3"
	OUTSIDE=$LISTENER
}

# a connection to a server outside the job: refused naming ADDR; with
# FLAG the dump goes through and the thawed job finds it lost and goes on
# (the uninterrupted run loses it when the server closes it)
lost_connection() {
	local kind=$1 addr=$2 pattern=$3 flag=$4 key=netclient-$1
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	mkdir_user "$WORK/ref" "$WORK/ref/$key.d" "$TDIR/run"
	outside_server "$WORK/ref/$key.d" "$kind" "$addr" 0.5
	reference "$key" "$WORK/ref/$key.d" "$WL/netclient" "$kind" "$addr"
	local rc=$?
	kill "$OUTSIDE" 2>/dev/null
	wait "$OUTSIDE" 2>/dev/null
	[ $rc = 0 ] || return 1
	REFST=$(cat "$REF.status")
	outside_server "$TDIR/run" "$kind" "$addr" 60
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$WL/netclient" "$kind" "$addr" ||
		{ kill "$OUTSIDE"; wait "$OUTSIDE"; fail "the job did not start"; return; }
	local pid=$JOB_PID
	rand_sleep 300 600
	jf "$TDIR" "$TDIR/d1.out" "$TDIR/d1.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img1"
	if [ "$JF_STATUS" = 0 ] || ! grep -Eq "$pattern" "$TDIR/d1.err" || ! running "$pid"; then
		diag_file "dump stderr" "$TDIR/d1.err"
		kill "$OUTSIDE"; wait "$OUTSIDE" 2>/dev/null
		fail "dump without $flag exited $JF_STATUS, the job is '$(proc_state "$pid")'"
		return
	fi
	dump_job "$pid" "$TDIR/img" "$flag"
	rc=$?
	kill "$OUTSIDE" 2>/dev/null
	wait "$OUTSIDE" 2>/dev/null
	[ $rc = 0 ] || return 1
	wait_gone "$pid" 5 || { fail "job still there after the dump"; return; }
	thaw_compare "$TDIR/img" || fail "the thawed job did not go on as after a lost connection"
}

t_tcp_close() {
	local port
	port=$(free_port)
	lost_connection tcp "$port" "TCP socket.*127\.0\.0\.1:$port" --tcp-close
}
t_ext_unix_close() { lost_connection unix out.sock "connected to out\.sock" --ext-unix-close; }
run_test "dump --tcp-close: a TCP connection is found reset" t_tcp_close
run_test "dump --ext-unix-close: a unix connection is found closed" t_ext_unix_close

# POSIX timers: periodic ones signalling the process and a thread, and a
# one-shot, used by their ids after the thaw
t_ptimers() { freeze_thaw ptimer 0 300 1400 "$WL/ptimer"; }
run_test "freeze/thaw POSIX timers" t_ptimers

# inotify: a directory watched (with a gap in the watch numbers) still
# gives its events after the thaw, under the same watch numbers
t_inotify() {
	start_again inotify 300 1000 "$WL/inotify" || return 1
	local pid=$JOB_PID
	dump_retry "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "job still there after the dump"; return; }
	thaw_compare "$TDIR/img" || fail "thawed job differs from the uninterrupted run"
}
run_test "freeze/thaw inotify watches" t_inotify

# an inotify watch on a directory the job names nowhere: refused, saying so
t_dump_inotify_lost() {
	refused_cpuloop "a watch on an unknown path" "could not find" '
import ctypes, os, sys
os.makedirs("../elsewhere/deep", exist_ok=True)
libc = ctypes.CDLL(None)
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, b"../elsewhere/deep", 0x100) < 0:
    sys.exit(1)'
}
run_test "dump refuses an inotify watch it cannot find the path of" t_dump_inotify_lost

# a process stopped (^Z) with inotify events it has not read: refused,
# saying it must run a moment to read them (trying again later would not
# help); it is left stopped, as it was, and once continued goes on as an
# uninterrupted run
t_dump_inotify_stopped() {
	local pid i
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	mkdir_user "$TDIR/run/watched"
	EXPECT_EXE=$WL/cpuloop start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" \
		"$PYTHON" -c '
import ctypes, os, sys
libc = ctypes.CDLL(None)
fd = libc.inotify_init1(0)
if fd < 0 or libc.inotify_add_watch(fd, b"watched", 0x100) < 0:
    sys.exit(1)
os.set_inheritable(fd, True)
os.execv(sys.argv[1], sys.argv[1:])' "$WL/cpuloop" || { fail "the job did not start"; return; }
	pid=$JOB_PID
	rand_sleep 300 1000
	# (SIGSTOP: a SIGTSTP may find the job still in the runner's wrapper)
	kill -STOP "$pid"
	for ((i = 0; i < 100; i++)); do
		[ "$(proc_state "$pid")" = T ] && break
		sleep 0.05
	done
	[ "$(proc_state "$pid")" = T ] || { fail "the job did not stop on SIGSTOP"; return; }
	# an event it will not read while stopped (IN_CREATE)
	as_user touch "$TDIR/run/watched/new"
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] ||
		! grep -q "is stopped (^Z), so it does not read them: let it run a moment" "$TDIR/dump.err" ||
		! grep -q "was not frozen and is left stopped, as it was" "$TDIR/dump.err"; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "dump of a stopped job with inotify events unread exited $JF_STATUS, or said not why"
		return
	fi
	[ ! -e "$TDIR/img/inventory.img" ] || { fail "a failed dump left an inventory.img"; return; }
	sleep 0.3
	[ "$(proc_state "$pid")" = T ] ||
		{ fail "the refused job is not left stopped (state $(proc_state "$pid"))"; return; }
	kill -CONT "$pid"
	tell_stop "$TDIR/run"
	wait_job "$pid" "$T_RUN"
	ref_stopped || return 1
	[ "$JOB_STATUS" = "$REFST" ] || { fail "the job exited $JOB_STATUS, expected $REFST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the refused job's output differs"
}
run_test "dump of a stopped job with inotify events unread: refused, left stopped" t_dump_inotify_stopped

# an epoll set shared by a parent and its child (fork), used by both
t_epoll_shared() { freeze_thaw epshare 0 300 900 "$WL/epshare"; }
run_test "freeze/thaw an epoll set shared by two processes" t_epoll_shared

# ipc_cleanup DIR: remove the SysV objects whose ids DIR/ipc.ids names, if
# the job did not get to remove them itself
ipc_cleanup() {
	local shm sem two
	read -r shm sem two <"$1/ipc.ids" 2>/dev/null || return 0
	as_user ipcrm -m "$shm" 2>/dev/null
	as_user ipcrm -s "$sem" 2>/dev/null
	[ -z "$two" ] || as_user ipcrm -m "$two" 2>/dev/null
	return 0
}

# SysV shared memory and semaphores between a parent and its child: the
# segment is attached again, the semaphores are found where they were
t_sysv() {
	freeze_thaw sysv 0 300 1000 "$WL/sysv"
	local rc=$?
	ipc_cleanup "$TDIR/run"
	ipc_cleanup "$WORK/ref/sysv.d"
	return $rc
}
run_test "freeze/thaw SysV shared memory and semaphores" t_sysv

# a SysV segment marked for removal would vanish with the job: refused,
# naming it, and the job goes on untouched
t_dump_sysv_rmid() {
	start_again sysv-rmid 300 1000 "$WL/sysv" rmid || return 1
	expect_refused_dump "$JOB_PID" "segment [0-9]+ \(key 0x[0-9a-f]+\).*marked for removal" \
		"a SysV segment marked for removal"
	local rc=$?
	ipc_cleanup "$TDIR/run"
	ipc_cleanup "$WORK/ref/sysv-rmid.d"
	return $rc
}
run_test "dump refuses SysV memory marked for removal" t_dump_sysv_rmid

# an accepted unix connection whose client has gone, its messages unread,
# and the listener it came from
t_unix_orphan() { freeze_thaw uxconn 0 500 1400 "$WL/uxconn"; }
run_test "freeze/thaw a unix connection whose client has gone" t_unix_orphan

# dump -R of the socketpairs: the queues the dump peeked at stay whole in
# the original, and the snapshot gets them too
t_sock_snapshot() { snapshot_check sockpair "$WL/sockpair"; }
run_test "snapshot (dump -R) of socketpairs with queued messages" t_sock_snapshot

# unfreezable_cpuloop MODE PATTERN WHAT: a job whose child no tracer can
# stop (tests/workloads/unfreezable.c) is refused, saying why (a vfork()
# after 3 s: a child execs within that even on a busy machine),
# instead of hanging the freeze; the job goes on as if never touched
unfreezable_cpuloop() {
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	EXPECT_EXE=$WL/cpuloop start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" \
		"$WL/unfreezable" "$1" "$WL/cpuloop" || { fail "the job did not start"; return; }
	rand_sleep 300 1000
	expect_refused_dump "$JOB_PID" "$2" "$3" || return 1
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || fail "the job exited $JOB_STATUS, expected $REFST"
}
t_dump_vfork()    { unfreezable_cpuloop vfork "is in vfork\(\)" "a process waiting in vfork()"; }
t_dump_deadmain() { unfreezable_cpuloop deadmain "main thread has exited" "a dead main thread"; }
run_test "dump refuses a process waiting in vfork(), after 3 s" t_dump_vfork
run_test "dump refuses a process whose main thread exited" t_dump_deadmain
