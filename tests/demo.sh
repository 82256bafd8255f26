#!/usr/bin/env bash
# demo.sh: the main job on a demo: start a counting program, freeze it to
# disk, show the image, thaw it, watch it count on from where it was.
set -u
build=${1:-build}
J=${JOBFREEZE:-$build/jobfreeze}	# JOBFREEZE: an installed one (make deb-check)
C=$build/tests/workloads/counter
# A job holding a stray pipe from whoever started us would be refused.
for fd in /proc/$$/fd/*; do
	n=${fd##*/}
	[ "$n" -gt 2 ] 2>/dev/null && eval "exec $n>&-"
done
dir=$(mktemp -d "${TMPDIR:-/tmp}/jobfreeze-demo.XXXXXX")
tailpid=
trap '[ -n "$tailpid" ] && kill $tailpid 2>/dev/null; rm -rf "$dir"' EXIT

echo "== a counter job, writing a number every 0.2 s to $dir/out.txt (shown as it grows)"
: > "$dir/out.txt"
"$C" 25 > "$dir/out.txt" 2>&1 < /dev/null &
pid=$!
disown "$pid"	# no "Killed" notice from this shell when the freeze ends it
tail -n +1 -f "$dir/out.txt" &
tailpid=$!
sleep 1.5
# The demo's job store is its own, deleted at the end.
export XDG_STATE_HOME=$dir/state
echo "== freezing process $pid into the job store (no root needed): jobfreeze $pid"
"$J" freeze "$pid" 2>/dev/null || exit 1
echo "== process $pid is gone; the store holds it: jobfreeze list"
"$J" list
echo "== waiting 2 s ... then thawing it (jobthaw): it counts on from where it stopped"
sleep 2
"$J" thaw < /dev/null
status=$?
sleep 0.3
echo "== the thawed job exited with status $status; its whole output:"
tr '\n' ' ' < "$dir/out.txt"; echo
