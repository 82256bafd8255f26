#!/bin/sh
# apparmor/setup.sh FILE: after `make install` put the AppArmor profile FILE
# in /etc/apparmor.d, loads it, or, when this system's AppArmor is older
# than 4.0 and cannot read its 'userns' rule (Debian 12), disables it with
# a link in /etc/apparmor.d/disable/ so that loading the profiles at boot
# does not fail on it. Such an AppArmor does not restrict user namespaces
# either, so nothing is lost. (debian/jobfreeze.postinst does the same for
# the package.)
set -u
file=$1
name=${file##*/}
dir=${file%/*}
parser=$(command -v apparmor_parser || echo /sbin/apparmor_parser)

if [ -x "$parser" ] && "$parser" -Q -K "$file" >/dev/null 2>&1; then
	rm -f "$dir/disable/$name"
	if command -v aa-enabled >/dev/null && aa-enabled --quiet 2>/dev/null; then
		"$parser" -r -K "$file" && echo "AppArmor profile $file loaded"
	fi
else
	mkdir -p "$dir/disable" && ln -sf "../$name" "$dir/disable/$name" &&
		echo "AppArmor profile $file disabled ($dir/disable/$name): this AppArmor" \
			"cannot read its 'userns' rule (that needs AppArmor 4), and does not" \
			"restrict user namespaces either"
fi
exit 0
