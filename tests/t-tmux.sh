# tests/t-tmux.sh: a whole tmux server to disk and back (jobfreeze freeze
# --tmux): its windows, panes, scrollback and the programs in them go on;
# its clients are told and detached first. Sourced by tests/run.sh.
# shellcheck shell=bash

# tm ARGS...: tmux of the test's server ($TDIR/tmux.sock), as the test user
# (in $TDIR: a server it starts works there, where leftovers() finds it)
tm() {
	tmux_at "$TDIR/tmux.sock"
	(cd "$TDIR" && as_user "${TM[@]}" "$@")
}

# pane_has TARGET TEXT: wait (5 s at most) until pane TARGET shows TEXT
pane_has() {
	local i
	for ((i = 0; i < 100; i++)); do
		tm capture-pane -p -t "$1" 2>/dev/null | grep -qF -- "$2" && return 0
		sleep 0.05
	done
	diag "pane $1 does not show '$2'; it shows:"
	diag "$(tm capture-pane -p -t "$1" 2>&1 | grep -v '^$')"
	return 1
}

# pane_lines TARGET REGEX N: wait (5 s at most) until N lines of pane
# TARGET match REGEX
pane_lines() {
	local i
	for ((i = 0; i < 100; i++)); do
		[ "$(tm capture-pane -p -t "$1" | grep -c -- "$2")" = "$3" ] && return 0
		sleep 0.05
	done
	diag "pane $1 does not show $3 lines '$2'"
	return 1
}

# cat_state STATE: wait (5 s at most) until the test's cat is in STATE (S
# running or sleeping, T stopped; "": gone)
cat_state() {
	local i p s
	for ((i = 0; i < 100; i++)); do
		s=""
		for p in $(leftovers); do
			[ "$(cat "/proc/$p/comm" 2>/dev/null)" = cat ] && s=$(proc_state "$p")
		done
		case $1:$s in :|S:S|S:R|T:T) return 0 ;; esac
		sleep 0.05
	done
	diag "cat is in state '$s', not '$1'"
	return 1
}

# history TARGET: all of pane TARGET, its scrollback with its screen
history() {
	tm capture-pane -p -S - -E - -t "$1"
}

# tmux_client LOG: a client attached to session t on a terminal of its own
# (script's), its output in LOG; its pid in CLIENT_PID. Its input is a
# FIFO that stays open and silent (tmux_done closes it); it lives until
# detached.
CLIENT_IN=""
tmux_client() {
	local i
	if [ -z "$CLIENT_IN" ]; then
		as_user mkfifo "$TDIR/client.in"
		exec {CLIENT_IN}<>"$TDIR/client.in"
	fi
	(cd "$TDIR" && exec "${RUNAS[@]}" TERM=xterm script -q -c "tmux -f $TMUX_CONF -S $TDIR/tmux.sock attach -t t" "$1" \
		<"$TDIR/client.in" >/dev/null 2>&1) &
	CLIENT_PID=$!
	bg_add "$CLIENT_PID"
	for ((i = 0; i < 100; i++)); do
		[ -n "$(tm list-clients 2>/dev/null)" ] && return 0
		sleep 0.05
	done
	fail "the tmux client did not attach"
}

# the counter's lines, 0, 1, 2... each once and in order, ending at the last
counts_in_order() {
	awk '/^count [0-9]+$/ { if ($2 != n) { print "count " n " missing, got " $2; exit 1 } n++ }
	     END { if (n < 1) { print "no count"; exit 1 } }' <<<"$1"
}

# What a tmux test leaves is gone: the server, its clients' input.
tmux_done() {
	tm kill-server 2>/dev/null
	[ -z "$CLIENT_IN" ] || exec {CLIENT_IN}>&-
	CLIENT_IN=""
}

tmux_needs() {
	local p
	for p in tmux script vim bash; do
		command -v "$p" >/dev/null || { skip "$p is not installed"; return 77; }
	done
	[ -n "$PYTHON" ] || { skip "no python3 the test user can run"; return 77; }
}

# A tmux server with four windows: a counter printing to its pane, vim
# with text not saved, a python REPL holding a variable, a shell running
# cat in the foreground; a client attached.
# Frozen (the client is told and detached, the server is gone), thawed:
# the server listens on its socket again, each pane's scrollback is as it
# was, the counter goes on from where it was, vim has its text and :wq
# writes it, the REPL prints its variable, a shell's foreground job takes
# ^Z, fg and ^C, each pane has its /dev/pts/N; a new client sees every
# window.
tmux_server() {
	tmux_needs || return
	local run=$TDIR/run server before_count out id n
	mkdir_user "$run" "$TDIR/state"
	tm new-session -d -s t -x 80 -y 24 -n count -c "$run" \
		'i=0; while :; do echo "count $i"; i=$((i+1)); sleep 0.2; done' ||
		{ fail "tmux did not start"; return; }
	tm new-window -t t: -n vim -c "$run" "vim -u NONE -N -n notes.txt"
	tm new-window -t t: -n py -c "$run" "$PYTHON -q"
	# (a shell with job control whose foreground job, cat, reads the pane)
	tm new-window -t t: -n sh -c "$run" "PS1='sh> ' bash --norc --noprofile"
	pane_has t:vim '~' && pane_has t:py '>>>' && pane_has t:sh 'sh>' ||
		{ fail "the programs did not start"; return; }
	tm send-keys -t t:sh 'cat' Enter
	for ((n = 0; n < 100; n++)); do
		[ "$(tm display-message -p -t t:sh '#{pane_current_command}')" = cat ] && break
		sleep 0.05
	done
	tm send-keys -t t:sh 'before' Enter
	pane_lines t:sh '^before$' 2 || return
	tm send-keys -t t:vim i 'unsaved text, line 1' Enter 'and line 2' Escape
	tm send-keys -t t:py 'x = 6 * 7' Enter
	pane_has t:vim 'and line 2' && pane_has t:py '>>> x = 6 * 7' && pane_has t:count 'count 3' ||
		{ fail "the panes did not take their input"; return; }
	# (vim is out of insert mode once it gave up waiting for more after Escape)
	for ((n = 0; n < 100; n++)); do
		tm capture-pane -p -t t:vim | grep -q -- '-- INSERT --' || break
		sleep 0.05
	done
	tmux_client "$TDIR/client1.log" || return
	server=$(tm display-message -p '#{pid}')
	tm list-panes -a -F '#{window_name} #{pane_tty}' >"$TDIR/ttys.before"
	history t:vim >"$TDIR/vim.before"
	history t:py >"$TDIR/py.before"
	before_count=$(history t:count)

	st_expect 0 '^frozen [0-9]+: tmux server on .*4 windows' "the server was not frozen" \
		freeze --tmux -S "$TDIR/tmux.sock" || return
	id=$(sed -n 's/^frozen \([0-9]*\):.*/\1/p' "$TDIR/st.out")
	wait_gone "$server" 5 || { fail "the server still runs after the freeze"; return; }
	wait_gone "$CLIENT_PID" 5 || { fail "the client was not detached"; return; }
	grep -q 'being frozen to disk' "$TDIR/client1.log" ||
		{ diag_file "client" "$TDIR/client1.log" 3; fail "the client was not told"; return; }
	tm list-sessions >/dev/null 2>&1 && { fail "a tmux server still answers"; return; }
	sleep 1

	st_expect 0 "listens on $TDIR/tmux.sock again" "the server was not thawed, or not said where" \
		thaw "$id" || return
	tm list-windows -t t -F '#{window_index}:#{window_name}' >"$TDIR/windows" ||
		{ fail "the thawed server does not answer"; return; }
	[ "$(tr '\n' ' ' <"$TDIR/windows")" = "0:count 1:vim 2:py 3:sh " ] ||
		{ diag "windows: $(cat "$TDIR/windows")"; fail "the windows are not as they were"; return; }
	history t:vim >"$TDIR/vim.after"
	history t:py >"$TDIR/py.after"
	same_file "$TDIR/vim.before" "$TDIR/vim.after" "vim's pane" &&
		same_file "$TDIR/py.before" "$TDIR/py.after" "the REPL's pane" ||
		{ fail "a pane's screen or scrollback changed"; return; }
	n=$(grep -c '^count' <<<"$before_count")
	pane_has t:count "count $((n + 3))" || { fail "the counter does not go on"; return; }
	out=$(history t:count)
	[ "${out:0:${#before_count}}" = "$before_count" ] ||
		{ diag "the counter's pane no longer starts as it was"; fail "the counter's scrollback changed"; return; }
	counts_in_order "$out" >"$TDIR/counts" ||
		{ diag "$(cat "$TDIR/counts")"; fail "the counter did not go on from where it was"; return; }

	# each pane on the /dev/pts/N it had, which its programs see; job
	# control in the shell: its foreground job (cat) takes ^Z, fg, ^C
	tm list-panes -a -F '#{window_name} #{pane_tty}' >"$TDIR/ttys.after"
	same_file "$TDIR/ttys.before" "$TDIR/ttys.after" "the panes' terminals" ||
		{ fail "a pane has another terminal"; return; }
	tm send-keys -t t:sh 'after' Enter
	pane_lines t:sh '^after$' 2 || { fail "cat does not read its terminal"; return; }
	tm send-keys -t t:sh C-z
	pane_has t:sh 'Stopped' && cat_state T || { fail "^Z does not stop the shell's foreground job"; return; }
	tm send-keys -t t:sh 'fg' Enter
	cat_state S || { fail "fg does not bring cat back"; return; }
	tm send-keys -t t:sh 'again' Enter
	pane_lines t:sh '^again$' 2 || { fail "cat, back in the foreground, does not read"; return; }
	tm send-keys -t t:sh C-c
	cat_state "" || { fail "^C did not end cat"; return; }
	pane_has t:sh '^C' || return
	tm send-keys -t t:sh 'echo "rc=$? tty=$(tty)"' Enter
	pane_has t:sh "rc=130 tty=$(sed -n 's/^sh //p' "$TDIR/ttys.after")" ||
		{ fail "cat did not end by ^C, or the shell's terminal is not its pane's"; return; }

	# a new window gets a pty of its own (a new number in the thaw's devpts)
	tm new-window -d -t t: -n new 'echo "new on $(tty)"; exec sleep 300'
	pane_has t:new 'new on /dev/pts/' || { fail "a new window has no terminal"; return; }

	# a new client sees the windows and the current one
	tmux_client "$TDIR/client2.log" || return
	tm select-window -t t:py
	tm send-keys -t t:py "print('x is', x)" Enter
	pane_has t:py 'x is 42' || { fail "the REPL lost its variable"; return; }
	sleep 0.3
	tm detach-client -s t
	wait_gone "$CLIENT_PID" 5 || { fail "the second client did not detach"; return; }
	grep -aq '0:count' "$TDIR/client2.log" && grep -aq 'x is 42' "$TDIR/client2.log" ||
		{ fail "the attached client did not show the windows"; return; }
	tm send-keys -t t:vim ':wq' Enter
	for ((n = 0; n < 100; n++)); do
		[ -s "$run/notes.txt" ] && break
		sleep 0.05
	done
	printf 'unsaved text, line 1\nand line 2\n' >"$TDIR/notes.want"
	same_file "$TDIR/notes.want" "$run/notes.txt" "the file vim wrote" ||
		{ fail "vim did not write its text"; return; }
	st_store_clean "" "the thawed job's images are left"
}
t_tmux_server() {
	tmux_server
	local r=$?
	tmux_done
	return $r
}
run_test "tmux: a server with a counter, vim and a REPL to disk and back" t_tmux_server

# Run from a pane of the server itself (a key binding would run it there
# too): the client detaches and freezes the server from its terminal.
tmux_inside() {
	tmux_needs || return
	local run=$TDIR/run server id
	mkdir_user "$run" "$TDIR/state"
	tm new-session -d -s t -x 100 -y 24 -c "$run" || { fail "tmux did not start"; return; }
	tmux_client "$TDIR/client.log" || return
	server=$(tm display-message -p '#{pid}')
	pane_has t '$' || return
	tm send-keys -t t "XDG_STATE_HOME=$TDIR/state $JF freeze --tmux --name inside" Enter
	wait_gone "$server" 10 || { diag_file "client" "$TDIR/client.log" 5; fail "the server was not frozen"; return; }
	wait_gone "$CLIENT_PID" 10 || { fail "the client did not end"; return; }
	grep -aq 'frozen [0-9]*: tmux server on' "$TDIR/client.log" ||
		{ diag_file "client" "$TDIR/client.log" 5; fail "the client did not freeze the server"; return; }
	st "$TDIR/thaw.out" "$TDIR/thaw.err" thaw inside
	[ "$ST" = 0 ] || { diag_file "thaw stderr" "$TDIR/thaw.err"; fail "the thaw exited $ST"; return; }
	tm send-keys -t t 'echo back $((6 * 7))' Enter
	pane_has t 'back 42' || fail "the pane's shell does not go on"
}
t_tmux_inside() {
	tmux_inside
	local r=$?
	tmux_done
	return $r
}
run_test "tmux: frozen from one of its own panes" t_tmux_inside

# The desktop service (t-dbus.sh's private bus): Freeze with the option
# tmux-socket freezes the server, List says it is one, Thaw brings it back.
tmux_dbus() {
	local id
	tmux_needs || return
	mkdir_user "$TDIR/run"
	tm new-session -d -s t -c "$TDIR/run" 'echo pane up; exec sleep 300' || { fail "tmux did not start"; return; }
	pane_has t 'pane up' || return
	call Freeze 0 "{'tmux-socket': <'$TDIR/tmux.sock'>}" || { fail "Freeze of the tmux server failed"; return; }
	id=$(reply_string)
	tm list-sessions >/dev/null 2>&1 && { fail "the server still runs after Freeze"; return; }
	call List || return
	grep -q "'id': <'$id'>.*'kind': <'tmux'>, 'socket': <'$TDIR/tmux.sock'>" "$TDIR/call.out" ||
		{ diag "List: $(cat "$TDIR/call.out")"; fail "List does not say job $id is a tmux server"; return; }
	call Thaw "$id" "{}" || { fail "Thaw of the tmux server failed"; return; }
	wait_in "$TDIR/monitor.out" "JobThawed \('$id',\)" 10 || return
	pane_has t 'pane up' || fail "the thawed server does not show its pane"
}
t_tmux_dbus() {
	monitor_start || return
	tmux_dbus
	local r=$?
	tmux_done
	return $r
}
run_test "tmux: Freeze, List and Thaw over D-Bus" dbus_test t_tmux_dbus

# GNU screen does not fit (README.md): freezing its server is refused,
# saying why, and it goes on.
tmux_screen() {
	local server
	command -v screen >/dev/null || { skip "screen is not installed"; return; }
	mkdir_user "$TDIR/run" "$TDIR/screens"
	chmod 700 "$TDIR/screens"
	(cd "$TDIR" && as_user env SCREENDIR="$TDIR/screens" TERM=xterm screen -dmS s sleep 300) ||
		{ fail "screen did not start"; return; }
	for ((server = 0; server < 50; server++)); do
		[ -n "$(ls "$TDIR/screens")" ] && break
		sleep 0.1
	done
	server=$(ls "$TDIR/screens" | sed -n 's/^\([0-9]*\)\.s$/\1/p')
	[ -n "$server" ] || { fail "no screen server"; return; }
	bg_add "$server"
	# (its socket comes before its window's pty, which makes it a server)
	local i
	for ((i = 0; i < 50; i++)); do
		ls -l "/proc/$server/fd" 2>/dev/null | grep -q ptmx && break
		sleep 0.1
	done
	st_expect 1 "process $server is a GNU screen server" "freezing a screen server not refused" \
		freeze "$server" || return
	running "$server" || alive "$server" || fail "the screen server does not go on"
	kill "$server"
	# (it takes its window down first: not a leftover meanwhile)
	wait_gone "$server" 10 || fail "the screen server did not end on SIGTERM"
}
run_test "tmux: a GNU screen server is refused, saying why" tmux_screen

# The shell integration passes --tmux and -S on: `jobfreeze --tmux -S PATH`
tmux_shell() {
	tmux_needs || return
	mkdir_user "$TDIR/run" "$TDIR/state"
	tm new-session -d -s t -c "$TDIR/run" 'echo pane up; exec sleep 300' || { fail "tmux did not start"; return; }
	pane_has t 'pane up' || return
	(cd "$TDIR/run" && as_user env "XDG_STATE_HOME=$TDIR/state" bash -c \
		'eval "$("$1" init bash --no-key)"; jobfreeze --tmux -S "$2" --name shelled' \
		sh "$JF" "$TDIR/tmux.sock") >"$TDIR/out.txt" 2>&1 ||
		{ diag_file "output" "$TDIR/out.txt"; fail "jobfreeze --tmux -S in bash failed"; return; }
	tm list-sessions >/dev/null 2>&1 && { fail "the server still runs"; return; }
	st_expect 0 "listens on .* again" "the server was not thawed" thaw shelled || return
	pane_has t 'pane up' || fail "the thawed server does not show its pane"
}
t_tmux_shell() {
	tmux_shell
	local r=$?
	tmux_done
	return $r
}
run_test "tmux: jobfreeze --tmux -S through the shell integration" t_tmux_shell

# A thawed server (which tells its pid in its own namespace) frozen and
# thawed again: its shell's foreground job still takes ^Z
tmux_twice() {
	local k
	tmux_needs || return
	mkdir_user "$TDIR/run" "$TDIR/state"
	tm new-session -d -s t -c "$TDIR/run" "PS1='sh> ' bash --norc --noprofile" ||
		{ fail "tmux did not start"; return; }
	pane_has t 'sh>' || return
	tm send-keys -t t 'cat' Enter
	cat_state S || return
	for k in 1 2; do
		st_expect 0 "^frozen $k: tmux server" "freeze $k of the server failed" \
			freeze --tmux -S "$TDIR/tmux.sock" || return
		st_expect 0 "listens on .* again" "thaw $k of the server failed" thaw "$k" || return
	done
	tm send-keys -t t C-z
	pane_has t 'Stopped' || fail "^Z does not stop the foreground job of a server thawed twice"
}
t_tmux_twice() {
	tmux_twice
	local r=$?
	tmux_done
	return $r
}
run_test "tmux: a thawed server frozen and thawed again" t_tmux_twice
