#!/bin/bash
# owners.sh BUILD_DIR: what exact file owners cost a thawed job (owners.c):
# the same stat benchmark run natively and, in the same run, in a job
# frozen and thawed before it starts; prints both and their ratio.
# Called by `make bench`. Debian packages: bash, gcc, coreutils.
set -u
BUILD=$(cd "${1:?usage: bench/owners.sh BUILD_DIR}" && pwd)
HERE=$(cd "$(dirname "$0")" && pwd)
JF=$BUILD/jobfreeze
TMPD=$(mktemp -d "${TMPDIR:-/tmp}/jfowners.XXXXXX") || exit 1
trap 'rm -rf "$TMPD"' EXIT
exec 251>&- 2>/dev/null
${CC:-cc} -O2 -o "$TMPD/statbench" "$HERE/statbench.c" || exit 1
OWN=$TMPD/own.txt
touch "$OWN"
ARGS=(/usr/bin/ls "$OWN" -w /usr/share/zoneinfo -w /usr/include)
"$TMPD/statbench" "${ARGS[@]}" >/dev/null	# warms the caches for both
"$TMPD/statbench" "${ARGS[@]}" >"$TMPD/native.txt"
# the job sleeps, is frozen and thawed, then measures
sh -c 'sleep 1; exec "$0" "$@"' "$TMPD/statbench" "${ARGS[@]}" >"$TMPD/thawed.txt" &
pid=$!
sleep 0.5
"$JF" dump -t $pid -D "$TMPD/img" >/dev/null || exit 1
wait $pid 2>/dev/null
"$JF" restore -D "$TMPD/img" >/dev/null 2>&1 || { echo "owners bench: restore failed"; exit 1; }
echo "stat calls, native vs in a thawed job (exact owners through owners.c):"
paste -d'\n' "$TMPD/native.txt" "$TMPD/thawed.txt" | while read -r native && read -r thawed; do
	a=$(grep -o '[0-9.]* us' <<<"$native" | cut -d' ' -f1)
	b=$(grep -o '[0-9.]* us' <<<"$thawed" | cut -d' ' -f1)
	printf '  %-60s native %6s us, thawed %6s us, ratio %s\n' "${native%%:*}" "$a" "$b" \
		"$(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.1fx", b / a }')"
done
