#!/bin/bash
# pgrp.sh: bash with job control (set -m) runs background jobs, each in a
# process group of its own (one whose leader ends at once), signals one
# by its group and waits for them; every job says ~each 100 ms whether it
# leads its group and shares bash's (by comparison, no pid printed).
# Lines interleave: compare sorted.
set -m
# field N of /proc/PID/stat after the command name
statf() { local s a; read -r s <"/proc/$1/stat"; s=${s##*) }; read -ra a <<<"$s"; echo "${a[$2 - 3]}"; }
job() {
	local i=$1 me=$BASHPID k pg sid bpg bsid
	for ((k = 0; k < 30; k++)); do
		# (bash's group and session take the thawing command's numbers:
		# all is read again if a thaw came in between)
		while :; do
			bpg=$(statf $$ 5) bsid=$(statf $$ 6)
			pg=$(statf "$me" 5) sid=$(statf "$me" 6)
			[ "$bpg $bsid" = "$(statf $$ 5) $(statf $$ 6)" ] && break
		done
		echo "job $i $k leader=$([ "$pg" = "$me" ] && echo yes || echo no)" \
			"bash-group=$([ "$pg" = "$bpg" ] && echo yes || echo no)" \
			"bash-session=$([ "$sid" = "$bsid" ] && echo yes || echo no)"
		sleep 0.1
	done
	return $((10 + i))
}
job 1 & j1=$!
job 2 & j2=$!
# a pipeline: one group, led by its first stage
{ job 3; } | while read -r l; do echo "piped $l"; done & j3=$!
# a pipeline whose leader (first stage) ends at once: its group lives on
{ sleep 0.2; } | job 4 & j4=$!
sleep 1.5
# bash signals a job's group by the pgid it keeps: still there?
kill -CONT %4 && echo "kill %4 ok"
wait $j1; echo "job 1 exited $?"
wait $j2; echo "job 2 exited $?"
wait $j3; echo "job 3 exited $?"
wait $j4; echo "job 4 exited $?"
