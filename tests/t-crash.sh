# tests/t-crash.sh: the crash matrix. jobfreeze-crashtest (the same sources
# with ckpt/crashpoint.c's hook) is killed by SIGKILL at every phase
# boundary it lists (JOBFREEZE_CRASH_AT=list): a new phase needs no change
# here. After a dump crash (the guard of ckpt/guard.c puts the job back)
# either the job runs on untouched and finishes
# as an uninterrupted run, or the image is complete and thaws to the same
# output: never both, never neither. After a restore crash the image is
# unchanged and a second restore gives the right output. Nothing is left.
# shellcheck shell=bash

CJF=""		# the crashtest binary, where the test user can run it

crash_setup() {
	[ -n "$CJF" ] && return 0
	# (one make at a time: tests/t-vdso.sh builds it too)
	if ! flock "$WORK/.crashtest.lock" make -s -C "$HERE/.." O="$BUILD" crashtest \
		>"$TDIR/build.log" 2>&1; then
		diag_file "make crashtest" "$TDIR/build.log" 20
		return 1
	fi
	CJF=$BUILD/jobfreeze-crashtest
	if ! as_user test -x "$CJF"; then
		mkdir -p "$WORK/bin"
		cp "$CJF" "$WORK/bin/" && chmod a+rx "$WORK/bin/jobfreeze-crashtest" || return 1
		CJF=$WORK/bin/jobfreeze-crashtest
	fi
}

# crash_run PHASE TAG ARGS...: jobfreeze-crashtest ARGS as the test user,
# told to die at PHASE; checks that it died there
crash_run() {
	local phase=$1 tag=$2
	shift 2
	# (exit $?: no exec of timeout in the subshell, whose death by a
	# signal bash would report)
	(timeout -k 5 "$T_DUMP" "${RUNAS[@]}" "JOBFREEZE_CRASH_AT=$phase" "${USER_SH[@]}" \
		"$TDIR" "$TDIR/$tag.out" "$TDIR/$tag.err" "$CJF" "$@"; exit $?) 2>/dev/null
	JF_STATUS=$?
	if [ "$JF_STATUS" = 124 ]; then
		diag "jobfreeze-crashtest $* hung until killed after $T_DUMP s"
		return 1
	fi
	if ! grep -q "crash at $phase " "$TDIR/$tag.err"; then
		diag "jobfreeze-crashtest $* did not crash at $phase (exit $JF_STATUS)"
		diag_file "its stderr" "$TDIR/$tag.err" 5
		return 1
	fi
}

# no_leftovers: no process of the test user works in this suite's
# directory (a job, a restore's init and so its namespaces). One that ends
# within 2 s was on its way out as we looked (a pid namespace the kernel
# still tears down, a helper ending): named in the diagnostics, not a
# failure; what it did meanwhile the output checks catch.
no_leftovers() {
	local left p i desc=""
	left=$(leftovers)
	[ -z "$left" ] && return 0
	for p in $left; do
		desc+="$p($(cat "/proc/$p/comm" 2>/dev/null), state $(proc_state "$p"), parent $(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null): $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null)) "
	done
	for ((i = 0; i < 20; i++)); do
		left=$(for p in $left; do alive "$p" && echo "$p"; done)
		if [ -z "$left" ]; then
			diag "ended within 2 s of the check: $desc"
			return 0
		fi
		sleep 0.1
	done
	diag "left running: $desc"
	kill_leftovers
	return 1
}

# crash_dump PHASE [KEY CMD...]: the job is CMD (default: the signals
# workload: an interval timer, handlers, pending signals and a sigsuspend;
# a job left with its registers, mask or timer wrong dies or hangs)
crash_dump() {
	local phase=$1 pid ok=0
	shift
	[ $# -gt 0 ] || set -- signals "$WL/signals"
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again "$1" 300 1500 "${@:2}" || return 1
	pid=$JOB_PID
	crash_run "$phase" dump dump -t "$pid" -D "$TDIR/img" || { fail "no crash at $phase"; return; }
	sleep 0.3
	local complete="" alive="" verdict=0
	[ -f "$TDIR/img/inventory.img" ] && complete=1
	alive "$pid" && alive=1
	if [ -n "$complete" ] && [ -n "$alive" ]; then
		fail "after a crash at $phase the image is complete AND the job runs on"
		verdict=1
	elif [ -z "$complete" ] && [ -z "$alive" ]; then
		wait_job "$pid" 1
		fail "after a crash at $phase the job is gone (status $JOB_STATUS) AND the image incomplete"
		verdict=1
	elif [ -n "$alive" ]; then
		diag "job $pid runs on (state $(proc_state "$pid"), $(grep SigBlk "/proc/$pid/status"))"
		running "$pid" || { diag "job $pid is not running (state $(proc_state "$pid"))"; ok=1; }
		wait_job "$pid" "$T_RUN"
		[ "$JOB_STATUS" = "$REFST" ] || { diag "the job exited $JOB_STATUS, expected $REFST"; ok=1; }
		same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || ok=1
		# what the crash left of an image is refused as incomplete
		if [ -d "$TDIR/img" ]; then
			jf "$TDIR" "$TDIR/partial.out" "$TDIR/partial.err" "$T_RESTORE" restore -D "$TDIR/img"
			if [ "$JF_STATUS" = 0 ] || ! grep -q "incomplete" "$TDIR/partial.err"; then
				diag "restore of the partial image exited $JF_STATUS"
				diag_file "its stderr" "$TDIR/partial.err" 3
				ok=1
			fi
		fi
		[ $ok = 0 ] || { fail "the job that survived a crash at $phase was disturbed"; verdict=1; }
	else
		wait_gone "$pid" 5
		thaw_compare "$TDIR/img" ||
			{ fail "the image of a crash at $phase thaws differently"; verdict=1; }
	fi
	no_leftovers || { fail "processes left after a crash at $phase"; verdict=1; }
	return $verdict
}

crash_restore() {
	local phase=$1 before after
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again cpuloop 300 800 "$WL/cpuloop" || return 1
	dump_job "$JOB_PID" "$TDIR/img" || { fail "the dump failed"; return; }
	wait_gone "$JOB_PID" 5
	tell_stop
	before=$(img_digest "$TDIR/img")
	crash_run "$phase" restore restore -D "$TDIR/img" || { fail "no crash at $phase"; return; }
	[ "$JF_STATUS" != 0 ] || { fail "the crashed restore exited 0"; return; }
	sleep 0.3
	no_leftovers || { fail "processes left after a restore crash at $phase"; return; }
	after=$(img_digest "$TDIR/img")
	[ "$before" = "$after" ] || { fail "the crashed restore changed the image"; return; }
	thaw_compare "$TDIR/img" || fail "the second restore differs from the uninterrupted run"
}

# crash_store PHASE TAG ARGS...: `jobfreeze-crashtest ARGS` with the job
# store of this test, told to die at PHASE
crash_store() {
	local phase=$1 tag=$2
	shift 2
	crash_run "$phase" "$tag" env "XDG_STATE_HOME=$TDIR/state" "$CJF" "$@"
}

# crash_store_freeze PHASE: `jobfreeze freeze` killed at PHASE. The next
# store command finds either the job running on and nothing in the store,
# or the job gone and its images a job that thaws to the same output.
crash_store_freeze() {
	local phase=$1 pid verdict=0
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 1500 "$WL/counter" 25 || return 1
	pid=$JOB_PID
	local cjf=$CJF
	CJF=env
	crash_store "$phase" freeze "$cjf" freeze "$pid"
	local r=$?
	CJF=$cjf
	[ $r = 0 ] || { fail "no crash at $phase"; return; }
	sleep 0.3
	st "$TDIR/list.out" "$TDIR/list.err" list --completion
	local jobs
	jobs=$(cut -f1 "$TDIR/list.out" | tr '\n' ' ')
	if alive "$pid"; then
		[ -z "$jobs" ] || { fail "after a crash at $phase the job runs on AND is frozen ($jobs)"; verdict=1; }
		wait_job "$pid" "$T_RUN"
		same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || verdict=1
	elif [ "$jobs" != "1 " ]; then
		fail "after a crash at $phase the job is gone AND the store holds '$jobs'"
		diag_file "list stderr" "$TDIR/list.err"
		verdict=1
	else
		diag "the job died with the freeze; its images were kept as job 1"
		st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw 1
		[ "$ST" = "$REFST" ] || { diag_file "thaw stderr" "$TDIR/thaw.err"; verdict=1; }
		same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || verdict=1
		[ $verdict = 0 ] || fail "the job kept from a crash at $phase thaws differently"
	fi
	st_store_clean "" "a crash at $phase left something in the store" || verdict=1
	no_leftovers || { fail "processes left after a crash at $phase"; verdict=1; }
	return $verdict
}

# crash_store_rm PHASE: `jobfreeze rm` killed at PHASE. Before its rename
# the job is still frozen and thaws as an uninterrupted run; after, it is
# gone and the next command sweeps what is left of its images.
crash_store_rm() {
	local phase=$1 verdict=0 r
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	st_expect 0 '^frozen 1: ' "freeze" freeze "$JOB_PID" || return
	wait_job "$JOB_PID" 5
	local cjf=$CJF
	CJF=env
	crash_store "$phase" rm "$cjf" rm 1
	r=$?
	CJF=$cjf
	[ $r = 0 ] || { fail "no crash at $phase"; return; }
	st "$TDIR/list.out" "$TDIR/list.err" list --completion
	if [ "$phase" = rm-locked ]; then
		[ "$(cut -f1 "$TDIR/list.out")" = 1 ] || { fail "job 1 is gone after a crash at $phase"; return; }
		st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw 1
		[ "$ST" = "$REFST" ] || { diag_file "thaw stderr" "$TDIR/thaw.err"; verdict=1; }
		same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || verdict=1
		[ $verdict = 0 ] || fail "the job kept by a crash at $phase thaws differently"
	elif [ -s "$TDIR/list.out" ]; then
		fail "job 1 is still listed after a crash at $phase, past the rename"
		verdict=1
	fi
	st_store_clean "" "a crash at $phase left something in the store" || verdict=1
	no_leftovers || { fail "processes left after a crash at $phase"; verdict=1; }
	return $verdict
}

# crash_store_thaw PHASE: `jobfreeze thaw` killed at PHASE. Before the job
# runs, the next command finds it frozen again (and it thaws); after, it
# runs on to its end and its images are gone.
crash_store_thaw() {
	local phase=$1 pid verdict=0
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return; }
	start_again counter25 300 1500 "$WL/counter" 25 || return 1
	pid=$JOB_PID
	st_expect 0 '^frozen 1: ' "freeze" freeze "$pid" || return
	wait_job "$pid" 5
	local cjf=$CJF
	CJF=env
	crash_store "$phase" thaw "$cjf" thaw 1
	local r=$?
	CJF=$cjf
	[ $r = 0 ] || { fail "no crash at $phase"; return; }
	sleep 0.5
	st "$TDIR/list.out" "$TDIR/list.err" list --completion
	# putting the images back (or finding them used) is no error
	if [ -s "$TDIR/list.err" ]; then
		diag_file "list stderr" "$TDIR/list.err"
		fail "the first command after a thaw killed at $phase complained"
		verdict=1
	fi
	if [ -s "$TDIR/list.out" ]; then
		diag "the job is frozen again after the crash at $phase"
		# nothing of it may run meanwhile
		no_leftovers || { fail "after a crash at $phase the job runs AND is frozen"; return 1; }
		st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw 1
		[ "$ST" = "$REFST" ] || { diag_file "thaw stderr" "$TDIR/thaw.err"; verdict=1; }
	else
		diag "the job runs on after the crash at $phase"
		local i
		for ((i = 0; i < T_RUN * 10; i++)); do
			[ "$(wc -l <"$TDIR/run/out.txt")" -ge 25 ] && break
			sleep 0.1
		done
		sleep 0.3
	fi
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || verdict=1
	[ $verdict = 0 ] || fail "the job of a thaw killed at $phase did not end as an uninterrupted run"
	st_store_clean "" "a crash at $phase left something in the store" || verdict=1
	no_leftovers || { fail "processes left after a crash at $phase"; verdict=1; }
	return $verdict
}

# one run_test per phase the crashtest binary knows; it is built (and
# copied where the test user can run it) once here, before its tests start
if command -v make >/dev/null; then
	TDIR=$WORK T_DIAG=/dev/null crash_setup
fi
crash_phases() {
	[ -z "$CJF" ] || JOBFREEZE_CRASH_AT=list "$CJF"
}
for phase in $(crash_phases); do
	case $phase in
	dump-*)    run_test "crash: dump killed at $phase" crash_dump "$phase" ;;&
	dump-memory|dump-synced|dump-kill|store-*)
		run_test "crash: freeze into the store killed at $phase" crash_store_freeze "$phase" ;;
	restore-*) run_test "crash: restore killed at $phase" crash_restore "$phase" ;;&
	restore-built|restore-run|thaw-*)
		run_test "crash: thaw from the store killed at $phase" crash_store_thaw "$phase" ;;
	rm-*)      run_test "crash: rm from the store killed at $phase" crash_store_rm "$phase" ;;
	dump-*|restore-*) ;;
	*)         run_test "crash: killed at $phase" crash_dump "$phase" ;;
	esac
done
# a tree of four processes, each put back by the guard, also caught in
# the middle of an injected call
run_test "crash: dump of a process tree killed at dump-injecting" \
	crash_dump dump-injecting forker "$WL/forker"
run_test "crash: dump of a process tree killed at dump-writing" \
	crash_dump dump-writing forker "$WL/forker"
