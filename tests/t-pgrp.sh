# tests/t-pgrp.sh: process groups and sessions the job made itself come
# back (sourced by tests/run.sh, sharing its helpers). Their processes
# print concurrently: outputs are compared sorted.
# shellcheck shell=bash

# same_sorted: the thawed run's stdout ($TDIR/run/out.txt) holds the lines
# of the uninterrupted run's ($REF.out), in any order
same_sorted() {
	sort "$REF.out" >"$TDIR/ref.sorted"
	sort "$TDIR/run/out.txt" >"$TDIR/run.sorted"
	same_file "$TDIR/ref.sorted" "$TDIR/run.sorted" "stdout (sorted)"
}

# restore_sorted IMG: restore IMG waiting for the job; its exit status is
# $REFST and its output the reference's, sorted
restore_sorted() {
	local img=$1 tag=${1##*/}
	jf "$TDIR" "$TDIR/$tag.restore.out" "$TDIR/$tag.restore.err" "$T_RESTORE" restore -D "$img"
	if [ "$JF_STATUS" != "$REFST" ]; then
		diag "restore of $tag exited $JF_STATUS, the uninterrupted run $REFST"
		diag_file "restore stderr" "$TDIR/$tag.restore.err"
		return 1
	fi
	same_sorted
}

# pgrp_freeze_thaw KEY LO HI CMD...: CMD frozen after LO..HI ms, thawed in
# the foreground, compared with an uninterrupted run
pgrp_freeze_thaw() {
	local key=$1 lo=$2 hi=$3
	shift 3
	start_again "$key" "$lo" "$hi" "$@" || return 1
	local pid=$JOB_PID
	alive "$pid" || { fail "the job ended before it could be frozen"; return; }
	dump_job "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "job $pid still there after the dump"; return; }
	restore_sorted "$TDIR/img" || fail "the thawed job differs from the uninterrupted run"
}

# a C job: groups made with setpgid (one joined by a sibling forked before
# its leader, one whose leader has exited uncollected), a session made
# with setsid with a group inside it; kill(-pgid) and waitpid(-pgid)
t_pgrp_c() { pgrp_freeze_thaw pgrp 300 2500 "$WL/pgrp"; }
run_test "pgrp: setpgid/setsid groups and a session come back" t_pgrp_c

# sessions made in the orders of ZDTM's session00 and session01 (a child
# forked before its parent's setsid(), a chain of two; a leaderless group
# in an inner session), under a root that leads its own session
t_pgrp_sessions() { pgrp_freeze_thaw sessions 300 2000 "$WL/sessions"; }
run_test "pgrp: sessions made after their children, a leaderless group in one" t_pgrp_sessions

# bash with set -m: each background job (one a pipeline) is its own group
t_pgrp_bash() {
	EXPECT_EXE=/bin/bash pgrp_freeze_thaw pgrp.sh 300 1800 /bin/bash "$PYDIR/pgrp.sh"
}
run_test "pgrp: set -m background jobs keep their groups" t_pgrp_bash

# frozen, thawed detached, frozen again from outside the thawed job's pid
# namespace (its groups seen there by other numbers), thawed again
t_pgrp_twice() {
	start_again pgrp 300 1200 "$WL/pgrp" || return 1
	freeze_twice "$JOB_PID" 300 1200 || return 1
	restore_sorted "$TDIR/img2" || fail "the job frozen twice differs from the uninterrupted run"
}
run_test "pgrp: groups and session survive two freezes" t_pgrp_twice

# processes of sessions of the job reparented to the root (a child
# subreaper) when the process that forked them exited, in the shapes of
# ZDTM's session00, session01 and child_subreaper_and_reparent: in the
# root's session, in a session and a group whose leader has exited (with a
# child of their own, a group of their own, a zombie), in the session of a
# subreaper below the root; each checks its session, group and parent
t_pgrp_orphans() { pgrp_freeze_thaw orphans 300 2000 "$WL/orphans"; }
run_test "pgrp: processes reparented out of their session's tree come back" t_pgrp_orphans

# the same frozen, thawed detached, frozen again from outside the thawed
# job's pid namespace (the leaderless session seen there by another number)
t_pgrp_orphans_twice() {
	start_again orphans 300 1000 "$WL/orphans" || return 1
	freeze_twice "$JOB_PID" 200 600 || return 1
	restore_sorted "$TDIR/img2" || fail "the job frozen twice differs from the uninterrupted run"
}
run_test "pgrp: reparented processes survive two freezes" t_pgrp_orphans_twice

# UNTIL_GONE: python for a process that left the job: until_gone(JOB)
# returns once the job has ended (then orphans_gone, in the test)
UNTIL_GONE='
def until_gone(pid):
    while True:
        try:
            os.kill(pid, 0)
        except OSError:
            os._exit(0)
        time.sleep(0.1)
'
# orphans_gone: a test's processes that left the job (they end with it)
# are gone before the test ends (5 s at most)
orphans_gone() {
	local i
	for ((i = 0; i < 50; i++)); do
		[ -z "$(leftovers)" ] && return 0
		sleep 0.1
	done
}

# a process of a session of the job in a group whose leader (of that
# session) was reparented out of the job: refused
t_pgrp_refused_group() {
	refused_cpuloop "a group led from outside the job" "led by a process outside the job" "
import os, sys, time$UNTIL_GONE"'
os.setsid()
job = os.getpid()
r, w = os.pipe()
x = os.fork()
if x == 0:
    b = os.fork()
    if b == 0:
        os.setpgid(0, 0)
        os.write(w, b"%d\n" % os.getpid())
        os.close(r)
        os.close(w)
        until_gone(job)
    os._exit(0)
os.waitpid(x, 0)
b = int(os.read(r, 64))
os.close(r)
os.close(w)
if os.fork() == 0:
    if os.fork() == 0:
        os.setpgid(0, b)
        until_gone(job)
    os.wait()
    os._exit(0)
time.sleep(0.3)' || return
	orphans_gone
}
run_test "pgrp: dump refuses a group led from outside the job" t_pgrp_refused_group
