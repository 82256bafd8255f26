#!/usr/bin/env bash
# tests/run.sh BUILD_DIR [PATTERN...]: the jobfreeze test suite (`make check`).
#
# Freezes the workloads of tests/workloads at a random moment, thaws them
# and checks that they finish exactly as an uninterrupted run does; then
# feeds the engine damaged images and jobs it must refuse. Prints one
# "ok N - name" / "not ok N - name" line per test (with "# " diagnostics
# on failure), in order, then the slowest tests and ends with "N passed,
# N failed[, N skipped]"; exits 1 if any test failed.
#
# Run as root, it makes (if missing) the system user JF_TEST_USER (default
# jftest: give each suite run at once on a machine its own) and runs every
# job and every jobfreeze command as that user, so the engine is always
# tested without privileges; otherwise everything runs as the current user.
#
# Tests run in parallel, JF_JOBS at a time, each in a subshell of its own.
# Adding tests:
#  - the tests of an area live in tests/t-AREA.sh: functions, then one
#    line per test, `run_test "area: what it checks" t_function [ARGS...]`.
#    Every tests/t-*.sh is sourced here: a new file needs nothing else.
#  - run_test starts the test at once (or when a slot is free): variables
#    set before its line (CONFIG=..., HELD_FREEZE=...) are the test's,
#    as they are at that moment.
#  - a test has its own directory $TDIR, owned by the test user, which is
#    also its cwd and the HOME of what it runs as the test user; everything
#    it makes goes there: its jobs' files, job store ($TDIR/state), tmux
#    socket (tmux_at "$TDIR/tmux.sock"), session bus. Its leftover
#    processes are those of the test user working under $TDIR. It may not
#    rely on any other test having run, nor on running alone: no fixed
#    names outside $TDIR (ports are random, cgroups and users are named
#    after the test or the test user).
#  - reference runs ($WORK/ref, see `reference`) are shared: made once, by
#    whichever test needs one first, under a lock.
#  - no timed assertion: a job sized by time ends at least a second after
#    its latest freeze point, a CPU-bound one runs until told to stop.
#
# PATTERN...   only run the tests whose name contains one of the patterns
# JF_TEST_USER=NAME  the unprivileged user to run as when run as root
# JF_JOBS=N    tests at a time (default: 3 per CPU, at least 4; 1: one by one)
# JF_SEED=N    seed for the random freeze points (printed at the start;
#              each test draws from SEED + its number, whatever the order)
# JF_KEEP=1    keep the work directory (under /tmp) for a post-mortem
# JF_VERBOSE=N pass -vN to every dump and restore
# JF_BIGMEM=M  size of the bigmem job in MiB (default 128)
# JF_T_RESTORE=S  time limit of a restore that waits for its job (default 30)
# JF_T_TEST=S  time limit of one test, killed after it (default 300)
# JF_SLOWEST=N how many of the slowest tests to list at the end (default 10)

set -u

HERE=$(cd "$(dirname "$0")" && pwd)
. "$HERE/lib.sh"
close_inherited_fds

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [PATTERN...]" >&2
	exit 2
fi
BUILD=$(cd "$1" 2>/dev/null && pwd) || { echo "$0: no build directory $1" >&2; exit 2; }
shift
PATTERNS=("$@")

JF=$BUILD/jobfreeze
WL=$BUILD/tests/workloads
SEED=${JF_SEED:-$(( $(date +%s) % 32768 ))}
RANDOM=$SEED
VFLAG=()
[ -n "${JF_VERBOSE:-}" ] && VFLAG=("-v$JF_VERBOSE")

# time limits (s): a restore that waits for its job, a dump, a plain run
T_RESTORE=${JF_T_RESTORE:-30}
T_DUMP=30
T_RUN=30

if [ ! -x "$JF" ]; then
	echo "Bail out! $JF not found: run make first"
	echo "0 passed, 1 failed"
	exit 1
fi
for w in cpuloop avx512 bigmem sleeper signals files counter; do
	if [ ! -x "$WL/$w" ]; then
		echo "Bail out! workload $WL/$w not found: run make first"
		echo "0 passed, 1 failed"
		exit 1
	fi
done

WORK=$(mktemp -d /tmp/jftest.XXXXXX) || exit 1
OTHER_PIDS=()		# processes a test started besides its jobs (killed after it)
declare -A RUNNING=()	# subshell pid -> test number (see run_test)
declare -A STARTED=()	# subshell pid -> start (ms)

cleanup() {
	local p
	for p in "${!RUNNING[@]}"; do
		kill_tree "$p"
	done
	kill_leftovers
	for p in "${OTHER_PIDS[@]}"; do
		# (one that ended may be another test's process now)
		[ "$(start_time "$p")" = "${OTHER_START[$p]:-}" ] && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	if [ -n "${JF_KEEP:-}" ]; then
		echo "# kept $WORK"
	else
		rm -rf "$WORK"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

setup_user || { echo "Bail out! cannot set up the test user"; exit 1; }

# The test user must reach the binaries; a build tree it cannot read (say,
# under /root) is copied into the work directory.
if ! as_user test -x "$JF" -a -x "$WL/cpuloop" -a -r "$HERE/workloads/count.py"; then
	mkdir -p "$WORK/bin/workloads"
	cp "$JF" "$WORK/bin/"
	cp "$WL"/* "$HERE"/workloads/*.py "$HERE"/workloads/*.sh "$HERE"/workloads/*.exp "$WORK/bin/workloads/"
	chmod -R a+rX "$WORK/bin"
	JF=$WORK/bin/jobfreeze
	WL=$WORK/bin/workloads
	PYDIR=$WL
else
	PYDIR=$HERE/workloads
fi

echo "# jobfreeze: $JF"
echo "# jobs run as: ${TEST_USER:-$(id -un)} (uid $TEST_UID), seed $SEED, work dir $WORK"
SUITE_START=$(now_ms)

# ---- running the tests ------------------------------------------------

TDIR=""		# the running test's directory, owned by the test user
JOBS=${JF_JOBS:-$(( $(nproc 2>/dev/null || echo 2) * 3 ))}
[ "$JOBS" -ge 1 ] 2>/dev/null || JOBS=1
[ -n "${JF_JOBS:-}" ] || [ "$JOBS" -ge 4 ] || JOBS=4
T_TEST=${JF_T_TEST:-300}
RES=$WORK/.results	# per test N: N.tap (its TAP lines), N.rc, N.time
mkdir -p "$RES"
NEXT=1			# the next test whose result to print

# run_test NAME FUNCTION [ARGS...]: start the test (once a slot is free)
run_test() {
	local name=$1 p
	if [ ${#PATTERNS[@]} -gt 0 ]; then
		local match=""
		for p in "${PATTERNS[@]}"; do
			case $name in *"$p"*) match=1 ;; esac
		done
		[ -n "$match" ] || return 0
	fi
	T_NUM=$((T_NUM + 1))
	while [ ${#RUNNING[@]} -ge "$JOBS" ]; do
		sched_poll || sleep 0.05
	done
	echo "$name" >"$RES/$T_NUM.name"
	( run_one "$T_NUM" "$@" ) >"$RES/$T_NUM.tap" 2>&1 </dev/null &
	RUNNING[$!]=$T_NUM
	STARTED[$!]=$(now_ms)
	sched_poll
}

# run_one NUM NAME FUNCTION [ARGS...]: the test, in its own subshell
run_one() {
	local num=$1 name=$2 fn=$3 rc t0 took p i
	shift 3
	RANDOM=$((SEED + num))
	TDIR=$WORK/$(printf '%03d' "$num")-${name//[^A-Za-z0-9_.-]/_}
	mkdir_user "$TDIR" "$TDIR/home"
	cd "$TDIR" || exit 1
	runas_home "$TDIR/home"
	LEFT_IN=$TDIR/
	T_DIAG=$TDIR/.diag
	: >"$T_DIAG"
	t0=$(now_ms)
	"$fn" "$@" >"$TDIR/.out" 2>&1
	rc=$?
	T_ENDED=$(boot_ticks)
	for p in "${OTHER_PIDS[@]}"; do
		# (one that ended may be another test's process now)
		[ "$(start_time "$p")" = "${OTHER_START[$p]:-}" ] && kill -KILL "$p" 2>/dev/null
		wait "$p" 2>/dev/null
	done
	# (what the test ended goes a moment later: a killed tmux server's
	# panes on their SIGHUP, a thawed job's jobfreeze after the job)
	for ((i = 0; i < 30; i++)); do
		[ -z "$(leftovers)" ] && break
		sleep 0.1
	done
	kill_leftovers
	if [ -n "$LEFT" ]; then
		diag "processes left running after the test (killed):$LEFT"
		[ $rc != 0 ] || rc=1
	fi
	took=$(( $(now_ms) - t0 ))
	echo "$took" >"$RES/$num.time"
	took="$((took / 1000)).$((took % 1000 / 100))s"
	# what the test printed itself is a diagnostic too
	if [ -s "$TDIR/.out" ]; then
		diag "--- printed by the test:"
		cat "$TDIR/.out" >>"$T_DIAG"
	fi
	case $rc in
	0)
		echo "ok $num - $name ($took)" ;;
	77)
		echo "ok $num - $name # SKIP $SKIP_REASON" ;;
	*)
		echo "not ok $num - $name ($took)"
		sed 's/^/#   /' "$T_DIAG" ;;
	esac
	cd / && { [ -n "${JF_KEEP:-}" ] || rm -rf "$TDIR"; }
	echo "$rc" >"$RES/$num.rc"
}

# sched_poll: collect the tests that ended (killing one past its time
# limit) and print, in order, the results not printed yet; false if none
# ended
sched_poll() {
	local pid num ended=1 now
	now=$(now_ms)
	for pid in "${!RUNNING[@]}"; do
		num=${RUNNING[$pid]}
		if [ ! -e "$RES/$num.rc" ] && kill -0 "$pid" 2>/dev/null; then
			[ $((now - STARTED[$pid])) -gt $((T_TEST * 1000)) ] || continue
			kill_tree "$pid"
			LEFT_IN=$WORK/$(printf '%03d' "$num")-
			kill_leftovers
			LEFT_IN=""
			[ -e "$RES/$num.tap" ] || echo "not ok $num - $(cat "$RES/$num.name")" >"$RES/$num.tap"
			printf '#   FAIL: killed after %s s (JF_T_TEST)%s\n' "$T_TEST" \
				"${LEFT:+; its processes:$LEFT}" >>"$RES/$num.tap"
		fi
		wait "$pid" 2>/dev/null
		if [ ! -e "$RES/$num.rc" ]; then
			{ echo "not ok $num - $(cat "$RES/$num.name")"
			  echo "#   FAIL: the test's shell ended without a result"
			  sed 's/^/#   /' "$RES/$num.tap"; } >"$RES/$num.tap.new"
			mv "$RES/$num.tap.new" "$RES/$num.tap"
			echo 1 >"$RES/$num.rc"
		fi
		unset "RUNNING[$pid]" "STARTED[$pid]"
		ended=0
	done
	while [ -e "$RES/$NEXT.rc" ]; do
		cat "$RES/$NEXT.tap"
		case $(cat "$RES/$NEXT.rc") in
		0) T_PASS=$((T_PASS + 1)) ;;
		77) T_SKIP=$((T_SKIP + 1)) ;;
		*) T_FAIL=$((T_FAIL + 1)) ;;
		esac
		NEXT=$((NEXT + 1))
	done
	return $ended
}

# sched_finish: wait for every test, then list the slowest
sched_finish() {
	local n num
	while [ ${#RUNNING[@]} -gt 0 ]; do
		sched_poll || sleep 0.1
	done
	n=${JF_SLOWEST:-10}
	[ "$n" -gt 0 ] 2>/dev/null && [ "$T_NUM" -gt 1 ] || return 0
	echo "# slowest tests:"
	for ((num = 1; num <= T_NUM; num++)); do
		[ -e "$RES/$num.time" ] || continue
		printf '%s %s\n' "$(cat "$RES/$num.time")" \
			"$(sed -n '1s/^\(not \)\{0,1\}ok [0-9]* - \(.*\) ([0-9.]*s)$/\2/p' "$RES/$num.tap")"
	done | sort -rn | head -n "$n" |
		awk '{ t = $1; $1 = ""; printf "#   %6.1f s%s\n", t / 1000, $0 }'
}

# jf DIR OUTFILE ERRFILE SECS ARGS...: run jobfreeze ARGS as the test user
# in DIR with a time limit; sets JF_STATUS
jf() {
	local dir=$1 out=$2 err=$3 secs=$4
	shift 4
	# (in a subshell whose stderr is /dev/null: when the job dies by a
	# signal, timeout dies by it too and bash would say so on stderr)
	(
		timeout -k 5 "$secs" "${RUNAS[@]}" "${USER_SH[@]}" "$dir" "$out" "$err" \
			"$JF" "$@" "${VFLAG[@]}"
		exit $?
	) 2>/dev/null
	JF_STATUS=$?
}

# ---- reference runs ----------------------------------------------------

# reference KEY DIR CMD...: run CMD uninterrupted once per suite in DIR
# (made here); leaves $REF.out / $REF.status with REF=$WORK/ref/KEY.
# With STOP_AT=N, CMD is a job that runs until told to stop, told to stop
# after its unit N (tests/workloads/stop.h).
reference() {
	local key=$1 dir=$2 rc=0 JOB_PID JOB_STATUS	# (the test's job is not this one)
	shift 2
	REF=$WORK/ref/$key
	[ -f "$REF.status" ] && return 0
	ref_lock "$REF" || return 1
	if [ -f "$REF.status" ]; then
		ref_unlock "$REF"
		return 0
	fi
	# (DIR may hold what the test put there for the job)
	rm -f "$REF.out" "$REF.err"
	mkdir_user "$WORK/ref" "$dir"
	if [ -n "${STOP_AT:-}" ]; then
		echo "$STOP_AT" | as_user tee "$dir/stop" >/dev/null
	fi
	local try
	for try in 1 2; do
		if ! start_job "$dir" "$REF.out" "$REF.err" "$@"; then
			diag "reference run of $* did not start"
			rc=1
		elif ! wait_job "$JOB_PID" "$T_RUN"; then
			diag "reference run of $* did not end in $T_RUN s"
			rc=1
		elif [ "$JOB_STATUS" = 137 ] && [ $try = 1 ]; then
			# no workload kills itself with SIGKILL: something outside
			# the suite did (a person's pkill); the truth is made again
			diag "reference run of $* was killed (SIGKILL) from outside: run again"
			rm -f "$REF.out" "$REF.err"
			continue
		else
			echo "$JOB_STATUS" >"$REF.status"
		fi
		break
	done
	ref_unlock "$REF"
	return $rc
}

# ref_lock REF / ref_unlock REF: one test at a time makes a reference run
# (a lock directory holding its owner's pid: rename(2) onto it fails while
# it exists; one whose owner died, a test killed at its time limit, is
# taken over)
ref_lock() {
	local lock=$1.lock mine=$1.lock.$BASHPID owner i
	mkdir -p "$mine" && echo "$BASHPID" >"$mine/pid" || return 1
	for ((i = 0; i < (T_RUN + 30) * 10; i++)); do
		mv -T "$mine" "$lock" 2>/dev/null && return 0
		owner=$(cat "$lock/pid" 2>/dev/null)
		if [ -n "$owner" ] && ! kill -0 "$owner" 2>/dev/null; then
			mv -T "$lock" "$lock.dead.$BASHPID" 2>/dev/null && rm -rf "$lock.dead.$BASHPID"
			continue
		fi
		sleep 0.1
	done
	rm -rf "$mine"
	diag "waited too long for the reference run $1 made by another test"
	return 1
}

ref_unlock() {
	rm -rf "$1.lock"
}

# ---- jobs that run until told to stop ----------------------------------
#
# A CPU-bound workload sized by an amount of work would end before the
# test freezes it on a fast machine: cpuloop, avx512, bigmem and the python
# jobs below work until told to stop (tests/workloads/stop.h, wlstop.py),
# by a file "stop" in their directory that the test makes once it is done
# with them (while they are frozen, or after a refused freeze); they end a
# couple of units later, saying "stopped after N UNITS". They are compared
# with an uninterrupted run told to stop after the same unit N.

# stoppable CMD...: CMD runs such a workload
stoppable() {
	local a
	for a in "$@"; do
		case ${a##*/} in cpuloop|avx512|bigmem|zmem|ptys|count.py|pool.py|mpool.py) return 0 ;; esac
	done
	return 1
}

STOP_REF=()		# KEY CMD... of the running test's stoppable job

# tell_stop [DIR]: tell the job working in DIR (default $TDIR/run) to stop
tell_stop() {
	as_user touch "${1:-$TDIR/run}/stop"
}

# ref_stopped [OUT]: for a stoppable job (STOP_REF), REF and REFST are its
# uninterrupted run stopped after the unit at which the job whose stdout is
# OUT (default $TDIR/run/out.txt) stopped; nothing for another job
ref_stopped() {
	local out=${1:-$TDIR/run/out.txt} n
	[ ${#STOP_REF[@]} -gt 0 ] || return 0
	n=$(sed -n 's/^.*: stopped after \([0-9][0-9]*\) [a-z]*$/\1/p' "$out" 2>/dev/null | tail -n 1)
	if [ -z "$n" ]; then
		diag "the job did not say after how many units it stopped"
		diag_file "its stdout" "$out" 5
		return 1
	fi
	STOP_AT=$n reference "${STOP_REF[0]}@$n" "$WORK/ref/${STOP_REF[0]}@$n.d" "${STOP_REF[@]:1}" ||
		return 1
	REFST=$(cat "$REF.status")
}

# ends_undisturbed PID WHAT: the stoppable job PID runs, and told to stop
# ends as its uninterrupted run stopped where it stopped; else fails WHAT
ends_undisturbed() {
	running "$1" || { fail "the job does not run on ($2)"; return; }
	tell_stop
	wait_job "$1" "$T_RUN"
	ref_stopped || return 1
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "$2"
}

# ---- freeze and thaw ---------------------------------------------------

# dump_job PID IMG [ARGS...]: dump PID into IMG (inside $TDIR); on failure,
# explain and return 1
dump_job() {
	local pid=$1 img=$2
	shift 2
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$pid" -D "$img" "$@"
	if [ "$JF_STATUS" != 0 ]; then
		diag "jobfreeze dump -t $pid -D $img $* exited $JF_STATUS"
		diag_file "dump stderr" "$TDIR/dump.err"
		return 1
	fi
	local mode
	mode=$(stat -c %a "$img" 2>/dev/null)
	if [ "$mode" != 700 ]; then
		diag "image directory $img has mode ${mode:-(missing)}, not 700"
		return 1
	fi
	return 0
}

# thaw_compare IMG: restore IMG, waiting for the job, and compare its exit
# status with $REFST and its stdout ($TDIR/run/out.txt) with the reference
# run's ($REF.out; for a job that runs until told to stop, which must have
# been told, the run stopped where it did); diagnostics are added and 1
# returned on a difference
thaw_compare() {
	local img=$1 tag=${1##*/} ok=0
	jf "$TDIR" "$TDIR/$tag.restore.out" "$TDIR/$tag.restore.err" "$T_RESTORE" restore -D "$img"
	if [ "$JF_STATUS" = 124 ] || [ "$JF_STATUS" = 137 ]; then
		diag "restore of $tag did not end within $T_RESTORE s (killed; the job hung or went slow)"
		diag_file "restore stderr" "$TDIR/$tag.restore.err"
		return 1
	fi
	ref_stopped || return 1
	if [ "$JF_STATUS" != "$REFST" ]; then
		diag "restore of $tag exited $JF_STATUS, the uninterrupted run $REFST"
		diag_file "restore stderr" "$TDIR/$tag.restore.err"
		ok=1
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || ok=1
	return $ok
}

# freeze_thaw NAME PAUSE MIN_MS MAX_MS CMD...: the main check. Runs CMD
# uninterrupted for reference, then again as `CMD > out.txt`, freezes it
# after a random MIN..MAX ms, checks that it is gone, waits PAUSE seconds,
# thaws it and compares output and exit status. The job runs in $TDIR/run;
# $JOB_ARGS_REF / $JOB_ARGS_RUN are substituted for the word @ARGS@ in CMD
# (so that a job can get different paths in the two runs). A job that runs
# until told to stop is told while frozen, and its reference run is made
# after the thaw, stopped where it stopped.
freeze_thaw() {
	local key=$1 pause=$2 lo=$3 hi=$4
	shift 4
	local refcmd=() runcmd=() a
	for a in "$@"; do
		if [ "$a" = @ARGS@ ]; then
			refcmd+=("${JOB_ARGS_REF[@]}")
			runcmd+=("${JOB_ARGS_RUN[@]}")
		else
			refcmd+=("$a")
			runcmd+=("$a")
		fi
	done
	local run=$TDIR/run
	if stoppable "${refcmd[@]}"; then
		STOP_REF=("$key" "${refcmd[@]}")
	else
		reference "$key" "$WORK/ref/$key.d" "${refcmd[@]}" || return 1
		REFST=$(cat "$REF.status")
		if [ "$REFST" = 77 ]; then
			skip "$(head -n 1 "$REF.out")"
			return
		fi
	fi
	mkdir_user "$run"
	start_job "$run" "$run/out.txt" "$run/err.txt" "${runcmd[@]}"
	local started=$? pid=$JOB_PID
	[ $started != 0 ] || rand_sleep "$lo" "$hi"
	if ! alive "$pid"; then
		# (a job that cannot run here says so and exits 77)
		JOB_STATUS=""
		[ -z "$pid" ] || wait_job "$pid" 1
		if [ "$JOB_STATUS" = 77 ]; then
			skip "$(head -n 1 "$run/out.txt")"
			return
		fi
		[ $started = 0 ] || { fail "the job did not start"; return; }
		fail "the job ended before it could be frozen (status $JOB_STATUS)"
		return
	fi
	dump_job "$pid" "$TDIR/img" || return 1
	if ! wait_gone "$pid" 5; then
		fail "job $pid still there 5 s after the dump (state $(proc_state "$pid"))"
		return
	fi
	[ ${#STOP_REF[@]} = 0 ] || tell_stop "$run"
	[ "$pause" = 0 ] || sleep "$pause"
	if ! thaw_compare "$TDIR/img"; then
		diag_file "job stderr" "$run/err.txt" 5
		fail "thawed job differs from the uninterrupted run"
		return
	fi
	return 0
}

# start_again KEY LO HI CMD...: the uninterrupted reference run of CMD
# (once per suite, under KEY), then CMD again in $TDIR/run with output to
# out.txt, left running for a random LO..HI ms. Sets REFST and JOB_PID. For
# a job that runs until told to stop, the reference comes later (STOP_REF:
# tell_stop, then ref_stopped once it has ended).
start_again() {
	local key=$1 lo=$2 hi=$3
	shift 3
	if stoppable "$@"; then
		STOP_REF=("$key" "$@")
		REF="" REFST=""
	else
		reference "$key" "$WORK/ref/$key.d" "$@" || return 1
		REFST=$(cat "$REF.status")
	fi
	mkdir_user "$TDIR/run"
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$@" ||
		{ fail "the job did not start"; return; }
	rand_sleep "$lo" "$hi"
}

# freeze_thaw_twice KEY LO HI CMD...: CMD (uninterrupted once for
# reference) frozen after LO..HI ms, thawed detached, frozen again after
# 100..700 ms and thawed, its output compared with the reference
freeze_thaw_twice() {
	local key=$1 lo=$2 hi=$3 pid
	shift 3
	start_again "$key" "$lo" "$hi" "$@" || return 1
	dump_job "$JOB_PID" "$TDIR/img1" || return 1
	wait_gone "$JOB_PID" 5 || { fail "job still there after the first dump"; return; }
	jf "$TDIR" "$TDIR/r1.out" "$TDIR/r1.err" "$T_RESTORE" restore -d --pidfile "$TDIR/pid" \
		-D "$TDIR/img1"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r1.err"; fail "first thaw exited $JF_STATUS"; return; }
	pid=$(cat "$TDIR/pid")
	bg_add "$pid"
	rand_sleep 100 700
	dump_job "$pid" "$TDIR/img2" || return 1
	wait_gone "$pid" 5 || { fail "job still there after the second dump"; return; }
	thaw_compare "$TDIR/img2" || fail "the job thawed twice differs from the uninterrupted run"
}

# ---- the tests ---------------------------------------------------------

t_help() {
	local rc=0 args
	for args in "--help" "dump --help" "restore --help"; do
		# shellcheck disable=SC2086
		jf "$TDIR" "$TDIR/help.out" "$TDIR/help.err" 10 $args
		if [ "$JF_STATUS" != 0 ]; then
			diag "jobfreeze $args exited $JF_STATUS"
			diag_file stderr "$TDIR/help.err" 5
			rc=1
		elif [ ! -s "$TDIR/help.out" ] && [ ! -s "$TDIR/help.err" ]; then
			diag "jobfreeze $args printed nothing"
			rc=1
		fi
	done
	return $rc
}

t_check() {
	jf "$TDIR" "$TDIR/check.out" "$TDIR/check.err" 30 check
	if [ "$JF_STATUS" != 0 ]; then
		diag_file "check stdout" "$TDIR/check.out" 30
		diag_file "check stderr" "$TDIR/check.err" 10
		fail "jobfreeze check exited $JF_STATUS"
		return
	fi
	if [ ! -s "$TDIR/check.out" ]; then
		fail "jobfreeze check printed nothing on stdout"
		return
	fi
}

t_cpuloop()  { freeze_thaw cpuloop 0 300 1500 "$WL/cpuloop"; }
t_avx512()   { freeze_thaw avx512 0 300 1500 "$WL/avx512"; }
t_avx512_noamx() { freeze_thaw avx512-noamx 0 300 1500 "$WL/avx512" --no-amx; }
t_signals()  { freeze_thaw signals 0 300 1500 "$WL/signals"; }
t_counter()  { freeze_thaw counter 0 300 1500 "$WL/counter"; }
t_sleeper()  { freeze_thaw sleeper 3 300 1000 "$WL/sleeper"; }

# 128 MiB by default: enough to need many page runs and a large zero
# hole; `make stress` runs it with 512 MiB
t_bigmem() {
	freeze_thaw "bigmem${JF_BIGMEM:-128}" 0 300 1500 "$WL/bigmem" "${JF_BIGMEM:-128}"
}

t_count_py() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw count.py 0 300 1500 "$PYTHON" "$PYDIR/count.py"
}

# 8 pthreads passing a token under a mutex and a condvar, with TLS and a
# thread-directed pending signal: every thread comes back with its tid
t_threads() { freeze_thaw threads 0 300 900 "$WL/threads"; }

# a shell running a pipeline whose output waits in a pipe to its consumer
t_pipeline() { EXPECT_EXE=/bin/sh freeze_thaw pipeline 0 300 2000 /bin/sh "$PYDIR/pipeline.sh"; }

# a shell job frozen by process group: bash with job control runs a
# pipeline whose stages are siblings in a group of their own; dump --pgid
# takes them (not bash), restore exits as the last stage does
t_pgid() {
	reference pgjob "$WORK/ref/pgjob.d" /bin/bash "$PYDIR/pgjob.sh" || return 1
	local refst run=$TDIR/run bash_pid pg="" mypg i p
	refst=$(cat "$REF.status")
	mkdir_user "$run"
	EXPECT_EXE=/bin/bash start_job "$run" "$run/out.txt" "$run/err.txt" /bin/bash "$PYDIR/pgjob.sh" ||
		{ fail "the job did not start"; return; }
	bash_pid=$JOB_PID
	rand_sleep 500 1500
	mypg=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$bash_pid/stat")
	for p in $(cat /proc/"$bash_pid"/task/*/children 2>/dev/null); do
		i=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$p/stat" 2>/dev/null)
		[ -n "$i" ] && [ "$i" != "$mypg" ] && pg=$i
	done
	[ -n "$pg" ] || { fail "no pipeline process group under bash $bash_pid"; return; }
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump --pgid "$pg" -D "$TDIR/img"
	if [ "$JF_STATUS" != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err"
		fail "dump --pgid $pg exited $JF_STATUS"
		return
	fi
	wait_job "$bash_pid" 10
	REFST=$refst thaw_compare "$TDIR/img" || fail "the thawed pipeline differs from the uninterrupted run"
}

# make -j2 building a small C project (make, sh, cc, cc1, as, ld), frozen
# at a random point: the thawed build finishes, its program runs the same,
# and make printed the same lines (in whatever order -j2 gave them). One
# of its targets compiles on until told to stop (tests/workloads/mkproject.sh).
t_make() {
	command -v make >/dev/null && command -v cc >/dev/null ||
		{ skip "make or cc is not installed"; return 77; }
	local ref=$WORK/ref/make.d run=$TDIR/run st
	if [ ! -f "$ref/prog.out" ]; then
		mkdir_user "$ref"
		as_user /bin/sh "$PYDIR/mkproject.sh" "$ref/src"
		as_user touch "$ref/src/stop"
		(cd "$ref/src" && as_user make -j2 >"$ref/make.out" 2>&1) || { fail "reference build failed"; return; }
		as_user "$ref/src/prog" >"$ref/prog.out"
	fi
	mkdir_user "$run"
	as_user /bin/sh "$PYDIR/mkproject.sh" "$run/src"
	EXPECT_EXE=$(command -v make) start_job "$run/src" "$run/out.txt" "$run/err.txt" make -j2 ||
		{ fail "the build did not start"; return; }
	local pid=$JOB_PID
	rand_sleep 200 900
	alive "$pid" || { fail "the build ended before it could be frozen"; return; }
	dump_job "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "make still there after the dump"; return; }
	tell_stop "$run/src"
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" restore -D "$TDIR/img"
	st=$JF_STATUS
	if [ "$st" != 0 ]; then
		diag_file "restore stderr" "$TDIR/restore.err"
		diag_file "build output" "$run/out.txt"
		fail "the thawed build exited $st"
		return
	fi
	sort "$ref/make.out" >"$TDIR/ref.sorted"
	sort "$run/out.txt" >"$TDIR/run.sorted"
	same_file "$TDIR/ref.sorted" "$TDIR/run.sorted" "make's output (sorted)" ||
		{ fail "the thawed build printed other lines"; return; }
	as_user "$run/src/prog" >"$TDIR/prog.out"
	same_file "$ref/prog.out" "$TDIR/prog.out" "the built program's output" ||
		{ fail "the thawed build made another program"; return; }
}

# freeze_twice PID LO HI: job PID frozen into $TDIR/img1, thawed detached,
# frozen again LO..HI ms later from outside the namespace of that thaw
# into $TDIR/img2 (failing the test and returning 1 on the way)
freeze_twice() {
	local pid=$1 thawed
	dump_job "$pid" "$TDIR/img1" || return 1
	wait_gone "$pid" 5 || { fail "job still there after the first dump"; return 1; }
	jf "$TDIR" "$TDIR/r1.out" "$TDIR/r1.err" 30 restore -d --pidfile "$TDIR/pid" -D "$TDIR/img1"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r1.err"; fail "first restore exited $JF_STATUS"; return 1; }
	thawed=$(cat "$TDIR/pid")
	bg_add "$thawed"
	rand_sleep "$2" "$3"
	dump_job "$thawed" "$TDIR/img2" || return 1
	wait_gone "$thawed" 5 || { fail "thawed job still there after the second dump"; return 1; }
}

# a process tree frozen, thawed detached, frozen again from inside the
# namespace of the first thaw, and thawed again
t_tree_twice() {
	start_again forker 300 600 "$WL/forker" || return 1
	freeze_twice "$JOB_PID" 200 400 || return 1
	thaw_compare "$TDIR/img2" || fail "the tree frozen twice differs from the uninterrupted run"
}

# an event loop: epoll over a periodic timerfd, an eventfd and a signalfd
t_anonfds() { freeze_thaw anonfds 0 300 1400 "$WL/anonfds"; }

# a parent with two ended children it has not collected (one exited 7,
# one killed by SIGTERM): after the thaw it collects them by pid as before
t_zombie() { freeze_thaw zombie 0 300 1400 "$WL/zombie"; }

# a job stopped by job control (SIGSTOP, as ^Z) is frozen; it thaws stopped,
# and once continued finishes as an uninterrupted run
t_stopped() {
	start_again counter 300 1000 "$WL/counter" || return 1
	local pid=$JOB_PID thawed i
	kill -STOP "$pid"
	for ((i = 0; i < 50; i++)); do
		[ "$(proc_state "$pid")" = T ] && break
		sleep 0.05
	done
	dump_job "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "job still there after the dump"; return; }
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" restore -d \
		--pidfile "$TDIR/pid" -D "$TDIR/img"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/restore.err"; fail "restore -d exited $JF_STATUS"; return; }
	thawed=$(cat "$TDIR/pid")
	bg_add "$thawed"
	sleep 0.3
	[ "$(proc_state "$thawed")" = T ] || { kill -KILL "$thawed"; fail "thawed job not stopped (state $(proc_state "$thawed"))"; return; }
	kill -CONT "$thawed"
	wait_gone "$thawed" 20 || { fail "the continued job did not finish"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "output differs"
}

# python3 multiprocessing.Pool: worker processes, pipes, and semaphores in
# shared memory whose /dev/shm file is already deleted
t_mpool_py() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw mpool.py 0 300 1300 "$PYTHON" "$PYDIR/mpool.py"
}

# a process tree: a parent waits for its 3 forked workers by pid
t_forker() { freeze_thaw forker 0 300 1000 "$WL/forker"; }

# python3 with a ThreadPoolExecutor of 6 workers
t_pool_py() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	EXPECT_EXE=$PYTHON freeze_thaw pool.py 0 300 1200 "$PYTHON" "$PYDIR/pool.py"
}

# make_input FILE: the input of the files job
make_input() {
	awk 'BEGIN { for (i = 0; i < 1500; i++)
		printf "input line %05d: the quick brown fox jumps\n", i }' >"$1"
	[ -z "$TEST_USER" ] || chown "$TEST_USER:$TEST_USER" "$1"
}

t_files() {
	local ref=$WORK/ref/files.d run=$TDIR/run
	mkdir_user "$ref" "$ref/tmp" "$run" "$run/tmp"
	[ -f "$ref/input.txt" ] || make_input "$ref/input.txt"
	make_input "$run/input.txt"
	JOB_ARGS_REF=("$ref/input.txt" "$ref/log.txt" "$ref/tmp")
	JOB_ARGS_RUN=("$run/input.txt" "$run/log.txt" "$run/tmp")
	freeze_thaw files 0 300 1500 "$WL/files" @ARGS@ || return 1
	same_file "$ref/log.txt" "$run/log.txt" "the O_APPEND log" ||
		{ fail "the log the job appended to differs"; return; }
	if [ -n "$(ls -A "$run/tmp")" ]; then
		fail "files left in the job's temp dir: $(ls -A "$run/tmp" | tr '\n' ' ')"
		return
	fi
}

# memory layout and kernel-kept attributes: shared and private file
# mappings, shared anonymous memory, PROT_NONE with content, a mapping of a
# deleted file, deep stack growth, name, umask, rlimit, personality, cwd,
# cmdline, auxv, pid
t_layout() {
	local ref=$WORK/ref/layout.d run=$TDIR/run
	mkdir_user "$ref" "$ref/sub" "$run" "$run/sub"
	if [ ! -f "$ref/data.bin" ]; then
		head -c 16384 /dev/urandom >"$WORK/ref/layout.data"
		cp "$WORK/ref/layout.data" "$ref/data.bin"
		[ -z "$TEST_USER" ] || chown "$TEST_USER:$TEST_USER" "$ref/data.bin"
	fi
	cp "$WORK/ref/layout.data" "$run/data.bin"
	[ -z "$TEST_USER" ] || chown "$TEST_USER:$TEST_USER" "$run/data.bin"
	JOB_ARGS_REF=("$ref/data.bin" "$ref/sub")
	JOB_ARGS_RUN=("$run/data.bin" "$run/sub")
	freeze_thaw layout 0 300 1500 "$WL/layout" @ARGS@ || return 1
	same_file "$ref/data.bin" "$run/data.bin" "the shared-mapped file" ||
		{ fail "what the job wrote through its shared mapping differs"; return; }
}

# freeze, thaw detached, freeze the thawed job again, thaw and wait
t_twice() {
	start_again cpuloop 300 800 "$WL/cpuloop" || return 1
	local pid=$JOB_PID pid2
	dump_job "$pid" "$TDIR/img1" || return 1
	wait_gone "$pid" 5 || { fail "job $pid still there after the first dump"; return; }
	jf "$TDIR" "$TDIR/restore1.out" "$TDIR/restore1.err" 30 \
		restore -d --pidfile "$TDIR/job.pid" -D "$TDIR/img1"
	if [ "$JF_STATUS" != 0 ]; then
		diag_file "restore -d stderr" "$TDIR/restore1.err"
		fail "restore -d exited $JF_STATUS"
		return
	fi
	pid2=$(cat "$TDIR/job.pid" 2>/dev/null)
	pid2=${pid2//[!0-9]/}
	if [ -z "$pid2" ]; then
		fail "restore -d --pidfile wrote no pid"
		return
	fi
	bg_add "$pid2"
	if ! running "$pid2"; then
		fail "restored job $pid2 is not running after restore -d (state '$(proc_state "$pid2")')"
		return
	fi
	rand_sleep 300 800
	if ! alive "$pid2"; then
		fail "the thawed job ended before it could be frozen again"
		return
	fi
	dump_job "$pid2" "$TDIR/img2" || return 1
	wait_gone "$pid2" 5 || { fail "job $pid2 still there after the second dump"; return; }
	tell_stop
	thaw_compare "$TDIR/img2" || fail "job frozen twice differs from the uninterrupted run"
}

# dump -R, then thaw the snapshot writing to our own stdout while the
# original job goes on; both must print what an uninterrupted run does
# snapshot_check KEY CMD...: dump -R of CMD, then both the original and
# the snapshot thawed at once finish as an uninterrupted run
snapshot_check() {
	local key=$1 i
	shift
	start_again "$key" 300 800 "$@" || return 1
	local run=$TDIR/run pid=$JOB_PID
	if [ ${#STOP_REF[@]} = 0 ]; then
		dump_job "$pid" "$TDIR/img" -R || return 1
	else
		# a job that runs until told to stop is left stopped (-s) while
		# it is told: the original and the snapshot, going on from the
		# same point, then stop after the same unit
		dump_job "$pid" "$TDIR/img" -R -s || return 1
		for ((i = 0; i < 50; i++)); do
			[ "$(proc_state "$pid")" = T ] && break
			sleep 0.1
		done
		[ $i -lt 50 ] || { fail "job $pid not stopped after dump -R -s (state '$(proc_state "$pid")')"; return; }
		tell_stop "$run"
		kill -CONT "$pid"
	fi
	if ! running "$pid"; then
		fail "job $pid not running after dump -R (state '$(proc_state "$pid")')"
		return
	fi
	jf "$TDIR" "$TDIR/snap.txt" "$TDIR/restore.err" "$T_RESTORE" \
		restore -D "$TDIR/img" --inherit-fd 1
	local snapst=$JF_STATUS ok=0
	wait_job "$pid" "$T_RUN"
	ref_stopped "$TDIR/snap.txt" || return 1
	if [ "$snapst" != "$REFST" ]; then
		diag "snapshot restore exited $snapst, the uninterrupted run $REFST"
		diag_file "restore stderr" "$TDIR/restore.err"
		ok=1
	fi
	if [ "$JOB_STATUS" != "$REFST" ]; then
		diag "the original job exited $JOB_STATUS after dump -R, expected $REFST"
		ok=1
	fi
	same_file "$REF.out" "$TDIR/snap.txt" "the snapshot's stdout" || ok=1
	same_file "$REF.out" "$run/out.txt" "the original's stdout" || ok=1
	[ $ok = 0 ] || fail "dump -R snapshot or original differs from the uninterrupted run"
}
t_snapshot() { snapshot_check cpuloop "$WL/cpuloop"; }

# a freeze/thaw with the logging options: messages go to the -o files,
# --display-stats prints statistics (anywhere)
t_logfile() {
	start_again counter 300 1500 "$WL/counter" || return 1
	local refst=$REFST run=$TDIR/run pid=$JOB_PID
	dump_job "$pid" "$TDIR/img" -o "$TDIR/dump.log" -v4 --display-stats || return 1
	wait_gone "$pid" 5 || { fail "job $pid still there after the dump"; return; }
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" \
		restore -D "$TDIR/img" -o "$TDIR/restore.log" -v4 --display-stats
	local ok=0
	if [ "$JF_STATUS" != "$refst" ]; then
		diag "restore exited $JF_STATUS, the uninterrupted run $refst"
		diag_file "restore log" "$TDIR/restore.log"
		ok=1
	fi
	same_file "$REF.out" "$run/out.txt" "stdout" || ok=1
	local f
	for f in dump.log restore.log; do
		if [ ! -s "$TDIR/$f" ]; then
			diag "-o $f: the log file is missing or empty"
			ok=1
		fi
	done
	for f in dump restore; do
		# the statistics may go to stderr, the messages must not (the
		# note on secrets of a first dump is for the user, not the log)
		if grep -v '^jobfreeze: note: ' "$TDIR/$f.err" | grep -q '^jobfreeze'; then
			diag "$f: messages on stderr despite -o:"
			diag_file "$f stderr" "$TDIR/$f.err" 5
			ok=1
		fi
		if ! grep -qi 'pages' "$TDIR/$f.err" "$TDIR/$f.out" "$TDIR/$f.log"; then
			diag "$f --display-stats: no statistics (nothing mentions pages)"
			ok=1
		fi
	done
	[ $ok = 0 ] || fail "freeze/thaw with -o LOG -v4 --display-stats"
}

# dump -s: the image is written and the job is left stopped, not killed;
# after SIGCONT it finishes like an uninterrupted run
t_leave_stopped() {
	start_again counter 300 1500 "$WL/counter" || return 1
	local refst=$REFST run=$TDIR/run pid=$JOB_PID
	dump_job "$pid" "$TDIR/img" -s || return 1
	local st ok=0
	sleep 0.3
	st=$(proc_state "$pid")
	if [ "$st" != T ]; then
		diag "after dump -s the job's state is '$st', not T (stopped)"
		ok=1
	fi
	if [ ! -f "$TDIR/img/inventory.img" ]; then
		diag "dump -s wrote no inventory.img"
		ok=1
	fi
	kill -CONT "$pid" 2>/dev/null
	wait_job "$pid" "$T_RUN"
	if [ "$JOB_STATUS" != "$refst" ]; then
		diag "after SIGCONT the job exited $JOB_STATUS, expected $refst"
		ok=1
	fi
	same_file "$REF.out" "$run/out.txt" "stdout" || ok=1
	[ $ok = 0 ] || fail "dump -s did not leave a stopped job that goes on"
}

# ---- images the restore must refuse ------------------------------------

BASE=""		# a good image for the bad-input tests to spoil copies of

# make_base: the test's own BASE (its job writes to files of its own: a
# test that restores it by mistake disturbs no other)
make_base() {
	[ "$BASE" = "$TDIR/base" ] && [ -f "$BASE/img/inventory.img" ] && return 0
	BASE=$TDIR/base
	rm -rf "$BASE"
	mkdir_user "$BASE"
	start_job "$BASE" "$BASE/out.txt" "$BASE/err.txt" "$WL/counter" 12 ||
		{ diag "the base image's job did not start"; return 1; }
	local pid=$JOB_PID
	sleep 0.5
	jf "$BASE" "$BASE/dump.out" "$BASE/dump.err" "$T_DUMP" dump -t "$pid" -D "$BASE/img"
	if [ "$JF_STATUS" != 0 ]; then
		diag "could not make a base image: dump exited $JF_STATUS"
		diag_file "dump stderr" "$BASE/dump.err"
		kill -KILL "$pid" 2>/dev/null
		reap "$pid"
		BASE=""
		return 1
	fi
	wait_gone "$pid" 5
	return 0
}

# bad_restore WHAT PATTERN SPOIL: copy the base image, SPOIL it (a command
# run with the copy's directory as $1), then check that restore refuses it
# with a message matching PATTERN (grep -Ei) and leaves it byte-identical
bad_restore() {
	local what=$1 pattern=$2 spoil=$3
	make_base || return 1
	local img=$TDIR/img before after
	cp -a "$BASE/img" "$img" || return 1
	"$spoil" "$img" || { fail "could not spoil the image copy"; return; }
	before=$(img_digest "$img")
	local outsum
	outsum=$(sha256sum <"$BASE/out.txt")
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" 30 restore -D "$img"
	local st=$JF_STATUS ok=0
	after=$(img_digest "$img")
	if [ "$st" = 0 ]; then
		diag "restore of an image with $what exited 0"
		ok=1
		BASE=""		# its job ran and wrote to the base's files
	elif [ "$st" -ge 124 ]; then
		diag "restore of an image with $what exited $st (timeout or signal)"
		ok=1
	fi
	if ! grep -Eiq -- "$pattern" "$TDIR/restore.err" "$TDIR/restore.out"; then
		diag "the message does not match /$pattern/"
		ok=1
	fi
	if [ "$before" != "$after" ]; then
		diag "restore changed the image directory:"
		diff <(echo "$before") <(echo "$after") | head -n 10 >>"$T_DIAG"
		ok=1
	fi
	if [ "$(sha256sum <"$BASE/out.txt" 2>/dev/null)" != "$outsum" ]; then
		diag "the refused job wrote to its stdout file"
		ok=1
		BASE=""
	fi
	if [ $ok != 0 ]; then
		diag_file "restore stderr" "$TDIR/restore.err" 10
		fail "restore did not refuse an image with $what properly"
		return
	fi
}

# every metadata file of an image starts with the documented header:
# "JOBFREEZ", u32 version 2 (image.h), u32 type, u32 payload length, u32 crc32c
t_image_format() {
	make_base || return 1
	local f magic ver len size ok=0 n=0
	for f in "$BASE"/img/*.img; do
		case ${f##*/} in pages-*) continue ;; esac
		n=$((n + 1))
		size=$(stat -c %s "$f")
		magic=$(head -c 8 "$f")
		ver=$(od -An -tu4 -j 8 -N 4 --endian=little "$f" | tr -d ' ')
		len=$(od -An -tu4 -j 16 -N 4 --endian=little "$f" | tr -d ' ')
		if [ "$magic" != JOBFREEZ ] || [ "$ver" != 2 ] || [ "$len" != $((size - 24)) ]; then
			diag "${f##*/}: magic '$magic', version '$ver', payload length '$len' in a file of $size bytes"
			ok=1
		fi
	done
	for f in inventory.img "$(basename "$(proc_img "$BASE/img")")" \
		 "$(basename "$(pages_img "$BASE/img")")"; do
		[ -f "$BASE/img/$f" ] || { diag "no $f in the image"; ok=1; }
	done
	[ $ok = 0 ] || fail "image files do not follow the documented layout ($n checked)"
}

# the one proc-PID.img of an image directory
proc_img() {
	local f
	for f in "$1"/proc-*.img; do
		[ -f "$f" ] && { printf '%s' "$f"; return 0; }
	done
	return 1
}

pages_img() {
	local f
	for f in "$1"/pages-*.img; do
		[ -f "$f" ] && { printf '%s' "$f"; return 0; }
	done
	return 1
}

spoil_truncate() {
	local f size
	f=$(proc_img "$1") || return 1
	size=$(stat -c %s "$f")
	truncate -s $((size / 2)) "$f"
}

spoil_proc_byte() {
	local f size
	f=$(proc_img "$1") || return 1
	size=$(stat -c %s "$f")
	# a byte of the protobuf payload, past the 24-byte header
	[ "$size" -gt 25 ] || return 1
	flip_byte "$f" $((24 + (size - 24) / 2))
}

spoil_pages_byte() {
	local f size
	f=$(pages_img "$1") || return 1
	size=$(stat -c %s "$f")
	[ "$size" -gt 0 ] || return 1
	flip_byte "$f" $(( (RANDOM * 32768 + RANDOM) % size ))
}

spoil_version() {
	[ -f "$1/inventory.img" ] || return 1
	put_u32 "$1/inventory.img" 8 99
}

spoil_owner() {
	chown nobody: "$1"/*
}

t_bad_truncated() { bad_restore "a truncated proc-*.img" 'proc-[0-9]+\.img' spoil_truncate; }
t_bad_proc_byte() {
	bad_restore "a flipped byte in proc-*.img" 'proc-[0-9]+\.img|crc|checksum|corrupt' spoil_proc_byte
}
t_bad_pages_byte() {
	bad_restore "a flipped byte in pages-*.img" 'pages-[0-9]+\.img|crc|checksum|corrupt' spoil_pages_byte
}
t_bad_version() { bad_restore "format version 99 in inventory.img" 'version' spoil_version; }
t_bad_owner() {
	[ -n "$TEST_USER" ] || { skip "needs root to chown the image"; return; }
	bad_restore "files owned by nobody" 'own|permission|denied|uid|nobody' spoil_owner
}

t_missing_dir() {
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" 30 restore -D "$TDIR/no-such-image"
	if [ "$JF_STATUS" = 0 ] || [ "$JF_STATUS" -ge 124 ]; then
		fail "restore of a missing image dir exited $JF_STATUS"
		return
	fi
	if ! grep -q "no-such-image" "$TDIR/restore.err" "$TDIR/restore.out"; then
		diag_file "restore stderr" "$TDIR/restore.err" 5
		fail "the message does not name the missing directory"
		return
	fi
	if [ -e "$TDIR/no-such-image" ]; then
		fail "restore created the missing image directory"
		return
	fi
}

# a file the job reads changes after the dump: the restore must refuse,
# naming it, and leave the image alone
t_changed_file() {
	local run=$TDIR/run pid
	mkdir_user "$run" "$run/tmp"
	make_input "$run/input.txt"
	start_job "$run" "$run/out.txt" "$run/err.txt" "$WL/files" \
		"$run/input.txt" "$run/log.txt" "$run/tmp" ||
		{ fail "the job did not start"; return; }
	pid=$JOB_PID
	rand_sleep 300 1500
	dump_job "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 5 || { fail "job $pid still there after the dump"; return; }
	echo "one more line" >>"$run/input.txt"
	local before after outsum
	before=$(img_digest "$TDIR/img")
	outsum=$(sha256sum <"$run/out.txt")
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" 30 restore -D "$TDIR/img"
	local st=$JF_STATUS ok=0
	after=$(img_digest "$TDIR/img")
	if [ "$st" = 0 ] || [ "$st" -ge 124 ]; then
		diag "restore exited $st although input.txt changed"
		ok=1
	fi
	if ! grep -q "input.txt" "$TDIR/restore.err" "$TDIR/restore.out"; then
		diag "the message does not name input.txt"
		ok=1
	fi
	if [ "$before" != "$after" ]; then
		diag "restore changed the image directory"
		ok=1
	fi
	if [ "$(sha256sum <"$run/out.txt")" != "$outsum" ]; then
		diag "the refused job wrote to its stdout"
		ok=1
	fi
	if [ $ok != 0 ]; then
		diag_file "restore stderr" "$TDIR/restore.err" 10
		fail "restore did not refuse a job whose input file changed"
		return
	fi
}

t_dump_nopid() {
	local pid
	sleep 0 &
	pid=$!
	wait "$pid"
	if alive "$pid"; then
		skip "pid $pid was reused at once"
		return
	fi
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" 30 dump -t "$pid" -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] || [ "$JF_STATUS" -ge 124 ]; then
		fail "dump of nonexistent pid $pid exited $JF_STATUS"
		return
	fi
	if ! grep -Eiq "$pid|no such process|not found|exist" "$TDIR/dump.err" "$TDIR/dump.out"; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "the message does not name pid $pid"
		return
	fi
	if [ -e "$TDIR/img/inventory.img" ]; then
		fail "a failed dump left an inventory.img"
		return
	fi
}

t_dump_other_user() {
	[ -n "$TEST_USER" ] || { skip "needs root to start another user's job"; return; }
	local pid
	( cd / && exec sleep 60 ) </dev/null >/dev/null 2>&1 &
	pid=$!
	other_add "$pid"
	sleep 0.1
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" 30 dump -t "$pid" -D "$TDIR/img"
	local st=$JF_STATUS ok=0
	if [ "$st" = 0 ] || [ "$st" -ge 124 ]; then
		diag "dump of root's pid $pid as $TEST_USER exited $st"
		ok=1
	fi
	if ! grep -Eiq "permi|denied|not allowed|owner|another user|$pid" "$TDIR/dump.err" "$TDIR/dump.out"; then
		diag "the message names neither the pid nor a permission problem"
		ok=1
	fi
	if ! running "$pid"; then
		diag "root's job $pid is no longer running (state '$(proc_state "$pid")')"
		ok=1
	fi
	if [ -e "$TDIR/img/inventory.img" ]; then
		diag "a failed dump left an inventory.img"
		ok=1
	fi
	kill -KILL "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	if [ $ok != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "dump of another user's job not refused properly"
		return
	fi
}

# a job holding a socket cannot be frozen: dump refuses, the job goes on
# expect_refused_dump PID PATTERN WHAT: dump -t PID must fail with a message
# matching PATTERN, leave no image, and the job (cpuloop: told to stop then)
# must go on to finish exactly as an uninterrupted run
expect_refused_dump() {
	local pid=$1 pattern=$2 what=$3 run=$TDIR/run i
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img"
	local st=$JF_STATUS ok=0
	if [ "$st" = 0 ] || [ "$st" -ge 124 ]; then
		diag "dump of a job with $what exited $st"
		ok=1
	fi
	if ! grep -Eiq "$pattern" "$TDIR/dump.err" "$TDIR/dump.out"; then
		diag "the message does not mention $what"
		ok=1
	fi
	if [ -e "$TDIR/img/inventory.img" ]; then
		diag "a failed dump left an inventory.img"
		ok=1
	fi
	if ! running "$pid"; then
		diag "job $pid not running after the refused dump (state '$(proc_state "$pid")')"
		ok=1
	fi
	[ ${#STOP_REF[@]} = 0 ] || tell_stop "$run"
	for ((i = 0; i < T_RUN * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	ref_stopped || return 1
	same_file "$REF.out" "$run/out.txt" "stdout" || ok=1
	if [ $ok != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "dump of a job with $what not refused cleanly"
		return
	fi
}

# refused_cpuloop WHAT PATTERN PYCODE: python runs PYCODE (which gives the
# job something jobfreeze refuses) and execs cpuloop; dump must refuse it
# by a message matching PATTERN, and the job finish as if never touched
refused_cpuloop() {
	local what=$1 pattern=$2 code=$3
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	EXPECT_EXE=$WL/cpuloop start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" \
		"$PYTHON" -c "$code
os.execv(sys.argv[1], sys.argv[1:])" "$WL/cpuloop" || { fail "the job did not start"; return; }
	rand_sleep 300 1000
	expect_refused_dump "$JOB_PID" "$pattern" "$what" || return 1
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || fail "the job exited $JOB_STATUS, expected $REFST"
}

# a job holding a socket of a family jobfreeze does not know (netlink)
# cannot be frozen: dump refuses, naming it, and the job goes on
t_dump_socket() {
	refused_cpuloop "a netlink socket" "socket of family 16" '
import os, socket, sys
a = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
os.set_inheritable(a.fileno(), True)'
}

# a job holding a lease that is being broken (the file opened again; the
# holder ignores the signal telling it): refused, naming it, and the job
# goes on (leases not being broken come back: tests/t-engine.sh)
t_dump_lock() {
	refused_cpuloop "a file lease being broken" "holds a lease on fd [0-9]+ \\(.*lease\\.dat\\) that is being broken" '
import fcntl, os, signal, sys
signal.signal(signal.SIGIO, signal.SIG_IGN)
open("lease.dat", "w").close()
fd = os.open("lease.dat", os.O_RDWR)
fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
try:
    os.close(os.open("lease.dat", os.O_RDONLY | os.O_NONBLOCK))
    sys.exit("the open of a file under a write lease did not start its break")
except BlockingIOError:
    pass
os.set_inheritable(fd, True)'
}

# a pipe whose other end a process outside the job holds: refused, naming
# that process, since freezing would cut it off
t_dump_outside_pipe() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	STOP_REF=(cpuloop "$WL/cpuloop")
	mkdir_user "$TDIR/run"
	# python keeps the write end and runs cpuloop as its child with the read end
	start_job "$TDIR/run" "$TDIR/run/out.txt" "$TDIR/run/err.txt" "$PYTHON" -c '
import os, sys
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(w)
    os.set_inheritable(r, True)
    os.execv(sys.argv[1], sys.argv[1:])
os.close(r)
open("child.pid", "w").write(str(pid))
os.waitpid(pid, 0)' "$WL/cpuloop" ||
		{ fail "the job did not start"; return; }
	local i child=""
	for ((i = 0; i < 50; i++)); do
		child=$(cat "$TDIR/run/child.pid" 2>/dev/null) && [ -n "$child" ] && break
		sleep 0.1
	done
	[ -n "$child" ] || { fail "the job's child did not start"; return; }
	rand_sleep 300 1000
	expect_refused_dump "$child" "outside the job" "a pipe to a process outside it"
	wait_job "$JOB_PID" "$T_RUN"
}

# ---- the suite ---------------------------------------------------------

# A job blocked reading a named pipe thaws and goes on reading: the data
# written after the thaw reaches it, and its line numbers go on.
t_fifo() {
	local d=$TDIR/run w
	mkdir_user "$d"
	as_user mkfifo "$d/in.fifo" || { fail "mkfifo failed"; return; }
	seq 1 300 | cat -n >"$TDIR/ref.txt"
	start_job "$d" "$d/out.txt" "$d/err.txt" /bin/cat -n "$d/in.fifo" ||
		{ fail "the job did not start"; return; }
	local pid=$JOB_PID
	exec {w}>"$d/in.fifo"
	seq 1 150 >&$w
	rand_sleep 200 600
	dump_job "$pid" "$TDIR/img" || { exec {w}>&-; return 1; }
	wait_gone "$pid" 5 || { exec {w}>&-; fail "job still there after the dump"; return; }
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" restore -d \
		--pidfile "$TDIR/pid" -D "$TDIR/img"
	if [ "$JF_STATUS" != 0 ]; then
		exec {w}>&-
		diag_file "restore stderr" "$TDIR/restore.err"
		fail "restore -d exited $JF_STATUS"
		return
	fi
	local thawed
	thawed=$(cat "$TDIR/pid")
	bg_add "$thawed"
	seq 151 300 >&$w
	exec {w}>&-
	wait_gone "$thawed" 10 || { fail "the thawed reader did not finish at end of input"; return; }
	same_file "$TDIR/ref.txt" "$d/out.txt" "stdout" || { fail "output differs"; return; }
}

# The terminal: a `cat -n` reading its tty in a tmux pane is frozen, and
# thawed in another tmux window; what is typed there reaches it, numbered
# on from where it was, and end of input ends it with status 0.
t_tty() {
	command -v tmux >/dev/null || { skip "tmux is not installed"; return 77; }
	local i screen
	tmux_cat_job 100 30 || return
	local tm=("${TM[@]}") pid=$CAT_PID
	# (a window of its own keeps the session once cat's has gone)
	as_user "${tm[@]}" new-window -d -t t:1 "exec sleep 600"
	dump_job "$pid" "$TDIR/img" || { as_user "${tm[@]}" kill-server; return 1; }
	as_user "${tm[@]}" new-window -t t:5 \
		"$JF restore -D $TDIR/img; echo RC=\$?; exec sleep 60"
	sleep 0.5
	as_user "${tm[@]}" send-keys -t t:5 'line after' Enter
	sleep 0.3
	as_user "${tm[@]}" send-keys -t t:5 C-d
	for ((i = 0; i < 200; i++)); do
		screen=$(as_user "${tm[@]}" capture-pane -p -t t:5)
		grep -q 'RC=' <<<"$screen" && break
		sleep 0.1
	done
	as_user "${tm[@]}" kill-server
	if ! grep -Eq '^ +2[[:space:]]+line after$' <<<"$screen" || ! grep -q '^RC=0$' <<<"$screen"; then
		diag "screen of the thawing window:"
		diag "$screen"
		fail "the thawed cat -n did not go on in the new terminal"
		return
	fi
}

# valgrind finds no error or definite leak in dump and restore.
t_valgrind() {
	command -v valgrind >/dev/null || { skip "valgrind is not installed"; return 77; }
	if ldd "$JF" | grep -q libasan; then
		skip "sanitizer build: valgrind cannot run it"
		return 77
	fi
	start_again cpuloop 300 1200 "$WL/cpuloop" || return 1
	local run=$TDIR/run vg jf_bin=$JF pid=$JOB_PID
	vg=(-q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite "$jf_bin")
	JF=valgrind
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" 60 "${vg[@]}" dump -t "$pid" -D "$TDIR/img"
	local dst=$JF_STATUS
	[ "$dst" = 0 ] && wait_gone "$pid" 5 && tell_stop &&
		jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" 60 "${vg[@]}" restore -D "$TDIR/img"
	JF=$jf_bin
	if [ "$dst" != 0 ]; then
		diag_file "valgrind dump" "$TDIR/dump.err" 30
		fail "dump under valgrind exited $dst"
		return
	fi
	ref_stopped || return 1
	if [ "$JF_STATUS" != "$REFST" ]; then
		diag_file "valgrind restore" "$TDIR/restore.err" 30
		fail "restore under valgrind exited $JF_STATUS"
		return
	fi
	same_file "$REF.out" "$run/out.txt" "stdout" || fail "output differs"
}

run_test "help"                      t_help
run_test "check"                     t_check
run_test "freeze/thaw cpuloop"       t_cpuloop
run_test "freeze/thaw avx512 without AMX" t_avx512_noamx
run_test "freeze/thaw avx512 with AMX" t_avx512
run_test "freeze/thaw bigmem"        t_bigmem
run_test "freeze/thaw sleeper, 3 s frozen" t_sleeper
run_test "freeze/thaw signals"       t_signals
run_test "freeze/thaw files"         t_files
run_test "freeze/thaw count.py"      t_count_py
run_test "freeze/thaw 8 pthreads"     t_threads
run_test "freeze/thaw python thread pool" t_pool_py
run_test "freeze/thaw a parent and 3 workers" t_forker
run_test "freeze/thaw a shell pipeline with buffered data" t_pipeline
run_test "freeze/thaw a pipeline job by --pgid" t_pgid
run_test "freeze/thaw make -j2" t_make
run_test "freeze/thaw python multiprocessing pool" t_mpool_py
run_test "a job frozen stopped thaws stopped" t_stopped
run_test "freeze/thaw a parent holding zombies" t_zombie
run_test "freeze-thaw-freeze-thaw a process tree" t_tree_twice
run_test "freeze/thaw epoll, eventfd, timerfd, signalfd" t_anonfds
run_test "freeze/thaw layout and attributes" t_layout
run_test "freeze/thaw counter demo"  t_counter
run_test "freeze-thaw-freeze-thaw"   t_twice
run_test "snapshot with dump -R"     t_snapshot
run_test "freeze/thaw with -o LOG -v4 --display-stats" t_logfile
run_test "dump -s leaves the job stopped"   t_leave_stopped
run_test "image files have the JOBFREEZ header" t_image_format
run_test "refuse truncated proc image"      t_bad_truncated
run_test "refuse flipped byte in proc image" t_bad_proc_byte
run_test "refuse flipped byte in pages image" t_bad_pages_byte
run_test "refuse wrong format version"      t_bad_version
run_test "refuse images of another owner"   t_bad_owner
run_test "refuse missing image dir"         t_missing_dir
run_test "refuse changed input file"        t_changed_file
run_test "dump refuses nonexistent pid"     t_dump_nopid
run_test "dump refuses another user's job"  t_dump_other_user
run_test "read on a named pipe goes on"   t_fifo
run_test "terminal: thawed in another tmux window" t_tty
run_test "valgrind: dump and restore clean" t_valgrind
run_test "dump refuses a job with a socket" t_dump_socket
run_test "dump refuses a pipe shared with outside" t_dump_outside_pipe
run_test "dump refuses a job holding a file lease being broken" t_dump_lock

# Each area keeps its tests in its own tests/t-*.sh (functions plus their
# run_test lines), sourced here so they share the helpers and the summary.
for area in "$HERE"/t-*.sh; do
	[ -e "$area" ] || continue
	# shellcheck source=/dev/null
	. "$area"
done

sched_finish
took=$(( $(now_ms) - SUITE_START ))
echo "# took $((took / 1000)).$((took % 1000 / 100)) s ($JOBS tests at a time)"
echo "1..$T_NUM"
summary="$T_PASS passed, $T_FAIL failed"
[ "$T_SKIP" = 0 ] || summary+=", $T_SKIP skipped"
echo "$summary"
[ "$T_FAIL" = 0 ]
