#!/bin/bash
# tree.sh BUILD_DIR: what each process of a job costs. A python3 parent
# with N children, each holding 256 KiB of its own (bench/kids.py), is
# dumped (-t) and restored (-d) for N = 10, 100, 400; prints the medians,
# the cost of each additional process (the slope between the smallest and
# the largest N), the memory of the job (sum of Pss) before the dump and
# after the thaw, the image size, and the parts of the frozen time of the
# 100-child job as --display-stats gives them. Called by `make bench`.
#
# Environment: BENCH_TREE_N     the numbers of children (default "10 100 400")
#              BENCH_TREE_RUNS  runs of each (default 3)
#              BENCH_DIR        where the images go (default: under $TMPDIR)
# Debian packages: bash (5.0+), python3, coreutils, procps (for nothing
# but ps in the diagnostics), gawk or mawk.
set -u
export LC_ALL=C

BUILD=$(cd "${1:?usage: bench/tree.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
JF=$BUILD/jobfreeze
NS=${BENCH_TREE_N:-10 100 400}
RUNS=${BENCH_TREE_RUNS:-3}
PY=$(command -v python3) || { echo "tree bench: python3 is missing" >&2; exit 1; }

TMPD=$(mktemp -d "${BENCH_DIR:-${TMPDIR:-/tmp}}/jftree.XXXXXX") || exit 1
KILL_ROOTS=()
cleanup() {
	local r
	for r in "${KILL_ROOTS[@]}"; do
		kill_tree "$r"
	done
	rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# tree PID: PID and its descendants
tree() {
	local c
	echo "$1"
	for c in $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		tree "$c"
	done
}

pss() {	# PID: the sum of the Pss of its tree, KiB
	local p v t=0
	for p in $(tree "$1"); do
		v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null)
		t=$((t + ${v:-0}))
	done
	echo "$t"
}

kill_tree() {	# PID: kills it and its descendants, waits for them to go
	local p i
	for p in $(tree "$1"); do
		kill -KILL "$p" 2>/dev/null
	done
	for ((i = 0; i < 100; i++)); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.05
	done
}

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%.4f", b - a }'; }
median() {
	printf '%s\n' "$@" | sort -g | awk '{ v[NR] = $1 } END {
		if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# one N K: one run with N children; sets R_* (seconds, KiB, bytes)
one() {
	local n=$1 k=$2 dir=$TMPD/n$1-$2 pid t rpid i
	mkdir -p "$dir"
	# not our child (a subshell starts it and exits), as a job the user
	# froze is not the freezer's; only stdin, stdout, stderr: not what
	# make or a terminal left open
	(
		(
			for fd in /proc/$BASHPID/fd/*; do
				fd=${fd##*/}
				[ "$fd" -gt 2 ] && eval "exec $fd>&-"
			done
			exec "$PY" "$HERE/kids.py" "$n" "$dir/ready" </dev/null >/dev/null 2>&1
		) &
		echo $! >"$dir/job.pid"
	)
	pid=$(cat "$dir/job.pid")
	KILL_ROOTS+=("$pid")
	for ((i = 0; i < 1200; i++)); do
		[ -e "$dir/ready" ] && break
		sleep 0.05
	done
	[ -e "$dir/ready" ] || { echo "tree bench: $n children never got ready" >&2; return 1; }
	sleep 0.2
	R_PSS0=$(pss "$pid")
	t=$(now)
	"$JF" dump -t "$pid" -D "$dir/img" --display-stats 2>"$dir/dump.stats" ||
		{ cat "$dir/dump.stats" >&2; return 1; }
	R_DUMP=$(since "$t")
	R_FROZEN=$(awk '/frozen time:/ { print $3 / 1000 }' "$dir/dump.stats")
	R_BYTES=$(du -sb "$dir/img" | awk '{ print $1 }')
	t=$(now)
	"$JF" restore -D "$dir/img" -d --pidfile "$dir/pid" 2>"$dir/restore.err" ||
		{ cat "$dir/restore.err" >&2; return 1; }
	R_RESTORE=$(since "$t")
	rpid=$(cat "$dir/pid")
	KILL_ROOTS+=("$rpid")
	sleep 0.5
	R_PSS1=$(pss "$rpid")
	kill_tree "$rpid"
	cp "$dir/dump.stats" "$TMPD/stats-$n-$k"
	rm -rf "$dir"
}

echo "jobfreeze tree bench: $("$JF" --version 2>/dev/null), kernel $(uname -r), $(nproc) CPUs," \
	"load average $(cut -d' ' -f1-3 /proc/loadavg)"
echo "a python3 parent and N children with 256 KiB each; medians of $RUNS runs"
echo
FMT="%-10s %9s %9s %11s %10s %12s %12s\n"
printf "$FMT" children "dump s" "frozen s" "restore s" "image MiB" "Pss frozen" "Pss thawed"
declare -A MD MR
for n in $NS; do
	D=() F=() R=() B=() P0=() P1=()
	for ((k = 1; k <= RUNS; k++)); do
		one "$n" "$k" || exit 1
		D+=("$R_DUMP") F+=("$R_FROZEN") R+=("$R_RESTORE") B+=("$R_BYTES")
		P0+=("$R_PSS0") P1+=("$R_PSS1")
	done
	MD[$n]=$(median "${D[@]}") MR[$n]=$(median "${R[@]}")
	printf "$FMT" "$n" "${MD[$n]}" "$(median "${F[@]}")" "${MR[$n]}" \
		"$(awk -v b="$(median "${B[@]}")" 'BEGIN { printf "%.1f", b / 1048576 }')" \
		"$(awk -v k="$(median "${P0[@]}")" 'BEGIN { printf "%.1f MiB", k / 1024 }')" \
		"$(awk -v k="$(median "${P1[@]}")" 'BEGIN { printf "%.1f MiB", k / 1024 }')"
done
set -- $NS
lo=$1
hi=${!#}
if [ "$lo" != "$hi" ]; then
	echo
	awk -v d0="${MD[$lo]}" -v d1="${MD[$hi]}" -v r0="${MR[$lo]}" -v r1="${MR[$hi]}" \
	    -v n0="$lo" -v n1="$hi" 'BEGIN {
		printf "each additional process: dump %.2f ms, restore %.2f ms (target: 5 ms each)\n",
		       (d1 - d0) * 1000 / (n1 - n0), (r1 - r0) * 1000 / (n1 - n0) }'
fi
if [ -e "$TMPD/stats-100-1" ]; then
	# the run of the 100-child job with the median frozen time
	pick=$(for f in "$TMPD"/stats-100-*; do
		printf '%s %s\n' "$(awk '/frozen time:/ { print $3 }' "$f")" "$f"; done |
		sort -g | awk '{ v[NR] = $2 } END { print v[int((NR + 1) / 2)] }')
	echo "the frozen time of the 100-child job (target: under 0.5 s), its parts:"
	# (from the table's title: a note about the images comes before it)
	sed -n '/^Dump statistics/,/^  other:/p; /alongside/p' "$pick"
fi
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
