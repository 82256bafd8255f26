#!/bin/sh
# pipeline.sh: a shell running a three-stage pipeline, frozen as the tree
# under this shell: a producer and a filter that are done early, so their
# output waits in the pipe to the slow consumer (a subshell that starts a
# `sleep` for every line).
seq 1 60 | awk '{ print "line " $1 * 3 }' | while read -r l; do
	echo "got $l"
	sleep 0.05
done
echo "pipeline done"
