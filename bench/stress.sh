#!/bin/bash
# stress.sh BUILD_DIR [store]: one running job frozen and thawed CYCLES times
# in a row (dump -t PID, then restore -d --pidfile, then dump the restored
# pid again...; with "store", through the job store: jobfreeze freeze PID,
# then jobfreeze thaw --detach ID, the store empty at the end); its output at the end must equal an uninterrupted run's, and no
# process, namespace or file of it may be left. Prints the dump and restore
# time of every cycle against a baseline (the median of the first 5 cycles
# of the same run) and exits 1 on any failure. Called by `make stress`.
#
# Environment: STRESS_CYCLES  number of cycles (default 50)
#              STRESS_CHUNKS  length of the cpuloop job (default 80 chunks,
#                             about 10 s uninterrupted)
#              STRESS_RUN_MS  how long the job runs between a restore and the
#                             next dump (default 50)
# Debian packages: bash 5 (EPOCHREALTIME), coreutils, gawk or mawk.

set -u
export LC_ALL=C
exec 251>&- 2>/dev/null

BUILD=${1:-}
MODE=${2:-engine}
[ -n "$BUILD" ] && [ $# -le 2 ] && [[ $MODE =~ ^(engine|store)$ ]] ||
	{ echo "usage: bench/stress.sh BUILD_DIR [store]" >&2; exit 2; }
BUILD=$(cd "$BUILD" 2>/dev/null && pwd) || { echo "stress: no $1" >&2; exit 2; }
JF=$BUILD/jobfreeze
WL=$BUILD/tests/workloads/cpuloop
CYCLES=${STRESS_CYCLES:-50}
CHUNKS=${STRESS_CHUNKS:-80}
RUN_MS=${STRESS_RUN_MS:-50}

die() { echo "stress: $*" >&2; exit 1; }
[ -x "$JF" ] && [ -x "$WL" ] || die "build first (make): $JF or $WL missing"
[ -n "${EPOCHREALTIME:-}" ] || die "bash 5 or newer is needed (EPOCHREALTIME)"

TMPD=$(mktemp -d "${TMPDIR:-/tmp}/jfstress.XXXXXX") || die "mktemp failed"
cd "$TMPD" || die "cannot enter $TMPD"
export XDG_STATE_HOME=$TMPD/state	# store mode: a store of our own
PID=""
cleanup() {
	[ -n "$PID" ] && kill -KILL "$PID" 2>/dev/null
	cd / && rm -rf "$TMPD"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

ms_since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN { printf "%d", (b - a) * 1000 }'; }
gone() {	# PID: no such process, or a zombie
	local s
	s=$(awk '{ print $3 }' "/proc/$1/stat" 2>/dev/null) || return 0
	[ -z "$s" ] || [ "$s" = Z ]
}
wait_gone() {	# PID SECS
	local i
	for ((i = 0; i < $2 * 100; i++)); do
		gone "$1" && return 0
		sleep 0.01
	done
	return 1
}

# The uninterrupted run, for the output and the baseline of the job itself.
mkdir -p "$TMPD/ref" "$TMPD/run"
t0=$EPOCHREALTIME
(cd "$TMPD/ref" && exec "$WL" "$CHUNKS" >out.txt 2>err.txt </dev/null) || die "reference run failed"
ref_ms=$(ms_since "$t0")
echo "stress ($MODE): cpuloop $CHUNKS uninterrupted: $ref_ms ms; $CYCLES cycles, job runs $RUN_MS ms between them"

# The job, not our child (a subshell that exits at once), as in real use.
(cd "$TMPD/run" && exec "$WL" "$CHUNKS" >out.txt 2>err.txt </dev/null &)
for ((i = 0; i < 100; i++)); do
	PID=$(pgrep -n -f "^$WL $CHUNKS\$") && break
	sleep 0.01
done
[ -n "$PID" ] || die "the job did not start"

DUMP_MS=() RESTORE_MS=()
NS=()		# every pid and user namespace the job lived in
for ((c = 1; c <= CYCLES; c++)); do
	sleep "0.$(printf '%03d' "$RUN_MS")"
	gone "$PID" && die "cycle $c: the job ended too early (give it more STRESS_CHUNKS)"
	NS+=("$(readlink "/proc/$PID/ns/pid")" "$(readlink "/proc/$PID/ns/user")")
	t0=$EPOCHREALTIME
	if [ "$MODE" = store ]; then
		"$JF" freeze "$PID" >"$TMPD/freeze.out" 2>"$TMPD/dump.err" ||
			{ cat "$TMPD/dump.err" >&2; die "cycle $c: jobfreeze freeze $PID failed"; }
		id=$(sed -n 's/^frozen \([0-9]*\): .*/\1/p' "$TMPD/freeze.out")
	else
		"$JF" dump -t "$PID" -D "$TMPD/img" 2>"$TMPD/dump.err" ||
			{ cat "$TMPD/dump.err" >&2; die "cycle $c: dump of $PID failed"; }
	fi
	DUMP_MS+=("$(ms_since "$t0")")
	wait_gone "$PID" 5 || die "cycle $c: job $PID still there after its dump"
	t0=$EPOCHREALTIME
	if [ "$MODE" = store ]; then
		"$JF" thaw --detach "$id" 2>"$TMPD/restore.err" ||
			{ cat "$TMPD/restore.err" >&2; die "cycle $c: jobfreeze thaw --detach $id failed"; }
		RESTORE_MS+=("$(ms_since "$t0")")
		# the thawed job has its command line back
		PID=$(pgrep -n -f "^$WL $CHUNKS\$") || die "cycle $c: no job after the thaw of $id"
	else
		"$JF" restore -d --pidfile "$TMPD/pid" -D "$TMPD/img" 2>"$TMPD/restore.err" ||
			{ cat "$TMPD/restore.err" >&2; die "cycle $c: restore failed"; }
		RESTORE_MS+=("$(ms_since "$t0")")
		PID=$(cat "$TMPD/pid")
		rm -rf "$TMPD/img" "$TMPD/pid"
	fi
done
NS+=("$(readlink "/proc/$PID/ns/pid")" "$(readlink "/proc/$PID/ns/user")")
wait_gone "$PID" 300 || die "the job did not end"
PID=""
sleep 0.2	# the namespace's init exits after its job

fail=0
if ! cmp -s "$TMPD/ref/out.txt" "$TMPD/run/out.txt"; then
	echo "stress: FAIL: the output differs from the uninterrupted run:"
	diff "$TMPD/ref/out.txt" "$TMPD/run/out.txt" | head -n 10
	fail=1
fi
# Nothing left: no process working in our directory (the job, jobfreeze
# and a restore's init all do), none of them in a namespace the job had
# (namespace numbers are reused by others' namespaces: only ours count),
# no file but the outputs.
left=""
for p in /proc/[0-9]*; do
	[ "${p#/proc/}" = $$ ] || [ "${p#/proc/}" = "$BASHPID" ] && continue
	case $(readlink "$p/cwd" 2>/dev/null) in "$TMPD"|"$TMPD"/*) ;; *) continue ;; esac
	left+=" ${p#/proc/}($(cat "$p/comm" 2>/dev/null))"
	for n in pid user; do
		printf '%s\n' "${NS[@]}" | grep -qxF "$(readlink "$p/ns/$n")" && left+="[in the job's $n ns]"
	done
done
[ -z "$left" ] || { echo "stress: FAIL: processes left:$left"; fail=1; }
pgrep -f "^$WL $CHUNKS\$" >/dev/null && { echo "stress: FAIL: a cpuloop is left"; fail=1; }
# (the store keeps its id counter and the note that it warned once)
extra=$(cd "$TMPD" && find . -mindepth 1 | sort |
	grep -vxE '\./(ref|run)(/(out|err)\.txt)?|\./(dump|restore)\.err|\./freeze\.out|\./state(/jobfreeze(/\.last-id|/\.warned)?)?')
[ -z "$extra" ] || { echo "stress: FAIL: files left: $extra"; fail=1; }

# Timings: each cycle against the median of the first five.
median() { sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
base_d=$(printf '%s\n' "${DUMP_MS[@]:0:5}" | median)
base_r=$(printf '%s\n' "${RESTORE_MS[@]:0:5}" | median)
[ "$MODE" = store ] && echo "(dump = jobfreeze freeze, restore = jobfreeze thaw --detach)"
echo "cycle   dump ms (x baseline)   restore ms (x baseline)"
for ((c = 1; c <= CYCLES; c++)); do
	awk -v c="$c" -v d="${DUMP_MS[c - 1]}" -v r="${RESTORE_MS[c - 1]}" -v bd="$base_d" -v br="$base_r" \
		'BEGIN { printf "%5d   %7d (x%.2f)         %7d (x%.2f)\n", c, d, d / (bd ? bd : 1), r, r / (br ? br : 1) }'
done
for what in DUMP_MS RESTORE_MS; do
	declare -n arr=$what
	all=$(printf '%s\n' "${arr[@]}" | sort -n)
	last=$(printf '%s\n' "${arr[@]:$((CYCLES > 10 ? CYCLES - 10 : 0))}" | median)
	first=$(printf '%s\n' "${arr[@]:0:5}" | median)
	echo "${what%_MS}: min $(head -n1 <<<"$all") ms, median $(median <<<"$all") ms, max $(tail -n1 <<<"$all") ms;" \
		"last 10 cycles' median $last ms vs baseline $first ms (x$(awk -v a="$last" -v b="$first" 'BEGIN { printf "%.2f", a / (b ? b : 1) }'))"
	unset -n arr
done
[ $fail = 0 ] && echo "stress ($MODE): $CYCLES cycles, output equal, nothing left: ok"
exit $fail
