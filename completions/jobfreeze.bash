# bash completion for jobfreeze and jobthaw: subcommands, options, the ids
# and names of frozen jobs, the shell's job specs and pids.

__jobfreeze_ids() {
	local bin=${__jobfreeze_bin:-jobfreeze}
	"$bin" list --completion 2>/dev/null | cut -f1
}

__jobfreeze_jobspecs() {
	local line list
	list=$(jobs)
	while IFS= read -r line; do
		[[ $line =~ ^\[([0-9]+)\] ]] && echo "%${BASH_REMATCH[1]}"
	done <<<"$list"
}

_jobthaw() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	case $prev in
	-t|--tty) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	-o|--log-file) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "--bg --keep --detach --tty --new-pty --ignore-cpu-features --log-file --help" -- "$cur"))
	else
		COMPREPLY=($(compgen -W "$(__jobfreeze_ids)" -- "$cur"))
	fi
}

_jobfreeze() {
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}
	local cmds="freeze thaw list show rm autosave send dump restore check init"
	local sub=${COMP_WORDS[1]-}
	if ((COMP_CWORD == 1)); then
		COMPREPLY=($(compgen -W "$cmds $(__jobfreeze_jobspecs)" -- "$cur"))
		return
	fi
	case $prev in
	-D|--images-dir|-o|--log-file|--pidfile) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	--every) COMPREPLY=($(compgen -W "30s 1m 5m 10m 30m 1h" -- "$cur")); return ;;
	--keep) [[ $sub != send ]] && { COMPREPLY=($(compgen -W "1 2 3 5 10" -- "$cur")); return; } ;;
	esac
	case $sub in
	thaw)
		COMP_WORDS=(jobthaw "${COMP_WORDS[@]:2}")
		((COMP_CWORD--))
		_jobthaw ;;
	show|rm)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--json --help$([[ $sub == show ]] && echo " --check --ignore-cpu-features")" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(__jobfreeze_ids)" -- "$cur"))
		fi ;;
	send)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--keep --ssh --remote --ignore-cpu-features --log-file --help" -- "$cur"))
		elif ((COMP_CWORD == 2)) || [[ ${COMP_WORDS[COMP_CWORD-1]} == -* ]]; then
			COMPREPLY=($(compgen -W "$(__jobfreeze_ids)" -- "$cur"))
		else
			COMPREPLY=($(compgen -A hostname -- "$cur"))
		fi ;;
	list) COMPREPLY=($(compgen -W "--json --help" -- "$cur")) ;;
	autosave)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--stop --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(__jobfreeze_ids | grep -v @)" -- "$cur"))
		fi ;;
	init) COMPREPLY=($(compgen -W "bash zsh --key --no-key" -- "$cur")) ;;
	freeze|%*|[0-9]*)
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "--name --pgid --tmux -L -S --leave-running --every --keep --tcp-close --ext-unix-close --ghost-limit --json --help" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$(__jobfreeze_jobspecs) $(ps -o pid= -u "$(id -u)" 2>/dev/null)" -- "$cur"))
		fi ;;
	dump) COMPREPLY=($(compgen -W "-t --pgid -D -R -s -o -v --display-stats --help" -- "$cur")) ;;
	restore) COMPREPLY=($(compgen -W "-D -d -s --resume-stopped --tcp-close --pidfile --inherit-fd --ignore-cpu-features -o -v --display-stats --help" -- "$cur")) ;;
	check) COMPREPLY=($(compgen -W "-q --json --image --ignore-cpu-features --help" -- "$cur")) ;;
	esac
}

complete -F _jobfreeze jobfreeze
complete -F _jobthaw jobthaw
