# tests/t-compress.sh: page data compressed (zstd) or raw, damaged
# compressed data refused, images from before chunks, incremental
# snapshots (ckpt/pagefile.c). Sourced by tests/run.sh.
# shellcheck shell=bash

# zc_bytes FILE: the "bytes on disk" a dump's --display-stats printed
zc_bytes() {
	sed -n 's/^ *bytes on disk: *\([0-9][0-9]*\).*/\1/p' "$1" | tail -n 1
}

# zc_pages_size IMG: the bytes of IMG's own pages-PID.img files
zc_pages_size() {
	local f t=0
	for f in "$1"/pages-*.img; do
		case ${f##*/} in pages-*-*.img) continue ;; esac
		[ -f "$f" ] && t=$((t + $(stat -c %s "$f")))
	done
	echo "$t"
}

# zc_cycle MIB_TEXT MIB_RANDOM DUMP_ARGS...: zmem frozen at a random moment
# with DUMP_ARGS, thawed, compared with an uninterrupted run; its image in
# $TDIR/img
zc_cycle() {
	local ct=$1 cr=$2
	shift 2
	start_again "zmem-$ct-$cr" 300 1200 "$WL/zmem" "$ct" "$cr" || return 1
	mem_wait_file "$TDIR/run/ready" 60 || { fail "the job never got ready"; return 1; }
	rand_sleep 50 500
	dump_job "$JOB_PID" "$TDIR/img" "$@" || { fail "dump $* failed"; return 1; }
	wait_gone "$JOB_PID" 5 || { fail "job still there after the dump"; return 1; }
	tell_stop
	if ! thaw_compare "$TDIR/img"; then
		diag_file "job stderr" "$TDIR/run/err.txt" 5
		fail "the thawed job differs from the uninterrupted run"
		return 1
	fi
}

# 32 MiB of text and 32 MiB of random bytes, compressed by default: the
# image is smaller than the memory, and the job comes back exact.
t_zc_default() {
	zc_cycle 32 32 || return
	local size mem=$((64 << 20))
	size=$(zc_pages_size "$TDIR/img")
	diag "pages: $size bytes for $mem of memory"
	[ "$size" -lt $((mem * 85 / 100)) ] ||
		fail "the compressed image ($size bytes) is not smaller than the memory ($mem)"
}

# --compress=none: raw chunks, as many bytes as the memory holds
t_zc_none() {
	zc_cycle 32 32 --compress=none || return
	local size mem=$((64 << 20))
	size=$(zc_pages_size "$TDIR/img")
	diag "pages: $size bytes for $mem of memory"
	[ "$size" -ge "$mem" ] || fail "--compress=none stored $size bytes, less than the memory ($mem)"
}

# CRC32C, which every page run of an image carries, computed by folding
# with PCLMULQDQ (ckpt/crc32c.c): the same as a bit at a time, for
# lengths around its block sizes, every alignment, continued over calls.
t_zc_crc32c() {
	local out
	out=$("$BUILD/tests/unit/crc32c" "$RANDOM" 2>&1) || { diag "$out"; fail "crc32c differs from the reference"; return; }
	diag "$out"
	case $out in ok\ [1-9]*) ;; *) fail "the crc32c check said nothing it checked: $out" ;; esac
}

# A byte of a compressed chunk flipped: the thaw refuses the image, naming
# the file, and leaves it as it was.
t_zc_damaged() {
	have_imgedit || return
	start_again zmem-24-1 300 1200 "$WL/zmem" 24 1 || return 1
	mem_wait_file "$TDIR/run/ready" 60 || { fail "the job never got ready"; return; }
	dump_job "$JOB_PID" "$TDIR/img" || { fail "dump failed"; return; }
	wait_gone "$JOB_PID" 5
	local proc pages at before after
	proc=$(proc_img "$TDIR/img") && pages=$(pages_img "$TDIR/img") || { fail "no image files"; return; }
	read -r at len < <(imgedit_out "$proc" zstd-chunk) || { fail "no compressed chunk in the image"; return; }
	flip_byte "$pages" $((at + len / 2)) || { fail "cannot spoil $pages"; return; }
	before=$(img_digest "$TDIR/img")
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" 30 restore -D "$TDIR/img"
	after=$(img_digest "$TDIR/img")
	[ "$JF_STATUS" != 0 ] && [ "$JF_STATUS" -lt 124 ] ||
		{ diag_file "restore stderr" "$TDIR/restore.err"; fail "restore of a damaged chunk exited $JF_STATUS"; return; }
	grep -Eq 'pages-[0-9]+\.img is damaged.* offset [0-9]+' "$TDIR/restore.err" ||
		{ diag_file "restore stderr" "$TDIR/restore.err"; fail "the refusal does not name the damaged file and offset"; return; }
	[ "$before" = "$after" ] || fail "the refused restore changed the image"
}

# An image as jobfreeze wrote them before chunks (raw pages back to back,
# no chunk list) still thaws.
t_zc_old_format() {
	have_imgedit || return
	start_again zmem-24-1 300 1200 "$WL/zmem" 24 1 || return 1
	mem_wait_file "$TDIR/run/ready" 60 || { fail "the job never got ready"; return; }
	rand_sleep 50 400
	dump_job "$JOB_PID" "$TDIR/img" --compress=none || { fail "dump failed"; return; }
	wait_gone "$JOB_PID" 5
	imgedit "$(proc_img "$TDIR/img")" unchunk || { fail "cannot rewrite the image as before chunks"; return; }
	local f
	for f in "$TDIR/img"/inventory.img "$TDIR/img"/proc-*.img; do
		imgedit "$f" format-version 1 || { fail "cannot give $f format version 1"; return; }
	done
	tell_stop
	thaw_compare "$TDIR/img" || fail "an image from before chunks thawed differently"
}

# An image of a format newer than this jobfreeze reads is refused, the
# file and its version named, the images left as they were; the job then
# thaws from them once they say the version this jobfreeze writes.
t_zc_newer_format() {
	have_imgedit || return
	start_again zmem-24-1 300 1200 "$WL/zmem" 24 1 || return 1
	mem_wait_file "$TDIR/run/ready" 60 || { fail "the job never got ready"; return; }
	rand_sleep 50 400
	dump_job "$JOB_PID" "$TDIR/img" || { fail "dump failed"; return; }
	wait_gone "$JOB_PID" 5
	local proc before ours
	proc=$(proc_img "$TDIR/img")
	ours=$(od -An -tu4 -j8 -N4 "$proc" | tr -d ' ')
	imgedit "$proc" format-version 99 || { fail "cannot change the format version"; return; }
	before=$(img_digest "$TDIR/img")
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" restore -D "$TDIR/img"
	if [ "$JF_STATUS" = 0 ] || ! grep -q "${proc##*/} has format version 99; this jobfreeze reads versions 1 to $ours" "$TDIR/restore.err"; then
		diag_file "restore stderr" "$TDIR/restore.err"
		fail "restore of a newer format exited $JF_STATUS without naming file and version"
		return
	fi
	[ "$before" = "$(img_digest "$TDIR/img")" ] || { fail "the refused restore changed the images"; return; }
	imgedit "$proc" format-version "$ours" || { fail "cannot put the format version back"; return; }
	tell_stop
	thaw_compare "$TDIR/img" || fail "the image put back thawed differently"
}

# Incremental snapshots: a snapshot, the job changes a little, a freeze
# with --prev: it writes far fewer bytes; the first snapshot is deleted
# and the second thaws to exactly the job's state.
t_zc_incremental() {
	start_again zmem-inc 300 1200 "$WL/zmem" 24 24 64 || return 1
	mem_wait_file "$TDIR/run/ready" 60 || { fail "the job never got ready"; return; }
	rand_sleep 50 300
	dump_job "$JOB_PID" "$TDIR/img1" -R --display-stats || { fail "the snapshot failed"; return; }
	local b1 b2
	b1=$(zc_bytes "$TDIR/dump.err")
	rand_sleep 100 600
	dump_job "$JOB_PID" "$TDIR/img2" --prev "$TDIR/img1" --display-stats ||
		{ fail "the incremental freeze failed"; return; }
	b2=$(zc_bytes "$TDIR/dump.err")
	wait_gone "$JOB_PID" 5 || { fail "job still there after the freeze"; return; }
	diag "bytes on disk: $b1 for the snapshot, $b2 for the incremental freeze"
	[ -n "$b1" ] && [ -n "$b2" ] || { fail "no byte counts in the stats"; return; }
	[ $((b2 * 5)) -lt "$b1" ] || { fail "the incremental freeze wrote $b2 bytes, the full one $b1"; return; }
	ls "$TDIR/img2"/pages-*-*.img >/dev/null 2>&1 || { fail "no page file linked from the snapshot"; return; }
	rm -rf "$TDIR/img1"
	tell_stop
	thaw_compare "$TDIR/img2" ||
		fail "the incremental image, its parent deleted, thawed differently"
}

# The same with a parent and children that share memory copy-on-write
# and each made it their own another way (cowedge.c): pages left to the
# parent and the parent's base (ckpt/cow.c) survive an incremental freeze.
t_zc_incremental_cow() {
	local run=$TDIR/run pid
	cowedge_start "$run" || { fail "the job did not start"; return; }
	pid=$JOB_PID
	dump_job "$pid" "$TDIR/img1" -R || { fail "the snapshot failed"; return; }
	rand_sleep 100 300
	dump_job "$pid" "$TDIR/img2" --prev "$TDIR/img1" || { fail "the incremental freeze failed"; return; }
	wait_gone "$pid" 10 || { fail "job still there after the freeze"; return; }
	rm -rf "$TDIR/img1"
	rm -f "$TDIR/pid"
	jf "$TDIR" "$TDIR/restore.out" "$TDIR/restore.err" "$T_RESTORE" restore -d \
		--pidfile "$TDIR/pid" -D "$TDIR/img2"
	[ "$JF_STATUS" = 0 ] ||
		{ diag_file "restore stderr" "$TDIR/restore.err"; fail "restore -d exited $JF_STATUS"; return; }
	pid=$(cat "$TDIR/pid")
	bg_add "$pid"
	rand_sleep 100 300
	touch "$run/stop"
	wait_gone "$pid" 30 || { fail "the thawed job did not finish"; return; }
	cowedge_check "$run" ||
		fail "a process does not hold what it held (see cowedge.c for the check numbers)"
}

run_test "compress: CRC32C by folding equals the bit-by-bit reference" t_zc_crc32c
run_test "compress: text and random memory, compressed, thawed exactly" t_zc_default
run_test "compress: --compress=none stores the memory raw" t_zc_none
run_test "compress: a damaged compressed chunk is refused, the image left" t_zc_damaged
run_test "compress: an image from before chunks still thaws" t_zc_old_format
run_test "compress: an image of a newer format is refused, the images left" t_zc_newer_format
run_test "compress: an incremental freeze writes little, thaws without its parent" t_zc_incremental
run_test "compress: an incremental freeze of processes sharing memory copy-on-write" t_zc_incremental_cow
