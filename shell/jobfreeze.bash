# jobfreeze's bash integration, printed by `jobfreeze init bash` after the
# lines that set __jobfreeze_bin (this binary) and __jobfreeze_key.
# jobfreeze %1 / jobthaw understand the shell's jobs; the key (ctrl+z at an
# empty prompt by default) sends the most recent stopped job to disk.

# The process group of job spec $1 (%1, %+, %-, %name, %?text), in REPLY.
__jobfreeze_pgid() {
	REPLY=$(jobs -p -- "$1" 2>/dev/null | head -n 1)
	[[ -n $REPLY ]] || { echo "jobfreeze: $1: no such job" >&2; return 3; }
}

# freeze [options] TARGET...: job specs become --pgid, and a frozen job
# leaves the shell's job table (its processes are gone: to disk).
__jobfreeze_freeze() {
	local -a opts=() specs=() pids=()
	local a rc=0 r m=0
	while (($#)); do
		case $1 in
		--name|-n|--command|-o|--pgid|-G) opts+=("$1" "$2"); shift ;;
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
		__jobfreeze_pgid "$a" || { rc=3; continue; }
		# (job control off meanwhile: bash would announce the frozen job
		# as "Killed" before it is disowned)
		[[ $- == *m* ]] && m=1 && set +m
		"$__jobfreeze_bin" freeze "${opts[@]}" --pgid "$REPLY"
		r=$?
		((m)) && set -m
		if ((r == 0)); then
			disown -- "$a" 2>/dev/null
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

# The key: at an empty prompt, freezes the most recent stopped job.
__jobfreeze_key_action() {
	[[ -z $READLINE_LINE ]] || return 0
	local line spec= list re='^\[([0-9]+)\](.)'
	# $(jobs) is the one subshell in which bash lists its parent's jobs
	list=$(jobs -s)
	while IFS= read -r line; do
		[[ $line =~ $re ]] || continue
		[[ -z $spec || ${BASH_REMATCH[2]} == + ]] && spec=%${BASH_REMATCH[1]}
	done <<<"$list"
	if [[ -z $spec ]]; then
		echo "jobfreeze: no stopped job to freeze (stop one with ctrl+z first)" >&2
		return 0
	fi
	__jobfreeze_freeze "$spec"
}

if [[ -n $__jobfreeze_key && $- == *i* ]]; then
	bind -x "\"$__jobfreeze_key\": __jobfreeze_key_action"
	# ctrl+z is the terminal's suspend character: the terminal driver turns
	# it into SIGTSTP before readline sees it. At the prompt it is undefined
	# (nothing runs then for it to stop), and set again before each command.
	if [[ $__jobfreeze_key == *'\C-z'* ]]; then
		__jobfreeze_prompt() { stty susp undef 2>/dev/null; }
		__jobfreeze_ps0() { stty susp '^Z' 2>/dev/null; }
		if [[ $(declare -p PROMPT_COMMAND 2>/dev/null) == "declare -a"* ]]; then
			PROMPT_COMMAND+=(__jobfreeze_prompt)
		else
			PROMPT_COMMAND="__jobfreeze_prompt${PROMPT_COMMAND:+;$PROMPT_COMMAND}"
		fi
		PS0='$(__jobfreeze_ps0)'${PS0-}
	fi
fi
