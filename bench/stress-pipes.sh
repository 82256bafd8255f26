#!/bin/bash
# stress-pipes.sh BUILD_DIR: the pipe and FIFO stress tests of tests/t-pipes.sh
# (pipelines of a verifiable stream frozen and thawed at random moments,
# every byte checked) run STRESS_PIPE_RUNS times each (default 10), with
# JF_PIPE_FREEZES freezes per run (default 40). Stops at the first failure
# and prints its seed; exits 1 then. Called by `make stress`.
set -u
BUILD=${1:?usage: bench/stress-pipes.sh BUILD_DIR}
RUNS=${STRESS_PIPE_RUNS:-10}
export JF_PIPE_FREEZES=${JF_PIPE_FREEZES:-40}
here=$(cd "$(dirname "$0")" && pwd)
total=0
for ((i = 1; i <= RUNS; i++)); do
	out=$("$here/../tests/run.sh" "$BUILD" "pipes: gen" "pipes: three" "pipes: 1 MiB" \
		"pipes: a FIFO" "pipes: snapshots" 2>&1)
	n=$(grep -c '^ok' <<<"$out")
	total=$((total + n))
	if grep -q '^not ok' <<<"$out"; then
		echo "$out"
		echo "stress-pipes: run $i failed after $total passing runs"
		exit 1
	fi
	echo "stress-pipes: run $i: $n tests of $JF_PIPE_FREEZES freezes each passed ($(grep -o 'seed [0-9]*' <<<"$out"))"
done
echo "stress-pipes: $total runs passed, 0 failed"
