# jobfreeze's zsh integration, printed by `jobfreeze init zsh` after
# shell/common.sh (jobfreeze, jobthaw, __jobfreeze_freeze): what zsh does
# its own way. jobfreeze %1 / jobthaw understand the shell's jobs; the key
# (ctrl+z at an empty prompt by default) sends the most recent stopped job
# to disk.
zmodload zsh/parameter 2>/dev/null

# The job number of job spec $1 (%1, %+, %%, %-, %name, %?text), in REPLY.
__jobfreeze_jobnum() {
	local spec=${1#%} n
	REPLY=
	case $spec in
	''|+|%|-)
		local mark=${spec:-+}
		[[ $mark == % ]] && mark=+
		for n in ${(k)jobstates}; do
			[[ ${jobstates[$n]} == *:$mark:* ]] && REPLY=$n
		done ;;
	<->) (( ${+jobstates[$spec]} )) && REPLY=$spec ;;
	\?*)
		for n in ${(k)jobtexts}; do
			[[ ${jobtexts[$n]} == *${spec#\?}* ]] && REPLY=$n
		done ;;
	*)
		for n in ${(k)jobtexts}; do
			[[ ${jobtexts[$n]} == ${spec}* ]] && REPLY=$n
		done ;;
	esac
	[[ -n $REPLY ]] || { print -u2 "jobfreeze: $1: no such job"; return 3 }
}

# The process group of job spec $1, in REPLY; the caller's `job` gets
# what names the job to disown (%N: the spec may mean another job once
# this one has died).
__jobfreeze_pgid() {
	__jobfreeze_jobnum "$1" || return
	job=%$REPLY
	__jobfreeze_pgid_of $REPLY
}

# The process group of job number $1: its first process (the leader).
__jobfreeze_pgid_of() {
	local st=${jobstates[$1]} p best= bstart=-1 sub f
	st=${st#*:*:}
	REPLY=${st%%=*}
	# A function stopped by ^Z (jobthaw) goes on in a subshell that zsh
	# forks, and the job names that subshell; the thawed job is the group
	# of the jobthaw it was running: a child of ours, the last one started
	# before it. (By start time, field 22 of stat: pids wrap around on a
	# busy machine, a later process may have a smaller pid.)
	[[ $(</proc/$REPLY/comm) == zsh ]] 2>/dev/null || return 0
	f=(${=${"$(</proc/$REPLY/stat)"#*\) }}) 2>/dev/null
	sub=$f[20]
	[[ -n $sub ]] || return 0
	for p in /proc/<->(N:t); do
		f=(${=${"$(</proc/$p/stat)"#*\) }}) 2>/dev/null
		[[ $f[2] == $$ && $f[3] == $p && $(</proc/$p/comm) == jobfreeze ]] 2>/dev/null &&
			(( f[20] <= sub && f[20] > bstart )) && { best=$p; bstart=$f[20] }
	done
	[[ -n $best ]] && REPLY=$best
	return 0
}

# The key: at an empty prompt, freezes the most recent stopped job (zle
# reads ctrl+z as a key while it edits; running commands still get it as
# the suspend character).
__jobfreeze_key_widget() {
	if [[ -n $BUFFER ]]; then
		zle push-input
		return
	fi
	local n spec=
	for n in ${(k)jobstates}; do
		[[ ${jobstates[$n]} == suspended:* ]] || continue
		[[ -z $spec || ${jobstates[$n]} == suspended:+:* ]] && spec=%$n
	done
	# (zle -I, then the output: zle redraws the prompt below it once the
	# widget returns. A reset-prompt after it would draw the prompt one
	# line up, over the last line printed: "frozen 1: ...")
	zle -I
	if [[ -z $spec ]]; then
		print -u2 "jobfreeze: no stopped job to freeze (stop one with ctrl+z first)"
	else
		__jobfreeze_freeze $spec
	fi
}

if [[ -n $__jobfreeze_key && -o interactive ]]; then
	zle -N __jobfreeze_key_widget
	bindkey "$__jobfreeze_key" __jobfreeze_key_widget
fi
