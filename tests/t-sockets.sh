# tests/t-sockets.sh: sockets as real programs hold them, frozen at a
# random moment and thawed, compared with an uninterrupted run: TCP
# connections with both ends in the job (tcppair.c: a stream held back by
# a full window, requests over IPv6, a half-closed connection, one left
# waiting to be accepted, options), an asyncio server with its own
# clients in ZeroMQ's patterns (aionet.py), datagram sockets of every kind
# with datagrams waiting (dgrams.c), unix stream and seqpacket sockets with
# names, unlinked files and waiting connections (uxstreams.c), files in
# flight (inflight.c); the thaw refused while another program holds a
# port of the job, restore --tcp-close; and what is refused at dump.
# Sourced by tests/run.sh.
# shellcheck shell=bash

sk_port() { free_port; }

t_sk_tcppair() {
	local port
	port=$(sk_port)
	freeze_thaw "tcppair-$port" 0 300 1500 "$WL/tcppair" "$port"
}
run_test "sockets: TCP connections inside the job, held back, half-closed, waiting" t_sk_tcppair

# frozen, thawed detached, frozen again from there and thawed
t_sk_tcppair_twice() {
	local port
	port=$(sk_port)
	freeze_thaw_twice "tcppair-$port" 300 900 "$WL/tcppair" "$port"
}
run_test "sockets: TCP connections frozen twice" t_sk_tcppair_twice

# sk_snapshots N [HALF_MS]: tcppair with snapshots (-R) taken now and then
# while it runs, N at most; leaves the last in $TDIR/img, the job in $JOB_PID
sk_snapshots() {
	local port k
	port=$(sk_port)
	start_again "tcppair-$port-${2:-}" 200 400 "$WL/tcppair" "$port" ${2:+"$2"} || return 1
	for ((k = 1; k <= $1; k++)); do
		alive "$JOB_PID" || break
		rm -rf "$TDIR/img"
		if ! dump_job "$JOB_PID" "$TDIR/img" -R; then
			# it may end between the look and the snapshot (a snapshot
			# that ended it would show in its exit status and output)
			alive "$JOB_PID" && return 1
			diag "the job ended as snapshot $k began"
			break
		fi
		rand_sleep 50 350
	done
}

# The job is frozen for good soon after a snapshot (its ports let go with
# it), and the snapshot thawed instead: it ends the same way. (Thawed
# while the job runs, or in the minute after one of its connections
# closed the usual way, the snapshot would find its ports taken: here the
# job closes one only after 2.5 s.)
t_sk_snapshot() {
	sk_snapshots 1 2500 || return 1
	alive "$JOB_PID" || { fail "the job ended during its snapshots"; return; }
	dump_job "$JOB_PID" "$TDIR/img-last" || return 1
	wait_gone "$JOB_PID" 5 || { fail "job still there after the dump"; return; }
	thaw_compare "$TDIR/img" || fail "the last snapshot, thawed, differs from the uninterrupted run"
}
run_test "sockets: snapshots (-R) of TCP connections, one thawed" t_sk_snapshot

# Snapshots taken while the job runs to its end, which must be as the
# uninterrupted run's: copying what waits leaves it all in place.
t_sk_snapshot_intact() {
	sk_snapshots 4 || return 1
	wait_job "$JOB_PID" "$T_RUN" || { fail "the job did not end after its snapshots"; return; }
	[ "$JOB_STATUS" = "$REFST" ] || { fail "the job exited $JOB_STATUS after its snapshots"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout of the job snapshotted" ||
		fail "snapshots changed what the job's connections carried"
}
run_test "sockets: snapshots (-R) leave TCP connections intact" t_sk_snapshot_intact

# sk_python SCRIPT LO HI: freeze_thaw of tests/workloads/SCRIPT PORT
sk_python() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	local port
	port=$(sk_port)
	EXPECT_EXE=$PYTHON freeze_thaw "${1%.py}-$port" 0 "$2" "$3" "$PYTHON" "$PYDIR/$1" "$port"
}

t_sk_asyncio() { sk_python aionet.py 300 1500; }
run_test "sockets: asyncio server and its clients, request/reply and publish/subscribe" t_sk_asyncio

# an IPv4 client of an IPv6 listener that takes IPv4 too
t_sk_dualstack() { sk_python dualstack.py 300 1000; }
run_test "sockets: an IPv4 client of a dual-stack IPv6 listener" t_sk_dualstack

t_sk_dgrams() {
	local port
	port=$(sk_port)
	freeze_thaw "dgrams-$port" 0 200 1300 "$WL/dgrams" "$port"
}
run_test "sockets: UDP, UDP-Lite, IPv6, unix datagram sockets with datagrams waiting" t_sk_dgrams

t_sk_uxstreams() {
	local token
	token=$(sk_port)
	freeze_thaw "uxstreams-$token" 0 200 1300 "$WL/uxstreams" "$token"
}
run_test "sockets: unix names, an unlinked listener, connections waiting to be accepted" t_sk_uxstreams

# unlinked sockets whose places are gone: a relative name with a FIFO in
# its place (the job moved to /), an absolute one whose directory was
# removed; the places the thaw made to bind them in are gone after it
t_sk_uxplaces() {
	local before after
	before=$(ls -d "${TMPDIR:-/tmp}"/jobfreeze-sock.* 2>/dev/null | wc -l)
	freeze_thaw uxplaces 0 200 1300 "$WL/uxplaces" || return
	after=$(ls -d "${TMPDIR:-/tmp}"/jobfreeze-sock.* 2>/dev/null | wc -l)
	[ "$after" -le "$before" ] || fail "the thaw left a directory it made to bind a socket in"
}
run_test "sockets: unlinked sockets whose place is gone, a FIFO in one's place" t_sk_uxplaces

# pipes (with what they hold), sockets, an eventfd in flight, one socket
# in flight carrying a pipe in flight
t_sk_inflight() { freeze_thaw inflight 0 200 1300 "$WL/inflight"; }
run_test "sockets: pipes, sockets and an eventfd in flight (SCM_RIGHTS)" t_sk_inflight

# two sockets with abstract names, each in flight in the other: the killed
# job's pair keeps its names until the kernel's garbage collector runs
t_sk_uxcycle() {
	local token
	token=$(sk_port)
	freeze_thaw "uxcycle-$token" 0 200 1100 "$WL/uxcycle" "$token"
}
run_test "sockets: abstract names held by sockets in flight in each other" t_sk_uxcycle

# A port of the job's taken by another program at the thaw: refused,
# naming it, the images as they were; once free, the thaw goes on.
t_sk_port_taken() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	local port before after
	port=$(sk_port)
	start_again "tcppair-$port" 300 1000 "$WL/tcppair" "$port" || return 1
	dump_job "$JOB_PID" "$TDIR/img" || return 1
	wait_gone "$JOB_PID" 5 || { fail "job still there after the dump"; return; }
	occupy "$TDIR" tcp "$port" || { unoccupy; fail "cannot occupy port $port"; return; }
	before=$(img_digest "$TDIR/img")
	expect_refused_restore "$TDIR/img" "127\.0\.0\.1:$port" "port $port taken"
	local rc=$?
	unoccupy
	after=$(img_digest "$TDIR/img")
	[ $rc = 0 ] || return 1
	[ "$before" = "$after" ] || { fail "the refused thaw changed the images"; return; }
	thaw_compare "$TDIR/img" || fail "thawed once the port was free, the job differs"
}
run_test "sockets: a port taken at thaw is named, the images kept" t_sk_port_taken

# restore --tcp-close: the connections come back closed (their ends read
# the end of the stream), the listener as ever.
t_sk_restore_tcp_close() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	local port
	port=$(sk_port)
	EXPECT_EXE=$PYTHON start_again "tcpclose-$port" 500 1200 "$PYTHON" "$PYDIR/tcpclose.py" "$port" ||
		return 1
	dump_job "$JOB_PID" "$TDIR/img" || return 1
	wait_gone "$JOB_PID" 5 || { fail "job still there after the dump"; return; }
	jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore --tcp-close -D "$TDIR/img"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r.err"; fail "restore --tcp-close exited $JF_STATUS"; return; }
	printf '%s\n' "server got b'hi'" "server end: the end of the stream" \
		"client end: the end of the stream" "the listener takes a new connection: True" \
		>"$TDIR/expected"
	same_file "$TDIR/expected" "$TDIR/run/out.txt" "stdout" ||
		fail "the connections did not come back closed"
}
run_test "sockets: restore --tcp-close brings connections back closed" t_sk_restore_tcp_close

# What cannot come back from outside the job is refused at dump, naming
# it: a datagram whose sender holds its port outside; connections from
# outside waiting to be accepted by a TCP or a unix listener.
sk_refused() {
	local what=$1 pattern=$2 jobcode=$3 outcode=$4 out
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
	local port key=refused-$5
	port=$(sk_port)
	mkdir_user "$TDIR/run" "$WORK/ref/$key.d"
	EXPECT_EXE=$PYTHON start_again "$key" 300 300 "$PYTHON" -c "$jobcode" "$port" || return 1
	(cd "$TDIR/run" && exec "${RUNAS[@]}" "$PYTHON" -c "$outcode" "$port") &
	out=$!
	other_add "$out"
	sleep 0.5
	expect_refused_dump "$JOB_PID" "$pattern" "$what"
	local rc=$?
	kill "$out" 2>/dev/null
	wait "$out" 2>/dev/null
	return $rc
}

SK_JOB_WAIT='
import socket, sys, time
port = int(sys.argv[1])
kind = "KIND"
if kind == "udp":
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.bind(("127.0.0.1", port))
elif kind == "tcp":
    s = socket.socket()
    s.bind(("127.0.0.1", port))
    s.listen()
else:
    s = socket.socket(socket.AF_UNIX)
    s.bind("wait.sock")
    s.listen()
for i in range(30):
    time.sleep(0.1)
    print(i, flush=True)'

t_sk_refused_udp() {
	sk_refused "a datagram from outside" "a socket outside the job" "${SK_JOB_WAIT/KIND/udp}" '
import socket, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.sendto(b"x", ("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' udp
}
run_test "sockets: dump refuses a datagram waiting from a socket outside" t_sk_refused_udp

t_sk_refused_tcp_pending() {
	sk_refused "a connection from outside waiting" "from outside the job .* wait to be accepted" \
		"${SK_JOB_WAIT/KIND/tcp}" '
import socket, sys, time
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])))
time.sleep(30)' tcp
}
run_test "sockets: dump refuses a TCP connection from outside not accepted yet" t_sk_refused_tcp_pending

t_sk_refused_unix_pending() {
	sk_refused "a unix connection from outside waiting" "outside the job waits to be accepted" \
		"${SK_JOB_WAIT/KIND/unix}" '
import socket, sys, time
s = socket.socket(socket.AF_UNIX)
s.connect("wait.sock")
time.sleep(30)' unix
}
run_test "sockets: dump refuses a unix connection from outside not accepted yet" t_sk_refused_unix_pending
