# tests/t-install.sh: jobfreeze as an installed tool: the overview and
# every command's --help, the man pages agreeing with them, the AppArmor
# profile, `check` on hardened systems, `make install` and the Debian
# package. Sourced by tests/run.sh.

# `jobfreeze --help` is the overview (as `git --help`), `jobfreeze
# COMMAND --help` and `jobfreeze help COMMAND` that command's help.
t_install_help() {
	local c
	jf "$TDIR" "$TDIR/h.out" "$TDIR/h.err" 10 --help
	if [ "$JF_STATUS" != 0 ] || ! grep -q '^Commands:' "$TDIR/h.out"; then
		diag_file "jobfreeze --help" "$TDIR/h.out" 5
		fail "jobfreeze --help exited $JF_STATUS without the overview of the commands"
		return
	fi
	for c in $(jf_commands); do
		jf "$TDIR" "$TDIR/c.out" "$TDIR/c.err" 10 "$c" --help
		if [ "$JF_STATUS" != 0 ] || ! grep -Eq "^(usage: | +)jobfreeze $c\\b" "$TDIR/c.out"; then
			diag_file "jobfreeze $c --help" "$TDIR/c.out" 3
			diag_file "stderr" "$TDIR/c.err" 3
			fail "jobfreeze $c --help exited $JF_STATUS without its usage line on stdout"
			return
		fi
		jf "$TDIR" "$TDIR/h.out" "$TDIR/h.err" 10 help "$c"
		cmp -s "$TDIR/c.out" "$TDIR/h.out" ||
			{ fail "jobfreeze help $c differs from jobfreeze $c --help"; return; }
	done
	jf "$TDIR" "$TDIR/h.out" "$TDIR/h.err" 10 help nosuch
	[ "$JF_STATUS" = 2 ] || fail "jobfreeze help nosuch exited $JF_STATUS, not 2"
}

# jf_commands: the commands the overview lists
jf_commands() {
	"$JF" --help | sed -n '/^Commands:/,/^$/s/^  \([a-z]\+\) .*/\1/p'
}

run_test "install: --help is the overview, COMMAND --help the command's" t_install_help
