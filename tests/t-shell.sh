# tests/t-shell.sh: ctrl+z to disk in real shells (bash and zsh) in a real
# terminal (tmux): job specs, the key binding, thawing in another window or
# a terminal of another size, job control of the thawed job, completions.
# Sourced by tests/run.sh.

# A tmux server of the test user, session "t" (WxH), window 0 running
# shell $1 with the integration loaded and its job store under $TDIR.
sh_start() {
	local shell=$1 w=${2:-100} h=${3:-30}
	command -v tmux >/dev/null || { skip "tmux is not installed"; return 77; }
	command -v "$shell" >/dev/null || { skip "$shell is not installed"; return 77; }
	SH=$shell
	tmux_at "$TDIR/tmux.sock"
	mkdir_user "$TDIR/zdot"
	mkdir_user "$TDIR/run"
	cat >"$TDIR/bashrc" <<-RC
		PS1='$ '
		HISTFILE=/dev/null
		export XDG_STATE_HOME=$TDIR/state
		eval "\$($JF init bash)"
	RC
	cat >"$TDIR/zdot/.zshrc" <<-RC
		PROMPT='%% '
		HISTFILE=/dev/null
		export XDG_STATE_HOME=$TDIR/state
		autoload -Uz compinit && compinit -u -D
		eval "\$($JF init zsh)"
	RC
	chmod 0644 "$TDIR/bashrc" "$TDIR/zdot/.zshrc"
	as_user "${TM[@]}" new-session -d -s t -x "$w" -y "$h" -c "$TDIR/run" "$(sh_cmd)" ||
		{ fail "tmux did not start"; return 1; }
	sh_wait t:0 '^[$%] $' 10 || { fail "$SH did not show its prompt"; return 1; }
}

# The command line of an interactive test shell.
sh_cmd() {
	if [ "$SH" = bash ]; then
		echo "exec bash --noprofile --rcfile $TDIR/bashrc -i"
	else
		echo "exec env ZDOTDIR=$TDIR/zdot zsh -i"
	fi
}

# A new window NAME (in session t, or a new session of W x H).
sh_window() {
	local name=$1 w=${2:-} h=${3:-}
	if [ -n "$w" ]; then
		as_user "${TM[@]}" new-session -d -s "$name" -x "$w" -y "$h" -c "$TDIR/run" "$(sh_cmd)"
		name=$name:0
	else
		as_user "${TM[@]}" new-window -d -t "t:$name" -c "$TDIR/run" "$(sh_cmd)"
		name=t:$name
	fi
	sh_wait "$name" '^[$%] $' 10
}

sh_keys() {
	as_user "${TM[@]}" send-keys -t "$@"
}

# Types a line into pane $1.
sh_type() {
	as_user "${TM[@]}" send-keys -t "$1" -l "$2"
	as_user "${TM[@]}" send-keys -t "$1" Enter
}

sh_screen() {
	as_user "${TM[@]}" capture-pane -p -J -S -100 -t "$1"
}

# Waits until pane $1 shows a line matching ERE $2 (within $3 s).
sh_wait() {
	local i limit=$(( ${3:-15} * 10 ))
	for ((i = 0; i < limit; i++)); do
		sh_screen "$1" 2>/dev/null | grep -Eq -- "$2" && return 0
		sleep 0.1
	done
	return 1
}

# Pane $1 must come to show $2; else the test fails with the screen (and
# its tmux server is stopped).
sh_expect() {
	sh_wait "$1" "$2" "${4:-15}" && return 0
	diag "pane $1 never showed /$2/ ($3); it shows:"
	diag "$(sh_screen "$1")"
	fail "$3"
	sh_stop
	return 1
}

sh_stop() {
	as_user "${TM[@]}" kill-server 2>/dev/null
	# the thawed jobs' namespaces outlive tmux for a moment
	sleep 0.2
}

STOPPED_RE='Stopped|suspended'

# sh_pid COMM: the pid of this test's process COMM (run from $TDIR/run)
sh_pid() {
	local p
	for p in $(pgrep -u "$TEST_UID" -x "$1"); do
		[ "$(readlink "/proc/$p/cwd")" = "$TDIR/run" ] && { echo "$p"; return 0; }
	done
	return 1
}

# sh_settled: the thaw running in this test has let its job (less) go and
# sent it SIGWINCH, which less has taken; until then a key typed is lost
# now and then: less drops a key it has read when SIGWINCH interrupts it.
# (session/thaw.c: the job's images leave the store, then the signal is
# sent, then the thaw waits for the job in read(2).)
sh_settled() {
	local i p thaw less st sc
	for ((i = 0; i < 200; i++)); do
		thaw="" sc=""
		for p in $(pgrep -u "$TEST_UID" -x jobfreeze); do
			[ "$(readlink "/proc/$p/cwd")" = "$TDIR/run" ] || continue
			case $(cat "/proc/$(awk '{ print $4 }' "/proc/$p/stat" 2>/dev/null)/comm" 2>/dev/null) in
			bash|zsh) thaw=$p ;;
			esac
		done
		# (/proc/PID/syscall may be closed to a user who does not trace
		# the thaw: then a moment for it to get there)
		[ -z "$thaw" ] ||
			sc=$(cut -d' ' -f1 "/proc/$thaw/syscall" 2>/dev/null) || { sleep 0.3; sc=0; }
		less=$(sh_pid less)
		if [ "$sc" = 0 ] && [ -n "$less" ] && [ -z "$(store_entries)" ]; then
			# SIGWINCH (28) no longer pending in less
			st=$(awk '/^(SigPnd|ShdPnd):/ { print $2 }' "/proc/$less/status" 2>/dev/null)
			[ -n "$st" ] || return 1
			for p in $st; do
				(( (16#$p & 0x8000000) == 0 )) || continue 2
			done
			return 0
		fi
		sleep 0.05
	done
	diag "the thaw did not settle: thaw ${thaw:-none} in syscall ${sc:-?}, less ${less:-none}, store: $(store_entries)"
	return 1
}

# The shell must not announce the job it sent to disk as killed.
sh_no_kill_notice() {
	sleep 0.5
	if sh_screen "$1" | grep -Eq '(Killed|killed) '; then
		diag "$(sh_screen "$1")"
		fail "the shell announced the frozen job as killed"
		sh_stop
		return 1
	fi
}

# OUT must equal the uninterrupted run of counter N.
sh_same_output() {
	local out=$1 n=$2
	if ! cmp -s "$out" <("$WL/counter" "$n" 2>/dev/null | head -0; seq -f 'counter: %g' 1 "$n"); then
		diag "the job's output differs from an uninterrupted run:"
		diag "$(diff <(seq -f 'counter: %g' 1 "$n") "$out" | head -20)"
		fail "output of the thawed job"
		return 1
	fi
}

# ^Z, `jobfreeze %1`, the job leaves the shell's jobs and appears in the
# list; its terminal is closed; `jobthaw` in another window goes on with
# it in the foreground to the end, with its exit status.
t_sh_freeze_spec() {
	sh_start "$1" || return
	sh_type t:0 "$WL/counter 25 | tee $TDIR/run/out.txt"
	sh_expect t:0 '^counter: 4$' "the job did not start" || return 1
	sh_keys t:0 C-z
	sh_expect t:0 "$STOPPED_RE" "^Z did not stop the job" || return 1
	sh_type t:0 'jobfreeze %1'
	sh_expect t:0 '^frozen 1: .*counter 25 \| tee .*\(2 processes' "jobfreeze %1 did not freeze it" || return 1
	sh_no_kill_notice t:0 || return 1
	sh_type t:0 'jobs >jobs.txt; echo NJOBS=$(wc -l <jobs.txt)'
	sh_expect t:0 '^NJOBS=0$' "the frozen job is still in the shell's job table" || return 1
	sh_type t:0 'jobfreeze list'
	sh_expect t:0 '^1 .*stopped .*counter 25 \| tee' "jobfreeze list does not show it" || return 1
	# its terminal goes away before the thaw
	sh_window 1 || { fail "no second window"; sh_stop; return 1; }
	as_user "${TM[@]}" kill-window -t t:0
	sh_type t:1 'jobthaw; echo RC=$?'
	sh_expect t:1 '^RC=[0-9]+' "the thawed job did not finish" 40 || return 1
	sh_expect t:1 '^RC=0$' "exit status of the thawed job" 1 || return 1
	sh_expect t:1 '^counter: 25$' "its output did not go on in the new window" 1 || return 1
	sh_stop
	sh_same_output "$TDIR/run/out.txt" 25
}

# The key binding (ctrl+z at an empty prompt) freezes the stopped job;
# the thawed job is the foreground job: ^Z stops it, fg continues it, its
# exit status is $?; ^C interrupts another one (status 130).
t_sh_key_jobcontrol() {
	sh_start "$1" || return
	sh_type t:0 "$WL/counter 30 >out.txt"
	sleep 1
	sh_keys t:0 C-z
	sh_expect t:0 "$STOPPED_RE" "^Z did not stop the job" || return 1
	sleep 0.3
	sh_keys t:0 C-z
	sh_expect t:0 '^frozen 1: ' "ctrl+z at the prompt did not freeze the stopped job" || return 1
	sh_no_kill_notice t:0 || return 1
	sh_type t:0 'jobthaw'
	sh_expect t:0 'counter 30' "jobthaw did not name the job it thaws" || return 1
	sleep 1
	sh_keys t:0 C-z
	sleep 0.5
	if [ "$(sh_screen t:0 | grep -Ec "$STOPPED_RE")" -lt 2 ]; then
		sh_expect t:0 'never' "^Z did not stop the thawed job" 1
		sh_stop
		return 1
	fi
	sh_type t:0 'fg'
	sh_type t:0 'echo FG=$?'
	sh_expect t:0 '^FG=[0-9]+' "fg did not bring the thawed job back to its end" 40 || return 1
	sh_expect t:0 '^FG=0$' "exit status of the thawed job after fg" 1 || return 1
	sh_same_output "$TDIR/run/out.txt" 30 || { sh_stop; return 1; }
	# ^C: a second job, frozen running from its shell's point of view
	sh_type t:0 "$WL/counter 0 >out2.txt"
	sleep 0.5
	sh_keys t:0 C-z
	sh_expect t:0 "$STOPPED_RE.*counter 0" "^Z did not stop the second job" || return 1
	sh_type t:0 'jobfreeze %+'
	sh_expect t:0 '^frozen 2: ' "jobfreeze %+ did not freeze the second job" || return 1
	sh_type t:0 'jobthaw 2'
	sleep 1
	sh_keys t:0 C-c
	sh_type t:0 'echo INT=$?'
	sh_expect t:0 '^INT=130$' "^C did not end the thawed job with status 130" || return 1
	sh_stop
}

# A full-screen program (less), stopped and frozen in a 100x30 terminal,
# thawed in a 60x12 one, redraws itself at that size.
t_sh_less_resize() {
	sh_start "$1" || return
	seq -f 'line %g' 1 200 >"$TDIR/run/lines.txt"
	chmod 0644 "$TDIR/run/lines.txt"
	sh_type t:0 "less lines.txt"
	sh_expect t:0 '^line 29$' "less did not start" || return 1
	sh_keys t:0 C-z
	sh_expect t:0 "$STOPPED_RE" "^Z did not stop less" || return 1
	sh_type t:0 'jobfreeze %1'
	sh_expect t:0 '^frozen 1: less' "jobfreeze %1 did not freeze less" || return 1
	sh_window small 60 12 || { fail "no small terminal"; sh_stop; return 1; }
	sh_type small:0 'jobthaw; echo RC=$?'
	sh_expect small:0 '^line 11$' "less did not redraw in the new terminal" || return 1
	sh_settled || { fail "the thaw did not end its work"; sh_stop; return 1; }
	if sh_screen small:0 | grep -q '^line 12$'; then
		diag "$(sh_screen small:0)"
		fail "less drew more lines than the 12-line terminal has"
		sh_stop
		return 1
	fi
	sh_keys small:0 q
	sh_expect small:0 '^RC=0$' "less did not quit with status 0" || return 1
	sh_stop
}

# A background job (&) frozen, thawed with --bg: a background job of the
# shell again, `wait` gets its status, its output is complete.
t_sh_background() {
	sh_start "$1" || return
	sh_type t:0 "$WL/counter 20 >out.txt &"
	sleep 1
	sh_type t:0 'jobfreeze %1'
	sh_expect t:0 '^frozen 1: .*counter 20' "jobfreeze %1 did not freeze the background job" || return 1
	sh_type t:0 'jobthaw --bg; sleep 0.5; jobs >jobs.txt; echo BGJOBS=$(wc -l <jobs.txt)'
	sh_expect t:0 '^BGJOBS=1$' "the thawed job is not a background job of the shell" || return 1
	sh_type t:0 'wait; echo WAIT=$?'
	sh_expect t:0 '^WAIT=0$' "wait for the thawed background job" 30 || return 1
	sh_stop
	sh_same_output "$TDIR/run/out.txt" 20
}

# An autosave of a background job (--every %1): the job stays the shell's,
# runs to its end undisturbed, and its snapshots go with it.
t_sh_autosave() {
	local i
	sh_start "$1" || return
	sh_type t:0 "$WL/counter 25 >out.txt &"
	sleep 0.5
	sh_type t:0 'jobfreeze freeze --every 1 --keep 2 %1'
	sh_expect t:0 '^autosave [0-9]+: snapshot 1 of .*counter 25' "jobfreeze --every %1 did not autosave it" || return 1
	sh_type t:0 'jobs >jobs.txt; echo BGJOBS=$(wc -l <jobs.txt)'
	sh_expect t:0 '^BGJOBS=1$' "the autosaved job left the shell's job table" || return 1
	sh_type t:0 'wait; echo WAIT=$?'
	sh_expect t:0 '^WAIT=0$' "wait for the autosaved job" 30 || return 1
	sh_stop
	sh_same_output "$TDIR/run/out.txt" 25 || return 1
	for ((i = 0; i < 100; i++)); do
		[ -z "$(ls -A "$TDIR/state/jobfreeze" | grep -v -e '^\.last-id$' -e '^\.warned$' -e '^autosave\.log$')" ] && return 0
		sleep 0.1
	done
	fail "the autosave of the ended job left $(ls -A "$TDIR/state/jobfreeze" | tr '\n' ' ')"
}

# Completion offers the frozen jobs' ids and names.
t_sh_completion() {
	sh_start "$1" || return
	sh_type t:0 "$WL/counter 0 >/dev/null &"
	sh_type t:0 "jobfreeze --name scanner %1"
	sh_expect t:0 '^frozen 1: ' "freeze --name" || return 1
	sh_type t:0 "$WL/counter 0 >/dev/null &"
	sh_type t:0 "jobfreeze %1"
	sh_expect t:0 '^frozen 2: ' "second freeze" || return 1
	sh_type t:0 "clear"
	sleep 0.3
	as_user "${TM[@]}" send-keys -t t:0 -l 'jobthaw '
	sh_keys t:0 Tab
	sleep 0.3
	sh_keys t:0 Tab
	sh_expect t:0 'scanner' "completion did not offer the job's name" 5 || return 1
	sh_expect t:0 '(^|[[:space:]])2([[:space:]]|$)' "completion did not offer job id 2" 1 || return 1
	# (a completion still running, slow under ASan, may eat one ^C)
	sh_keys t:0 C-c
	sh_wait t:0 '^[$%] $' 5 || { sh_keys t:0 C-c; sh_wait t:0 '^[$%] $' 5; }
	sh_type t:0 "jobfreeze rm 1 2"
	sh_expect t:0 '^removed 2' "rm" || return 1
	sh_stop
}

# sh_frozen SHELL N: in shell $1, a counter job of N lines (0: no end)
# run a moment, stopped with ^Z and frozen as job 1 with `jobfreeze %1`.
sh_frozen() {
	sh_start "$1" || return
	sh_type t:0 "$WL/counter $2 >out.txt"
	sleep 1
	sh_keys t:0 C-z
	sh_expect t:0 "$STOPPED_RE" "^Z did not stop the job" || return 1
	sh_type t:0 'jobfreeze %1'
	sh_expect t:0 '^frozen 1: ' "jobfreeze %1 did not freeze the job"
}

# A thawed job frozen again from the shell (its job is now jobthaw's
# process group: the job under it is taken, not jobfreeze itself), and
# thawed again; it runs until ^C (a counter with no end: the waits below
# grow with the machine's load), and every line comes once, in order.
t_sh_refreeze() {
	local out=$TDIR/run/out.txt i n st=0
	sh_frozen "$1" 0 || return
	sh_type t:0 'jobthaw'
	# (a ^Z while the thaw rebuilds the job would stop it once built: the
	# job runs once the store no longer holds it)
	for ((i = 0; i < 300; i++)); do
		[ -z "$(store_entries)" ] && break
		sleep 0.1
	done
	[ -z "$(store_entries)" ] || { fail "the thaw did not end its work: $(store_entries)"; sh_stop; return 1; }
	sleep 0.5
	# The pids wrap around (a busy machine): what the shell starts next
	# has a smaller pid than the thaw (zsh's subshell for the stopped
	# jobthaw). (Not with a pid_max too large to wrap in a test.)
	"${RUNAS[@]}" "$WL/pidwrap" || st=$?
	[ "$st" = 0 ] || [ "$st" = 2 ] || { fail "pidwrap exited $st"; sh_stop; return 1; }
	sh_keys t:0 C-z
	sleep 0.5
	sh_type t:0 'jobfreeze %1'
	sh_expect t:0 '^frozen 2: .*counter 0 ' "the thawed job was not frozen again" || return 1
	n=$(wc -l <"$out")
	sh_type t:0 'jobthaw 2'
	for ((i = 0; i < 300 && $(wc -l <"$out") < n + 5; i++)); do
		sleep 0.1
	done
	[ "$(wc -l <"$out")" -ge $((n + 5)) ] ||
		{ fail "the job thawed twice did not go on ($n lines before, $(wc -l <"$out") after)"; sh_stop; return 1; }
	# (a shell gives up a command list whose job ^C ended: asked apart)
	sh_keys t:0 C-c
	sh_type t:0 'echo INT=$?'
	sh_expect t:0 '^INT=130$' "^C did not end the job thawed twice with status 130" || return 1
	sh_stop
	sh_same_output "$out" "$(wc -l <"$out")"
}

# A full-screen program frozen while it runs in the foreground (from
# elsewhere: by pid, as the desktop does) gets its terminal settings back
# in the thawing terminal: less is in raw mode there, one 'q' quits it.
t_sh_termios() {
	sh_start "$1" || return
	seq -f 'row %g' 1 100 >"$TDIR/run/rows.txt"
	chmod 0644 "$TDIR/run/rows.txt"
	sh_type t:0 "less rows.txt"
	sh_expect t:0 '^row 29$' "less did not start" || return 1
	local pid
	# (this test's less: other tests run one too)
	pid=$(sh_pid less) || { fail "no less process"; sh_stop; return 1; }
	st_expect 0 '^frozen 1: less rows.txt' "freeze of less running in the foreground" \
		freeze "$pid" || { sh_stop; return 1; }
	sh_window 1 || { fail "no second window"; sh_stop; return 1; }
	sh_type t:1 'jobthaw; echo RC=$?'
	sh_expect t:1 '^row 29$' "less did not redraw in the new window" || return 1
	sh_settled || { fail "the thaw did not end its work"; sh_stop; return 1; }
	sh_keys t:1 q
	sh_expect t:1 '^RC=0$' "less did not quit on one key: its raw mode was lost" 5 || return 1
	sh_stop
}

# sh_thaw_held SHELL: in shell $1, a counter job of 30 lines frozen as
# job 1, and its thaw typed with the test build, which holds it once the
# job is built and before it is let go (restore-built), until $TDIR/hold.
sh_thaw_held() {
	local i
	crash_setup || { fail "cannot build jobfreeze-crashtest"; return 1; }
	sh_frozen "$1" 30 || return
	sh_type t:0 "JOBFREEZE_HOLD_AT=restore-built JOBFREEZE_HOLD_FILE=$TDIR/hold $CJF thaw 1"
	for ((i = 0; i < 200; i++)); do
		[ -e "$TDIR/hold.held" ] && return 0
		sleep 0.05
	done
	fail "the thaw never reached restore-built"
	sh_stop
	return 1
}

# ^Z pressed while the thaw builds the job: the job, once built, stops
# with its thaw, as after a ^Z a moment later, instead of running on
# behind a shell that calls it stopped; fg brings both back, and the job
# ends as an uninterrupted run.
t_sh_thaw_tstp() {
	local i pid st n
	sh_thaw_held "$1" || return
	sh_keys t:0 C-z
	# (the terminal's SIGTSTP reaches the thaw's processes)
	sleep 0.5
	touch "$TDIR/hold"
	for ((i = 0; i < 100; i++)); do
		pid=$(sh_pid counter) && st=$(awk '{ print $3 }' "/proc/$pid/stat" 2>/dev/null)
		[ "${st:-}" = T ] && break
		sleep 0.1
	done
	if [ "${st:-}" != T ]; then
		diag "$(sh_screen t:0)"
		fail "the job thawed after a ^Z is not stopped (state ${st:-none})"
		sh_stop
		return 1
	fi
	sh_expect t:0 "$STOPPED_RE.*thaw" "the shell did not see the thaw stopped" 5 || return 1
	n=$(wc -l <"$TDIR/run/out.txt")
	sleep 1
	[ "$(wc -l <"$TDIR/run/out.txt")" = "$n" ] ||
		{ fail "the stopped job went on writing"; sh_stop; return 1; }
	sh_type t:0 'fg'
	sh_type t:0 'echo FG=$?'
	sh_expect t:0 '^FG=[0-9]+' "fg did not bring the thawed job back to its end" 40 || return 1
	sh_expect t:0 '^FG=0$' "exit status of the thawed job after fg" 1 || return 1
	sh_stop
	sh_same_output "$TDIR/run/out.txt" 30
}

# ^C pressed while the thaw builds the job cancels the thaw: nothing of
# the job runs, it stays in the store, and a thaw later ends it as an
# uninterrupted run.
t_sh_thaw_int() {
	local i n
	sh_thaw_held "$1" || return
	n=$(wc -l <"$TDIR/run/out.txt")
	sh_keys t:0 C-c
	sleep 0.5
	touch "$TDIR/hold"
	sh_type t:0 'echo INT=$?'
	sh_expect t:0 '^INT=[0-9]+$' "the shell did not come back after ^C" || return 1
	sleep 1
	if sh_pid counter >/dev/null || [ "$(wc -l <"$TDIR/run/out.txt")" != "$n" ]; then
		fail "the job runs after ^C cancelled its thaw"
		sh_stop
		return 1
	fi
	sh_type t:0 'jobfreeze list'
	sh_expect t:0 '^1 .*counter 30' "the job whose thaw ^C cancelled left the store" 5 || return 1
	sh_type t:0 'jobthaw 1; echo RC=$?'
	sh_expect t:0 '^RC=[0-9]+' "the second thaw did not end" 40 || return 1
	sh_expect t:0 '^RC=0$' "exit status of the job thawed after a cancelled thaw" 1 || return 1
	sh_stop
	sh_same_output "$TDIR/run/out.txt" 30
}

for __sh in bash zsh; do
	run_test "$__sh: less frozen running keeps its raw mode" t_sh_termios "$__sh"
	run_test "$__sh: a thawed job frozen and thawed again" t_sh_refreeze "$__sh"
	run_test "$__sh: ^Z, jobfreeze %1, thaw in another window" t_sh_freeze_spec "$__sh"
	run_test "$__sh: key binding, ^Z/fg and ^C of the thawed job" t_sh_key_jobcontrol "$__sh"
	run_test "$__sh: less thawed in a smaller terminal redraws" t_sh_less_resize "$__sh"
	run_test "$__sh: background job thawed with --bg" t_sh_background "$__sh"
	run_test "$__sh: completion offers frozen jobs" t_sh_completion "$__sh"
	run_test "$__sh: an autosave of %1 (--every)" t_sh_autosave "$__sh"
	run_test "$__sh: ^Z while jobthaw builds the job stops it once built" t_sh_thaw_tstp "$__sh"
	run_test "$__sh: ^C while jobthaw builds the job cancels the thaw" t_sh_thaw_int "$__sh"
done
