# tests/t-owners.sh: the owners of files and the job's groups come back as
# they were: a thaw's user namespace maps only the user's own ids, and the
# kernel alone would show every other owner as 65534 (owners.c). Sourced by
# tests/run.sh.
# shellcheck shell=bash

# stat, lstat, fstat, fstatat, statx and getgroups, before and after
t_owners() { freeze_thaw owners 0 300 1200 "$WL/owners"; }
run_test "owners: stat calls see root's and other groups' files as before" t_owners

# the same with supplementary groups (they show through getgroups and as
# the group of files): only root can start a job with chosen groups
t_owners_groups() {
	[ -n "$TEST_USER" ] || { skip "needs root to give the test user groups"; return; }
	local gids
	gids=$(getent group users staff | cut -d: -f3 | paste -sd,)
	[ -n "$gids" ] || { skip "no group users or staff here"; return; }
	local -a RUNAS=("${RUNAS[@]/--clear-groups/--groups=$gids}")
	freeze_thaw owners-groups 0 300 1200 "$WL/owners"
}
run_test "owners: a job with supplementary groups keeps them" t_owners_groups

# tar records owners: an archive of root's files made by a thawed tar is
# the one an uninterrupted tar makes (a slow copy sizes the run by time)
t_owners_tar() {
	command -v tar >/dev/null && [ -d /usr/share/zoneinfo ] ||
		{ skip "no tar or /usr/share/zoneinfo"; return; }
	EXPECT_EXE=/bin/sh freeze_thaw tar-zoneinfo 0 300 1200 /bin/sh -c \
		"tar --sort=name -C /usr/share -cf - zoneinfo | $WL/pipestream relay -d 8000 | sha256sum"
}
run_test "owners: tar of root's files through a pipe, frozen midway" t_owners_tar

# Without the filter (JOBFREEZE_KERNEL_IDS=1) the thawed job would see
# 65534: this shows the test above can fail.
t_owners_kernel_ids() {
	[ -n "$TEST_USER" ] || [ "$(id -u)" != 0 ] || { skip "as root every id is mapped"; return; }
	start_again owners 300 1200 "$WL/owners" || return 1
	dump_job "$JOB_PID" "$TDIR/img" || return 1
	wait_gone "$JOB_PID" 5 || { fail "the job is still there after the dump"; return; }
	# (RUNAS ends with env's assignments)
	local -a RUNAS=("${RUNAS[@]}" JOBFREEZE_KERNEL_IDS=1)
	jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore -D "$TDIR/img"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r.err"; fail "restore exited $JF_STATUS"; return; }
	grep -q "uid 65534" "$TDIR/run/out.txt" ||
		{ diag_file "job output" "$TDIR/run/out.txt" 30; fail "without the filter the job did not see 65534"; }
}
run_test "owners: without the filter a thawed job sees 65534" t_owners_kernel_ids

# A job in a seccomp sandbox of its own is refused (its filter cannot be
# read back without privileges: it would come back unprotected), and goes
# on; the one filter a thaw gives (above) is recognised as ours when a
# thawed job is frozen again (tests "freeze-thaw-freeze-thaw").
t_dump_sandboxed() {
	reference sandboxed "$WORK/ref/sandboxed.d" "$WL/sandboxed" || return 1
	REFST=$(cat "$REF.status")
	mkdir_user "$TDIR/run"
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$WL/sandboxed" ||
		{ fail "the job did not start"; return; }
	rand_sleep 300 800
	expect_refused_dump "$JOB_PID" "seccomp sandbox" "a seccomp filter of its own" || return 1
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || fail "the job exited $JOB_STATUS, expected $REFST"
}
run_test "dump refuses a job in a seccomp sandbox of its own" t_dump_sandboxed
