# tests/t-arch.sh: the code stays shaped as ARCHITECTURE.md tells: no circle
# among the engine's files and no layer calling a layer to its right
# (tools/deps.sh, from the object files' symbols). Cheap: no job runs.
# shellcheck shell=bash

t_arch_deps() {
	command -v nm >/dev/null || { skip "nm (binutils) is not installed"; return; }
	if ! "$HERE/../tools/deps.sh" "$BUILD" >"$TDIR/deps.out" 2>&1; then
		diag_file "tools/deps.sh $BUILD" "$TDIR/deps.out" 40
		fail "the engine's files call each other in a circle, or a layer calls one above it"
		return
	fi
}

run_test "arch: no circles in ckpt/, layers call only leftwards" t_arch_deps

# ARCHITECTURE.md names every engine file and every top folder: a new one
# gets its line there
t_arch_doc() {
	local root=$HERE/.. f d missing=""
	[ -f "$root/ARCHITECTURE.md" ] || { fail "ARCHITECTURE.md is missing"; return; }
	for f in "$root"/ckpt/*.c; do
		f=${f##*/}
		grep -Eq "(^|[^a-z0-9_])${f//./\\.}" "$root/ARCHITECTURE.md" || missing+=" ckpt/$f"
	done
	for d in "$root"/*/; do
		d=${d%/}
		d=${d##*/}
		case $d in build*) continue ;; esac
		grep -Fq "\`$d/\`" "$root/ARCHITECTURE.md" || missing+=" $d/"
	done
	[ -z "$missing" ] || fail "ARCHITECTURE.md does not say what these are:$missing"
}

run_test "arch: ARCHITECTURE.md names every engine file and folder" t_arch_doc
