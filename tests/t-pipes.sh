# tests/t-pipes.sh: pipes and FIFOs keep every byte. Pipelines of a
# verifiable stream (tests/workloads/pipestream.c) are frozen and thawed
# many times over one run, at random moments, and must end exactly as an
# uninterrupted run; the flags and contents of every kind of pipe end come
# back (tests/workloads/pipekinds.c). Sourced by tests/run.sh.
# shellcheck shell=bash

PIPE_FREEZES=${JF_PIPE_FREEZES:-20}	# freezes per stress run (make stress: more)

# The syscall each process of the job is in, as "pid:nr" words
# (0 read, 1 write; "running" when in user space).
job_syscalls() {
	local p s
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		s=$(cut -d' ' -f1 "/proc/$p/syscall" 2>/dev/null) || continue
		printf '%s:%s ' "$p" "$s"
	done
}

# freeze_often KEY CMDLINE [read]: runs `sh -c CMDLINE` uninterrupted for
# reference, then again, freezing it at random moments: each freeze of
# the job thawed from the previous one, each thaw detached but the last,
# which waits for the job and compares its status and output. It freezes
# $PIPE_FREEZES times, and more until a writer was caught blocked in
# write() (the pipe full) and, unless the third argument is "noread", a
# reader in read() (the pipe empty), at most 3 times as many.
freeze_often() {
	local key=$1 cmd=$2 run=$TDIR/run need_read=${3:-read}
	reference "$key" "$WORK/ref/$key.d" /bin/sh -c "$cmd" || return 1
	local refst k pid seen_read="" seen_write="" states
	[ "$need_read" = noread ] && seen_read="not needed"
	refst=$(cat "$REF.status")
	mkdir_user "$run"
	EXPECT_EXE=/bin/sh start_job "$run" "$run/out.txt" "$run/err.txt" /bin/sh -c "$cmd" ||
		{ fail "the job did not start"; return; }
	pid=$JOB_PID
	for ((k = 1; k <= 3 * PIPE_FREEZES; k++)); do
		rand_sleep 30 200
		states=$(job_syscalls "$pid")
		# (a job that ends between this look and the dump is one that
		# ended: the dump's refusal then says the process does not exist)
		local dumped=""
		if alive "$pid"; then
			if dump_job "$pid" "$TDIR/img$k"; then
				dumped=1
			elif alive "$pid"; then
				return 1
			fi
		fi
		if [ -z "$dumped" ]; then
			# a fast machine: the job, detached, ended before the last
			# freeze; its output (which counts every gap and duplicate)
			# must still be the uninterrupted run's
			[ "$k" -gt $((PIPE_FREEZES / 2)) ] ||
				{ fail "the job ended after only $((k - 1)) freezes"; return; }
			same_file "$REF.out" "$run/out.txt" "stdout" ||
				{ diag_file "job stderr" "$run/err.txt" 5; fail "the job thawed $((k - 1)) times differs from the uninterrupted run"; return; }
			[ -n "$seen_read" ] && [ -n "$seen_write" ] && return 0
			fail "the job ended after $((k - 1)) freezes, none caught in read() (${seen_read:-no}) or write() (${seen_write:-no})"
			return
		fi
		case " $states" in *:0\ *) seen_read=1 ;; esac
		case " $states" in *:1\ *) seen_write=1 ;; esac
		diag "freeze $k: syscalls $states"
		wait_gone "$pid" 5 || { fail "job $pid still there after freeze $k"; return; }
		local covered=""
		[ -n "$seen_read" ] && [ -n "$seen_write" ] && covered=1
		if [ "$k" -ge "$PIPE_FREEZES" ] && { [ -n "$covered" ] || [ "$k" = $((3 * PIPE_FREEZES)) ]; }; then
			REFST=$refst thaw_compare "$TDIR/img$k" || {
				diag_file "job stderr" "$run/err.txt" 5
				fail "the job thawed $k times differs from the uninterrupted run"
				return
			}
			[ -n "$covered" ] && return 0
			fail "in $k freezes no reader was caught in read() (${seen_read:-no}) or no writer in write() (${seen_write:-no})"
			return
		fi
		jf "$TDIR" "$TDIR/r$k.out" "$TDIR/r$k.err" "$T_RESTORE" restore -d \
			--pidfile "$TDIR/pid" -D "$TDIR/img$k"
		if [ "$JF_STATUS" != 0 ]; then
			diag_file "restore $k stderr" "$TDIR/r$k.err"
			fail "thaw $k (restore -d) exited $JF_STATUS"
			return
		fi
		pid=$(cat "$TDIR/pid")
		bg_add "$pid"
		rm -rf "$TDIR/img$k"
	done
}

PS_BIN=$WL/pipestream
PS_LONG="-n 4000000"	# about 10 s of the job's own time (5 with 1 MiB pipes)

# gen | check, gen | relay | check, gen | relay | relay | check
t_pipes_1() { freeze_often pipes1 "$PS_BIN gen $PS_LONG | $PS_BIN check"; }
t_pipes_2() { freeze_often pipes2 "$PS_BIN gen $PS_LONG | $PS_BIN relay | $PS_BIN check"; }
t_pipes_3() {
	freeze_often pipes3 "$PS_BIN gen $PS_LONG | $PS_BIN relay | $PS_BIN relay | $PS_BIN check"
}
# pipes enlarged to 1 MiB (F_SETPIPE_SZ), full while the reader is slow
# (so full that the reader seldom waits: only writers must be caught)
t_pipes_big() {
	freeze_often pipesbig "$PS_BIN gen $PS_LONG -p 1048576 | $PS_BIN relay -p 1048576 | $PS_BIN check" noread
}
# a FIFO made by the job between two of its stages
t_fifo_stream() {
	freeze_often fifostream "rm -f s.fifo; mkfifo s.fifo; $PS_BIN check < s.fifo & $PS_BIN gen $PS_LONG | $PS_BIN relay > s.fifo; wait \$!"
}

run_test "pipes: gen|check frozen $PIPE_FREEZES times, every byte once" t_pipes_1
run_test "pipes: gen|relay|check frozen $PIPE_FREEZES times" t_pipes_2
run_test "pipes: three pipes frozen $PIPE_FREEZES times" t_pipes_3
run_test "pipes: 1 MiB pipes frozen $PIPE_FREEZES times" t_pipes_big
run_test "pipes: a FIFO stream frozen $PIPE_FREEZES times" t_fifo_stream

# Snapshots (-R) while the pipeline runs: the job itself must lose and
# duplicate nothing; then the last snapshot, thawed once the job is done,
# ends the same way (it writes the same bytes over the same file).
t_pipes_snapshot() {
	local cmd="$PS_BIN gen -n 1200000 | $PS_BIN relay | $PS_BIN check" run=$TDIR/run k
	reference pipessnap "$WORK/ref/pipessnap.d" /bin/sh -c "$cmd" || return 1
	REFST=$(cat "$REF.status")
	mkdir_user "$run"
	EXPECT_EXE=/bin/sh start_job "$run" "$run/out.txt" "$run/err.txt" /bin/sh -c "$cmd" ||
		{ fail "the job did not start"; return; }
	local pid=$JOB_PID
	for ((k = 1; k <= 5; k++)); do
		rand_sleep 100 400
		alive "$pid" || { fail "the job ended after $((k - 1)) snapshots"; return; }
		rm -rf "$TDIR/img"
		dump_job "$pid" "$TDIR/img" -R || return 1
		alive "$pid" || { fail "the job is gone after snapshot $k"; return; }
	done
	wait_job "$pid" "$T_RUN" || { fail "the job did not end after its snapshots"; return; }
	[ "$JOB_STATUS" = "$REFST" ] || { diag_file "job stderr" "$run/err.txt" 5; fail "the job exited $JOB_STATUS after its snapshots, the uninterrupted run $REFST"; return; }
	same_file "$REF.out" "$run/out.txt" "stdout of the job snapshotted" || return 1
	thaw_compare "$TDIR/img" || fail "the last snapshot, thawed, differs from the uninterrupted run"
}
run_test "pipes: snapshots (-R) of a running pipeline lose nothing" t_pipes_snapshot

# Every kind of pipe end, its flags and what it holds: see pipekinds.c.
t_pipe_kinds() { freeze_thaw pipekinds 0 300 1200 "$WL/pipekinds"; }
run_test "pipes: flags per open file description, fill levels, packets, FIFOs" t_pipe_kinds

# A FIFO that was unlinked and that a process outside the job holds cannot
# be found again: refused, naming both, and the job goes on.
t_fifo_ghost_shared() {
	local d=$TDIR/run w
	mkdir_user "$d"
	as_user mkfifo "$d/g.fifo" || { fail "mkfifo failed"; return; }
	start_job "$d" "$d/out.txt" "$d/err.txt" /bin/cat "$d/g.fifo" ||
		{ fail "the job did not start"; return; }
	local pid=$JOB_PID
	exec {w}>"$d/g.fifo"
	rm -f "$d/g.fifo"
	echo before >&$w
	rand_sleep 100 300
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] || ! grep -q "unlinked.*outside the job" "$TDIR/dump.err"; then
		exec {w}>&-
		diag_file "dump stderr" "$TDIR/dump.err"
		fail "dump of a job with an unlinked FIFO held outside exited $JF_STATUS"
		return
	fi
	[ ! -e "$TDIR/img/inventory.img" ] || { exec {w}>&-; fail "the refused dump left an image"; return; }
	running "$pid" || { exec {w}>&-; fail "the job is not running after the refused dump"; return; }
	echo after >&$w
	exec {w}>&-
	wait_job "$pid" 10 || { fail "cat did not end"; return; }
	printf 'before\nafter\n' >"$TDIR/ref.txt"
	same_file "$TDIR/ref.txt" "$d/out.txt" "stdout" || return 1
}
run_test "dump refuses an unlinked FIFO held outside the job" t_fifo_ghost_shared

# Damaged pipe data (a flipped byte in pipe-ID.img) is refused at thaw,
# the images are left as they were, and the job is not started.
t_pipe_data_damaged() {
	local cmd="$PS_BIN gen -n 600000 | $PS_BIN check" run=$TDIR/run f before after
	reference pipesdmg "$WORK/ref/pipesdmg.d" /bin/sh -c "$cmd" || return 1
	mkdir_user "$run"
	EXPECT_EXE=/bin/sh start_job "$run" "$run/out.txt" "$run/err.txt" /bin/sh -c "$cmd" ||
		{ fail "the job did not start"; return; }
	local pid=$JOB_PID i
	# until the pipe holds data: the reader is slow in the first phase
	for ((i = 0; i < 3; i++)); do
		rand_sleep 100 300
		dump_job "$pid" "$TDIR/img" || return 1
		wait_gone "$pid" 5 || { fail "the job is still there after the dump"; return; }
		f=$(find "$TDIR/img" -name 'pipe-*.img' -size +0c | head -n 1)
		[ -n "$f" ] && break
		jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore -d --pidfile "$TDIR/pid" -D "$TDIR/img"
		[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r.err"; fail "restore -d exited $JF_STATUS"; return; }
		pid=$(cat "$TDIR/pid")
		bg_add "$pid"
		rm -rf "$TDIR/img"
	done
	[ -n "$f" ] || { skip "the pipe was empty at every freeze"; return; }
	flip_byte "$f" $(( $(stat -c %s "$f") / 2 ))
	before=$(img_digest "$TDIR/img")
	jf "$TDIR" "$TDIR/r.out" "$TDIR/r.err" "$T_RESTORE" restore -D "$TDIR/img"
	after=$(img_digest "$TDIR/img")
	[ "$JF_STATUS" != 0 ] || { fail "a restore with damaged pipe data succeeded"; return; }
	grep -q "damaged" "$TDIR/r.err" || { diag_file "restore stderr" "$TDIR/r.err"; fail "the error does not say the image is damaged"; return; }
	[ "$before" = "$after" ] || fail "the failed restore changed the images"
}
run_test "pipes: damaged pipe data is refused at thaw" t_pipe_data_damaged
