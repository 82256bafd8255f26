# bench/lib.sh: what the bench scripts share. Sourced.
# shellcheck shell=bash

# exec_job OUT CMD...: becomes CMD with only stdin (/dev/null), stdout and
# stderr (OUT): descriptors inherited from make or a terminal emulator
# (pipes, sockets) are not what is being measured
exec_job() {
	local fd out=$1
	shift
	exec </dev/null >"$out" 2>&1
	for fd in /proc/$BASHPID/fd/*; do
		fd=${fd##*/}
		[ "$fd" -gt 2 ] && eval "exec $fd>&-"
	done
	exec "$@"
}
