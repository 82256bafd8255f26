# tests/t-fulldisk.sh: a dump into a full disk (a 1 MiB tmpfs, which only
# root can mount) fails cleanly: a message naming the file and the cause,
# no partial image left, and the job goes on to finish as if untouched.
# shellcheck shell=bash

t_full_disk() {
	[ -n "$TEST_USER" ] || { skip "needs root to mount a small tmpfs"; return; }
	local small=$TDIR/small ok=0
	mkdir_user "$small"
	mount -t tmpfs -o size=1m,mode=0755 jftest-full "$small" ||
		{ skip "cannot mount a tmpfs here"; return; }
	chown "$TEST_USER:$TEST_USER" "$small"
	# 16 MiB of memory: its pages cannot fit
	start_again bigmem16 300 800 "$WL/bigmem" 16 || { umount "$small"; return 1; }
	jf "$TDIR" "$TDIR/dump.out" "$TDIR/dump.err" "$T_DUMP" dump -t "$JOB_PID" -D "$small/img"
	[ "$JF_STATUS" != 0 ] && [ "$JF_STATUS" -lt 124 ] ||
		{ diag "the dump into a full disk exited $JF_STATUS"; ok=1; }
	grep -Eq "img.*(No space left|full)" "$TDIR/dump.err" ||
		{ diag "the message names neither the file nor the full disk"; ok=1; }
	if [ -n "$(ls -A "$small")" ]; then
		diag "left on the full disk: $(cd "$small" && find . -mindepth 1 | head -n 5 | tr '\n' ' ')"
		ok=1
	fi
	running "$JOB_PID" || { diag "the job is not running after the failed dump"; ok=1; }
	umount "$small" || { diag "cannot unmount $small"; ok=1; }
	tell_stop
	wait_job "$JOB_PID" "$T_RUN"
	ref_stopped || return 1
	[ "$JOB_STATUS" = "$REFST" ] || { diag "the job exited $JOB_STATUS, expected $REFST"; ok=1; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || ok=1
	if [ $ok != 0 ]; then
		diag_file "dump stderr" "$TDIR/dump.err" 5
		fail "a dump into a full disk did not fail cleanly"
		return
	fi
}

run_test "full disk: dump fails cleanly, the job goes on" t_full_disk
