# tests/t-dbus.sh: the desktop D-Bus service (jobfreeze-daemon) on a real
# dbus-daemon: a private session bus of the test user's own, started by each
# test with dbus-run-session. Sourced by tests/run.sh.
# shellcheck shell=bash
#
# JF_DBUS_CLI=PATH  the job-store CLI the service runs (default: $JF)

DAEMON=$BUILD/jobfreeze-daemon
NOTIFYD=$BUILD/tests/dbus/notifyd
DBUS_CLI=${JF_DBUS_CLI:-$JF}
JF_IFACE=org.jobfreeze.JobFreeze1
JF_PATH=/org/jobfreeze/JobFreeze1

# The test user must reach the service's programs (see the copy in run.sh).
# `jobfreeze daemon` finds the service next to itself: with a copied $JF too.
if [ -x "$DAEMON" ] && { [ "${JF%/*}" = "$WORK/bin" ] || ! as_user test -x "$DAEMON" -a -x "$NOTIFYD"; }; then
	mkdir -p "$WORK/bin"
	cp "$DAEMON" "$NOTIFYD" "$WORK/bin/"
	chmod a+rx "$WORK/bin"/*
	DAEMON=$WORK/bin/jobfreeze-daemon
	NOTIFYD=$WORK/bin/notifyd
fi

# ---- a session bus of the test user's own -------------------------------

BUS=""

# bus_start [CONFIG_LINE...]: start dbus-run-session as the test user in
# $TDIR, with only our .service file to activate; the service gets
# $TDIR/config/jobfreeze/config (the lines given, @TDIR@ replaced) and its own job store
# $TDIR/state/jobfreeze; with HELD_FREEZE=1 its CLI's freeze, once
# started, waits for the file $TDIR/freeze.go (30 s at most), having made
# $TDIR/freeze.held.
# Sets BUS (the address); the bus log is $TDIR/bus.log.
bus_start() {
	local i l
	command -v dbus-run-session >/dev/null || { skip "dbus-run-session is not installed"; return; }
	command -v gdbus >/dev/null || { skip "gdbus is not installed"; return; }
	[ -x "$DAEMON" ] || { fail "$DAEMON not built"; return; }
	if ! "$DBUS_CLI" freeze --help >/dev/null 2>&1; then
		skip "$DBUS_CLI has no freeze/list/thaw command yet (the job-store CLI is not merged)"
		return
	fi
	mkdir_user "$TDIR/services" "$TDIR/config" "$TDIR/config/jobfreeze" "$TDIR/state"
	local cli=$DBUS_CLI
	if [ -n "${HELD_FREEZE:-}" ]; then
		cli=$TDIR/held-jobfreeze
		cat >"$cli" <<-EOF
		#!/bin/sh
		if [ "\$1" = freeze ]; then
			echo held >$TDIR/freeze.held
			i=0
			while [ ! -e $TDIR/freeze.go ] && [ \$i -lt 300 ]; do
				sleep 0.1
				i=\$((i + 1))
			done
		fi
		exec "$DBUS_CLI" "\$@"
		EOF
		chmod 755 "$cli"
	fi
	printf '[D-BUS Service]\nName=%s\nExec=%s\n' "$JF_IFACE" "$DAEMON" \
		>"$TDIR/services/$JF_IFACE.service"
	: >"$TDIR/config/jobfreeze/config"
	for l in "$@"; do
		printf '%s\n' "${l//@TDIR@/$TDIR}" >>"$TDIR/config/jobfreeze/config"
	done
	cat >"$TDIR/bus.conf" <<-EOF
	<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
	 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
	<busconfig>
	  <type>session</type>
	  <listen>unix:tmpdir=/tmp</listen>
	  <servicedir>$TDIR/services</servicedir>
	  <policy context="default">
	    <!-- any uid may connect, so that the service's own check of the
	         caller's uid is tested (a session bus admits only its user) -->
	    <allow user="*"/>
	    <allow send_destination="*" eavesdrop="true"/>
	    <allow eavesdrop="true"/>
	    <allow own="*"/>
	  </policy>
	</busconfig>
	EOF
	(
		cd "$TDIR" || exit 1
		exec "${RUNAS[@]}" env "JOBFREEZE_CLI=$cli" "XDG_CONFIG_HOME=$TDIR/config" \
			"XDG_STATE_HOME=$TDIR/state" \
			dbus-run-session --config-file="$TDIR/bus.conf" -- /bin/sh -c \
			'echo $$ >"$1.pid"; echo "$DBUS_SESSION_BUS_ADDRESS" >"$1.tmp"; mv "$1.tmp" "$1"; exec sleep 300' \
			sh "$TDIR/bus.addr"
	) >"$TDIR/bus.log" 2>&1 &
	BUS_RUN=$!
	for ((i = 0; i < 100; i++)); do
		[ -s "$TDIR/bus.addr" ] && break
		sleep 0.05
	done
	BUS=$(cat "$TDIR/bus.addr" 2>/dev/null)
	[ -n "$BUS" ] || { diag_file "bus log" "$TDIR/bus.log"; fail "dbus-run-session did not start"; return; }
}

# bus_stop: end the bus (dbus-run-session ends dbus-daemon, and the service
# exits when its connection closes); waits until nothing of the test runs.
bus_stop() {
	local i
	[ -n "$BUS" ] || return 0
	kill "$(cat "$TDIR/bus.addr.pid")" 2>/dev/null
	wait "$BUS_RUN" 2>/dev/null
	BUS=""
	for ((i = 0; i < 50; i++)); do
		[ -z "$(leftovers)" ] && return 0
		sleep 0.1
	done
	diag "still running after the bus ended: $(leftovers | tr '\n' ' ')"
	return 1
}

# on_bus CMD...: run CMD as the test user, a client of the test bus
on_bus() {
	timeout -k 2 30 "${RUNAS[@]}" env "DBUS_SESSION_BUS_ADDRESS=$BUS" "$@"
}

# call METHOD ARGS...: call the service (gdbus call syntax for ARGS); the
# reply is in $TDIR/call.out, an error in $TDIR/call.err; CALL_STATUS
call() {
	local m=$1
	shift
	on_bus gdbus call --session --dest "$JF_IFACE" --object-path "$JF_PATH" \
		--method "$JF_IFACE.$m" "$@" >"$TDIR/call.out" 2>"$TDIR/call.err"
	CALL_STATUS=$?
	if [ "$CALL_STATUS" != 0 ]; then
		diag "$m $*: $(cat "$TDIR/call.err")"
	fi
	return $CALL_STATUS
}

# expect_error ERROR METHOD ARGS...: the call fails with the named D-Bus error
expect_error() {
	local want=$1
	shift
	if call "$@"; then
		fail "$* succeeded (reply $(cat "$TDIR/call.out")), expected $want"
		return
	fi
	grep -q "GDBus.Error:$want:" "$TDIR/call.err" ||
		fail "$* failed with $(cat "$TDIR/call.err"), expected $want"
}

# has_owner NAME: some connection owns NAME on the test bus
has_owner() {
	on_bus gdbus call --session --dest org.freedesktop.DBus --object-path /org/freedesktop/DBus \
		--method org.freedesktop.DBus.NameHasOwner "$1" 2>/dev/null | grep -q true
}

# monitor_start: record the service's signals in $TDIR/monitor.out (the
# service must be running: the monitor subscribes to its current owner)
monitor_start() {
	local i
	(cd "$TDIR" && exec "${RUNAS[@]}" env "DBUS_SESSION_BUS_ADDRESS=$BUS" \
		gdbus monitor --session --dest "$JF_IFACE") >"$TDIR/monitor.out" 2>&1 &
	for ((i = 0; i < 50; i++)); do
		grep -qs "owned by" "$TDIR/monitor.out" && return 0
		sleep 0.1
	done
	diag_file "gdbus monitor" "$TDIR/monitor.out"
	fail "gdbus monitor did not attach to the service"
}

# wait_in FILE REGEX SECS: until a line of FILE matches
wait_in() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		grep -Eq "$2" "$1" 2>/dev/null && return 0
		sleep 0.1
	done
	diag "no line matching '$2' in ${1##*/} after $3 s"
	diag_file "${1##*/}" "$1"
	return 1
}

# reply_string: the s of a "('...',)" reply
reply_string() {
	sed -n "s/^('\(.*\)',)\$/\1/p" "$TDIR/call.out"
}

# wait_output REF OUT SECS: until OUT is the same as REF, then until no
# process runs in the directory of OUT (the thawed job has ended)
wait_output() {
	local i dir=${2%/*} p busy
	for ((i = 0; i < $3 * 10; i++)); do
		cmp -s "$1" "$2" && break
		sleep 0.1
	done
	same_file "$1" "$2" "stdout" || return 1
	for ((i = 0; i < 50; i++)); do
		busy=""
		for p in $(leftovers); do
			[ "$(readlink "/proc/$p/cwd" 2>/dev/null)" = "$dir" ] && busy=1
		done
		[ -z "$busy" ] && return 0
		sleep 0.1
	done
	diag "the thawed job did not end after printing all of its output"
	return 1
}

# tmux_counter N [PROGRAM]: a tmux server of the test user (session t) whose
# window 0 runs `counter N` (or PROGRAM N) with its stdout in
# $TDIR/run/out.txt and the window as
# its terminal (window 1 keeps the session open); sets TM (the tmux command)
# and JOB_PID. The windows use the service's job store, as a user's do.
tmux_counter() {
	tmux_at "$TDIR/tmux.sock"
	TM=(env "XDG_STATE_HOME=$TDIR/state" "${TM[@]}")
	mkdir_user "$TDIR/run"
	as_user "${TM[@]}" new-session -d -s t -c "$TDIR/run" -x 100 -y 30 \
		"exec ${2:-$WL/counter} $1 >$TDIR/run/out.txt" || { fail "tmux did not start"; return; }
	as_user "${TM[@]}" new-window -d -t t:1 "exec sleep 600"
	JOB_PID=$(as_user "${TM[@]}" display-message -p -t t:0 '#{pane_pid}')
	sleep 1
}

# wait_screen WINDOW REGEX SECS: until a line of the tmux WINDOW's screen
# matches; the screen (wrapped lines joined) is left in SCREEN
wait_screen() {
	local i
	for ((i = 0; i < $3 * 10; i++)); do
		SCREEN=$(as_user "${TM[@]}" capture-pane -p -J -t "$1")
		grep -Eq "$2" <<<"$SCREEN" && return 0
		sleep 0.1
	done
	return 1
}

# start_refused_job: a job the engine refuses to freeze by design: a
# process alone in its group reading a pipe whose write end its parent,
# outside the job, holds (freezing it would cut the pipe). JOB_PID is that
# process; REFUSED_PARENT the parent, which ends when it does.
start_refused_job() {
	mkdir_user "$TDIR/refused"
	start_job "$TDIR/refused" "$TDIR/refused/out.txt" "$TDIR/refused/err.txt" "$PYTHON" -c '
import os, time
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.setpgid(0, 0)
    open("child.pid", "w").write("%d\n" % os.getpid())
    time.sleep(60)
    os._exit(0)
os.close(r)
os.waitpid(pid, 0)' || { fail "python did not start"; return; }
	REFUSED_PARENT=$JOB_PID
	wait_in "$TDIR/refused/child.pid" "^[0-9]+$" 5 || { fail "the python child did not start"; return; }
	JOB_PID=$(cat "$TDIR/refused/child.pid")
}

# end_refused_job: kill it (and so its parent)
end_refused_job() {
	kill -KILL "$JOB_PID"
	wait_gone "$REFUSED_PARENT" 5
}

# dbus_test FN: run FN between bus_start and bus_stop (bus_start's skip or
# failure is the test's); the bus log is shown when the test fails
dbus_test() {
	local fn=$1 rc
	shift
	bus_start "${CONFIG[@]}" || return
	"$fn" "$@"
	rc=$?
	bus_stop || rc=1
	[ $rc = 0 ] || diag_file "bus and service log" "$TDIR/bus.log" 30
	return $rc
}
CONFIG=()

# ---- the tests ------------------------------------------------------------

# The bus starts the service for the first call, which then serves exactly
# the interface of dbus/org.jobfreeze.JobFreeze1.xml.
t_dbus_activation() {
	has_owner "$JF_IFACE" && { fail "$JF_IFACE has an owner before any call"; return; }
	call List || { fail "List did not activate the service"; return; }
	grep -Eq '^\((@aa\{sv\} )?\[\],\)$' "$TDIR/call.out" || { fail "List of an empty store: $(cat "$TDIR/call.out")"; return; }
	has_owner "$JF_IFACE" || { fail "$JF_IFACE has no owner after List"; return; }
	grep -q "jobfreeze-daemon: serving $JF_IFACE" "$TDIR/bus.log" ||
		{ fail "the service did not log that it serves"; return; }
	on_bus gdbus introspect --session --xml --dest "$JF_IFACE" --object-path "$JF_PATH" \
		>"$TDIR/introspect.xml" 2>"$TDIR/introspect.err" ||
		{ diag_file introspect "$TDIR/introspect.err"; fail "gdbus introspect failed"; return; }
	# same methods, signals and arguments (names, types, directions)
	"$PYTHON" - "$HERE/../dbus/$JF_IFACE.xml" "$TDIR/introspect.xml" >>"$T_DIAG" <<-'EOF' ||
	import sys, xml.etree.ElementTree as ET
	def members(path):
	    i = [i for i in ET.parse(path).getroot().iter("interface")
	         if i.get("name") == "org.jobfreeze.JobFreeze1"]
	    if not i:
	        return None
	    return sorted((m.tag, m.get("name"), tuple((a.get("name"), a.get("type"),
	                   a.get("direction", "out" if m.tag == "method" else ""))
	                   for a in m.iter("arg"))) for m in i[0])
	want, got = members(sys.argv[1]), members(sys.argv[2])
	if want != got:
	    print("interface served:", got)
	    print("interface of the XML:", want)
	    sys.exit(1)
	EOF
	{ fail "the service does not serve the interface of its XML"; return; }
	command -v busctl >/dev/null || return 0
	on_bus busctl --address="$BUS" introspect "$JF_IFACE" "$JF_PATH" "$JF_IFACE" \
		>"$TDIR/busctl.out" 2>&1 || { diag_file busctl "$TDIR/busctl.out"; fail "busctl introspect failed"; return; }
	grep -Eq '^\.Freeze +method +ua\{sv\} +s ' "$TDIR/busctl.out" ||
		{ diag_file busctl "$TDIR/busctl.out"; fail "busctl does not show Freeze(ua{sv}) -> s"; }
}

# Freeze of a real running job: it disappears, is in List and on disk,
# JobFrozen is emitted; Thaw (it had no terminal: detached) and it ends
# with the output of an uninterrupted run.
t_dbus_freeze_thaw() {
	local id pid dir
	call List || return 1
	monitor_start || return 1
	start_again counter 500 1200 "$WL/counter" || return 1
	pid=$JOB_PID
	call Freeze "$pid" "{'name': <'desk'>}" || { fail "Freeze of a running counter failed"; return; }
	id=$(reply_string)
	[ -n "$id" ] || { fail "Freeze replied $(cat "$TDIR/call.out"), not a job ID"; return; }
	wait_gone "$pid" 5 || { fail "pid $pid still runs after Freeze"; return; }
	wait_in "$TDIR/monitor.out" "JobFrozen \('$id', \{.*'command': <'[^']*counter'>" 5 || return 1
	wait_in "$TDIR/monitor.out" "Progress \('freeze', '$pid', 'started'\)" 1 || return 1
	call List || return 1
	grep -q "'id': <'$id'>" "$TDIR/call.out" && grep -q "'name': <'desk'>" "$TDIR/call.out" ||
		{ diag "List: $(cat "$TDIR/call.out")"; fail "job $id (desk) is not in List"; return; }
	dir=$(grep -o "'dir': <'[^']*'>" "$TDIR/call.out" | sed "s/'dir': <'\(.*\)'>/\1/")
	case $dir in "$TDIR/state/jobfreeze/"*) ;; *) fail "job directory '$dir' is not in the store"; return ;; esac
	[ -d "$dir" ] || { fail "job directory $dir is not on disk"; return; }
	call Thaw desk "{}" || { fail "Thaw of job desk failed"; return; }
	wait_in "$TDIR/monitor.out" "JobThawed \('desk',\)" 10 || return 1
	wait_in "$TDIR/monitor.out" "Progress \('thaw', 'desk', 'started'\)" 1 || return 1
	wait_output "$REF.out" "$TDIR/run/out.txt" 20 || { fail "the thawed job did not finish as the reference"; return; }
	grep -q "froze pid $pid as job $id for :" "$TDIR/bus.log" ||
		{ fail "the service did not log the freeze with its caller"; return; }
	grep -q "no notification shown" "$TDIR/bus.log" ||
		fail "no notification server: the service should have said so in its log"
}

# A job that had a terminal comes back in a new terminal window: the Thaw
# option terminal opens a tmux window, where it goes on to the end.
t_dbus_thaw_terminal() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return; }
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	local sock=$TDIR/tmux.sock id pid i tty="" p
	tmux_counter 25 || return 1
	pid=$JOB_PID
	call Freeze "$pid" "{}" || { as_user "${TM[@]}" kill-server; fail "Freeze of the counter in tmux failed"; return; }
	id=$(reply_string)
	monitor_start || { as_user "${TM[@]}" kill-server; return 1; }
	# a terminal command that fails: the job stays frozen, JobFailed says why
	expect_error "$JF_IFACE.Error.Failed" Thaw "$id" "{'terminal': <['/nonexistent/terminal']>}" ||
		{ as_user "${TM[@]}" kill-server; return 1; }
	call Thaw "$id" "{'terminal': <['false']>}" || { as_user "${TM[@]}" kill-server; return 1; }
	wait_in "$TDIR/monitor.out" "JobFailed \('$id', 'thaw', 'the terminal command false exited with status 1'\)" 10 ||
		{ as_user "${TM[@]}" kill-server; fail "no JobFailed for a terminal command that failed"; return; }
	call Thaw "$id" "{'terminal': <['tmux', '-S', '$sock', 'new-window', '-t', 't:5', 'sh', '-c', '\"\$@\"; echo RC=\$?; exec sleep 60', 'sh']>}" ||
		{ as_user "${TM[@]}" kill-server; fail "Thaw in a tmux window failed"; return; }
	# the counter runs again, on the terminal of the new window
	tty=$(as_user "${TM[@]}" display-message -p -t t:5 '#{pane_tty}' 2>/dev/null)
	for ((i = 0; i < 50; i++)); do
		for p in $(leftovers); do
			[ "$(readlink "/proc/$p/exe")" = "$(readlink -f "$WL/counter")" ] &&
				[ "$(readlink "/proc/$p/fd/0")" = "$tty" ] && break 2
		done
		sleep 0.1
	done
	[ $i -lt 50 ] || diag "no counter on the terminal $tty of the new window"
	local ok=$((i < 50))
	wait_in "$TDIR/monitor.out" "JobThawed \('$id',\)" 10 || ok=0
	wait_output "$REF.out" "$TDIR/run/out.txt" 20 || ok=0
	wait_screen t:5 '^RC=' 3
	as_user "${TM[@]}" kill-server
	grep -q '^RC=0$' <<<"$SCREEN" || { diag "window 5: $SCREEN"; ok=0; }
	[ $ok = 1 ] || fail "the job did not go on to its end in the new tmux window"
}

# A thaw that fails in its terminal (the job's program changed on disk)
# leaves the error on that terminal until Enter, and the job in the store.
t_dbus_thaw_fails() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return; }
	local id
	mkdir_user "$TDIR/bin"
	cp "$WL/counter" "$TDIR/bin/counter"
	[ -z "$TEST_USER" ] || chown "$TEST_USER:" "$TDIR/bin/counter"
	tmux_counter 100 "$TDIR/bin/counter" || return 1
	call Freeze "$JOB_PID" "{}" || { as_user "${TM[@]}" kill-server; fail "Freeze failed"; return; }
	id=$(reply_string)
	echo >>"$TDIR/bin/counter"
	call Thaw "$id" "{'terminal': <['tmux', '-S', '$TDIR/tmux.sock', 'new-window', '-t', 't:5']>}" ||
		{ as_user "${TM[@]}" kill-server; fail "Thaw did not start the terminal"; return; }
	if ! wait_screen t:5 "job $id was not thawed; press Enter to close" 15 ||
	   ! grep -q "jobfreeze: error: .*counter" <<<"$SCREEN"; then
		as_user "${TM[@]}" kill-server
		diag "window 5: $SCREEN"
		fail "the failed thaw did not leave its error in the terminal"
		return
	fi
	as_user "${TM[@]}" send-keys -t t:5 Enter
	as_user "${TM[@]}" kill-server
	call List || return 1
	grep -q "'id': <'$id'>" "$TDIR/call.out" || fail "job $id left the store after a failed thaw"
}

# Remove deletes a job from the store and its images from the disk; a
# snapshot (leave-running, compressed at level 3) keeps the job running
# meanwhile.
t_dbus_remove() {
	local id pid dir
	start_again cpuloop 200 400 "$WL/cpuloop" || return 1
	pid=$JOB_PID
	call Freeze "$pid" "{'leave-running': <true>, 'compress': <'3'>}" ||
		{ fail "Freeze leave-running compress 3 failed"; return; }
	id=$(reply_string)
	running "$pid" || { fail "leave-running: pid $pid does not run after Freeze"; return; }
	call List || return 1
	dir=$(grep -o "'dir': <'[^']*'>" "$TDIR/call.out" | sed "s/'dir': <'\(.*\)'>/\1/")
	[ -n "$dir" ] && [ -d "$dir" ] || { fail "job $id has no directory on disk ($dir)"; return; }
	call Remove "$id" || { fail "Remove $id failed"; return; }
	[ "$(cat "$TDIR/call.out")" = "()" ] || { fail "Remove replied $(cat "$TDIR/call.out")"; return; }
	[ ! -e "$dir" ] || { fail "$dir is still on disk after Remove"; return; }
	call List || return 1
	grep -Eq '^\((@aa\{sv\} )?\[\],\)$' "$TDIR/call.out" || { fail "List after Remove: $(cat "$TDIR/call.out")"; return; }
	expect_error "$JF_IFACE.Error.NoSuchJob" Remove "$id" || return 1
	kill -KILL "$pid"
	wait_gone "$pid" 5
}

# Freeze with every/keep: an autosave, its snapshots in List, bad values
# refused; Remove of it stops it and deletes them; the job runs on, undisturbed.
t_dbus_autosave() {
	local id pid i n ap
	start_again cpuloop 200 400 "$WL/cpuloop" || return 1
	pid=$JOB_PID
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze "$pid" "{'every': <uint32 0>}" || return 1
	grep -q "every 0" "$TDIR/call.err" || { fail "the error does not name every: $(cat "$TDIR/call.err")"; return; }
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze "$pid" "{'keep': <uint32 2>}" || return 1
	call Freeze "$pid" "{'every': <uint32 1>, 'keep': <uint32 2>}" || { fail "Freeze with every failed"; return; }
	id=$(reply_string)
	ap=$(sed -n 's/^pid=//p' "$TDIR/state/jobfreeze/.autosave-$id" 2>/dev/null)
	[ -n "$ap" ] && alive "$ap" || { fail "Freeze replied '$id', but no autosaver runs"; return; }
	other_add "$ap"
	runs_on "$pid" || { fail "pid $pid does not run after Freeze with every"; return; }
	for ((i = 0; i < 300; i++)); do
		call List || return 1
		n=$(grep -o "'autosave': <'$id'>" "$TDIR/call.out" | wc -l)
		[ "$n" -le 2 ] || { fail "List shows $n snapshots, 2 are kept"; return; }
		grep -q "'snapshot': <int64 3>" "$TDIR/call.out" && break
		sleep 0.1
	done
	grep -q "'snapshot': <int64 3>" "$TDIR/call.out" ||
		{ diag "List: $(cat "$TDIR/call.out")"; fail "no third snapshot in 30 s"; return; }
	# each snapshot says how its autosave stands
	if ! grep -q "'autosave_state': <'running'>" "$TDIR/call.out" ||
	   ! grep -q "'autosave_every': <int64 1>" "$TDIR/call.out" ||
	   ! grep -q "'autosave_keep': <int64 2>" "$TDIR/call.out" ||
	   ! grep -q "'autosave_next_at': <int64 [0-9]" "$TDIR/call.out"; then
		diag "List: $(cat "$TDIR/call.out")"
		fail "List does not give the autosave's state, period and count"
		return
	fi
	call Remove "$id" || { fail "Remove of the autosave $id failed"; return; }
	alive "$ap" && { fail "the autosaver runs on after Remove"; return; }
	call List || return 1
	grep -Eq '^\((@aa\{sv\} )?\[\],\)$' "$TDIR/call.out" || { fail "List after Remove: $(cat "$TDIR/call.out")"; return; }
	ends_undisturbed "$pid" "the autosave disturbed the job"
}

# Each error, by its name: unknown job, another user's process, no such
# process, bad options and arguments, a failed freeze (JobFailed).
t_dbus_errors() {
	local other rc=0
	call List || return 1
	monitor_start || return 1
	expect_error "$JF_IFACE.Error.NoSuchJob" Thaw 4242 "{}" || rc=1
	expect_error "$JF_IFACE.Error.NoSuchJob" Remove nosuchname || rc=1
	expect_error "$JF_IFACE.Error.NoSuchProcess" Freeze 999999999 "{}" || rc=1
	expect_error "$JF_IFACE.Error.NoSuchProcess" Freeze 0 "{}" || rc=1
	expect_error "$JF_IFACE.Error.NotPermitted" Freeze 1 "{}" || rc=1
	# a process of another user (this shell's user, root when run as root)
	if [ -n "$TEST_USER" ]; then
		sleep 30 &
		other=$!
		other_add "$other"
		expect_error "$JF_IFACE.Error.NotPermitted" Freeze "$other" "{}" || rc=1
		alive "$other" || { diag "the other user's process died"; rc=1; }
		kill "$other"
		wait "$other" 2>/dev/null
	fi
	# a caller of another user (the test bus lets it connect)
	if [ -n "$TEST_USER" ]; then
		timeout 30 env "DBUS_SESSION_BUS_ADDRESS=$BUS" gdbus call --session --dest "$JF_IFACE" \
			--object-path "$JF_PATH" --method "$JF_IFACE.List" >"$TDIR/root.out" 2>&1
		grep -q "GDBus.Error:$JF_IFACE.Error.NotPermitted: the caller is another user" "$TDIR/root.out" ||
			{ diag "List from root on the test user's bus: $(cat "$TDIR/root.out")"; rc=1; }
	fi
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze $$ "{'bogus': <true>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze $$ "{'name': <42>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze $$ "{'name': <'../../etc'>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze $$ "{'leave-running': <'yes'>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Freeze $$ "{'compress': <'fast'>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Thaw .. "{}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Thaw "a b" "{}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Thaw 1 "{'terminal': <'xterm'>}" || rc=1
	expect_error "$JF_IFACE.Error.InvalidArgs" Remove "/etc/passwd" || rc=1
	# GDBus itself refuses arguments of another D-Bus type than the XML's
	# (gdbus call cannot send them: busctl can)
	if command -v busctl >/dev/null; then
		if on_bus busctl --address="$BUS" call "$JF_IFACE" "$JF_PATH" "$JF_IFACE" Freeze \
			'sa{sv}' 1 0 >"$TDIR/busctl.out" 2>&1 ||
			! grep -q 'does not match expected type' "$TDIR/busctl.out"; then
			diag_file "busctl call Freeze sa{sv}" "$TDIR/busctl.out"
			diag "a Freeze with a string pid was not refused for its signature"
			rc=1
		fi
	fi
	[ $rc = 0 ] || return 1
	# the engine refuses a job with a pipe to outside: Freeze fails, says why
	[ -n "$PYTHON" ] || return 0
	start_refused_job || return 1
	if call Freeze "$JOB_PID" "{}"; then
		fail "Freeze of a job with a pipe to outside succeeded"
		return
	fi
	grep -q "GDBus.Error:$JF_IFACE.Error.Failed:" "$TDIR/call.err" || { fail "a failed freeze is not Error.Failed"; return; }
	wait_in "$TDIR/monitor.out" "JobFailed \('', 'freeze', '.*outside the job.*'\)" 5 || return 1
	running "$JOB_PID" || { fail "the refused job does not run on"; return; }
	end_refused_job
}

# Notifications reach a notification server on the bus: "Frozen: ..."
# with a Resume button that thaws the job in the configured terminal (the
# service waits for it past its idle timeout), then "Thawed: ..."; a
# failure has its own notice.
t_dbus_notify() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return; }
	local id pid nid
	(cd "$TDIR" && exec "${RUNAS[@]}" env "DBUS_SESSION_BUS_ADDRESS=$BUS" \
		"$NOTIFYD" "$TDIR/notify.log") >"$TDIR/notifyd.err" 2>&1 &
	on_bus gdbus wait --session --timeout 5 org.freedesktop.Notifications ||
		{ diag_file notifyd "$TDIR/notifyd.err"; fail "the test notification server did not start"; return; }
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	tmux_counter 25 || return 1
	pid=$JOB_PID
	local ok=1
	if call Freeze "$pid" "{}"; then
		id=$(reply_string)
		wait_in "$TDIR/notify.log" "summary=Frozen: $WL/counter 25 \([0-9]+ MiB on disk\) .*actions=resume,Resume" 5 || ok=0
		nid=$(sed -n 's/^id=\([0-9]*\) .*summary=Frozen:.*/\1/p' "$TDIR/notify.log" | head -n 1)
		# the notice keeps the service (idle-timeout=1) for its Resume button
		sleep 2.5
		has_owner "$JF_IFACE" || { diag "the service exited while its Frozen notice was shown"; ok=0; }
		# the user clicks Resume
		[ $ok = 1 ] && on_bus gdbus call --session --dest org.freedesktop.Notifications \
			--object-path /org/freedesktop/Notifications --method org.jobfreeze.Test.Invoke \
			"$nid" resume >/dev/null || ok=0
		[ $ok = 1 ] && wait_in "$TDIR/notify.log" "summary=Thawed: $WL/counter 25 " 10 || ok=0
		[ $ok = 1 ] && wait_output "$REF.out" "$TDIR/run/out.txt" 20 || ok=0
		grep -q "Resume of job $id from its notification" "$TDIR/bus.log" || ok=0
	else
		ok=0
	fi
	as_user "${TM[@]}" kill-server
	[ $ok = 1 ] || { fail "Frozen, Resume, Thawed did not go through the notification server"; return; }
	# a failure has its notice with the reason
	[ -n "$PYTHON" ] || return 0
	start_refused_job || return 1
	call Freeze "$JOB_PID" "{}"
	wait_in "$TDIR/notify.log" "summary=Could not freeze body=.*outside the job" 5 || ok=0
	end_refused_job
	[ $ok = 1 ] || fail "no notice of the failed freeze"
}

# sandboxed_call CGROUP METHOD ARGS...: call, as the test user, from a
# process put in CGROUP before it connects (it waits on a fifo till then)
sandboxed_call() {
	local cg=$1 pid
	shift
	rm -f "$TDIR/go"
	as_user mkfifo "$TDIR/go"
	"${RUNAS[@]}" env "DBUS_SESSION_BUS_ADDRESS=$BUS" /bin/sh -c 'read go <"$0"; exec "$@"' \
		"$TDIR/go" gdbus call --session --dest "$JF_IFACE" --object-path "$JF_PATH" \
		--method "$JF_IFACE.$1" "${@:2}" >"$TDIR/call.out" 2>"$TDIR/call.err" &
	pid=$!
	if ! echo "$pid" >"$cg/cgroup.procs"; then
		kill "$pid"
		wait "$pid"
		return 2
	fi
	echo go >"$TDIR/go"
	wait "$pid"
}

# flatpak_call METHOD ARGS...: call, as the test user, from a fake Flatpak
# sandbox: a chroot whose root has /.flatpak-info, made of bind mounts of
# the system's directories in a mount namespace of its own (gone with it)
flatpak_call() {
	local root=$TDIR/flatpak l d
	mkdir -p "$root/usr" "$root/etc" "$root/dev" "$root/proc" "$root/tmp"
	# (/tmp: the bus's socket is there)
	for l in /bin /lib /lib32 /lib64 /sbin; do
		[ -L "$l" ] && cp -P "$l" "$root$l"
	done
	printf '[Application]\nname=org.example.Fake\n' >"$root/.flatpak-info"
	d='for d in usr etc dev proc tmp; do mount --bind "/$d" "$0/$d" || exit 125; done; exec chroot "$0" "$@"'
	unshare -m --propagation private /bin/sh -c "$d" "$root" "${RUNAS[@]}" \
		env "DBUS_SESSION_BUS_ADDRESS=$BUS" gdbus call --session --dest "$JF_IFACE" \
		--object-path "$JF_PATH" --method "$JF_IFACE.$1" "${@:2}" >"$TDIR/call.out" 2>"$TDIR/call.err"
}

# A caller in a Snap sandbox (a snap.* cgroup, made here as root) or in a
# Flatpak one (a chroot with /.flatpak-info) is refused;
# with allow-sandboxed=true it is served but cannot choose the terminal
# command (that would run a program of its choosing outside its sandbox).
t_dbus_sandbox() {
	local allowed=$1 cg="" top pid rc=0
	[ "$(id -u)" = 0 ] || { skip "making a snap.* cgroup needs root"; return; }
	for top in /sys/fs/cgroup/systemd /sys/fs/cgroup/unified /sys/fs/cgroup; do
		[ -w "$top/cgroup.procs" ] || continue
		cg=$top/snap.jftest-fake.app-$BASHPID.scope
		mkdir "$cg" 2>/dev/null && break
		cg=""
	done
	[ -n "$cg" ] || { skip "no cgroup hierarchy to make a snap.* cgroup in"; return; }
	call List || { rmdir "$cg"; return 1; }
	if [ "$allowed" = no ]; then
		sandboxed_call "$cg" List
		rc=$?
		if [ $rc = 0 ] || ! grep -q "Error.NotPermitted: callers in a Flatpak or Snap sandbox" "$TDIR/call.err"; then
			diag "List from a snap cgroup: $(cat "$TDIR/call.out" "$TDIR/call.err")"
			rc=1
		else
			rc=0
		fi
		# (a container may forbid mount namespaces: no fake Flatpak there)
		if ! unshare -m --propagation private true 2>/dev/null; then
			:
		elif flatpak_call List || ! grep -q "Error.NotPermitted: callers in a Flatpak or Snap sandbox" "$TDIR/call.err"; then
			diag "List from a fake Flatpak: $(cat "$TDIR/call.out" "$TDIR/call.err")"
			rc=1
		fi
	else
		sandboxed_call "$cg" List || { diag "$(cat "$TDIR/call.err")"; rc=1; }
		sandboxed_call "$cg" Thaw 1 "{'terminal': <['sh', '-c', 'touch $TDIR/escaped']>}"
		grep -q "Error.NotPermitted: a sandboxed caller cannot choose" "$TDIR/call.err" ||
			{ diag "Thaw with a terminal from a snap cgroup: $(cat "$TDIR/call.out" "$TDIR/call.err")"; rc=1; }
		[ ! -e "$TDIR/escaped" ] || rc=1
	fi
	rmdir "$cg"
	[ $rc = 0 ] || fail "a caller in a snap sandbox was not treated as one (allow-sandboxed: $allowed)"
}

# Freeze options reach the CLI: a job with a TCP connection to a process
# outside it (a grandchild it disowned) is refused, and frozen with
# tcp-close (its connection dropped), thawed, it ends as the uninterrupted
# run does.
t_dbus_tcp_close() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	"$DBUS_CLI" freeze --help 2>&1 | grep -q -- --tcp-close ||
		{ skip "jobfreeze freeze has no --tcp-close yet (the contract has it)"; return; }
	local id
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	EXPECT_EXE=$WL/cpuloop start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" \
		"$PYTHON" -c '
import os, socket, sys
l = socket.socket()
l.bind(("127.0.0.1", 0))
l.listen()
if os.fork() == 0:
    if os.fork() == 0:
        os.closerange(0, 3)
        c, _ = l.accept()
        c.recv(1)	# until the job lets go of the connection
    os._exit(0)
os.wait()
a = socket.create_connection(l.getsockname())
l.close()
os.set_inheritable(a.fileno(), True)
os.execv(sys.argv[1], sys.argv[1:])' "$WL/cpuloop" || { fail "the job did not start"; return; }
	rand_sleep 300 800
	expect_error "$JF_IFACE.Error.Failed" Freeze "$JOB_PID" "{}" || return 1
	grep -q "TCP" "$TDIR/call.err" || { fail "the refusal does not name the TCP connection"; return; }
	call Freeze "$JOB_PID" "{'tcp-close': <true>}" || { fail "Freeze with tcp-close failed"; return; }
	id=$(reply_string)
	wait_gone "$JOB_PID" 5 || { fail "the job runs on after Freeze"; return; }
	tell_stop
	call Thaw "$id" "{}" || { fail "Thaw of job $id failed"; return; }
	wait_in "$TDIR/run/out.txt" ': stopped after [0-9]' 30 && ref_stopped &&
		wait_output "$REF.out" "$TDIR/run/out.txt" 20 || fail "the thawed job did not finish as the reference"
}

# The bus is never blocked: while a Freeze runs (its CLI held until the
# test lets it go), List is answered; then the Freeze ends well.
t_dbus_async() {
	local fpid t0 took id
	call List || return 1
	start_again counter25 300 600 "$WL/counter" 25 || return 1
	on_bus gdbus call --session --dest "$JF_IFACE" --object-path "$JF_PATH" \
		--method "$JF_IFACE.Freeze" "$JOB_PID" "{}" >"$TDIR/freeze.out" 2>"$TDIR/freeze.err" &
	fpid=$!
	wait_in "$TDIR/freeze.held" "" 10 || { kill "$fpid"; wait "$fpid"; fail "the Freeze did not start"; return; }
	t0=$(now_ms)
	call List || { touch "$TDIR/freeze.go"; wait "$fpid"; fail "List failed during a Freeze"; return; }
	took=$(( $(now_ms) - t0 ))
	# (a service blocked by the Freeze answers only once it is let go)
	if [ -e "$TDIR/freeze.go" ] || ! kill -0 "$fpid" 2>/dev/null; then
		touch "$TDIR/freeze.go"
		wait "$fpid"
		fail "List was answered only after the Freeze: the service was blocked"
		return
	fi
	touch "$TDIR/freeze.go"
	wait "$fpid" || { diag_file Freeze "$TDIR/freeze.err"; fail "the held Freeze failed"; return; }
	diag "List answered in $took ms during a Freeze"
	id=$(sed -n "s/^('\(.*\)',)\$/\1/p" "$TDIR/freeze.out")
	wait_gone "$JOB_PID" 5 || { fail "the job runs on after Freeze"; return; }
	call Thaw "$id" "{}" || { fail "Thaw of job $id failed"; return; }
	wait_output "$REF.out" "$TDIR/run/out.txt" 20 || fail "the thawed job did not finish as the reference"
}

# `jobfreeze daemon` serves on the bus and exits once idle (idle-timeout
# from the config), giving up its name.
t_dbus_idle() {
	local i pid
	(cd "$TDIR" && exec "${RUNAS[@]}" env "DBUS_SESSION_BUS_ADDRESS=$BUS" \
		"JOBFREEZE_CLI=$DBUS_CLI" "XDG_CONFIG_HOME=$TDIR/config" "XDG_STATE_HOME=$TDIR/state" \
		"$JF" daemon) >"$TDIR/daemon.log" 2>&1 &
	pid=$!
	on_bus gdbus wait --session --timeout 5 "$JF_IFACE" || { diag_file daemon "$TDIR/daemon.log"; fail "jobfreeze daemon did not take its name"; return; }
	call List || { fail "List from jobfreeze daemon failed"; return; }
	for ((i = 0; i < 80; i++)); do
		has_owner "$JF_IFACE" || break
		sleep 0.1
	done
	if [ $i = 80 ]; then
		kill "$pid"
		wait "$pid"
		fail "the service still runs 8 s after its last call (idle-timeout=2)"
		return
	fi
	wait "$pid" || { diag_file daemon "$TDIR/daemon.log"; fail "jobfreeze daemon exited $? when idle"; return; }
	grep -q "idle for 2 s: exiting" "$TDIR/daemon.log" || { diag_file daemon "$TDIR/daemon.log"; fail "no idle exit in the log"; }
}

# The "Frozen jobs" desktop entry: make install puts it, the activation
# file and the user unit under PREFIX with PREFIX's paths; the picker it
# opens lists the jobs in its terminal and thaws the one typed there.
t_desktop_pick() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return; }
	local inst=$TDIR/inst f
	make -s -C "$HERE/.." O="$BUILD" DESTDIR="$inst" PREFIX=/opt/jf install-desktop \
		>"$TDIR/make.out" 2>&1 || { diag_file "make install-desktop" "$TDIR/make.out"; fail "make install-desktop failed"; return; }
	for f in libexec/jobfreeze-daemon bin/jobfreeze-pick share/dbus-1/services/$JF_IFACE.service \
		 lib/systemd/user/jobfreeze.service share/applications/jobfreeze-frozen-jobs.desktop; do
		[ -f "$inst/opt/jf/$f" ] || { fail "make install did not install /opt/jf/$f"; return; }
	done
	grep -q '^Exec=/opt/jf/libexec/jobfreeze-daemon$' "$inst/opt/jf/share/dbus-1/services/$JF_IFACE.service" &&
		grep -q '^SystemdService=jobfreeze.service$' "$inst/opt/jf/share/dbus-1/services/$JF_IFACE.service" &&
		grep -q '^ExecStart=/opt/jf/libexec/jobfreeze-daemon$' "$inst/opt/jf/lib/systemd/user/jobfreeze.service" &&
		grep -q '^Type=dbus$' "$inst/opt/jf/lib/systemd/user/jobfreeze.service" &&
		grep -q '^Exec=/opt/jf/bin/jobfreeze-pick$' "$inst/opt/jf/share/applications/jobfreeze-frozen-jobs.desktop" &&
		grep -q '^Name=Frozen jobs$' "$inst/opt/jf/share/applications/jobfreeze-frozen-jobs.desktop" ||
		{ fail "the installed files do not name PREFIX's paths"; return; }
	! grep -rq '@[A-Z]*DIR@' "$inst" || { fail "a template was left unsubstituted"; return; }
	# the picker, next to a jobfreeze, in a terminal: freeze a job, pick it
	mkdir_user "$TDIR/bin"
	cp "$HERE/../desktop/jobfreeze-pick" "$TDIR/bin/"
	ln -s "$JF" "$TDIR/bin/jobfreeze"
	reference counter25 "$WORK/ref/counter25.d" "$WL/counter" 25 || return 1
	start_again counter25 500 1000 "$WL/counter" 25 || return 1
	jf "$TDIR" "$TDIR/freeze.out" "$TDIR/freeze.err" 30 freeze --name picked "$JOB_PID"
	[ "$JF_STATUS" = 0 ] || { diag_file freeze "$TDIR/freeze.err"; fail "jobfreeze freeze exited $JF_STATUS"; return; }
	wait_gone "$JOB_PID" 5
	tmux_at "$TDIR/tmux.sock"
	# (not in run/: wait_output waits for nothing to run there)
	as_user "${TM[@]}" new-session -d -s t -c "$TDIR" -x 120 -y 30 \
		"$TDIR/bin/jobfreeze-pick; echo PICK=\$?; exec sleep 60" || { fail "tmux did not start"; return; }
	if ! wait_screen t:0 "Job to thaw" 5 || ! grep -q "picked" <<<"$SCREEN"; then
		as_user "${TM[@]}" kill-server
		diag "picker screen: $SCREEN"
		fail "the picker did not list the frozen job"
		return
	fi
	as_user "${TM[@]}" send-keys -t t:0 picked Enter
	local ok=1
	wait_output "$REF.out" "$TDIR/run/out.txt" 20 || ok=0
	wait_screen t:0 '^PICK=' 3
	as_user "${TM[@]}" kill-server
	grep -q '^PICK=0$' <<<"$SCREEN" || { diag "picker screen: $SCREEN"; ok=0; }
	[ $ok = 1 ] || fail "the job picked did not thaw and finish in the picker's terminal"
}

run_test "dbus: activation and introspection" dbus_test t_dbus_activation
run_test "dbus: Freeze, List, JobFrozen, Thaw detached" dbus_test t_dbus_freeze_thaw
run_test "dbus: Thaw in a tmux window"          dbus_test t_dbus_thaw_terminal
run_test "dbus: a failed thaw says why in its terminal" dbus_test t_dbus_thaw_fails
run_test "dbus: Remove"                         dbus_test t_dbus_remove
run_test "dbus: Freeze option tcp-close"        dbus_test t_dbus_tcp_close
run_test "dbus: Freeze with every and keep: an autosave" dbus_test t_dbus_autosave
run_test "dbus: errors"                         dbus_test t_dbus_errors
CONFIG=("terminal=tmux -S @TDIR@/tmux.sock new-window -t t:5" idle-timeout=1)
run_test "dbus: notifications and Resume"       dbus_test t_dbus_notify
CONFIG=()
run_test "dbus: sandboxed callers refused"     dbus_test t_dbus_sandbox no
CONFIG=(allow-sandboxed=true)
run_test "dbus: sandboxed callers allowed by config" dbus_test t_dbus_sandbox yes
HELD_FREEZE=1
run_test "dbus: List answered during a Freeze" dbus_test t_dbus_async
HELD_FREEZE=""
CONFIG=(idle-timeout=2)
run_test "dbus: jobfreeze daemon exits when idle" dbus_test t_dbus_idle
CONFIG=()
run_test "desktop: make install, the Frozen jobs picker" t_desktop_pick
