#!/usr/bin/env bash
# tests/fuzz/run.sh FUZZ_DIR SECONDS [TARGET...]: replays each target's
# committed corpus and regression inputs (tests/fuzz/corpus/T,
# tests/fuzz/regressions/T), then fuzzes it for SECONDS from that corpus
# (0: only the replay, as `make check` does).
# New inputs go to FUZZ_DIR/corpus/T (never to the committed corpus); a
# crash leaves its input in FUZZ_DIR/crashes/T: copy it into
# tests/fuzz/regressions/T once it is fixed. Exits 1 if any target failed.
set -u
exec 251>&- 2>/dev/null
HERE=$(cd "$(dirname "$0")" && pwd)
FUZZ_DIR=$(cd "$1" && pwd) || exit 2
SECS=$2
shift 2
targets=("$@")
if [ ${#targets[@]} = 0 ]; then
	for f in "$HERE"/fuzz_*.c; do
		t=${f##*/fuzz_}
		targets+=("${t%.c}")
	done
fi
# the image target writes its files under $TMPDIR
export TMPDIR=${TMPDIR:-/tmp}
failed=0
for t in "${targets[@]}"; do
	bin=$FUZZ_DIR/fuzz_$t
	[ -x "$bin" ] || { echo "fuzz $t: no $bin (make fuzz-build)"; failed=1; continue; }
	inputs=()
	for d in "$HERE/corpus/$t" "$HERE/regressions/$t"; do
		[ -d "$d" ] && inputs+=("$d"/*)
	done
	log=$FUZZ_DIR/$t.log
	mkdir -p "$FUZZ_DIR/corpus/$t" "$FUZZ_DIR/crashes/$t"
	if ! "$bin" -runs=0 "${inputs[@]}" >"$log" 2>&1; then
		echo "fuzz $t: a committed input fails:"
		grep -E "ERROR|runtime error|Running: " "$log" | tail -n 5
		failed=1
		continue
	fi
	if [ "$SECS" = 0 ]; then
		echo "fuzz $t: ${#inputs[@]} committed inputs replayed, no failure"
		continue
	fi
	# -timeout: an input that takes seconds is a hang worth a report
	if ! "$bin" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FUZZ_DIR/crashes/$t/" "$FUZZ_DIR/corpus/$t" "$HERE/corpus/$t" \
		>>"$log" 2>&1; then
		echo "fuzz $t: the fuzzer found a failing input (in $FUZZ_DIR/crashes/$t):"
		grep -E "ERROR|runtime error|SUMMARY" "$log" | tail -n 5
		failed=1
		continue
	fi
	echo "fuzz $t: $(grep -m1 -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$') runs in ${SECS} s, no failure"
done
exit $failed
