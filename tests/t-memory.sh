# tests/t-memory.sh: memory that the processes of a job share copy-on-write
# is shared again after a thaw, and stored once in the image (ckpt/cow.c).
# Sourced by tests/run.sh.
# shellcheck shell=bash

# mem_tree PID: PID and all its descendants, one a line
mem_tree() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		mem_tree "$c"
	done
}

# mem_pss PID: the sum of the Pss of PID and its descendants, in KiB
mem_pss() {
	local p v t=0
	for p in $(mem_tree "$1"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

# mem_thaw IMG: restore IMG detached; its pid in THAWED
mem_thaw() {
	local tag=${1##*/}
	rm -f "$TDIR/pid"
	jf "$TDIR" "$TDIR/$tag.restore.out" "$TDIR/$tag.restore.err" "$T_RESTORE" restore -d \
		--pidfile "$TDIR/pid" -D "$1"
	if [ "$JF_STATUS" != 0 ]; then
		diag_file "restore stderr" "$TDIR/$tag.restore.err"
		fail "restore -d of $tag exited $JF_STATUS"
		return 1
	fi
	THAWED=$(cat "$TDIR/pid")
	bg_add "$THAWED"
}

# mem_pss_kept BEFORE AFTER PERCENT WHAT: AFTER is at most PERCENT % above BEFORE
mem_pss_kept() {
	diag "$4: Pss $1 KiB frozen, $2 KiB thawed"
	if [ "$2" -gt $(($1 + $1 * $3 / 100)) ]; then
		fail "$4: the thawed job's memory (Pss $2 KiB) is more than $3% above the frozen job's ($1 KiB)"
		return 1
	fi
}

# mem_ref_stopped KEY CMD...: the reference run of CMD (once per suite, one
# test at a time), told to stop once it is ready
mem_ref_stopped() {
	local key=$1 dir=$WORK/ref/$1.d rc=0 JOB_PID JOB_STATUS
	shift
	REF=$WORK/ref/$key
	[ -f "$REF.status" ] && return 0
	ref_lock "$REF" || return 1
	if [ ! -f "$REF.status" ]; then
		mkdir_user "$WORK/ref" "$dir"
		if ! start_job "$dir" "$REF.out" "$REF.err" "$@"; then
			diag "reference run did not start"
			rc=1
		elif ! mem_wait_file "$dir/ready" 120; then
			diag "reference run never got ready"
			rc=1
		else
			touch "$dir/stop"
			if wait_job "$JOB_PID" "$T_RUN"; then
				echo "$JOB_STATUS" >"$REF.status"
			else
				diag "reference run did not end"
				rc=1
			fi
		fi
	fi
	ref_unlock "$REF"
	return $rc
}

# A python3 job loads 200 MiB and forks 8 multiprocessing workers (fork
# start method) that hash it round after round; frozen mid-computation:
# the image holds the data once, the thawed job uses as much memory as the
# frozen one, and finishes as an uninterrupted run.
t_mem_multiprocessing() {
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return; }
	local mib=${JF_SHARE_MIB:-200} run=$TDIR/run pid pss0 pss1 anon img
	mem_ref_stopped bigshare "$PYTHON" "$PYDIR/bigshare.py" "$mib" stop ready || return 1
	mkdir_user "$run"
	EXPECT_EXE=$PYTHON start_job "$run" "$run/out.txt" "$run/err.txt" "$PYTHON" \
		"$PYDIR/bigshare.py" "$mib" stop ready || { fail "the job did not start"; return; }
	pid=$JOB_PID
	mem_wait_file "$run/ready" 120 || { diag_file "job stderr" "$run/err.txt"; fail "the job never got ready"; return; }
	rand_sleep 50 400
	pss0=$(mem_pss "$pid")
	anon=$(awk '/^Anonymous:/ { print $2 }' "/proc/$pid/smaps_rollup")
	diag "$(mem_tree "$pid" | wc -l) processes, the parent's own memory $anon KiB"
	dump_job "$pid" "$TDIR/img" || return 1
	wait_gone "$pid" 10 || { fail "job still there after the dump"; return; }
	img=$(du -sk "$TDIR/img" | awk '{ print $1 }')
	diag "image: $img KiB"
	[ "$img" -lt $((2 * anon)) ] ||
		{ fail "the image ($img KiB) is not smaller than twice the parent's memory ($anon KiB)"; return; }
	mem_thaw "$TDIR/img" || return 1
	sleep 0.5
	pss1=$(mem_pss "$THAWED")
	mem_pss_kept "$pss0" "$pss1" 10 "8 workers sharing $mib MiB" || return 1
	touch "$run/stop"
	wait_gone "$THAWED" 60 || { fail "the thawed job did not finish"; return; }
	same_file "$REF.out" "$run/out.txt" "stdout" ||
		{ diag_file "job stderr" "$run/err.txt" 5; fail "the thawed job differs from the uninterrupted run"; }
}

# A tree of 100 processes sharing 16 MiB, frozen and thawed three times:
# its memory does not grow, and every process still holds what it held.
# With -g, the same as a shell job frozen by its process group.
t_mem_tree() {
	local mode=${1:-} run=$TDIR/run pid pss0 pss k n
	mkdir_user "$run"
	start_job "$run" "$run/out.txt" "$run/err.txt" "$WL/cowtree" $mode 100 stop ||
		{ fail "the job did not start"; return; }
	pid=$JOB_PID
	for ((k = 0; k < 100; k++)); do
		n=$(mem_tree "$pid" | wc -l)
		[ "$n" = 100 ] && break
		sleep 0.1
	done
	[ "$n" = 100 ] || { fail "the tree has $n processes, not 100"; return; }
	sleep 0.3
	pss0=$(mem_pss "$pid")
	for k in 1 2 3; do
		if [ -n "$mode" ]; then
			local pg
			pg=$(awk '{ sub(/.*\) /, ""); print $3 }' "/proc/$pid/stat")
			jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump --pgid "$pg" -D "$TDIR/img$k"
			[ "$JF_STATUS" = 0 ] || { diag_file "dump stderr" "$TDIR/dump.err"; fail "dump --pgid $pg exited $JF_STATUS"; return; }
		else
			dump_job "$pid" "$TDIR/img$k" || return 1
		fi
		wait_gone "$pid" 10 || { fail "job still there after freeze $k"; return; }
		mem_thaw "$TDIR/img$k" || return 1
		pid=$THAWED
		sleep 0.3
		pss=$(mem_pss "$pid")
		n=$(mem_tree "$pid" | wc -l)
		[ "$n" = 100 ] || { fail "thaw $k brought back $n processes, not 100"; return; }
		mem_pss_kept "$pss0" "$pss" 5 "thaw $k" || return 1
		rm -rf "$TDIR/img$k"
	done
	touch "$run/stop"
	wait_gone "$pid" 30 || { fail "the thawed tree did not finish"; return; }
	echo "cowtree: 100 processes, all right" >"$TDIR/expected"
	same_file "$TDIR/expected" "$run/out.txt" "stdout" || fail "a process of the tree lost what it held"
}
t_mem_tree_pgid() { t_mem_tree -g; }

# Children that each made their parent's memory their own in another way
# (unmapped it, mapped their own, changed protections, gave pages up,
# rewrote it, changed signal actions and stack), and a grandchild: rebuilt
# from their parent, each holds exactly what it held; frozen twice.
t_mem_edges() {
	local run=$TDIR/run pid i
	cowedge_start "$run" || { fail "the job did not start"; return; }
	pid=$JOB_PID
	for i in 1 2; do
		dump_job "$pid" "$TDIR/img$i" || return 1
		wait_gone "$pid" 10 || { fail "job still there after dump $i"; return; }
		mem_thaw "$TDIR/img$i" || return 1
		pid=$THAWED
		rand_sleep 100 300
	done
	touch "$run/stop"
	wait_gone "$pid" 30 || { fail "the thawed job did not finish"; return; }
	cowedge_check "$run" ||
		fail "a process rebuilt from its parent does not hold what it held (see cowedge.c for the check numbers)"
}

run_test "memory: python multiprocessing workers share their parent's data after a thaw" t_mem_multiprocessing
run_test "memory: a 100-process tree thawed 3 times keeps its sharing" t_mem_tree
run_test "memory: a 100-process group (--pgid) thawed 3 times keeps its sharing" t_mem_tree_pgid
run_test "memory: children that changed their parent's memory come back as they were" t_mem_edges
