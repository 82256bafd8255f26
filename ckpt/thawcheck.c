/* thawcheck.c: whether this machine can thaw the job, asked before a thaw
 * touches anything (and by `jobfreeze check --image`, and by the other end
 * of `jobfreeze send`): its files are still the ones recorded (files.c),
 * this kernel's vDSO can stand in for the job's (vdso.c), this kernel has
 * what the job's state needs (kcompat.c), this CPU what its programs may
 * use (cpu.c: asked here by `check`; a restore asks the job's new
 * processes, which see the CPU as the job will, cpu_restore_check). Every
 * reason is reported, not only the first. */
#include "ckpt/cpu.h"
#include "ckpt/kcompat.h"
#include "ckpt/restore.h"
#include "ckpt/thawcheck.h"
#include "ckpt/util.h"

int thaw_check(const Inventory *inv, struct restore_ctx *procs, size_t n,
	       const struct restore_opts *o, bool cpu_here)
{
	struct cpu_view cpu;
	const Process **imgs = xcalloc(n ? n : 1, sizeof(*imgs));
	int bad = 0;

	for (size_t i = 0; i < n; i++) {
		struct restore_ctx *r = &procs[i];
		imgs[i] = r->img;
		if (!r->img)
			continue;	/* a zombie: only its exit status comes back */
		bad += files_check(r) < 0;
		bad += vdso_check(r) < 0;
		bad += kcompat_check(inv, r->img) < 0;
	}
	if (cpu_here) {
		cpu_view_self(&cpu);
		bad += cpu_check(inv, imgs, n, &cpu, true, o->ignore_cpu_features) < 0;
	}
	free(imgs);
	return bad ? -1 : 0;
}
