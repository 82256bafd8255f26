# tests/t-fuzz.sh: hostile input. Every committed input of the libFuzzer
# targets of tests/fuzz/ (their corpus and the regressions) is replayed,
# and crafted images whose every header and checksum is right but whose
# contents are out of bounds must be refused by the restore before it maps
# anything, naming the file. The fuzzing itself is `make fuzz`.
# shellcheck shell=bash

# the fuzz targets, built here when clang is there, replay every committed
# input (tests/fuzz/run.sh with 0 s of fuzzing)
t_fuzz_replay() {
	command -v "${FUZZ_CC:-clang}" >/dev/null 2>&1 || { skip "clang is missing: no libFuzzer"; return; }
	if ! make -s -C "$HERE/.." O="$BUILD" fuzz-build >"$TDIR/build.log" 2>&1; then
		diag_file "make fuzz-build" "$TDIR/build.log" 20
		fail "the fuzz targets do not build"
		return
	fi
	if ! TMPDIR=$TDIR "$HERE/fuzz/run.sh" "$BUILD/fuzz" 0 >"$TDIR/fuzz.out" 2>&1; then
		diag_file "tests/fuzz/run.sh" "$TDIR/fuzz.out" 30
		fail "a committed input fails"
		return
	fi
	if ls "$TDIR"/jf-fuzz.* >/dev/null 2>&1; then
		fail "a fuzzer left its directory behind"
		return
	fi
	local n
	n=$(grep -c "no failure" "$TDIR/fuzz.out")
	[ "$n" -ge 8 ] || { diag_file "fuzz" "$TDIR/fuzz.out"; fail "only $n fuzz targets ran"; }
}

# spoil_with HOW DIR: tests/fuzz/spoil.py on DIR's proc-PID.img
spoil_with() {
	local f
	f=$(proc_img "$2") || return 1
	python3 "$HERE/fuzz/spoil.py" "$HERE/../ckpt/images/image.proto" "$f" "$1"
}
spoil_overlap()      { spoil_with overlap "$1"; }
spoil_unaligned()    { spoil_with unaligned "$1"; }
spoil_kernel()       { spoil_with kernel "$1"; }
spoil_page_outside() { spoil_with page_outside "$1"; }
spoil_page_huge()    { spoil_with page_huge "$1"; }
spoil_fd_huge()      { spoil_with fd_huge "$1"; }
# a header announcing 4 GiB - 1 of payload
spoil_length()       { local f; f=$(proc_img "$1") && put_u32 "$f" 16 4294967295; }

hostile() {
	command -v protoc >/dev/null 2>&1 || { skip "protoc is missing (package protobuf-compiler)"; return; }
	bad_restore "$1" "$2" "$3"
}
t_hostile_overlap()   { hostile "overlapping memory areas" 'proc-[0-9]+\.img.*memory layout' spoil_overlap; }
t_hostile_unaligned() { hostile "an unaligned memory area" 'proc-[0-9]+\.img.*memory layout' spoil_unaligned; }
t_hostile_kernel()    { hostile "an area in kernel space" 'proc-[0-9]+\.img.*memory layout' spoil_kernel; }
t_hostile_page_out()  { hostile "pages outside any area" 'proc-[0-9]+\.img.*memory layout' spoil_page_outside; }
t_hostile_page_huge() { hostile "a run of 2^40 pages" 'proc-[0-9]+\.img.*memory layout' spoil_page_huge; }
t_hostile_fd_huge()   { hostile "fd number 2^31-1" 'proc-[0-9]+\.img.*fd number' spoil_fd_huge; }
t_hostile_length()    { bad_restore "a 4 GiB message length" 'proc-[0-9]+\.img.*(truncated|damaged)' spoil_length; }

run_test "fuzz: every committed input replayed"   t_fuzz_replay
run_test "hostile image: overlapping areas"       t_hostile_overlap
run_test "hostile image: unaligned area"          t_hostile_unaligned
run_test "hostile image: area in kernel space"    t_hostile_kernel
run_test "hostile image: pages outside any area"  t_hostile_page_out
run_test "hostile image: 2^40 pages in a run"     t_hostile_page_huge
run_test "hostile image: huge fd number"          t_hostile_fd_huge
run_test "hostile image: 4 GiB message length"    t_hostile_length
