# tests/lib.sh: helpers shared by the jobfreeze test scripts (sourced, bash).
# shellcheck shell=bash disable=SC2034,SC2059
#
# Expects before use: JF (the jobfreeze binary), WORK (the suite's temp dir).
# setup_user decides who runs the jobs: the system user JF_TEST_USER
# (default jftest) when the suite runs as root, else the current user.
# Every command that freezes or thaws goes through "${RUNAS[@]}" so that
# the engine is always tested without privileges.

# close_inherited_fds: close the descriptors above 2 that this shell got
# from its caller and would pass on (make's jobserver pipe, a terminal's
# leftovers...): a job must hold only what the test gives it. Descriptors
# marked close-on-exec (such as the one bash reads the script from) stay.
close_inherited_fds() {
	local f fd flags
	for f in /proc/$$/fd/*; do
		fd=${f##*/}
		[ "$fd" -gt 2 ] || continue
		flags=$(sed -n 's/^flags:[[:space:]]*//p' "/proc/$$/fdinfo/$fd" 2>/dev/null) || continue
		[ -n "$flags" ] || continue
		# O_CLOEXEC is 02000000 (octal)
		(( (8#$flags & 8#2000000) == 0 )) && eval "exec $fd>&-"
	done
	return 0
}

# ---- who runs the jobs -------------------------------------------------

TEST_USER=""		# name of the unprivileged user, empty when not root
TEST_UID=$(id -u)
RUNAS=()		# prefix that runs a command as the test user
RUNAS_ID=()		# its setpriv part (empty when not root)
PYTHON=""
TMUX_CONF=""		# the tests' tmux configuration (see setup_user)

# setup_user: decides who runs the jobs and checks that it can. As root:
# the system user JF_TEST_USER (default jftest), made here if missing (no
# home, no login shell), refused if it is root or has no group of its name.
# Nothing else of an earlier run is used: every test gets a new HOME, job
# store, tmux server (own socket, own configuration) and session bus.
setup_user() {
	local v
	if [ "$(id -u)" = 0 ]; then
		TEST_USER=${JF_TEST_USER:-jftest}
		if ! [[ $TEST_USER =~ ^[a-z_][a-z0-9_-]{0,30}$ ]]; then
			echo "# JF_TEST_USER='$TEST_USER' is not a user name" >&2
			return 1
		fi
		if ! id -u "$TEST_USER" >/dev/null 2>&1; then
			useradd --system --user-group --no-create-home --home-dir /nonexistent \
				--shell /usr/sbin/nologin "$TEST_USER" || return 1
			echo "# made the system user $TEST_USER"
		fi
		TEST_UID=$(id -u "$TEST_USER")
		if [ "$TEST_UID" = 0 ] || ! getent group "$TEST_USER" >/dev/null; then
			echo "# user $TEST_USER is root or has no group $TEST_USER: set JF_TEST_USER to another name" >&2
			return 1
		fi
		chown -R "$TEST_USER:$TEST_USER" "$WORK"
		chmod 0755 "$WORK"
		RUNAS_ID=(setpriv "--reuid=$TEST_USER" "--regid=$TEST_USER" --clear-groups --inh-caps=-all)
	fi
	mkdir_user "$WORK/home"
	runas_home "$WORK/home"
	as_user true || { echo "# cannot run commands as ${TEST_USER:-$(id -un)}" >&2; return 1; }
	# tmux reads no /etc/tmux.conf or ~/.tmux.conf of this machine, and runs
	# the panes' commands with /bin/sh, whatever the user's login shell
	TMUX_CONF=$WORK/tmux.conf
	echo 'set -g default-shell /bin/sh' >"$TMUX_CONF"
	chmod 0644 "$TMUX_CONF"
	# python3 for count.py: the user's own one may live where the test
	# user cannot reach it (e.g. under /root), so prefer the system one
	for v in /usr/bin/python3 /usr/local/bin/python3 "$(command -v python3 2>/dev/null)"; do
		if [ -n "$v" ] && "${RUNAS[@]}" "$v" -c 'pass' >/dev/null 2>&1; then
			PYTHON=$v
			break
		fi
	done
}

# runas_home DIR: RUNAS runs commands as the test user with HOME=DIR and
# a clean environment (SHELL: what tmux would run its panes with, else the
# user's login shell, nologin for a system user).
runas_home() {
	local v envv=(env -i "HOME=$1" "PATH=/usr/local/bin:/usr/bin:/bin"
		      "LC_ALL=C" "TMPDIR=/tmp" "SHELL=/bin/sh" "PYTHONDONTWRITEBYTECODE=1")
	# sanitizer settings of `make asan` must reach the engine
	for v in ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS; do
		[ -n "${!v:-}" ] && envv+=("$v=${!v}")
	done
	RUNAS=("${RUNAS_ID[@]}" "${envv[@]}")
}

# tmux_at SOCKET: TM is the tmux command of the test user's server at SOCKET
tmux_at() {
	TM=(tmux -f "$TMUX_CONF" -S "$1")
}

# as_user CMD...: run CMD as the test user in the current directory
as_user() {
	"${RUNAS[@]}" "$@"
}

# mkdir_user DIR...: make directories that the test user owns
mkdir_user() {
	mkdir -p "$@" || return 1
	[ -z "$TEST_USER" ] || chown "$TEST_USER:$TEST_USER" "$@"
}

# ---- TAP output --------------------------------------------------------

T_NUM=0 T_PASS=0 T_FAIL=0 T_SKIP=0
T_DIAG=""		# file collecting the running test's diagnostics
SKIP_REASON=""

# diag MESSAGE...: note something about the running test (shown on failure)
diag() {
	printf '%s\n' "$*" >>"$T_DIAG"
}

# diag_file LABEL FILE [LINES]: add the tail of FILE to the diagnostics
diag_file() {
	local lines=${3:-15}
	if [ -s "$2" ]; then
		diag "--- $1 (last $lines lines):"
		tail -n "$lines" "$2" >>"$T_DIAG"
	else
		diag "--- $1: empty"
	fi
}

# fail MESSAGE: record a failure reason and return 1 (use: `fail ...; return`)
fail() {
	diag "FAIL: $*"
	return 1
}

skip() {
	SKIP_REASON=$*
	return 77
}

# ---- processes ---------------------------------------------------------

BG_PIDS=()		# every job we started, to be sure none is left behind
declare -A BG_START	# job pid -> its start time (bg_add)
declare -A OTHER_START	# helper pid -> its start time (other_add)

# proc_state PID: the one-letter state of PID, empty if it does not exist
proc_state() {
	local stat
	stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 0
	stat=${stat##*) }
	printf '%s' "${stat%% *}"
}

# alive PID: PID exists and is not a zombie
alive() {
	local s
	s=$(proc_state "$1")
	[ -n "$s" ] && [ "$s" != Z ] && [ "$s" != X ]
}

# running PID: alive and not stopped or traced
running() {
	local s
	s=$(proc_state "$1")
	case $s in R|S|D) return 0 ;; *) return 1 ;; esac
}

# runs_on PID: running now, or within 5 s (a job an autosave snapshots
# every second is held for a moment each time)
runs_on() {
	local i
	for ((i = 0; i < 50; i++)); do
		running "$1" && return 0
		sleep 0.1
	done
	return 1
}

# USER_SH: a shell run as the test user that goes to DIR, redirects stdout
# to OUT, stderr to ERR, stdin from /dev/null and execs CMD, so that every
# file is created by the test user and CMD keeps the pid it was started as:
#   "${RUNAS[@]}" "${USER_SH[@]}" DIR OUT ERR CMD...
USER_SH=(/bin/sh -c 'cd "$1" || exit 125; o=$2 e=$3; shift 3; exec "$@" >"$o" 2>"$e" </dev/null' sh)

# start_job DIR OUT ERR CMD...: start CMD as the test user in DIR, in the
# background, with stdout/stderr to OUT/ERR and stdin from /dev/null.
# Sets JOB_PID and waits until the job runs the program of CMD (not the
# setpriv/env/sh on the way); EXPECT_EXE overrides the program to wait for.
# The job's parent is a subshell that waits for it and exits with its
# status (so bash prints no "Killed" notice when a dump kills the job).
declare -A WRAPPER	# job pid -> pid of the subshell waiting for it
start_job() {
	local exe=${EXPECT_EXE:-$4} pidf
	exe=$(readlink -f "$exe")
	pidf=$(mktemp "$WORK/.pid.XXXXXX")
	(
		"${RUNAS[@]}" "${USER_SH[@]}" "$@" &
		echo $! >"$pidf"
		wait $!
	) 2>/dev/null &
	local wrapper=$! i
	JOB_PID=""
	# (a loaded machine may take seconds to start a process: up to 15 s
	# each, as early as it is there)
	for ((i = 0; i < 1500; i++)); do
		JOB_PID=$(cat "$pidf")
		[ -z "$JOB_PID" ] || break
		sleep 0.01
	done
	rm -f "$pidf"
	if [ -z "$JOB_PID" ]; then
		kill -KILL "$wrapper" 2>/dev/null
		wait "$wrapper"
		return 1
	fi
	WRAPPER[$JOB_PID]=$wrapper
	bg_add "$JOB_PID"
	for ((i = 0; i < 1500; i++)); do
		started "$JOB_PID" "$exe" "$4" && return 0
		alive "$JOB_PID" || break
		sleep 0.01
	done
	started "$JOB_PID" "$exe" "$4"
}

# started PID EXE ARGV0: PID runs EXE (not the shell that execs it yet).
# A process that made itself not dumpable hides its exe from its own user
# (as an ordinary user runs the suite): then its command line says.
started() {
	local argv0
	[ "$(readlink "/proc/$1/exe" 2>/dev/null)" = "$2" ] && return 0
	[ -L "/proc/$1/exe" ] && ! readlink "/proc/$1/exe" >/dev/null 2>&1 || return 1
	IFS= read -r -d '' argv0 <"/proc/$1/cmdline" 2>/dev/null
	[ "$argv0" = "$3" ]
}

# reap PID: collect the status of a job started by start_job (JOB_STATUS)
reap() {
	local w=${WRAPPER[$1]:-}
	JOB_STATUS=""
	[ -n "$w" ] || return 0
	wait "$w" 2>/dev/null
	JOB_STATUS=$?
	unset "WRAPPER[$1]"
}

# wait_job PID SECS: wait for a job of start_job to end, at most SECS
# seconds (then it is killed). Sets JOB_STATUS (124 on timeout).
wait_job() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	if alive "$pid"; then
		kill -KILL "$pid" 2>/dev/null
		reap "$pid"
		JOB_STATUS=124
		return 1
	fi
	reap "$pid"
	return 0
}

# wait_gone PID SECS: wait until PID no longer exists or is a zombie
# (reaping it if it is our child).
wait_gone() {
	local pid=$1 secs=$2 i
	for ((i = 0; i < secs * 10; i++)); do
		alive "$pid" || break
		sleep 0.1
	done
	alive "$pid" && return 1
	reap "$pid"
	return 0
}

LEFT_IN=""		# where the running test works (a test's $TDIR)

# leftovers: pids of the test user's processes working inside $LEFT_IN
# (a path prefix; default: anywhere in $WORK), but the shells of the
# suite that this one runs in (the test user's too, when not root). Only
# builtins for each process, in a subshell of its own (it changes
# directory): a loaded machine has many, and tests call it in loops.
leftovers() (
	local p up=$BASHPID ours=" " stat in=${LEFT_IN:-$WORK/}
	while [ "${up:-0}" -gt 1 ] && read -r stat 2>/dev/null <"/proc/$up/stat"; do
		ours+="$up "
		stat=${stat##*) }
		stat=${stat#* }
		up=${stat%% *}
	done
	for p in $(pgrep -u "$TEST_UID"); do
		case $ours in *" $p "*) continue ;; esac
		cd -P "/proc/$p/cwd" 2>/dev/null || continue
		case $PWD/ in "$in"*) printf '%s\n' "$p" ;; esac
	done
)

# start_time PID: when PID started (field 22 of its stat), "" if gone
start_time() {
	local stat
	read -r stat 2>/dev/null <"/proc/$1/stat" || return 0
	stat=${stat##*) }
	# shellcheck disable=SC2086
	set -- $stat
	echo "${20}"
}

# free_port: a TCP/UDP port for a test's listener: below the kernel's
# ephemeral range (where other tests' connections take their local ports),
# and used by no socket now (/proc/net/*: any state, TIME_WAIT too)
free_port() {
	local lo=20000 hi p i
	read -r hi _ </proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || hi=32768
	[ "$hi" -gt $((lo + 1000)) ] || hi=$((lo + 10000))
	for ((i = 0; i < 50; i++)); do
		p=$((lo + RANDOM % (hi - lo)))
		grep -qi ":$(printf '%04X' "$p") " /proc/net/tcp /proc/net/tcp6 /proc/net/udp \
			/proc/net/udp6 2>/dev/null || break
	done
	echo "$p"
}

# bg_add PID: a process of the test's, killed after it if still running
# (the same process: its pid may be another's by then)
bg_add() {
	BG_PIDS+=("$1")
	BG_START[$1]=$(start_time "$1")
}

# other_add PID: a helper process of the test's (not a job), killed after it
# if still the same process
other_add() {
	OTHER_PIDS+=("$1")
	OTHER_START[$1]=$(start_time "$1")
}

# kill_tree PID: kill PID and its descendants (those still its children's
# children; what went away from the tree is found by leftovers)
kill_tree() {
	local c
	kill -STOP "$1" 2>/dev/null
	for c in $(cat "/proc/$1/task/"*/children 2>/dev/null); do
		kill_tree "$c"
	done
	kill -KILL "$1" 2>/dev/null
}

# kill_leftovers: kill (by pid) whatever a test left running; sets LEFT
# to the list of what it killed ("" if nothing)
kill_leftovers() {
	local p st
	LEFT=""
	for p in "${BG_PIDS[@]}"; do
		# (a pid that ended may be another test's process now: pids wrap
		# around in seconds here)
		if alive "$p" && [ "$(start_time "$p")" = "${BG_START[$p]:-}" ]; then
			LEFT+=" $p($(cat "/proc/$p/comm" 2>/dev/null))"
			kill -KILL "$p" 2>/dev/null
		fi
		reap "$p"
	done
	BG_PIDS=()
	BG_START=()
	for p in $(leftovers); do
		alive "$p" || continue
		# (one that started after the test ended is not its leftover: a
		# pid that these very checks' subshells took again)
		st=$(start_time "$p")
		[ -n "${T_ENDED:-}" ] && [ -n "$st" ] && [ "$st" -gt "$T_ENDED" ] && continue
		LEFT+=" $p($(cat "/proc/$p/comm" 2>/dev/null))"
		kill -KILL "$p" 2>/dev/null
	done
}

CLK_TCK=$(getconf CLK_TCK 2>/dev/null) || CLK_TCK=100

# boot_ticks: now, in the clock ticks since boot that start_time gives
boot_ticks() {
	local up
	read -r up _ </proc/uptime
	echo $(( ${up%.*} * CLK_TCK + 10#${up#*.} * CLK_TCK / 100 ))
}

# ---- time and randomness ----------------------------------------------

# rand_sleep MIN_MS MAX_MS: sleep a random time in [MIN, MAX] ms
rand_sleep() {
	local ms=$(($1 + RANDOM % ($2 - $1 + 1)))
	diag "slept $ms ms before freezing"
	sleep "$((ms / 1000)).$(printf '%03d' $((ms % 1000)))"
}

now_ms() {
	local t
	t=$(date +%s%N)
	printf '%s' $((t / 1000000))
}

# ---- image directories -------------------------------------------------

# img_digest DIR: one text naming every file of DIR with its sha256, size,
# mode and owner; equal digests mean the directory was left alone
img_digest() {
	(cd "$1" 2>/dev/null && find . -mindepth 1 -printf '%p %y %s %m %u\n' | sort &&
	 find . -type f -print0 | sort -z | xargs -0 -r sha256sum)
}

# mem_wait_file FILE SECS: FILE exists within SECS seconds
mem_wait_file() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		[ -e "$1" ] && return 0
		sleep 0.05
	done
	return 1
}

# cowedge_start RUN: tests/workloads/cowedge (cowedge.c) started in RUN,
# its pid in JOB_PID, left running 300..800 ms
cowedge_start() {
	mkdir_user "$1"
	start_job "$1" "$1/out.txt" "$1/err.txt" "$WL/cowedge" stop || return 1
	rand_sleep 300 800
}

# cowedge_check RUN: its output says every process held what it held
cowedge_check() {
	local i
	for i in 0 1 2 3 4 5; do
		echo "child $i (role $i): exit 0"
	done >"$TDIR/expected"
	echo "parent: 0" >>"$TDIR/expected"
	same_file "$TDIR/expected" "$1/out.txt" "stdout"
}

# flip_byte FILE OFFSET: invert every bit of one byte in place
flip_byte() {
	local b
	b=$(od -An -tu1 -j "$2" -N1 "$1" | tr -d ' ')
	[ -n "$b" ] || return 1
	printf "\\$(printf %03o $((b ^ 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# put_u32 FILE OFFSET VALUE: store a little-endian u32 in place
put_u32() {
	local v=$3
	printf "\\$(printf %03o $((v & 255)))\\$(printf %03o $((v >> 8 & 255)))\\$(printf %03o $((v >> 16 & 255)))\\$(printf %03o $((v >> 24 & 255)))" |
		dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# same_file EXPECTED ACTUAL LABEL: compare, with a diff in the diagnostics
same_file() {
	if cmp -s "$1" "$2"; then
		return 0
	fi
	diag "$3 differs from the uninterrupted run (diff expected actual):"
	diff -u "$1" "$2" 2>&1 | head -n 20 >>"$T_DIAG"
	return 1
}

# The job store commands, as the test user with the store of the test
# ($TDIR/state): used by tests/t-store.sh and tests/t-shell.sh.
# st OUT ERR ARGS...: `jobfreeze ARGS` as the test user, with the job store
# of this test, stdin from /dev/null, in $TDIR/run; status in ST.
st() {
	local out=$1 err=$2
	shift 2
	(
		timeout -k 5 "$T_RESTORE" "${RUNAS[@]}" env "XDG_STATE_HOME=$TDIR/state" \
			"${USER_SH[@]}" "$TDIR/run" "$out" "$err" "$JF" "$@"
		exit $?
	) 2>/dev/null
	ST=$?
}

# st_expect STATUS PATTERN WHAT ARGS...: the command exits STATUS and says
# something matching PATTERN (on stdout or stderr).
st_expect() {
	local want=$1 pattern=$2 what=$3
	shift 3
	st "$TDIR/st.out" "$TDIR/st.err" "$@"
	if [ "$ST" != "$want" ] || ! grep -Eq -- "$pattern" "$TDIR/st.out" "$TDIR/st.err"; then
		diag "jobfreeze $* exited $ST (expected $want), saying:"
		diag "$(cat "$TDIR/st.out" "$TDIR/st.err")"
		fail "$what"
		return 1
	fi
}

# store_entries: the entries of the test's store ($TDIR/state/jobfreeze),
# but the id counter and the note's marker, on one line
store_entries() {
	ls -A "$TDIR/state/jobfreeze" 2>/dev/null | grep -v -e '^\.last-id$' -e '^\.warned$' | tr '\n' ' '
}

# Nothing of a job may be left in the store but finished jobs.
st_store_clean() {
	local left
	left=$(store_entries)
	left=${left% }
	if [ "$left" != "${1:-}" ]; then
		diag "the store holds: $left (expected: ${1:-nothing})"
		fail "${2:-the store is not as it should be}"
		return 1
	fi
}

# tmux_cat_job W H: a tmux server of the test user ($TDIR/tmux.sock, in
# TM) whose session "t" (W x H) runs `cat -n`, a job on a terminal, which
# has numbered the line 'line before'; its pid in CAT_PID.
tmux_cat_job() {
	local i
	tmux_at "$TDIR/tmux.sock"
	as_user "${TM[@]}" new-session -d -s t -x "$1" -y "$2" "exec cat -n" ||
		{ fail "tmux did not start"; return 1; }
	as_user "${TM[@]}" send-keys -t t:0 'line before' Enter
	CAT_PID=$(as_user "${TM[@]}" display-message -p -t t:0 '#{pane_pid}')
	for ((i = 0; i < 50; i++)); do
		grep -q 'line before' <(as_user "${TM[@]}" capture-pane -p -t t:0) && break
		sleep 0.1
	done
}

# imgedit FILE EDIT ARGS...: tests/imgedit.py (an image altered as if the
# job had been frozen elsewhere) as the test user; imgedit_out prints
# what it prints; have_imgedit skips the test where it cannot run
imgedit() {
	as_user "$PYTHON" "$HERE/imgedit.py" "$HERE/../ckpt/images/image.proto" "$@" >>"$T_DIAG" 2>&1
}

imgedit_out() {
	as_user "$PYTHON" "$HERE/imgedit.py" "$HERE/../ckpt/images/image.proto" "$@"
}

have_imgedit() {
	[ -n "$PYTHON" ] && command -v protoc >/dev/null ||
		{ skip "python3 or protoc (protobuf-compiler) is missing"; return 77; }
}
