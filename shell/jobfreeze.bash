# jobfreeze's bash integration, printed by `jobfreeze init bash` after
# shell/common.sh (jobfreeze, jobthaw, __jobfreeze_freeze): what bash does
# its own way. jobfreeze %1 / jobthaw understand the shell's jobs; the key
# (ctrl+z at an empty prompt by default) sends the most recent stopped job
# to disk.

# The process group of job spec $1 (%1, %+, %-, %name, %?text), in REPLY;
# the caller's `job` gets what names the job to disown (the spec itself).
__jobfreeze_pgid() {
	REPLY=$(jobs -p -- "$1" 2>/dev/null | head -n 1)
	[[ -n $REPLY ]] || { echo "jobfreeze: $1: no such job" >&2; return 3; }
	job=$1
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
