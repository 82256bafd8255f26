# tests/t-vdso.sh: thawing under another kernel and on another CPU, without
# one at hand. The test build (jobfreeze-crashtest, JF_TEST_HOOKS) forces
# the vDSO forwarding of ckpt/vdso_move.c on this kernel
# (JOBFREEZE_TEST_VDSO=forward: this kernel's vDSO elsewhere, the job's
# old entry points leading to it); a job whose vDSO was forwarded once
# has a vDSO unlike this kernel's, so the ordinary build forwards it for
# real at its next thaw. Copies of images altered by tests/imgedit.py (a
# vDSO function renamed, CPU flags and vector state of another CPU, a
# resource limit this kernel does not know) check the matching, the
# refusals and --ignore-cpu-features. Sourced by tests/run.sh.
# shellcheck shell=bash

# vdso_mode_jf MODE: a jobfreeze the test user can run that is the test
# build with JOBFREEZE_TEST_VDSO=MODE (tests/t-crash.sh builds it); its
# path in VJF
vdso_mode_jf() {
	crash_setup || { fail "cannot build the test build (make crashtest)"; return 1; }
	VJF=$TDIR/jobfreeze-$1
	printf '#!/bin/sh\nJOBFREEZE_TEST_VDSO=%s exec %s "$@"\n' "$1" "$CJF" >"$VJF"
	chmod a+rx "$VJF"
}

# a process that unmapped its vDSO (ZDTM vdso02): system calls are run
# through its own code, and it comes back without one
t_vdso_none() { freeze_thaw novdso 0 300 1200 "$WL/novdso"; }

# vdso_often MODE [REFSED]: vdsocall frozen again and again, each freeze
# of the job thawed from the previous one, thawed by the test build in
# MODE and the ordinary build in turn, until a freeze found a thread
# inside the vDSO (at least 3 freezes); the last thaw waits and is
# compared with an uninterrupted run, whose output REFSED may edit
vdso_often() {
	local mode=$1 refsed=${2:-} k pid caught="" forwarded="" jf_prod=$JF
	vdso_mode_jf "$mode" || return 1
	start_again vdsocall60 300 600 "$WL/vdsocall" 60 || return 1
	pid=$JOB_PID
	for ((k = 1; k <= 10; k++)); do
		jf "$TDIR" "$TDIR/d$k.out" "$TDIR/d$k.err" "$T_DUMP" dump -t "$pid" -D "$TDIR/img$k" \
			-v3 -o "$TDIR/dump$k.log"
		[ "$JF_STATUS" = 0 ] || { diag_file "dump $k" "$TDIR/dump$k.log" 5; fail "dump $k exited $JF_STATUS"; return; }
		grep -q "inside the vDSO" "$TDIR/dump$k.log" && caught=$k
		wait_gone "$pid" 5 || { fail "job $pid still there after dump $k"; return; }
		# odd thaws by the test build, even ones by the ordinary build
		[ $((k % 2)) = 1 ] && JF=$VJF
		if [ "$k" -ge 3 ] && [ -n "$caught" ] || [ "$k" = 10 ]; then
			[ -z "$refsed" ] || { sed "$refsed" "$REF.out" >"$TDIR/ref.out"; REF=$TDIR/ref; }
			thaw_compare "$TDIR/img$k" || { JF=$jf_prod; diag_file "job stderr" "$TDIR/run/err.txt" 5; fail "the job thawed $k times differs from the uninterrupted run"; return; }
			JF=$jf_prod
			break
		fi
		jf "$TDIR" "$TDIR/r$k.out" "$TDIR/r$k.err" "$T_RESTORE" restore -d --pidfile "$TDIR/pid" \
			-D "$TDIR/img$k" -v3 -o "$TDIR/restore$k.log"
		JF=$jf_prod
		[ "$JF_STATUS" = 0 ] || { diag_file "restore $k" "$TDIR/restore$k.log" 5; fail "thaw $k exited $JF_STATUS"; return; }
		[ $((k % 2)) = 0 ] && grep -q "leads to this kernel's" "$TDIR/restore$k.log" && forwarded=1
		pid=$(cat "$TDIR/pid")
		bg_add "$pid"
		rand_sleep 150 400
	done
	[ -n "$caught" ] || { fail "no freeze found a thread inside the vDSO"; return; }
	# (forwarded from an anonymous area, the job's [vdso] is this kernel's own)
	[ -n "$forwarded" ] || [ "$mode" != forward ] ||
		fail "the ordinary build did not forward the vDSO of a job thawed by forwarding"
}

# the old entry points lead to this kernel's vDSO, which the job's maps
# show where its auxv says: every vDSO function, called through pointers
# resolved before the freezes, answers as the system calls do
t_vdso_forward() { vdso_often forward; }

# where [vdso] cannot go back to the old address: the old bytes in an
# anonymous area, this kernel's vDSO next to its [vvar] (the job can see
# that in its maps, and says so)
t_vdso_forward_anon() {
	vdso_often forward-anon "s/^\[vdso\] at the auxv's address: yes/[vdso] at the auxv's address: no/"
}

# vdso_image: vdsocall frozen into $TDIR/img (the job gone), its reference
# run's status in REFST
vdso_image() {
	start_again vdsocall12 300 600 "$WL/vdsocall" 12 || return 1
	dump_job "$JOB_PID" "$TDIR/img" || return 1
	wait_gone "$JOB_PID" 5 || { fail "the job is still there after the dump"; return 1; }
}

# refused_copy NAME PATTERN ARGS...: a copy of $TDIR/img ($TDIR/NAME,
# altered by the caller) is refused by `check --image` and by a restore
# (ARGS added to both), both naming PATTERN; the copy is left as it was
refused_copy() {
	local name=$1 pattern=$2 img=$TDIR/$1 before
	shift 2
	before=$(img_digest "$img")
	jf "$TDIR" "$TDIR/$name.check" "$TDIR/$name.check.err" 30 check --image "$img" "$@"
	if [ "$JF_STATUS" != 1 ] || ! grep -q "cannot be thawed here" "$TDIR/$name.check" ||
	   ! grep -Eq -- "$pattern" "$TDIR/$name.check"; then
		diag_file "check --image $name" "$TDIR/$name.check" 10
		fail "check --image exited $JF_STATUS without naming /$pattern/"
		return 1
	fi
	jf "$TDIR" "$TDIR/$name.out" "$TDIR/$name.err" 30 restore -D "$img" "$@"
	if [ "$JF_STATUS" = 0 ] || ! grep -Eq -- "$pattern" "$TDIR/$name.err"; then
		diag_file "restore $name" "$TDIR/$name.err" 10
		fail "restore exited $JF_STATUS without naming /$pattern/"
		return 1
	fi
	[ "$before" = "$(img_digest "$img")" ] || { fail "the refused restore changed the image"; return 1; }
}

# a function of the job's vDSO that this kernel's lacks: the thaw is
# refused naming it, with the vDSO otherwise matched (a vDSO of another
# kernel: one byte differs); the image itself thaws
t_vdso_missing() {
	have_imgedit || return
	vdso_image || return 1
	cp -a "$TDIR/img" "$TDIR/other" || return 1
	imgedit "$(proc_img "$TDIR/other")" rename-symbol __vdso_getcpu __vdso_getcpX &&
		imgedit "$(proc_img "$TDIR/other")" vdso-text-byte 0x40 || { fail "cannot alter the image"; return; }
	refused_copy other "__vdso_getcpX\(\), which this kernel's vDSO lacks" || return 1
	# the same rename in an image of this very vDSO: no forwarding, no refusal
	cp -a "$TDIR/img" "$TDIR/same" && imgedit "$(proc_img "$TDIR/same")" rename-symbol __vdso_getcpu __vdso_getcpX
	jf "$TDIR" "$TDIR/same.check" "$TDIR/same.err" 30 check --image "$TDIR/same"
	[ "$JF_STATUS" = 0 ] || { diag_file "check --image same" "$TDIR/same.check" 5; fail "an image of this kernel's vDSO was refused"; return; }
	thaw_compare "$TDIR/img" || fail "the unaltered image differs from the uninterrupted run"
}

# the CPU: a flag no CPU of today has (avx512_4vnniw of the Xeon Phi) is
# refused by name, thawed with --ignore-cpu-features; fewer flags than
# here is fine; vector state of a component this CPU lacks is refused;
# through the job store too (show --check)
t_vdso_cpu() {
	have_imgedit || return
	vdso_image || return 1
	cp -a "$TDIR/img" "$TDIR/phi" && imgedit "$TDIR/phi/inventory.img" cpuid-or 7 0 edx 4 ||
		{ fail "cannot alter the image"; return; }
	refused_copy phi "avx512_4vnniw, which this CPU lacks" || return 1
	cp -a "$TDIR/img" "$TDIR/fewer" && imgedit "$TDIR/fewer/inventory.img" cpuid-and 7 0 ebx 0 ||
		{ fail "cannot alter the image"; return; }
	jf "$TDIR" "$TDIR/fewer.check" "$TDIR/fewer.err" 30 check --image "$TDIR/fewer"
	[ "$JF_STATUS" = 0 ] || { diag_file "check" "$TDIR/fewer.check" 5; fail "a CPU with more flags than the job's was refused"; return; }
	local lacks
	lacks=$(imgedit_out "$TDIR/img/inventory.img" xcr0-lacks 9 18 19)
	if [ -n "$lacks" ]; then
		cp -a "$TDIR/img" "$TDIR/xs" && imgedit "$(proc_img "$TDIR/xs")" xstate-bv-or $((1 << lacks)) ||
			{ fail "cannot alter the image"; return; }
		refused_copy xs "registers, and this CPU \(or its kernel\) has no such state" || return 1
	fi
	jf "$TDIR" "$TDIR/ign.out" "$TDIR/ign.err" 30 check --image "$TDIR/phi" --ignore-cpu-features
	[ "$JF_STATUS" = 0 ] && grep -q "avx512_4vnniw" "$TDIR/ign.out" ||
		{ diag_file "check --ignore-cpu-features" "$TDIR/ign.out" 5; fail "--ignore-cpu-features did not make the flag a warning"; return; }
	jf "$TDIR" "$TDIR/phi.restore" "$TDIR/phi.restore.err" "$T_RESTORE" restore -D "$TDIR/phi" --ignore-cpu-features
	[ "$JF_STATUS" = "$REFST" ] || { diag_file "restore" "$TDIR/phi.restore.err" 5; fail "restore --ignore-cpu-features exited $JF_STATUS"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the job thawed with --ignore-cpu-features differs"
}

# the job store: show --check says whether it thaws here, and why not
t_vdso_show_check() {
	have_imgedit || return
	start_again vdsocall12 300 600 "$WL/vdsocall" 12 || return 1
	st "$TDIR/f.out" "$TDIR/f.err" freeze "$JOB_PID"
	[ "$ST" = 0 ] || { diag_file "freeze" "$TDIR/f.err" 5; fail "freeze exited $ST"; return; }
	wait_gone "$JOB_PID" 5
	st_expect 0 "job 1 can be thawed here" "show --check of a job that thaws here" show 1 --check || return
	imgedit "$TDIR/state/jobfreeze/1/inventory.img" cpuid-or 7 0 edx 4 || { fail "cannot alter the image"; return; }
	st_expect 1 "avx512_4vnniw" "show --check of a job of another CPU" show 1 --check || return
	st_expect 1 '"thaw":false,"readable":true,"reasons":\[".*avx512_4vnniw' "show --check --json" show 1 --check --json || return
	st "$TDIR/t.out" "$TDIR/t.err" thaw --ignore-cpu-features 1
	[ "$ST" = "$REFST" ] || { diag_file "thaw" "$TDIR/t.err" 5; fail "thaw --ignore-cpu-features exited $ST"; return; }
	same_file "$REF.out" "$TDIR/run/out.txt" "stdout" || fail "the thawed job differs"
}

# vector registers laid out by another CPU (AVX-512's upper halves at
# another offset, in a longer state): put back where this CPU keeps them
t_vdso_xstate_layout() {
	have_imgedit || return
	start_again avx512-noamx 300 1500 "$WL/avx512" --no-amx || return 1
	if ! alive "$JOB_PID"; then
		wait_job "$JOB_PID" 1
		[ "$JOB_STATUS" = 77 ] && { skip "$(head -n 1 "$TDIR/run/out.txt")"; return; }
		fail "the job ended before it could be frozen (status $JOB_STATUS)"
		return
	fi
	dump_job "$JOB_PID" "$TDIR/img" || return 1
	wait_gone "$JOB_PID" 5
	tell_stop
	imgedit "$TDIR/img" xsave-move 6 ||
		{ fail "cannot alter the image"; return; }
	thaw_compare "$TDIR/img" || fail "the job with another CPU's layout differs"
}

# a resource limit this kernel does not know, and an rseq area larger
# than the original but smaller than this kernel's: each named
t_vdso_kernel() {
	have_imgedit || return
	vdso_image || return 1
	cp -a "$TDIR/img" "$TDIR/k" && imgedit "$(proc_img "$TDIR/k")" rlimit-renumber 15 99 &&
		imgedit "$(proc_img "$TDIR/k")" rseq-len 24 || { fail "cannot alter the image"; return; }
	refused_copy k "resource limit 99, which this kernel does not know" || return 1
	grep -q "registered a 24-byte rseq area" "$TDIR/k.check" || fail "the rseq size was not named"
}

run_test "vdso: a process without a vDSO"                      t_vdso_none
run_test "vdso: another kernel's vDSO forwarded, threads in it" t_vdso_forward
run_test "vdso: forwarded from an anonymous area"              t_vdso_forward_anon
run_test "vdso: a function this kernel's vDSO lacks is refused" t_vdso_missing
run_test "vdso: CPU flags and vector state of another CPU"     t_vdso_cpu
run_test "vdso: show --check of a stored job"                  t_vdso_show_check
run_test "vdso: vector registers in another CPU's layout"      t_vdso_xstate_layout
run_test "vdso: what the job needs of the kernel is checked"   t_vdso_kernel
