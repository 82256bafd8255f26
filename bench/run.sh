#!/bin/bash
# run.sh BUILD_DIR: times `jobfreeze dump` and detached `restore` of a small and
# a 1 GiB job against dd baselines on the same disk; called by `make bench`.
#
# Debian packages: bash (5.0+, for EPOCHREALTIME), time (GNU /usr/bin/time),
# coreutils (dd, du, df, sort, mktemp), gcc (builds bench/*.c), mawk or gawk.
#
# Environment: BENCH_DIR  where images and baseline files go (default: a new
#                         directory under ${TMPDIR:-/tmp}); it must be on the
#                         disk you want to measure
#              BENCH_MIB  size of the big job in MiB (default 1024)
#              BENCH_RUNS repetitions of the small job (default 5)
#              CC         compiler for bench/*.c (default cc)
#
# Wall times come from bash's clock around each command (ms resolution);
# peak memory is GNU time's %M (max RSS of the jobfreeze process, KiB).
# The baseline for a dump is `dd conv=fsync` writing as many bytes as the
# image holds (du -sb); for a restore, dd reading that file back. Nothing is
# dropped from the page cache, for either side.

set -u
export LC_ALL=C

BUILD=${1:-}
if [ -z "$BUILD" ] || [ $# -ne 1 ]; then
	echo "usage: bench/run.sh BUILD_DIR" >&2
	exit 2
fi
HERE=$(cd "$(dirname "$0")" && pwd)
JF=$(cd "$BUILD" 2>/dev/null && pwd)/jobfreeze
BIG_MIB=${BENCH_MIB:-1024}
RUNS=${BENCH_RUNS:-5}
CC=${CC:-cc}

die() { echo "bench: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

[ -x "$JF" ] || die "$BUILD/jobfreeze is not built (run make)"
[ -x /usr/bin/time ] || die "/usr/bin/time is missing (apt-get install time)"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is needed (EPOCHREALTIME)"

# Everything the script starts or creates, for the trap.
TMPD=
JOB_PID=
RESTORED_PIDS=()

cleanup() {
	local p
	[ -n "$JOB_PID" ] && kill -KILL "$JOB_PID" 2>/dev/null
	for p in "${RESTORED_PIDS[@]}"; do
		kill -KILL "$p" 2>/dev/null
	done
	[ -n "$TMPD" ] && rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

if [ -n "${BENCH_DIR:-}" ]; then
	mkdir -p "$BENCH_DIR" || die "cannot create $BENCH_DIR"
	TMPD=$(mktemp -d "$BENCH_DIR/jfbench.XXXXXX") || die "mktemp failed"
else
	TMPD=$(mktemp -d "${TMPDIR:-/tmp}/jfbench.XXXXXX") || die "mktemp failed"
fi

# --- workloads ------------------------------------------------------------

mkdir -p "$BUILD/bench" || die "cannot create $BUILD/bench"
build_workload() {	# NAME: bench/NAME.c -> BUILD/bench/NAME
	local src="$HERE/$1.c" out="$BUILD/bench/$1"
	if [ ! -x "$out" ] || [ "$src" -nt "$out" ]; then
		"$CC" -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -o "$out" "$src" ||
			die "cannot build $src"
	fi
}
build_workload bigmem
if [ -x "$BUILD/tests/workloads/cpuloop" ]; then
	SMALL_NAME=cpuloop
	SMALL_CMD=("$BUILD/tests/workloads/cpuloop" 100000000)
else
	build_workload loop
	SMALL_NAME=loop
	SMALL_CMD=("$BUILD/bench/loop")
fi
BIG_CMD=("$BUILD/bench/bigmem" "$BIG_MIB")

# --- measuring ------------------------------------------------------------

# measure CMD...: runs CMD under GNU time. Sets M_RC, M_WALL (seconds),
# M_KB (peak RSS in KiB); CMD's stderr is kept in $TMPD/cmd.err.
measure() {
	local t0 t1
	t0=$EPOCHREALTIME
	/usr/bin/time -f '%e %M' -o "$TMPD/time.out" "$@" >"$TMPD/cmd.out" 2>"$TMPD/cmd.err"
	M_RC=$?
	t1=$EPOCHREALTIME
	M_WALL=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.4f", b - a }')
	M_KB=$(tail -n 1 "$TMPD/time.out" | awk '{ print $2 }')
	[ -n "$M_KB" ] || M_KB=0
}

show_failure() {	# WHAT
	echo "bench: $1 failed (exit $M_RC):" >&2
	sed 's/^/  | /' "$TMPD/cmd.err" >&2
}

# Waits until pid $1 is gone or a zombie, for up to 5 s.
wait_gone() {
	local i state
	for ((i = 0; i < 500; i++)); do
		state=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
		[ -z "$state" ] || [ "$state" = Z ] && return 0
		sleep 0.01
	done
	return 1
}

# Kills a restored job (pid from the pidfile) and, when it is one, the
# jobfreeze init of its namespace.
kill_restored() {	# PID
	local pid=$1 ppid pexe
	ppid=$(awk '/^PPid:/ { print $2 }' "/proc/$pid/status" 2>/dev/null)
	pexe=
	[ -n "$ppid" ] && [ "$ppid" -gt 1 ] && pexe=$(readlink "/proc/$ppid/exe" 2>/dev/null)
	if [ -n "$pexe" ] && [ "$pexe" = "$JF" ] && [ "$ppid" != $$ ]; then
		RESTORED_PIDS+=("$ppid")
	else
		ppid=
	fi
	kill -KILL "$pid" 2>/dev/null
	wait_gone "$pid" || echo "bench: restored job $pid does not die" >&2
	# The namespace's init should follow its job; make sure it does.
	if [ -n "$ppid" ] && ! wait_gone "$ppid"; then
		kill -KILL "$ppid" 2>/dev/null
		wait_gone "$ppid"
	fi
	RESTORED_PIDS=()
}

# Starts the job: CMD... ; sets JOB_PID. The job is started from a subshell
# that exits at once, so that, as in real use, it is not the freezer's
# child (nor the script's: no job-control noise when the dump ends it).
# It gets only stdin, stdout and stderr: descriptors inherited from make or
# a terminal emulator (pipes, sockets) are not what is being measured.
start_job() {
	JOB_PID=
	(
		exec_job "$TMPD/job.out" "$@" &
		echo $! >"$TMPD/job.pid"
	)
	JOB_PID=$(cat "$TMPD/job.pid")
}

stop_job() {
	if [ -n "$JOB_PID" ]; then
		kill -KILL "$JOB_PID" 2>/dev/null
		wait_gone "$JOB_PID"
		JOB_PID=
	fi
}

# One round on the job already running as $JOB_PID; images in DIR. Sets
# R_DUMP R_DUMP_KB R_BYTES R_WRITE R_READ R_RESTORE R_RESTORE_KB, leaving
# empty what could not be measured. Returns 1 if anything failed.
round() {	# DIR
	local dir=$1 rpid
	R_DUMP= R_DUMP_KB= R_BYTES= R_WRITE= R_READ= R_RESTORE= R_RESTORE_KB=
	measure "$JF" dump -t "$JOB_PID" -D "$dir"
	if [ "$M_RC" -ne 0 ]; then
		show_failure "jobfreeze dump -t $JOB_PID -D $dir"
		stop_job
		return 1
	fi
	R_DUMP=$M_WALL R_DUMP_KB=$M_KB
	# A dump ends the job once the images are safe.
	wait_gone "$JOB_PID" || echo "bench: the job survived its dump; killing it" >&2
	stop_job
	R_BYTES=$(du -sb "$dir" | awk '{ print $1 }')

	# Baseline: the same number of bytes through dd, in the same directory.
	measure dd if=/dev/zero of="$TMPD/baseline" bs=1M count="$R_BYTES" \
		iflag=count_bytes conv=fsync status=none
	[ "$M_RC" -eq 0 ] || { show_failure "dd (write)"; return 1; }
	R_WRITE=$M_WALL
	measure dd if="$TMPD/baseline" of=/dev/null bs=1M status=none
	[ "$M_RC" -eq 0 ] || { show_failure "dd (read)"; return 1; }
	R_READ=$M_WALL
	rm -f "$TMPD/baseline"

	rm -f "$TMPD/pidfile"
	measure "$JF" restore -D "$dir" -d --pidfile "$TMPD/pidfile"
	if [ "$M_RC" -ne 0 ]; then
		show_failure "jobfreeze restore -D $dir -d --pidfile $TMPD/pidfile"
		rm -rf "$dir"
		return 1
	fi
	R_RESTORE=$M_WALL R_RESTORE_KB=$M_KB
	rm -rf "$dir"
	rpid=$(cat "$TMPD/pidfile" 2>/dev/null)
	if ! [[ "$rpid" =~ ^[0-9]+$ ]]; then
		echo "bench: restore wrote no pid to its pidfile" >&2
		return 1
	fi
	RESTORED_PIDS+=("$rpid")
	kill_restored "$rpid"
}

# --- output ---------------------------------------------------------------

ROW_FMT="%-16s %-8s %9s %10s %10s   %-20s %7s\n"
row() {	# LABEL OP WALL KB BYTES BASENAME BASEWALL (empty: not measured)
	awk -v l="$1" -v op="$2" -v w="$3" -v kb="$4" -v b="$5" -v bn="$6" -v bw="$7" \
	    -v fmt="$ROW_FMT" 'BEGIN {
		img = b == "" ? "" : sprintf("%.2f", b / 1048576);
		base = bw == "" ? "" : sprintf("%s %.3f", bn, bw);
		ratio = (w != "" && bw > 0) ? sprintf("%.1fx", w / bw) : "-";
		printf fmt, l, op, w == "" ? "FAILED" : sprintf("%.3f", w),
		       w == "" ? "" : sprintf("%.1f", kb / 1024), img, base, ratio
	}'
}

print_round() {	# LABEL
	row "$1" dump "$R_DUMP" "$R_DUMP_KB" "$R_BYTES" "dd write+fsync" "$R_WRITE"
	[ -n "$R_DUMP" ] || return 0
	row "$1" restore "$R_RESTORE" "$R_RESTORE_KB" "" "dd read" "$R_READ"
}

median() {	# VALUES...
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

echo "jobfreeze bench: $("$JF" --version 2>/dev/null || echo "$JF"), kernel $(uname -r), $(nproc) CPUs"
echo "images and baselines in $TMPD ($(df --output=fstype,source "$TMPD" | tail -n 1 | awk '{ print $1 " on " $2 }'))"
echo "small job: $SMALL_NAME; big job: bench/bigmem $BIG_MIB MiB of non-zero data"
echo
printf "$ROW_FMT" job op "wall s" "peak MiB" "image MiB" "baseline (s)" ratio
printf "$ROW_FMT" ---------------- -------- --------- ---------- ---------- \
	-------------------- -------

FAIL=0
declare -a S_DUMP S_DUMP_KB S_BYTES S_RESTORE S_RESTORE_KB S_WRITE S_READ
for ((i = 1; i <= RUNS; i++)); do
	start_job "${SMALL_CMD[@]}"
	sleep 0.3
	if ! kill -0 "$JOB_PID" 2>/dev/null; then
		echo "bench: the small job ${SMALL_CMD[*]} did not start:" >&2
		cat "$TMPD/job.out" >&2
		FAIL=1
		break
	fi
	if ! round "$TMPD/img-small-$i"; then
		print_round "small #$i"
		FAIL=1
		break
	fi
	print_round "small #$i"
	S_DUMP+=("$R_DUMP") S_DUMP_KB+=("$R_DUMP_KB") S_BYTES+=("$R_BYTES")
	S_RESTORE+=("$R_RESTORE") S_RESTORE_KB+=("$R_RESTORE_KB")
	S_WRITE+=("$R_WRITE") S_READ+=("$R_READ")
done
if [ "$FAIL" -eq 0 ] && [ "$RUNS" -gt 0 ]; then
	R_DUMP=$(median "${S_DUMP[@]}") R_DUMP_KB=$(median "${S_DUMP_KB[@]}")
	R_BYTES=$(median "${S_BYTES[@]}") R_RESTORE=$(median "${S_RESTORE[@]}")
	R_RESTORE_KB=$(median "${S_RESTORE_KB[@]}") R_WRITE=$(median "${S_WRITE[@]}")
	R_READ=$(median "${S_READ[@]}")
	print_round "small median/$RUNS"
fi

rm -f "$TMPD/ready"
start_job "${BIG_CMD[@]}" "$TMPD/ready"
for ((i = 0; i < 12000; i++)); do
	[ -e "$TMPD/ready" ] && break
	kill -0 "$JOB_PID" 2>/dev/null || break
	sleep 0.01
done
if [ ! -e "$TMPD/ready" ]; then
	echo "bench: bigmem did not fill its memory:" >&2
	cat "$TMPD/job.out" >&2
	stop_job
	FAIL=1
else
	round "$TMPD/img-big" || FAIL=1
	print_round "big ${BIG_MIB} MiB"
fi

echo
echo "wall: bash's clock around the command; peak: max RSS of jobfreeze (GNU time %M);"
echo "image: du -sb of the image directory; baseline: dd moving that many bytes"
echo "(write with conv=fsync, read back from the page cache); ratio: jobfreeze / baseline;"
echo "median/N: the median of each column over the N small runs."
exit "$FAIL"
