#!/usr/bin/env bash
# tests/deb-check.sh (make deb-check): the Debian package, end to end, as
# root on Debian 12: builds it with dpkg-buildpackage from a copy of this
# tree, checks it with lintian (no errors), installs it with apt-get, runs
# the demo with the installed /usr/bin/jobfreeze as an ordinary user,
# checks the installed man pages, completions and AppArmor profile, and
# purges it, checking that nothing of it is left. The machine is left as
# it was, even on failure.
set -u
cd "$(dirname "$0")/.."
SRC=$(pwd)

say() { printf '== %s\n' "$*"; }
die() { printf 'deb-check: FAILED: %s\n' "$*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (it installs and purges the package): sudo make deb-check"
for t in dpkg-buildpackage lintian apt-get setpriv; do
	command -v "$t" >/dev/null || die "$t is missing (sudo apt-get install -y \$(cat .ci/packages))"
done
# Never remove a jobfreeze the machine had before.
for p in jobfreeze jobfreeze-daemon; do
	if dpkg-query -W -f '${Status}' "$p" 2>/dev/null | grep -q 'ok installed'; then
		die "$p is installed already: this check would remove it (apt-get purge $p first)"
	fi
done

WORK=$(mktemp -d /tmp/jobfreeze-deb.XXXXXX) || exit 1
installed=""
cleanup() {
	if [ -n "$installed" ]; then
		DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq jobfreeze-daemon jobfreeze >/dev/null 2>&1
	fi
	rm -rf "$WORK"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# the demo runs as nobody, who must reach the counter workload in here
chmod 0755 "$WORK"

say "building the packages (dpkg-buildpackage -us -uc -b) from a copy of $SRC"
mkdir "$WORK/src"
tar -C "$SRC" --exclude-vcs --exclude=./build --exclude='./build-*' \
	--exclude=./debian/.debhelper --exclude=./debian/tmp --exclude=./debian/jobfreeze \
	--exclude=./debian/jobfreeze-daemon --exclude='./debian/*.substvars' \
	--exclude=./debian/files --exclude='./debian/*.log' -cf - . | tar -C "$WORK/src" -xf - ||
	die "cannot copy the tree"
(cd "$WORK/src" && dpkg-buildpackage -us -uc -b) >"$WORK/build.log" 2>&1 ||
	{ tail -n 30 "$WORK/build.log"; die "dpkg-buildpackage failed (log above)"; }
ls "$WORK"/*.deb | sed 's|.*/|  |'
deb=$(ls "$WORK"/jobfreeze_*.deb) && daemon_deb=$(ls "$WORK"/jobfreeze-daemon_*.deb) ||
	die "dpkg-buildpackage made no jobfreeze_*.deb and jobfreeze-daemon_*.deb"

say "lintian (errors fail the check; warnings are shown)"
# (as nobody: lintian warns when it runs as root)
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all env HOME=/tmp \
	lintian --fail-on error --tag-display-limit 0 "$WORK"/*.changes >"$WORK/lintian.log" 2>&1
rc=$?
sed 's/^/  /' "$WORK/lintian.log"
[ $rc = 0 ] || die "lintian found errors"

say "apt-get install ./jobfreeze_*.deb, then ./jobfreeze-daemon_*.deb"
installed=1
(cd "$WORK" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./${deb##*/}") >"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get install of ${deb##*/} failed"; }
(cd "$WORK" && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "./${daemon_deb##*/}") >>"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get install of ${daemon_deb##*/} failed"; }
files=$(dpkg -L jobfreeze jobfreeze-daemon | sort -u)

say "the installed files"
[ "$(command -v jobfreeze)" = /usr/bin/jobfreeze ] || die "jobfreeze is not /usr/bin/jobfreeze"
# (minimal images may tell dpkg not to install man pages)
mans=(/usr/share/man/man1/jobfreeze.1.gz /usr/share/man/man1/jobthaw.1.gz /usr/share/man/man1/jobfreeze-daemon.1.gz)
if grep -rqs '^path-exclude=*/usr/share/man' /etc/dpkg/dpkg.cfg /etc/dpkg/dpkg.cfg.d/; then
	echo "  (dpkg is told not to install man pages here: they are not checked)"
	mans=()
fi
for f in /usr/bin/jobthaw /usr/libexec/jobfreeze-daemon "${mans[@]}" \
	 /usr/share/bash-completion/completions/jobfreeze /usr/share/zsh/vendor-completions/_jobfreeze \
	 /usr/share/dbus-1/services/org.jobfreeze.JobFreeze1.service /usr/lib/systemd/user/jobfreeze.service \
	 /etc/apparmor.d/jobfreeze; do
	[ -e "$f" ] || die "the packages did not install $f"
done
grep -q '^Exec=/usr/libexec/jobfreeze-daemon$' /usr/share/dbus-1/services/org.jobfreeze.JobFreeze1.service ||
	die "the D-Bus activation file does not name /usr/libexec/jobfreeze-daemon"
grep -q '^profile jobfreeze /usr/bin/jobfreeze ' /etc/apparmor.d/jobfreeze ||
	die "/etc/apparmor.d/jobfreeze is not the profile of /usr/bin/jobfreeze"
if [ ${#mans[@]} -gt 0 ] && command -v man >/dev/null; then
	man -w jobfreeze >/dev/null 2>&1 && man -w jobthaw >/dev/null 2>&1 && man -w jobfreeze-daemon >/dev/null 2>&1 ||
		die "man does not find jobfreeze(1), jobthaw(1) or jobfreeze-daemon(1)"
fi
jobfreeze --help | grep -q '^Commands:' || die "jobfreeze --help does not print the overview"
jobfreeze daemon --help >/dev/null || die "jobfreeze daemon --help failed: the daemon is not found"
if [ -e /etc/apparmor.d/disable/jobfreeze ]; then
	echo "  AppArmor profile installed, disabled: $(apparmor_parser --version 2>/dev/null | head -n 1) cannot read userns"
else
	echo "  AppArmor profile installed and enabled"
fi

say "the demo, with /usr/bin/jobfreeze, as the user nobody"
setpriv --reuid=nobody --regid=nogroup --clear-groups --inh-caps=-all \
	env -i PATH=/usr/bin:/bin HOME=/nonexistent TMPDIR=/tmp JOBFREEZE=/usr/bin/jobfreeze \
	bash "$WORK/src/tests/demo.sh" "$WORK/src/build" >"$WORK/demo.log" 2>&1 </dev/null
sed 's/^/  /' "$WORK/demo.log" | tail -n 8
grep -q '^== the thawed job exited with status 0' "$WORK/demo.log" &&
	[ "$(tail -n 1 "$WORK/demo.log")" = "$(for i in $(seq 25); do printf 'counter: %s ' "$i"; done)" ] ||
	die "the demo's thawed job did not count on to 25 and exit 0"
grep -q "freezing process .* jobfreeze" "$WORK/demo.log" || die "the demo did not freeze"

say "apt-get purge jobfreeze-daemon jobfreeze"
DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq jobfreeze-daemon jobfreeze >>"$WORK/apt.log" 2>&1 ||
	{ cat "$WORK/apt.log"; die "apt-get purge failed"; }
installed=""
left=""
for f in $files; do
	[ -e "$f" ] || [ -L "$f" ] || continue
	if [ -d "$f" ] && [ ! -L "$f" ]; then
		# directories other packages have (/usr/bin...) stay, of course
		[ -z "$(ls -A "$f")" ] && ! dpkg-query -S "$f" >/dev/null 2>&1 && left+=" $f/"
		continue
	fi
	left+=" $f"
done
[ ! -e /etc/apparmor.d/disable/jobfreeze ] || left+=" /etc/apparmor.d/disable/jobfreeze"
[ -z "$left" ] || die "left after the purge:$left"
say "deb-check passed"
