# tests/t-state.sh: the state a process holds besides its memory and files:
# what it set with prctl, membarrier and /proc, and the states of its
# children (zombies killed by signals, stopped by SIGTTIN, orphans adopted
# by a subreaper, a parent-death signal), compared with an uninterrupted
# run (tests/workloads/procstate.c). Sourced by tests/run.sh.
# shellcheck shell=bash

t_procstate() { freeze_thaw procstate 0 300 1500 "$WL/procstate"; }
run_test "state: prctl attributes, zombies by signal, SIGTTIN stop, subreaper, pdeath" t_procstate

# Frozen twice: the thawed job (its children in a pid namespace of ours,
# the SIGEV_THREAD timer's helper thread) is frozen and thawed again.
t_procstate_twice() { freeze_thaw_twice procstate 300 800 "$WL/procstate"; }
run_test "state: the same frozen and thawed twice" t_procstate_twice

# A process that is not dumpable cannot be traced by its user: refused at
# once, saying why, instead of retried until the dump gives up.
t_dump_undumpable() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
	local code='import ctypes, time
ctypes.CDLL(None).prctl(4, 0, 0, 0, 0)	# PR_SET_DUMPABLE 0
for i in range(20):
    time.sleep(0.1)
    print(i, flush=True)'
	EXPECT_EXE=$PYTHON start_again undumpable 300 800 "$PYTHON" -c "$code" || return 1
	expect_refused_dump "$JOB_PID" "not dumpable" "a process that is not dumpable" || return 1
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || fail "the job exited $JOB_STATUS, expected $REFST"
}
run_test "state: dump refuses a process that is not dumpable" t_dump_undumpable

# A process of the job's session adopted outside it (its parent exited)
# would be left behind: refused, naming it. It goes once the job ends.
t_dump_adopted() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
	local code='import os, sys, time
os.setsid()
job = os.getpid()
if os.fork() == 0:
    if os.fork() == 0:
        while True:
            try:
                os.kill(job, 0)
            except OSError:
                os._exit(0)
            time.sleep(0.1)
    os._exit(0)
os.wait()
for i in range(30):
    time.sleep(0.1)
    print(i, flush=True)'
	EXPECT_EXE=$PYTHON start_again adopted 300 800 "$PYTHON" -c "$code" || return 1
	expect_refused_dump "$JOB_PID" "in the session that process .* leads, but not in the job" \
		"a process of its session adopted outside" || return 1
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || fail "the job exited $JOB_STATUS, expected $REFST"
	local i	# (the adopted one ends within 0.1 s of the job)
	for ((i = 0; i < 50 && $(leftovers | wc -l) > 0; i++)); do
		sleep 0.1
	done
}
run_test "state: dump refuses a process of the job's session adopted outside it" t_dump_adopted
