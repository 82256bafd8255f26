#!/bin/bash
# compress.sh BUILD_DIR: page data compressed (zstd) vs raw, and a full vs
# an incremental snapshot, each next to dd baselines of the same bytes
# measured in the same run; called by `make bench` (issue 15's targets).
#
#  - zmem with 512 MiB of text (compressible) and with 512 MiB of random
#    bytes: dump and restore (image in the page cache, and dropped from it
#    first: a thaw after a reboot), --compress=none and the default;
#    baselines: dd writing the job's memory size with conv=fsync, and
#    reading it back from disk;
#  - a python3 job holding a big dict and lists: image size / its RSS;
#  - zmem with 1 GiB (half text, half random): a snapshot (-R), 10 MiB
#    changed, a second snapshot with --prev: bytes and time of the second
#    over the first; the first deleted, the second restored.
#
# Environment: BENCH_DIR (where images go, default under ${TMPDIR:-/tmp}),
# BENCH_ZMIB (the size of each zmem area, default 512), BENCH_ZRUNS (runs
# of the 512 MiB jobs, interleaved with their baselines, and of the python
# job; medians shown, default 3).
set -u
export LC_ALL=C

BUILD=${1:-}
[ -n "$BUILD" ] && [ $# -eq 1 ] || { echo "usage: bench/compress.sh BUILD_DIR" >&2; exit 2; }
HERE=$(cd "$(dirname "$0")" && pwd)
BUILD=$(cd "$BUILD" && pwd)
JF=$BUILD/jobfreeze
ZMEM=$BUILD/tests/workloads/zmem
MIB=${BENCH_ZMIB:-512}
RUNS=${BENCH_ZRUNS:-3}
die() { echo "bench: $*" >&2; exit 1; }
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[ -x "$JF" ] && [ -x "$ZMEM" ] || die "build first (make)"

TMPD=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/jfzbench.XXXXXX") || die "mktemp failed"
JOB_PID=
cleanup() {
	[ -n "$JOB_PID" ] && kill -KILL "$JOB_PID" 2>/dev/null
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.3f", b - a }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf (b > 0 ? "%.2fx" : "-"), a / b }'; }
mib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1048576 }'; }

# start DIR CMD...: CMD in DIR, stdio only, not our child; waits for DIR/ready
start() {
	local dir=$1 i
	shift
	mkdir -p "$dir"
	rm -f "$dir/ready"
	(
		cd "$dir" || exit 1
		exec_job "$dir/out.txt" "$@" &
		echo $! >"$dir/pid"
	)
	JOB_PID=$(cat "$dir/pid")
	for ((i = 0; i < 6000; i++)); do
		[ -e "$dir/ready" ] && return 0
		kill -0 "$JOB_PID" 2>/dev/null || break
		sleep 0.02
	done
	die "$* did not get ready: $(cat "$dir/out.txt")"
}

gone() {
	local i
	for ((i = 0; i < 500; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.01
	done
	kill -KILL "$1" 2>/dev/null
}

# dump IMG ARGS...: sets D_TIME, D_BYTES (image bytes on disk, this dump's own)
dump() {
	local img=$1 t
	shift
	t=$(now)
	"$JF" dump -t "$JOB_PID" -D "$img" --display-stats "$@" 2>"$TMPD/dump.err" ||
		{ cat "$TMPD/dump.err" >&2; die "dump $* failed"; }
	D_TIME=$(since "$t")
	D_BYTES=$(sed -n 's/^ *bytes on disk: *\([0-9]*\).*/\1/p' "$TMPD/dump.err")
}

# uncache FILE...: the files' pages dropped from the page cache (they are
# synced: clean pages go), as after a reboot or a long while
uncache() {
	local f
	for f in "$@"; do
		[ -f "$f" ] && dd if="$f" iflag=nocache count=0 status=none
	done
}

# restore IMG [cold]: sets R_TIME (until the job runs, detached), kills the
# job; with cold, the image is read from disk, not from the page cache (a
# thaw after a reboot)
restore() {
	local t pid
	rm -f "$TMPD/rpid"
	[ "${2:-}" = cold ] && uncache "$1"/*
	t=$(now)
	"$JF" restore -d -D "$1" --pidfile "$TMPD/rpid" 2>"$TMPD/restore.err" ||
		{ cat "$TMPD/restore.err" >&2; die "restore of $1 failed"; }
	R_TIME=$(since "$t")
	pid=$(cat "$TMPD/rpid")
	kill -KILL "$pid" 2>/dev/null
	gone "$pid"
}

# thaw IMG: restore IMG twice, from the page cache (R_TIME), then from
# disk (R_COLD)
thaw() {
	local warm
	restore "$1"
	warm=$R_TIME
	restore "$1" cold
	R_COLD=$R_TIME R_TIME=$warm
}

# dd baselines of BYTES: sets W_TIME (write + fsync), RD_TIME (read back,
# from disk)
baseline() {
	local t
	t=$(now)
	dd if=/dev/zero of="$TMPD/dd" bs=1M count="$1" iflag=count_bytes conv=fsync status=none
	W_TIME=$(since "$t")
	uncache "$TMPD/dd"
	t=$(now)
	dd if="$TMPD/dd" of=/dev/null bs=1M status=none
	RD_TIME=$(since "$t")
	rm -f "$TMPD/dd"
}

FMT="%-28s %8s %10s %9s %9s   %s\n"
echo "jobfreeze bench (compression, incremental snapshots): kernel $(uname -r), $(nproc) CPUs"
echo "images in $TMPD ($(df --output=fstype "$TMPD" | tail -n 1))"
echo
printf "$FMT" job/mode "dump s" "image MiB" "restore s" "cold s" "ratios (targets)"

# --- 512 MiB compressible, 512 MiB random ------------------------------
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}
for kind in text random; do
	if [ $kind = text ]; then args=("$MIB" 1 0); else args=(1 "$MIB" 0); fi
	mem=$(((MIB + 1) << 20))
	ws=() rs=() dn=() dd_=() rn=() rd=() rnc=() rdc=() bn= bd=
	# (interleaved, RUNS times: the medians are compared)
	for ((r = 0; r < RUNS; r++)); do
		baseline "$mem"
		ws+=("$W_TIME") rs+=("$RD_TIME")
		for mode in none default; do
			opt=()
			[ $mode = none ] && opt=(--compress=none)
			start "$TMPD/run-$kind-$mode" "$ZMEM" "${args[@]}"
			dump "$TMPD/img-$kind-$mode" "${opt[@]}"
			gone "$JOB_PID"
			JOB_PID=
			thaw "$TMPD/img-$kind-$mode"
			rm -rf "$TMPD/img-$kind-$mode"
			if [ $mode = none ]; then
				dn+=("$D_TIME") rn+=("$R_TIME") rnc+=("$R_COLD") bn=$D_BYTES
			else
				dd_+=("$D_TIME") rd+=("$R_TIME") rdc+=("$R_COLD") bd=$D_BYTES
			fi
		done
	done
	W=$(median "${ws[@]}") RD=$(median "${rs[@]}")
	DN=$(median "${dn[@]}") RN=$(median "${rn[@]}") DD=$(median "${dd_[@]}") RDD=$(median "${rd[@]}")
	RNC=$(median "${rnc[@]}") RDC=$(median "${rdc[@]}")
	printf "$FMT" "dd $((mem >> 20)) MiB" "$W" "$(mib "$mem")" "" "$RD" "(write+fsync, read from disk)"
	printf "$FMT" "zmem $MIB MiB $kind, raw" "$DN" "$(mib "$bn")" "$RN" "$RNC" "dump/dd $(ratio "$DN" "$W")"
	printf "$FMT" "zmem $MIB MiB $kind, zstd" "$DD" "$(mib "$bd")" "$RDD" "$RDC" \
		"dump/dd $(ratio "$DD" "$W") ($([ $kind = text ] && echo "<= 0.7x" || echo "<= 1.1x")), restore/raw $(ratio "$RDD" "$RN"), cold $(ratio "$RDC" "$RNC") (<= 1x), size/raw $(ratio "$bd" "$bn")"
done

# --- python data -------------------------------------------------------
PY=$(command -v python3)
if [ -n "$PY" ]; then
	start "$TMPD/run-py" "$PY" "$HERE/pydata.py" "$TMPD/run-py/ready"
	rss=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$JOB_PID/status")
	# (interleaved, RUNS times, as above: a thaw of 30 MiB is quick enough
	# that one run alone says more about the machine than about the codec)
	declare -A pyd=() pyr=() pyc=() pys=()
	for ((r = 0; r < RUNS; r++)); do
		for mode in none default; do
			opt=()
			[ $mode = none ] && opt=(--compress=none)
			dump "$TMPD/img-py-$mode" -R "${opt[@]}"
			pys[$mode]=$(du -sb "$TMPD/img-py-$mode" | awk '{ print $1 }')
			# (a copy of the job, in its own namespaces, while it runs on)
			thaw "$TMPD/img-py-$mode"
			pyd[$mode]+=" $D_TIME" pyr[$mode]+=" $R_TIME" pyc[$mode]+=" $R_COLD"
			rm -rf "$TMPD/img-py-$mode"
		done
	done
	for mode in none default; do
		# shellcheck disable=SC2086
		DT=$(median ${pyd[$mode]}) RT=$(median ${pyr[$mode]}) RC=$(median ${pyc[$mode]})
		[ $mode = none ] && PY_RAW=$RT PY_RAWC=$RC
		printf "$FMT" "python3 dict+lists, $mode" "$DT" "$(mib "${pys[$mode]}")" "$RT" "$RC" \
			"image/RSS $(ratio "${pys[$mode]}" "$rss") (RSS $(mib "$rss") MiB)$([ $mode = default ] &&
				echo " (<= 0.4x), restore/raw $(ratio "$RT" "$PY_RAW"), cold $(ratio "$RC" "$PY_RAWC") (<= 1x)")"
	done
	kill -KILL "$JOB_PID"
	gone "$JOB_PID"
	JOB_PID=
fi

# --- incremental: 1 GiB, 10 MiB changed between snapshots ----------------
half=$MIB
mkdir -p "$TMPD/run-inc"
touch "$TMPD/run-inc/stepwise"
start "$TMPD/run-inc" "$ZMEM" "$half" "$half" 10240
touch "$TMPD/run-inc/step"	# the first pass: a first change
while [ "$(cat "$TMPD/run-inc/done" 2>/dev/null)" != 1 ]; do sleep 0.02; done
dump "$TMPD/img-inc1" -R
T1=$D_TIME B1=$D_BYTES
printf "$FMT" "zmem $((2 * half)) MiB, snapshot" "$T1" "$(mib "$B1")" "" "" "full"
touch "$TMPD/run-inc/step"	# 10 MiB changed
while [ "$(cat "$TMPD/run-inc/done" 2>/dev/null)" != 2 ]; do sleep 0.02; done
dump "$TMPD/img-inc2" -R --prev "$TMPD/img-inc1"
T2=$D_TIME B2=$D_BYTES
printf "$FMT" "  10 MiB later, --prev" "$T2" "$(mib "$B2")" "" "" \
	"bytes $(awk -v a="$B2" -v b="$B1" 'BEGIN { printf "%.2f%%", 100 * a / b }') (<= 3%), time $(awk -v a="$T2" -v b="$T1" 'BEGIN { printf "%.0f%%", 100 * a / b }') (<= 20%)"
kill -KILL "$JOB_PID"
gone "$JOB_PID"
JOB_PID=
rm -rf "$TMPD/img-inc1"
thaw "$TMPD/img-inc2"
printf "$FMT" "  restored, first deleted" "" "" "$R_TIME" "$R_COLD" ""

echo
echo "dump s: wall time of jobfreeze dump (images synced); image: the bytes it wrote"
echo "(an incremental one: not those it linked); restore s: until the job runs again,"
echo "the image in the page cache (just written); cold s: the same, the image's pages"
echo "dropped from the cache first (dd iflag=nocache), as a thaw after a reboot reads"
echo "it; dd: writing the job's memory size with conv=fsync, reading it back from disk."
