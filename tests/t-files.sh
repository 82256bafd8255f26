# tests/t-files.sh: files and descriptors real programs hold (issue 19):
# memfds, deleted files and directories, O_PATH fds, /proc files,
# namespace files, pidfds, epoll edge cases, Linux AIO, a shared fd table,
# file owners for SIGIO, and memory areas' attributes. Each workload
# (tests/workloads/f*.c, see fwait.h) sets up what it holds, says "ready",
# and once told "go" checks that all of it is as it was; the job is frozen
# in between and thawed, and must print what an uninterrupted run prints.
# What cannot come back is refused at dump, naming it, and the job goes on.
# Sourced by tests/run.sh.
# shellcheck shell=bash

# files_ready DIR PID: wait until the workload PID says it holds everything
files_ready() {
	local i
	for ((i = 0; i < 300; i++)); do
		[ -e "$1/ready" ] && return 0
		alive "$2" || break
		sleep 0.05
	done
	diag_file "job stderr" "$1/err.txt" 5
	fail "the workload did not get ready"
}

# files_ref KEY WORKLOAD [ARGS...]: the uninterrupted run (told "go" from the
# start), once per suite; REF and REFST set
files_ref() {
	local key=$1 wl=$2 ref=$WORK/ref/$1.d
	shift 2
	REF=$WORK/ref/$key
	if [ ! -f "$REF.status" ] && ref_lock "$REF"; then
		if [ ! -f "$REF.status" ]; then
			mkdir_user "$WORK/ref" "$ref"
			as_user touch "$ref/go"
			[ -z "${FILES_PREPARE:-}" ] || "$FILES_PREPARE" "$ref"
			# (it runs through at once: not start_job, which waits to see it run)
			timeout -k 5 "$T_RUN" "${RUNAS[@]}" "${USER_SH[@]}" "$ref" "$REF.out" "$REF.err" \
				"$WL/$wl" "$ref" "$@"
			echo $? >"$REF.status"
		fi
		ref_unlock "$REF"
	fi
	REFST=$(cat "$REF.status" 2>/dev/null)
	if [ "$REFST" != 0 ] || grep -q FAIL "$REF.out"; then
		diag_file "uninterrupted run" "$REF.out" 20
		diag_file "its stderr" "$REF.err" 5
		fail "the workload fails even uninterrupted (status $REFST)"
		return 1
	fi
}

# files_start KEY WORKLOAD [ARGS...]: the reference, then the job in
# $TDIR/run, held and ready; JOB_PID set
files_start() {
	local key=$1 wl=$2 run=$TDIR/run
	shift 2
	files_ref "$key" "$wl" "$@" || return 1
	mkdir_user "$run"
	[ -z "${FILES_PREPARE:-}" ] || "$FILES_PREPARE" "$run"
	start_job "$run" "$run/out.txt" "$run/err.txt" "$WL/$wl" "$run" "$@" ||
		{ fail "the job did not start"; return 1; }
	files_ready "$run" "$JOB_PID"
}

# files_thaw KEY WORKLOAD [ARGS...]: frozen once ready (dump options in
# FILES_DUMP_ARGS), told "go" while frozen, thawed: the same output and
# status as the uninterrupted run
files_thaw() {
	local run=$TDIR/run
	files_start "$@" || return 1
	# shellcheck disable=SC2086
	dump_job "$JOB_PID" "$TDIR/img" ${FILES_DUMP_ARGS:-} || return 1
	wait_gone "$JOB_PID" 5 || { fail "job $JOB_PID still there after the dump"; return 1; }
	as_user touch "$run/go"
	local kb
	kb=$(du -sk "$TDIR/img" | cut -f1)
	if [ -n "${FILES_IMG_MAX_KB:-}" ] && [ "$kb" -gt "$FILES_IMG_MAX_KB" ]; then
		fail "the image takes $kb KiB, more than $FILES_IMG_MAX_KB: holes were copied"
		return 1
	fi
	if ! thaw_compare "$TDIR/img"; then
		diag_file "job stderr" "$run/err.txt" 5
		fail "the thawed job differs from the uninterrupted run"
		return 1
	fi
}

# files_thaw_twice KEY WORKLOAD [ARGS...]: as files_thaw, but thawed
# detached and frozen again (from inside the first thaw's namespaces,
# where /proc and the pids are its own) before the last thaw
files_thaw_twice() {
	local run=$TDIR/run
	files_start "$@" || return 1
	freeze_twice "$JOB_PID" 0 100 || return 1
	as_user touch "$run/go"
	if ! thaw_compare "$TDIR/img2"; then
		diag_file "job stderr" "$run/err.txt" 5
		fail "the job frozen twice differs from the uninterrupted run"
		return 1
	fi
}

# files_refused KEY WORKLOAD PATTERN WHAT [ARGS...]: the dump is refused with
# a message matching PATTERN, leaves no image, and the job goes on to end
# as the uninterrupted run (of the same workload and ARGS) does
files_refused() {
	local key=$1 wl=$2 pattern=$3 what=$4 run=$TDIR/run ok=0
	shift 4
	files_start "$key" "$wl" "$@" || return 1
	[ -z "${FILES_BEFORE_DUMP:-}" ] || "$FILES_BEFORE_DUMP" "$run"
	# shellcheck disable=SC2086
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$JOB_PID" -D "$TDIR/img" \
		${FILES_DUMP_ARGS:-}
	if [ "$JF_STATUS" = 0 ] || [ "$JF_STATUS" -ge 124 ]; then
		diag "dump of a job holding $what exited $JF_STATUS"
		ok=1
	fi
	if ! grep -Eq -- "$pattern" "$TDIR/dump.err"; then
		diag "the message does not match /$pattern/"
		ok=1
	fi
	[ ! -e "$TDIR/img/inventory.img" ] || { diag "a refused dump left an inventory.img"; ok=1; }
	running "$JOB_PID" || { diag "the job is not running after the refused dump"; ok=1; }
	as_user touch "$run/go"
	wait_job "$JOB_PID" "$T_RUN"
	[ "$JOB_STATUS" = "$REFST" ] || { diag "the job exited $JOB_STATUS, uninterrupted $REFST"; ok=1; }
	same_file "$REF.out" "$run/out.txt" "stdout" || ok=1
	if [ $ok != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "the dump of a job holding $what was not refused cleanly"
		return 1
	fi
}

# ---- memory areas ------------------------------------------------------

# madvise flags, mlock, MAP_NORESERVE and MAP_DROPPABLE, MADV_WIPEONFORK,
# guard regions, a read-only shared file mapping made writable after the
# thaw, data in the middle of a private file mapping
t_files_maps() { files_thaw fmaps fmaps; }

# ---- files with no name -----------------------------------------------

# memfds: name, holes, seals, mode, flags and offsets, shared by fds and
# mappings (shared and private), across fork; 3 GiB holding 4 KiB, whose
# image must stay small; executable
t_files_memfd() { FILES_IMG_MAX_KB=20480 files_thaw fmemfd fmemfd; }
t_files_memfd_huge() {
	files_refused fmemfd-huge fmemfd "memfd of huge pages.*MFD_HUGETLB" "a hugetlb memfd" hugetlb
}

# deleted files: holes, 3 GiB sparse, two names, another name still there,
# mapped shared and privately, write-only, mode and times, O_TMPFILE, a
# child's description; a file made read-only while held writable
t_files_deleted() { FILES_IMG_MAX_KB=20480 files_thaw fghost fghost; }
t_files_deleted_limit() {
	FILES_DUMP_ARGS="--ghost-limit 1M" files_refused fghost-limit fghost \
		"limit.* 2\.0 MiB of data, more than the 1\.0 MiB.*--ghost-limit" \
		"a deleted file over --ghost-limit" limit
}
t_files_deleted_otherlink() {
	files_refused fghost-otherlink fghost "elsewhere, deleted under that name but still linked" \
		"a deleted file linked where jobfreeze does not look" otherlink
}

# (as root) a deleted file of root's, which the job held and deleted from
# its own directory; one of the job's, deleted by root from root's
# directory: neither can be made again as it was
files_root_file() { echo root >"$1/foreign"; chmod 644 "$1/foreign"; }
files_root_dir() {
	mkdir -p "$1/rootdir" && echo mine >"$1/rootdir/file" &&
		chown "$TEST_USER:$TEST_USER" "$1/rootdir/file"
}
files_root_unlink() { rm -f "$1/rootdir/file"; }
t_files_deleted_foreign() {
	[ -n "$TEST_USER" ] || { skip "needs root to make a file of another user"; return; }
	FILES_PREPARE=files_root_file files_refused fghost-foreign fghost \
		"foreign, deleted, owned by 0:0 and not by the job's user" "a deleted file of root's" foreign
}
t_files_deleted_rootdir() {
	[ -n "$TEST_USER" ] || { skip "needs root to make a directory of another user"; return; }
	FILES_PREPARE=files_root_dir FILES_BEFORE_DUMP=files_root_unlink files_refused \
		fghost-rootdir fghost "rootdir/file, deleted, in .*rootdir, where you cannot write" \
		"a deleted file in root's directory" rootdir
}

run_test "files: memory areas keep their attributes and guards" t_files_maps
run_test "files: memfds" t_files_memfd
run_test "files: a memfd of huge pages is refused" t_files_memfd_huge
run_test "files: deleted files" t_files_deleted
run_test "files: a deleted file over --ghost-limit is refused" t_files_deleted_limit
run_test "files: a deleted file linked elsewhere is refused" t_files_deleted_otherlink
run_test "files: a deleted file of another user is refused" t_files_deleted_foreign
run_test "files: a deleted file in a directory not the user's is refused" t_files_deleted_rootdir

# O_PATH fds on a file, a directory, a symlink, a deleted symlink and a
# FIFO; a removed working directory and an fd on it; a removed directory
# in a removed directory
t_files_paths() { files_thaw fpath fpath; }
run_test "files: O_PATH fds and removed directories" t_files_paths

# all of it frozen again once thawed
t_files_twice() {
	case $1 in
	fghost|fmemfd) FILES_IMG_MAX_KB=20480 ;;
	esac
	files_thaw_twice "$1-twice" "$1"
}
for wl in fmaps fmemfd fghost fpath fepoll fproc fpidfd faio ffdt ffown; do
	run_test "files: $wl frozen, thawed and frozen again" t_files_twice "$wl"
done

# ---- descriptors of kernel objects -------------------------------------

# epoll sets keyed by file and number: a closed number whose file lives on
# dup'ed, one file under two numbers, two files under one number
t_files_epoll() { files_thaw fepoll fepoll; }
t_files_epoll_elsewhere() {
	files_refused fepoll-elsewhere fepoll "fd number [0-9]+ that the process no longer holds" \
		"an epoll entry on a file only another process holds" elsewhere
}
run_test "files: epoll sets on closed and reused fd numbers" t_files_epoll
run_test "files: an epoll entry whose file only another process holds is refused" t_files_epoll_elsewhere

# /proc files of the job's processes (its own, a child's, an ended
# child's), /proc/meminfo, its own namespaces
t_files_proc() { files_thaw fproc fproc; }
t_files_proc_outside() {
	files_refused fproc-outside fproc "a file of process [0-9]+, which is not part of the job" \
		"a /proc file of a process outside the job" outside
}
t_files_proc_ns() {
	files_refused fproc-ns fproc "a namespace \(user:\[[0-9]+\]\) that no process of the job is in" \
		"a namespace no process of the job is in" ns
}

# pidfds: of children (pidfd_open, CLONE_PIDFD), of itself, of an ended
# child, shared across fork, in an epoll set; signals, waitid, pidfd_getfd
t_files_pidfd() { files_thaw fpidfd fpidfd; }
t_files_pidfd_outside() {
	files_refused fpidfd-outside fpidfd "a pidfd of process [0-9]+, which is not part of the job" \
		"a pidfd of a process outside the job" outside
}
run_test "files: /proc files and namespace files" t_files_proc
run_test "files: a /proc file of a process outside the job is refused" t_files_proc_outside
run_test "files: a namespace no process of the job is in is refused" t_files_proc_ns
run_test "files: pidfds" t_files_pidfd
run_test "files: a pidfd of a process outside the job is refused" t_files_pidfd_outside

# Linux AIO: two contexts with a freed index between them, completed
# events not reaped yet, one ring wrapped around
t_files_aio() { files_thaw faio faio; }
run_test "files: Linux AIO contexts with events not reaped" t_files_aio

# processes sharing one fd table (CLONE_FILES): a child and a grandchild
# with the parent's, another child with its own
t_files_fdtable() { files_thaw ffdt ffdt; }
t_files_fdtable_cousins() {
	files_refused ffdt-cousins ffdt "shares its fd table with process [0-9]+ \(CLONE_FILES\), which is not its parent" \
		"an fd table shared past a process that stopped sharing it" cousins
}
run_test "files: a shared fd table" t_files_fdtable
run_test "files: an fd table shared with a grandparent only is refused" t_files_fdtable_cousins

# F_SETOWN/F_SETOWN_EX, F_SETSIG and O_ASYNC: a pipe owned by the process
# signalling with its fd in si_fd, a socket owned by its process group
t_files_fown() { files_thaw ffown ffown; }
t_files_fown_outside() {
	files_refused ffown-outside ffown "go to process [0-9]+, which is not part of the job \(F_SETOWN\)" \
		"an fd whose signals go outside the job" outside
}
run_test "files: owners and signals of O_ASYNC fds" t_files_fown
run_test "files: an fd whose signals go outside the job is refused" t_files_fown_outside
