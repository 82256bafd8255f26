# jobfreeze's shell integration, the part bash and zsh share (written in
# what both read alike), printed by `jobfreeze init bash|zsh` after the
# lines that set __jobfreeze_bin (this binary) and __jobfreeze_key, and
# before shell/jobfreeze.bash or .zsh. Those give what differs: the job
# specs (__jobfreeze_pgid) and the key.

# freeze [options] TARGET...: job specs become --pgid, and a frozen job
# leaves the shell's job table (its processes are gone: to disk).
__jobfreeze_freeze() {
	# The frozen job is killed: no "killed" notice, it is disowned below
	# (not with -R or --every: it goes on running).
	[[ -n ${ZSH_VERSION-} ]] && setopt localoptions nonotify nomonitor
	local -a opts=() specs=() pids=()
	local a job rc=0 r m=0 snap=0
	while (($#)); do
		case $1 in
		--every|--keep) opts+=("$1" "$2"); snap=1; shift ;;
		--name|-n|--command|-o|--pgid|-G|-L|-S) opts+=("$1" "$2"); shift ;;
		-R|--leave-running|--every=*) opts+=("$1"); snap=1 ;;
		%*) specs+=("$1") ;;
		-*) opts+=("$1") ;;
		*) pids+=("$1") ;;
		esac
		shift
	done
	if ((${#specs[@]} + ${#pids[@]} == 0)); then
		"$__jobfreeze_bin" freeze "${opts[@]}"
		return
	fi
	for a in "${specs[@]}"; do
		# REPLY: the job's process group; job: how to name it to disown
		__jobfreeze_pgid "$a" || { rc=3; continue; }
		# (job control off meanwhile: bash would announce the frozen job
		# as "Killed" before it is disowned; zsh has it off already)
		[[ $- == *m* ]] && m=1 && set +m
		"$__jobfreeze_bin" freeze "${opts[@]}" --pgid "$REPLY"
		r=$?
		((m)) && set -m
		# (a snapshot or an autosave: the job runs on, still the shell's)
		if ((r == 0 && !snap)); then
			# (a job zsh already saw die cannot be disowned: waiting
			# for it drops it without a "killed" notice)
			{ disown "$job" || wait "$job"; } 2>/dev/null
		elif ((rc == 0)); then
			rc=$r
		fi
	done
	if ((${#pids[@]})); then
		"$__jobfreeze_bin" freeze "${opts[@]}" "${pids[@]}" || { r=$?; ((rc)) || rc=$r; }
	fi
	return $rc
}

jobfreeze() {
	case ${1-} in
	freeze) shift; __jobfreeze_freeze "$@" ;;
	thaw) shift; jobthaw "$@" ;;
	%*|[0-9]*) __jobfreeze_freeze "$@" ;;
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
		-b|--bg) "$__jobfreeze_bin" thaw "$@" & return ;;
		esac
	done
	"$__jobfreeze_bin" thaw "$@"
}
