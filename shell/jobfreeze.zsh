# jobfreeze's zsh integration, printed by `jobfreeze init zsh` after the
# lines that set __jobfreeze_bin (this binary) and __jobfreeze_key.
# jobfreeze %1 / jobthaw understand the shell's jobs; the key (ctrl+z at an
# empty prompt by default) sends the most recent stopped job to disk.
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

# The process group of job number $1: its first process (the leader).
__jobfreeze_pgid_of() {
	local st=${jobstates[$1]} p best= f
	st=${st#*:*:}
	REPLY=${st%%=*}
	# A function stopped by ^Z (jobthaw) goes on in a subshell that zsh
	# forks, and the job names that subshell; the thawed job is the group
	# of the jobthaw it was running: a child of ours, started before it.
	[[ $(</proc/$REPLY/comm) == zsh ]] 2>/dev/null || return 0
	for p in /proc/<->(N:t); do
		f=(${=${"$(</proc/$p/stat)"#*\) }}) 2>/dev/null
		[[ $f[2] == $$ && $f[3] == $p && $(</proc/$p/comm) == jobfreeze ]] 2>/dev/null &&
			(( p < REPLY )) && best=$p
	done
	[[ -n $best ]] && REPLY=$best
	return 0
}

# freeze [options] TARGET...: job specs become --pgid, and a frozen job
# leaves the shell's job table (its processes are gone: to disk).
__jobfreeze_freeze() {
	# The frozen job is killed: no "killed" notice, it is disowned below.
	setopt localoptions nonotify nomonitor
	local -a opts specs pids
	local a n rc=0 r
	while (( $# )); do
		case $1 in
		--name|-n|--command|-o|--pgid|-G) opts+=("$1" "$2"); shift ;;
		%*) specs+=("$1") ;;
		-*) opts+=("$1") ;;
		*) pids+=("$1") ;;
		esac
		shift
	done
	if (( ${#specs} + ${#pids} == 0 )); then
		"$__jobfreeze_bin" freeze "${opts[@]}"
		return
	fi
	for a in "${specs[@]}"; do
		__jobfreeze_jobnum "$a" || { rc=3; continue }
		n=$REPLY
		__jobfreeze_pgid_of $n
		"$__jobfreeze_bin" freeze "${opts[@]}" --pgid "$REPLY"
		r=$?
		if (( r == 0 )); then
			# (a job zsh already saw die cannot be disowned: waiting
			# for it drops it without a "killed" notice)
			{ disown %$n || wait %$n } 2>/dev/null
		elif (( rc == 0 )); then
			rc=$r
		fi
	done
	if (( ${#pids} )); then
		"$__jobfreeze_bin" freeze "${opts[@]}" "${pids[@]}" || { r=$?; (( rc )) || rc=$r }
	fi
	return $rc
}

jobfreeze() {
	case ${1-} in
	freeze) shift; __jobfreeze_freeze "$@" ;;
	thaw) shift; jobthaw "$@" ;;
	%*|<->) __jobfreeze_freeze "$@" ;;
	-h|--help|--version) "$__jobfreeze_bin" "$@" ;;
	-*) __jobfreeze_freeze "$@" ;;
	*) "$__jobfreeze_bin" "$@" ;;
	esac
}

# In the foreground, the thawed job is this shell's foreground job (^C, ^Z,
# fg, bg, $?); with --bg it is a background job of this shell.
jobthaw() {
	local a
	for a in "$@"; do
		case $a in
		-b|--bg) "$__jobfreeze_bin" thaw "$@" &; return ;;
		esac
	done
	"$__jobfreeze_bin" thaw "$@"
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
	zle -I
	if [[ -z $spec ]]; then
		print -u2 "jobfreeze: no stopped job to freeze (stop one with ctrl+z first)"
	else
		__jobfreeze_freeze $spec
	fi
	zle reset-prompt
}

if [[ -n $__jobfreeze_key && -o interactive ]]; then
	zle -N __jobfreeze_key_widget
	bindkey "$__jobfreeze_key" __jobfreeze_key_widget
fi
