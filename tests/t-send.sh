# tests/t-send.sh: `jobfreeze send` between two users of this machine,
# over a real ssh: the test starts its own sshd on a loopback port (its
# own host key, one authorized key, only the receiving user let in) and
# the test user sends a job from its store to the user TEST_USER-recv (jftest-recv), who
# thaws it; the output is compared with an uninterrupted run. A job the
# other side cannot thaw is not sent, and says why; a transfer cut
# half-way leaves the job here and nothing there. Needs root (an sshd, a
# second user) and openssh-server. Sourced by tests/run.sh.
# shellcheck shell=bash

RECV_USER=${TEST_USER:-jftest}-recv
SSHD_PID=""

# recv_user: the receiving user, made once (tests run at once share it)
recv_user() {
	(
		flock 9
		if ! id -u "$RECV_USER" >/dev/null 2>&1; then
			useradd --system --no-create-home --home-dir /nonexistent --shell /bin/sh \
				"$RECV_USER" || exit 1
		fi
		# no password, but not locked: sshd lets no locked account in by key
		usermod -p '*' "$RECV_USER" || exit 1
		# openssh-server's own runtime directory, which its service
		# makes at boot: sshd will not start without it
		[ -d /run/sshd ] || { mkdir -p /run/sshd && chmod 755 /run/sshd; }
	) 9>"$WORK/.recv-user.lock"
}

# send_setup: the receiving user, an sshd for it, the test user's ssh
# config ($SSH_CFG, host "recv"); the receiver's store $TDIR/recv-state,
# its command line REMOTE, RECV_RUNAS to run things as it
send_setup() {
	[ "$(id -u)" = 0 ] || { skip "needs root: an sshd and a second user"; return 77; }
	[ -x /usr/sbin/sshd ] && command -v ssh >/dev/null && command -v ssh-keygen >/dev/null ||
		{ skip "openssh-server or openssh-client is not installed"; return 77; }
	recv_user || { fail "cannot make the user $RECV_USER"; return 1; }
	RECV_RUNAS=(setpriv "--reuid=$RECV_USER" "--regid=$RECV_USER" --clear-groups --inh-caps=-all
		    env -i HOME=/nonexistent PATH=/usr/local/bin:/usr/bin:/bin LC_ALL=C TMPDIR=/tmp
		    "XDG_STATE_HOME=$TDIR/recv-state")
	"${RECV_RUNAS[@]}" test -x "$JF" || { skip "$RECV_USER cannot run $JF"; return 77; }
	local d=$TDIR/sshd c=$TDIR/client port i
	mkdir -p "$d" && chmod 755 "$d"
	mkdir -p "$TDIR/recv-state" "$TDIR/recv" && chown "$RECV_USER:" "$TDIR/recv-state" "$TDIR/recv" &&
		chmod 700 "$TDIR/recv-state"
	mkdir_user "$c"
	ssh-keygen -q -t ed25519 -N '' -f "$d/host_key" || return 1
	as_user ssh-keygen -q -t ed25519 -N '' -f "$c/id" || return 1
	cp "$c/id.pub" "$d/authorized_keys" && chmod 644 "$d/authorized_keys"
	port=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
	cat >"$d/sshd_config" <<-EOF
		ListenAddress 127.0.0.1
		Port $port
		HostKey $d/host_key
		PidFile none
		AuthorizedKeysFile $d/authorized_keys
		AllowUsers $RECV_USER
		PubkeyAuthentication yes
		PasswordAuthentication no
		KbdInteractiveAuthentication no
		UsePAM no
		PermitRootLogin no
		StrictModes no
	EOF
	/usr/sbin/sshd -D -e -f "$d/sshd_config" >"$d/sshd.log" 2>&1 &
	SSHD_PID=$!
	echo "[127.0.0.1]:$port $(cut -d' ' -f1,2 "$d/host_key.pub")" >"$c/known_hosts"
	cat >"$c/config" <<-EOF
		Host recv
		  HostName 127.0.0.1
		  Port $port
		  User $RECV_USER
		  IdentityFile $c/id
		  IdentitiesOnly yes
		  UserKnownHostsFile $c/known_hosts
		  StrictHostKeyChecking yes
		  BatchMode yes
		  LogLevel ERROR
	EOF
	chown "$TEST_USER:" "$c/known_hosts" "$c/config" && chmod 600 "$c/config"
	SSH_CFG=$c/config
	REMOTE="env XDG_STATE_HOME=$TDIR/recv-state $JF"
	for ((i = 0; i < 50; i++)); do
		(exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && return 0
		sleep 0.1
	done
	diag_file "sshd" "$d/sshd.log" 10
	fail "the test's sshd did not start"
	return 1
}

send_teardown() {
	if [ -n "$SSHD_PID" ]; then
		kill "$SSHD_PID" 2>/dev/null
		wait "$SSHD_PID" 2>/dev/null
		SSHD_PID=""
	fi
}

# recv_jf NAME ARGS...: jobfreeze ARGS as the receiving user, with its
# store, in $TDIR/run; its output in $TDIR/recv/NAME.out and .err, its
# status in RST
recv_jf() {
	local name=$1
	shift
	(
		timeout -k 5 "$T_RESTORE" "${RECV_RUNAS[@]}" "${USER_SH[@]}" "$TDIR/run" \
			"$TDIR/recv/$name.out" "$TDIR/recv/$name.err" "$JF" "$@"
		exit $?
	) 2>/dev/null
	RST=$?
}

# send_job ARGS...: `jobfreeze send` as the test user through the test's
# ssh config to host recv; status in ST
send_job() {
	st "$TDIR/send.out" "$TDIR/send.err" send --ssh "ssh -F $SSH_CFG" --remote "$REMOTE" "$@"
}

# frozen_job KEY CMD...: CMD's reference run, then CMD again in $TDIR/run
# (which the receiving user may write in), frozen into the test user's
# store as job 1
frozen_job() {
	start_again "$@" || return 1
	chmod 777 "$TDIR/run" && chmod 666 "$TDIR/run/out.txt" "$TDIR/run/err.txt"
	st "$TDIR/f.out" "$TDIR/f.err" freeze --name sent "$JOB_PID"
	[ "$ST" = 0 ] || { diag_file "freeze" "$TDIR/f.err" 5; fail "freeze exited $ST"; return 1; }
	wait_gone "$JOB_PID" 5 || { fail "the job is still there after the freeze"; return 1; }
}

# the receiving user's store holds exactly WANT (ids), nothing half-made
recv_store_is() {
	local left
	recv_jf list list	# (sweeps what a dead command left)
	left=$(ls -A "$TDIR/recv-state/jobfreeze" 2>/dev/null | grep -v -e '^\.last-id$' -e '^\.warned$')
	[ "$left" = "${1:-}" ] || { diag "the other store holds: $(echo $left)"; fail "$2"; return 1; }
}

t_send_body() {
	frozen_job vdsocall12 300 700 "$WL/vdsocall" 12 || return 1
	send_job 1 recv
	if [ "$ST" != 0 ] || ! grep -q "sent job 1 to recv, where it is job 1" "$TDIR/send.out"; then
		diag_file "send" "$TDIR/send.err" 10
		fail "send exited $ST"
		return
	fi
	st_store_clean "" "the sent job is still here" || return
	recv_jf thaw thaw 1
	[ "$RST" = "$REFST" ] || { diag_file "thaw there" "$TDIR/recv/thaw.err" 10; fail "the thaw by $RECV_USER exited $RST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job thawed there differs"
	recv_store_is "" "the thawed job's images are still there"
}

# a job the other side cannot thaw (a CPU flag it lacks, its program gone
# there) is not sent: every reason said, the job here untouched, nothing
# there; with --ignore-cpu-features and the program back it goes (kept
# here too with --keep; sent again, without its name, which is taken
# there) and thaws there
t_send_refused_body() {
	have_imgedit || return
	frozen_job vdsocall12 300 700 "$WL/vdsocall" 12 || return 1
	local img=$TDIR/state/jobfreeze/1 before proc
	proc=$(proc_img "$img")
	imgedit "$img/inventory.img" cpuid-or 7 0 edx 4 &&
		imgedit "$proc" path-replace "$WL/vdsocall" "$TDIR/gone/vdsocall" || { fail "cannot alter the image"; return; }
	before=$(img_digest "$img")
	send_job 1 recv
	if [ "$ST" != 1 ] || ! grep -q "recv: the job was frozen on a CPU with avx512_4vnniw" "$TDIR/send.err" ||
	   ! grep -q "recv: the job's program $TDIR/gone/vdsocall is gone" "$TDIR/send.err" ||
	   ! grep -q "job 1 was not sent; it stays here" "$TDIR/send.err"; then
		diag_file "send" "$TDIR/send.err" 10
		fail "send of a job the other side cannot thaw exited $ST without every reason"
		return
	fi
	[ "$before" = "$(img_digest "$img")" ] || { fail "the refused send changed the job here"; return; }
	recv_store_is "" "a refused job left something there" || return
	mkdir_user "$TDIR/gone" && cp -p "$WL/vdsocall" "$TDIR/gone/vdsocall" && chmod a+rx "$TDIR/gone" "$TDIR/gone/vdsocall"
	touch -r "$WL/vdsocall" "$TDIR/gone/vdsocall"
	send_job --keep --ignore-cpu-features 1 recv
	[ "$ST" = 0 ] || { diag_file "send" "$TDIR/send.err" 10; fail "send --ignore-cpu-features --keep exited $ST"; return; }
	st_store_clean 1 "send --keep did not keep the job here" || return
	# again: its name is taken there now, it comes without it
	send_job --keep --ignore-cpu-features 1 recv
	if [ "$ST" != 0 ] || ! grep -q "where it is job 2" "$TDIR/send.out" ||
	   ! grep -q "named 'sent' already: the job sent comes without a name" "$TDIR/send.err"; then
		diag_file "send" "$TDIR/send.err" 10
		fail "a second send of the job exited $ST, or said nothing of its name"
		return
	fi
	recv_jf thaw thaw --ignore-cpu-features 1
	[ "$RST" = "$REFST" ] || { diag_file "thaw there" "$TDIR/recv/thaw.err" 10; fail "the thaw by $RECV_USER exited $RST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job thawed there differs"
}

# the transfer cut half-way through the job's memory: the job stays here
# (and thaws here), nothing of it is left there
t_send_cut_body() {
	frozen_job bigmem48 300 700 "$WL/bigmem" 48 || return 1
	local img=$TDIR/state/jobfreeze/1 before total
	before=$(img_digest "$img")
	total=$(du -sb "$img" | cut -f1)
	printf '#!/bin/sh\ndd bs=64K iflag=count_bytes count=%d status=none | ssh -F %s "$@"\n' \
		$((total / 2)) "$SSH_CFG" >"$TDIR/cutssh"
	chmod a+rx "$TDIR/cutssh"
	st "$TDIR/send.out" "$TDIR/send.err" send --ssh "$TDIR/cutssh" --remote "$REMOTE" 1 recv
	if [ "$ST" != 1 ] || ! grep -q "did not finish: job 1 stays here" "$TDIR/send.err"; then
		diag_file "send" "$TDIR/send.err" 10
		fail "a cut transfer exited $ST without saying the job stays here"
		return
	fi
	[ "$before" = "$(img_digest "$img")" ] || { fail "the cut send changed the job here"; return; }
	recv_store_is "" "a cut transfer left something there" || return
	tell_stop
	st "$TDIR/t.out" "$TDIR/t.err" thaw 1
	ref_stopped || { fail "no reference run for the job kept here"; return; }
	[ "$ST" = "$REFST" ] || { diag_file "thaw" "$TDIR/t.err" 10; fail "the job kept here thawed with $ST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job kept here differs"
}

# the newest snapshot of an autosave, sent after a "crash" (the job and its
# autosaver killed), is a job of its own there: no autosave of that machine
# names it, a thaw without an id finds it, and it goes on as it would have
t_send_autosave_body() {
	AS_KEEP=2
	start_again cpuloop 200 400 "$WL/cpuloop" || return 1
	chmod 777 "$TDIR/run" && chmod 666 "$TDIR/run/out.txt" "$TDIR/run/err.txt"
	local pid=$JOB_PID newest
	as_start --every 1 --keep 2 "$pid" || return
	as_wait_for 2 30 || return
	as_crash "$pid" || return
	newest=$(as_snapshots | tail -n 1)
	send_job "$AS_ID@$newest" recv
	if [ "$ST" != 0 ]; then
		diag_file "send" "$TDIR/send.err" 10
		fail "send of snapshot $AS_ID@$newest exited $ST"
		return
	fi
	if grep -qs -e '^autosave=' -e '^snapshot=' "$TDIR/recv-state/jobfreeze"/[0-9]*/job.meta; then
		diag_file "job.meta there" "$(ls "$TDIR/recv-state/jobfreeze"/[0-9]*/job.meta | head -n 1)" 20
		fail "the job sent still names an autosave of the machine it came from"
		return
	fi
	tell_stop
	recv_jf thaw thaw
	ref_stopped || { fail "no reference run for the job thawed there"; return; }
	[ "$RST" = "$REFST" ] || { diag_file "thaw there" "$TDIR/recv/thaw.err" 10; fail "the thaw by $RECV_USER exited $RST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the snapshot thawed there differs"
	recv_store_is "" "the thawed job's images are still there"
}

# send_test BODY: BODY between send_setup and send_teardown
send_test() {
	local rc=0
	send_setup || { rc=$?; send_teardown; return $rc; }
	"$1" || rc=$?
	send_teardown
	return $rc
}

t_send()         { send_test t_send_body; }
t_send_refused() { send_test t_send_refused_body; }
t_send_cut()     { send_test t_send_cut_body; }
t_send_autosave() { send_test t_send_autosave_body; }

run_test "send: a job to another user over ssh, thawed there" t_send
run_test "send: refused by the other side, every reason said" t_send_refused
run_test "send: a transfer cut half-way leaves the job here" t_send_cut
run_test "send: an autosave's snapshot sent after a crash is a job of its own there" t_send_autosave
