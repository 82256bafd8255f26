# tests/t-args.sh: bad arguments. Processes that must never be frozen (init,
# a kernel thread, jobfreeze itself or a job it runs in, another user's),
# image directories that are symlinks or that others could have written,
# and root freezing another user's job (--allow-other-user).
# shellcheck shell=bash

# refused_plain PID PATTERN WHAT: dump -t PID as the test user fails with a
# message matching PATTERN and leaves no image
refused_plain() {
	local pid=$1 pattern=$2 what=$3
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] || [ "$JF_STATUS" -ge 124 ]; then
		fail "dump of $what exited $JF_STATUS"
		return
	fi
	if ! grep -Eiq -- "$pattern" "$TDIR/dump.err"; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "the message does not say /$pattern/ for $what"
		return
	fi
	[ ! -e "$TDIR/img" ] || fail "a refused dump left $TDIR/img"
}

# pid 1 is refused, also while a thawed job runs (whose restorer below
# init once made the dump take that job for the one asked for, and
# freeze it): that job runs on undisturbed
t_dump_init() {
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	dump_job "$JOB_PID" "$TDIR/img0" || return 1
	wait_gone "$JOB_PID" 5
	jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore -d --pidfile "$TDIR/pid" -D "$TDIR/img0"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r.err"; fail "the thaw exited $JF_STATUS"; return; }
	local pid
	pid=$(cat "$TDIR/pid")
	bg_add "$pid"
	refused_plain 1 "init" "pid 1" || return
	running "$pid" || { fail "the thawed job is not running after the refused dump of pid 1"; return; }
	local i
	for ((i = 0; i < T_RUN * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the thawed job was disturbed"
}

t_dump_kthread() {
	[ "$(cat /proc/2/comm 2>/dev/null)" = kthreadd ] || { skip "pid 2 is not kthreadd here"; return; }
	refused_plain 2 "kernel thread" "kthreadd (pid 2)"
}

# jobfreeze asked to freeze its own pid (a shell that execs it with $$)
t_dump_itself() {
	(cd "$TDIR" && timeout 30 "${RUNAS[@]}" /bin/sh -c 'exec "$0" dump -t $$ -D "$1"' \
		"$JF" "$TDIR/img" >"$TDIR/dump.out" 2>"$TDIR/dump.err")
	local st=$?
	[ "$st" != 0 ] && [ "$st" -lt 124 ] || { fail "dump of itself exited $st"; return; }
	grep -q "cannot freeze itself" "$TDIR/dump.err" ||
		{ diag_file "dump stderr" "$TDIR/dump.err" 5; fail "no clear message"; return; }
	[ ! -e "$TDIR/img" ] || fail "a refused dump left $TDIR/img"
}

# a shell asks to freeze itself: jobfreeze runs inside that job; the shell
# must go on (it prints after jobfreeze returns)
t_dump_own_job() {
	(cd "$TDIR" && timeout 30 "${RUNAS[@]}" /bin/sh -c '"$0" dump -t $$ -D "$1"; echo "went on $?"' \
		"$JF" "$TDIR/img" >"$TDIR/dump.out" 2>"$TDIR/dump.err")
	grep -Eq "^went on [1-9]" "$TDIR/dump.out" ||
		{ diag_file "shell stdout" "$TDIR/dump.out" 3; fail "the shell did not go on after a refused dump"; return; }
	grep -q "inside the job" "$TDIR/dump.err" ||
		{ diag_file "dump stderr" "$TDIR/dump.err" 5; fail "no clear message"; return; }
	[ ! -e "$TDIR/img" ] || fail "a refused dump left $TDIR/img"
}

# cpuloop started as the test user, left running a bit (it runs until told
# to stop: its reference comes once it has stopped)
start_cpuloop() {
	start_again cpuloop 300 800 "$WL/cpuloop"
}

# dump -D a symlink to an empty directory: refused, the job goes on
t_dump_symlink_dir() {
	start_cpuloop || return 1
	mkdir_user "$TDIR/real"
	as_user ln -s "$TDIR/real" "$TDIR/img"
	expect_refused_dump "$JOB_PID" "symlink" "an image directory that is a symlink" || return 1
	[ -z "$(ls -A "$TDIR/real")" ] || fail "the dump wrote through the symlink"
}

spoil_symlink()  { mv "$1" "$1.real" && ln -s "${1##*/}.real" "$1"; }
spoil_dir_mode() { chmod 0770 "$1"; }
spoil_file_mode() { chmod 0666 "$1/inventory.img"; }
spoil_dir_owner() { chmod 0755 "$1" && chown nobody "$1"; }
t_restore_symlink_dir() { bad_restore "a symlink as image directory" "symlink" spoil_symlink; }
t_restore_dir_mode() { bad_restore "an image directory writable by its group" "writable by group" spoil_dir_mode; }
t_restore_file_mode() { bad_restore "inventory.img writable by all" "inventory.img.*writable" spoil_file_mode; }
t_restore_dir_owner() {
	[ -n "$TEST_USER" ] || { skip "needs root to chown the image directory"; return; }
	bad_restore "an image directory owned by nobody" "belongs to uid" spoil_dir_owner
}

# root_dump ARGS...: jobfreeze dump run by root itself (not the test user)
root_dump() {
	(cd "$TDIR" && timeout -k 5 "$T_DUMP" "$JF" dump "$@" >"$TDIR/dump.out" 2>"$TDIR/dump.err")
	JF_STATUS=$?
}

# root freezing the test user's job: refused without --allow-other-user
t_root_needs_flag() {
	[ -n "$TEST_USER" ] || { skip "needs root"; return; }
	start_cpuloop || return 1
	root_dump -t "$JOB_PID" -D "$TDIR/img"
	local ok=0
	[ "$JF_STATUS" != 0 ] || { diag "root's dump of $TEST_USER's job exited 0"; ok=1; }
	grep -q -- "--allow-other-user" "$TDIR/dump.err" || { diag "no hint at --allow-other-user"; ok=1; }
	[ ! -e "$TDIR/img" ] || { diag "a refused dump left $TDIR/img"; ok=1; }
	running "$JOB_PID" || { diag "the job is not running after the refused dump"; ok=1; }
	tell_stop
	wait_job "$JOB_PID" "$T_RUN"
	ref_stopped || return 1
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || ok=1
	[ "$JOB_STATUS" = "$REFST" ] || { diag "the job exited $JOB_STATUS, expected $REFST"; ok=1; }
	[ $ok = 0 ] || { diag_file "dump stderr" "$TDIR/dump.err" 5; fail "not refused cleanly"; }
}

# with --allow-other-user: the images belong to the job's user, who thaws it
t_root_allow_other() {
	[ -n "$TEST_USER" ] || { skip "needs root"; return; }
	start_cpuloop || return 1
	root_dump -t "$JOB_PID" -D "$TDIR/img" --allow-other-user
	if [ "$JF_STATUS" != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err" 10
		fail "root's dump --allow-other-user exited $JF_STATUS"
		return
	fi
	wait_gone "$JOB_PID" 5 || { fail "the job is still there after the dump"; return; }
	tell_stop
	local bad
	bad=$(find "$TDIR/img" ! -user "$TEST_USER" -printf '%p ')
	[ -z "$bad" ] || { fail "not the job user's: $bad"; return; }
	thaw_compare "$TDIR/img" || fail "the thawed job differs from the uninterrupted run"
}

run_test "args: dump refuses pid 1"                 t_dump_init
run_test "args: dump refuses a kernel thread"       t_dump_kthread
run_test "args: dump refuses itself"                t_dump_itself
run_test "args: dump refuses a job it runs in"      t_dump_own_job
run_test "args: dump refuses a symlink image dir"   t_dump_symlink_dir
run_test "args: restore refuses a symlink image dir" t_restore_symlink_dir
run_test "args: restore refuses a group-writable dir" t_restore_dir_mode
run_test "args: restore refuses a world-writable image" t_restore_file_mode
run_test "args: restore refuses a dir of another owner" t_restore_dir_owner
run_test "args: root needs --allow-other-user"      t_root_needs_flag
run_test "args: root --allow-other-user gives the images" t_root_allow_other
