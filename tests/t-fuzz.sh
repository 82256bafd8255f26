# tests/t-fuzz.sh: hostile input. The libFuzzer targets of tests/fuzz/ run
# briefly (corpus and regressions replayed).
# shellcheck shell=bash

# the fuzzers, about 10 s each (FUZZ_SECONDS), after replaying every
# committed input; built here when clang is there
t_fuzz_short() {
	command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 || { skip "clang is missing: no libFuzzer"; return; }
	if ! make -s -C "$HERE/.." O="$BUILD" fuzz-build >"$TDIR/build.log" 2>&1; then
		diag_file "make fuzz-build" "$TDIR/build.log" 20
		fail "the fuzz targets do not build"
		return
	fi
	if ! TMPDIR=$TDIR "$HERE/fuzz/run.sh" "$BUILD/fuzz" "${FUZZ_SECONDS:-10}" >"$TDIR/fuzz.out" 2>&1; then
		diag_file "tests/fuzz/run.sh" "$TDIR/fuzz.out" 30
		fail "a fuzz target failed"
		return
	fi
	if ls "$TDIR"/jf-fuzz-image.* >/dev/null 2>&1; then
		fail "the image fuzzer left its directory behind"
		return
	fi
	local n
	n=$(grep -c "no failure" "$TDIR/fuzz.out")
	[ "$n" -ge 6 ] || { diag_file "fuzz" "$TDIR/fuzz.out"; fail "only $n fuzz targets ran"; }
}

run_test "fuzz: short run of every target"        t_fuzz_short
