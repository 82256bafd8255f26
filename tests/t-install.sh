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

# help_opts: the options a --help text (stdin) names, one a line: those of
# its usage lines and the first column of its option lines
help_opts() {
	local line
	while IFS= read -r line; do
		case $line in
		usage:*|"       jobfreeze "*) printf '%s\n' "$line" ;;
		" "*-*)
			line=${line#"${line%%[! ]*}"}
			[ "${line:0:1}" = - ] && printf '%s\n' "${line%%  *}" ;;
		esac
	done | grep -oE '(^|[] [(|,])--?[A-Za-z][A-Za-z0-9-]*' | sed 's/^[] [(|,]//' | sort -u
}

# man_opts FILE SECTION: the options a man page source defines (its lines
# starting "*-x*") in the section of command SECTION ("## jobfreeze
# SECTION ...") or in "# OPTIONS" for SECTION=OPTIONS
man_opts() {
	awk -v want="$2" '
		/^# /  { cur = ($0 == "# OPTIONS") ? "OPTIONS" : ""; next }
		/^## / { cur = ($2 == "jobfreeze") ? $3 : ""; next }
		cur == want && /^\*-/ { print }' "$1" |
		grep -oE '\*--?[A-Za-z][A-Za-z0-9-]*' | tr -d '*' | sort -u
}

# same_opts WHAT HELPFILE MANFILE SECTION: the two name the same options
same_opts() {
	local d
	d=$(comm -3 <(help_opts <"$2") <(man_opts "$3" "$4"))
	[ -z "$d" ] && return 0
	diag "$1: options only in --help (left) or only in ${3##*/} (right):"
	diag "$d"
	return 1
}

# Every option each --help lists is in the man page, in the section of
# its command, and the reverse; every command has its section.
t_install_man_opts() {
	local man=$HERE/../man rc=0 c cmds
	cmds=$(jf_commands)
	[ -n "$cmds" ] || { fail "no commands in jobfreeze --help"; return; }
	"$JF" --help >"$TDIR/help" 2>&1
	same_opts "jobfreeze --help" "$TDIR/help" "$man/jobfreeze.1.scd" OPTIONS || rc=1
	for c in $cmds; do
		grep -q "^## jobfreeze $c\\b" "$man/jobfreeze.1.scd" || { diag "no section for $c"; rc=1; }
		"$JF" "$c" --help >"$TDIR/help" 2>&1
		same_opts "jobfreeze $c --help" "$TDIR/help" "$man/jobfreeze.1.scd" "$c" || rc=1
	done
	for c in $(sed -n 's/^## jobfreeze \([a-z]*\).*/\1/p' "$man/jobfreeze.1.scd" | sort -u); do
		grep -qx "$c" <<<"$cmds" || { diag "the man page has a section for '$c', --help no command"; rc=1; }
	done
	ln -s "$JF" "$TDIR/jobthaw"
	"$TDIR/jobthaw" --help >"$TDIR/help" 2>&1
	same_opts "jobthaw --help" "$TDIR/help" "$man/jobfreeze.1.scd" thaw || rc=1
	if [ -x "$BUILD/jobfreeze-daemon" ]; then
		"$BUILD/jobfreeze-daemon" --help >"$TDIR/help" 2>&1
		same_opts "jobfreeze-daemon --help" "$TDIR/help" "$man/jobfreeze-daemon.1.scd" OPTIONS || rc=1
	fi
	[ $rc = 0 ] || fail "the man pages and --help disagree"
}

# The built pages render without a warning from man/groff (as lintian
# checks them).
t_install_man_render() {
	local f n=0
	command -v man >/dev/null || { skip "man is not installed"; return; }
	for f in "$BUILD"/man/*.[0-9]; do
		[ -e "$f" ] || continue
		n=$((n + 1))
		LC_ALL=C.UTF-8 MANWIDTH=80 man --warnings -E UTF-8 -l -Tutf8 -Z "$f" 2>"$TDIR/warn" >/dev/null
		[ -s "$TDIR/warn" ] && { diag_file "${f##*/}" "$TDIR/warn"; fail "man warns about ${f##*/}"; return; }
	done
	if [ $n -lt 2 ]; then
		command -v scdoc >/dev/null || { skip "scdoc is not installed: no man pages were built"; return; }
		fail "no man pages in $BUILD/man: run make"
	fi
}

run_test "install: the man pages name every option of every --help, and only those" t_install_man_opts
run_test "install: the man pages render without warnings" t_install_man_render

# The AppArmor profile: make install names it for its path and makes it
# attach there; apparmor_parser -Q (package apparmor) accepts it. Debian
# 12's parser (3.0) knows no 'userns' rule, which only AppArmor 4 (Ubuntu
# 24.04) restricts: there the rest of the profile is checked, the whole
# must be refused, and apparmor/setup.sh must disable it rather than let
# the boot-time load of the profiles fail on it. JF_APPARMOR_PARSER and
# JF_APPARMOR_BASE (its --base: abi/ and tunables/) name another parser,
# e.g. one of AppArmor 4 built from its source.
t_install_apparmor() {
	local parser=${JF_APPARMOR_PARSER:-$(command -v apparmor_parser || echo /sbin/apparmor_parser)}
	local base=${JF_APPARMOR_BASE:-/etc/apparmor.d} inst=$TDIR/inst p f ver prefix name exe
	for p in /usr:jobfreeze:/usr/bin/jobfreeze /opt/jf:opt.jf.bin.jobfreeze:/opt/jf/bin/jobfreeze; do
		IFS=: read -r prefix name exe <<<"$p"
		make -s -C "$HERE/.." O="$BUILD" DESTDIR="$inst" PREFIX="$prefix" AA_INSTALL=yes \
			install-apparmor >"$TDIR/make.out" 2>&1 ||
			{ diag_file make "$TDIR/make.out"; fail "make install-apparmor PREFIX=$prefix failed"; return; }
		f=$inst/etc/apparmor.d/$name
		[ -f "$f" ] || { fail "PREFIX=$prefix: no profile $f"; return; }
		grep -Eq "^profile $name $exe flags=\(unconfined\) \{$" "$f" && grep -q '^  userns,$' "$f" ||
			{ diag_file profile "$f" 30; fail "the profile of PREFIX=$prefix is not for $exe"; return; }
	done
	[ -x "$parser" ] || { skip "apparmor_parser is not installed (package apparmor)"; return; }
	f=$inst/etc/apparmor.d/jobfreeze
	ver=$("$parser" --version | sed -n '1s/.*version \([0-9]*\).*/\1/p')
	if [ "${ver:-0}" -ge 4 ]; then
		"$parser" -Q -K --base "$base" "$f" >"$TDIR/aa.out" 2>&1 ||
			{ diag_file apparmor_parser "$TDIR/aa.out"; fail "apparmor_parser $ver refuses the profile"; return; }
		return 0
	fi
	sed -e 's|^abi <abi/4.0>,|abi <abi/3.0>,|' -e '/^  userns,$/d' "$f" >"$TDIR/aa3"
	"$parser" -Q -K --base "$base" "$TDIR/aa3" >"$TDIR/aa.out" 2>&1 ||
		{ diag_file apparmor_parser "$TDIR/aa.out"; fail "apparmor_parser $ver refuses the profile without its userns rule"; return; }
	# what the package and make install do with it here: disable it
	mkdir -p "$TDIR/etc"
	cp "$f" "$TDIR/etc/jobfreeze"
	"$HERE/../apparmor/setup.sh" "$TDIR/etc/jobfreeze" >"$TDIR/setup.out" 2>&1
	[ "$(readlink "$TDIR/etc/disable/jobfreeze")" = ../jobfreeze ] ||
		{ diag_file setup.sh "$TDIR/setup.out"; fail "setup.sh did not disable a profile this AppArmor $ver cannot read"; }
}

# Under kernel.yama.ptrace_scope=1 (Ubuntu's and Arch's default): a job
# the user's shell started cannot be frozen, and the error and `check`
# give the user their options; a job jobfreeze thawed can be frozen again
# (its user namespace is the user's, in which they have CAP_SYS_PTRACE).
# As root, with Yama in the kernel, the scope is set to 1 for the test
# and put back as it was.
YAMA=/proc/sys/kernel/yama/ptrace_scope
t_install_yama() {
	[ -e "$YAMA" ] || { skip "this kernel has no Yama ($YAMA)"; return; }
	[ -n "$TEST_USER" ] || { skip "needs root, to set kernel.yama.ptrace_scope"; return; }
	local old rc
	old=$(cat "$YAMA")
	[ "$old" != 3 ] || { skip "kernel.yama.ptrace_scope is 3, which cannot be lowered"; return; }
	start_again counter25 300 800 "$WL/counter" 25 || return 1
	dump_job "$JOB_PID" "$TDIR/img1" || return 1
	wait_gone "$JOB_PID" 5 || { fail "job still there after the dump"; return; }
	echo 1 >"$YAMA" || { fail "cannot set kernel.yama.ptrace_scope to 1"; return; }
	yama_scope_1
	rc=$?
	echo "$old" >"$YAMA" || { fail "cannot put kernel.yama.ptrace_scope back to $old"; return; }
	return $rc
}

yama_scope_1() {
	local thawed other
	# a job thawed by jobfreeze is frozen again by a jobfreeze that is not
	# its ancestor
	jf "$TDIR" "$TDIR/r1.out" "$TDIR/r1.err" 30 restore -d --pidfile "$TDIR/pid" -D "$TDIR/img1"
	[ "$JF_STATUS" = 0 ] || { diag_file "restore stderr" "$TDIR/r1.err"; fail "restore under scope 1 exited $JF_STATUS"; return; }
	thawed=$(cat "$TDIR/pid")
	bg_add "$thawed"
	dump_job "$thawed" "$TDIR/img2" || { fail "a thawed job could not be frozen again under scope 1"; return; }
	wait_gone "$thawed" 5 || { fail "thawed job still there after the second dump"; return; }
	# a job of the shell cannot, and the error says what to do
	mkdir_user "$TDIR/other"
	start_job "$TDIR/other" "$TDIR/other/out.txt" "$TDIR/other/err.txt" "$WL/counter" 0 ||
		{ fail "the second job did not start"; return; }
	other=$JOB_PID
	jf "$TDIR" "$TDIR/d.out" "$TDIR/d.err" 30 dump -t "$other" -D "$TDIR/img3"
	if [ "$JF_STATUS" = 0 ] || ! grep -q 'sudo sysctl kernel.yama.ptrace_scope=0' "$TDIR/d.err" ||
	   ! grep -q '/etc/sysctl.d/' "$TDIR/d.err"; then
		diag_file "dump stderr" "$TDIR/d.err"
		fail "dump of a job not ours to trace exited $JF_STATUS without the options"
		return
	fi
	running "$other" || { fail "the refused job is not running any more"; return; }
	jf "$TDIR" "$TDIR/c.out" "$TDIR/c.err" 30 check
	grep -q 'kernel.yama.ptrace_scope is 1' "$TDIR/c.out" ||
		{ diag_file "check" "$TDIR/c.out"; fail "check does not explain scope 1"; return; }
	REFST=$(cat "$REF.status") thaw_compare "$TDIR/img2" ||
		fail "the job frozen twice differs from the uninterrupted run"
}

run_test "install: the AppArmor profile" t_install_apparmor
run_test "install: ptrace_scope 1: thawed jobs freeze again, the others say what to do" t_install_yama
