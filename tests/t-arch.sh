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
