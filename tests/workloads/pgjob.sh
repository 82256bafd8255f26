#!/bin/bash
# pgjob.sh: bash with job control runs a pipeline as a job of its own: the
# stages are siblings in their own process group (frozen with --pgid), the
# last a subshell that starts a `sleep` per line it reads.
set -m
seq 1 60 | awk '{ print "line " $1 * 3 }' | while read -r l; do
	echo "got $l"
	sleep 0.05
done
