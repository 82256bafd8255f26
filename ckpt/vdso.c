/* vdso.c: the kernel's [vvar], [vvar_vclock] and [vdso] areas.
 *
 * The C library looks the vDSO's functions up once, at start, and calls
 * those addresses ever after. Under the kernel the job was frozen under,
 * the three areas simply go back to their addresses. Under another kernel
 * (an update, another machine) the vDSO differs: its functions sit at
 * other offsets and read a [vvar] laid out otherwise. Then this kernel's
 * areas go to a free range near the old vDSO, and the job's old vDSO bytes
 * go back at their address with, at each of the job's functions, a jump to
 * this kernel's function of the same name (vdso_fwd.c). A thread stopped
 * inside the vDSO's code is brought out of it at dump, one instruction at
 * a time: no image holds a thread in the middle of vDSO code, which
 * another kernel's vDSO could not go on with. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "ckpt/crc32c.h"
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"
#include "ckpt/vdso.h"
#include "ckpt/vdso_elf.h"

/* vDSO code is a few dozen instructions a call; a thread that does not
 * leave it in this many is not in an ordinary vDSO function. */
#define STEP_MAX 100000

static const struct proc_vma *find_named(const struct proc_maps *m, const char *name)
{
	for (size_t i = 0; i < m->n; i++)
		if (m->v[i].path && !strcmp(m->v[i].path, name))
			return &m->v[i];
	return NULL;
}

/* This kernel's vDSO, as this process has it (empty: it has none). */
struct vdso_text {
	unsigned char *text;
	size_t len;
};

static int vdso_kernel_text(struct vdso_text *k)
{
	struct proc_maps m;
	const struct proc_vma *v;

	memset(k, 0, sizeof(*k));
	if (proc_parse_maps(getpid(), false, &m) < 0)
		return -1;
	v = find_named(&m, "[vdso]");
	if (v && v->end - v->start <= VDSO_MAX) {
		k->len = v->end - v->start;
		k->text = xmalloc(k->len);
		memcpy(k->text, (const void *)v->start, k->len);
	}
	proc_maps_free(&m);
	return 0;
}

/* A thaw's copy of this kernel's vDSO code in the job (vdso_fwd.c): an
 * anonymous r-x area right after the [vvar] areas, holding exactly this
 * kernel's vDSO. Every thaw makes its own, so it is not the job's memory. */
static uint64_t find_copy(struct dump_ctx *c, const struct vdso_text *k)
{
	const struct proc_maps *m = &c->maps;
	uint64_t found = 0;

	for (size_t i = 1; i < m->n && k->len && !found; i++) {
		const struct proc_vma *v = &m->v[i], *prev = &m->v[i - 1];
		unsigned char *buf;

		if (v->path || v->shared || v->prot != (PROT_READ | PROT_EXEC) ||
		    v->end - v->start != k->len || prev->end != v->start || !prev->path ||
		    (strcmp(prev->path, "[vvar]") && strcmp(prev->path, "[vvar_vclock]")))
			continue;
		buf = xmalloc(k->len);
		if (remote_read(c->pid, v->start, buf, k->len) == 0 && !memcmp(buf, k->text, k->len))
			found = v->start;
		free(buf);
	}
	return found;
}

int vdso_dump(struct dump_ctx *c)
{
	const struct proc_vma *v = find_named(&c->maps, "[vdso]");
	Process *img = c->img;
	struct vdso_funcs fs;
	struct vdso_text k;
	const char *why;
	uint64_t len;

	if (vdso_kernel_text(&k) < 0)
		return -1;
	img->vdso_copy_at = find_copy(c, &k);
	img->has_vdso_copy_at = img->vdso_copy_at != 0;
	free(k.text);
	if (!v) {
		pr_info("process %d has no [vdso]", c->pid);
		return 0;
	}
	len = v->end - v->start;
	if (len > VDSO_MAX) {
		pr_err("process %d: [vdso] of %lu bytes is implausibly large", c->pid,
		       (unsigned long)len);
		return -1;
	}
	img->vdso_text.data = xmalloc(len);
	img->vdso_text.len = len;
	img->has_vdso_text = 1;
	if (remote_read(c->pid, v->start, img->vdso_text.data, len) < 0)
		return -1;
	img->vdso_crc = crc32c(0, img->vdso_text.data, len);
	if (vdso_elf_functions(img->vdso_text.data, len, &fs, &why) < 0) {
		/* under this kernel it thaws all the same */
		pr_warn("process %d: its [vdso] at %#lx cannot be read as an ELF image (%s): it can "
			"only be thawed under this kernel", c->pid, (unsigned long)v->start, why);
		return 0;
	}
	img->vdso_symbols = xcalloc(fs.n ? fs.n : 1, sizeof(*img->vdso_symbols));
	for (size_t i = 0; i < fs.n; i++) {
		VdsoMoveSymbol *s = xmalloc(sizeof(*s));
		vdso_move_symbol__init(s);
		s->name = fs.f[i].name;
		fs.f[i].name = NULL;
		s->offset = fs.f[i].off;
		s->size = fs.f[i].size;
		img->vdso_symbols[img->n_vdso_symbols++] = s;
	}
	vdso_funcs_free(&fs);
	return 0;
}

static bool in_range(uint64_t ip, const struct range *r, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (ip >= r[i].start && ip < r[i].end)
			return true;
	return false;
}

/* Thread I's registers are now REGS: for the release, the injected calls,
 * the guard and the image; and its vector registers read again. */
static int took_steps(struct dump_ctx *c, size_t i, const struct user_regs_struct *regs)
{
	Thread *t = c->img->threads[i];
	void *xs;
	size_t xlen;

	c->thr[i].regs = *regs;
	(i ? &c->thr[i].in : &c->in)->base = *regs;
	memcpy(t->regs.data, regs, sizeof(*regs));
	if (ptrace_get_xstate(c->thr[i].tid, &xs, &xlen) < 0)
		return -1;
	free(t->xstate.data);
	t->xstate.data = xs;
	t->xstate.len = xlen;
	return 0;
}

int vdso_step_out(struct dump_ctx *c)
{
	const struct proc_vma *v = find_named(&c->maps, "[vdso]");
	struct range code[2];
	size_t n = 0;

	if (v)
		code[n++] = (struct range){ v->start, v->end };
	for (size_t i = 0; i < c->maps.n && c->img->vdso_copy_at; i++)
		if (c->maps.v[i].start == c->img->vdso_copy_at)
			code[n++] = (struct range){ c->maps.v[i].start, c->maps.v[i].end };
	for (size_t i = 0; i < c->nr_thr; i++) {
		struct user_regs_struct regs = c->thr[i].regs;
		uint64_t was = regs.rip;
		int steps;

		/* (a blocking call made through the vDSO's syscall instruction,
		 * interrupted, would only block again: left where it is) */
		struct user_regs_struct probe = regs;
		if (!in_range(regs.rip, code, n) || regs_apply_restart(&probe))
			continue;
		for (steps = 0; in_range(regs.rip, code, n); steps++) {
			if (steps == STEP_MAX) {
				pr_err("process %d: thread %d does not leave the vDSO's code (at %#lx "
				       "after %d instructions): try again", c->pid, c->thr[i].tid,
				       (unsigned long)regs.rip, steps);
				return -1;
			}
			if (inject_step(i ? &c->thr[i].in : &c->in, &regs) < 0)
				return -1;
		}
		pr_info("process %d: thread %d was inside the vDSO at %#lx; stepped out to %#lx "
			"in %d instructions", c->pid, c->thr[i].tid, (unsigned long)was,
			(unsigned long)regs.rip, steps);
		if (took_steps(c, i, &regs) < 0)
			return -1;
	}
	return 0;
}

/* ---- restore ---- */

bool vdso_must_forward(const Process *img, const unsigned char *text, size_t len)
{
#ifdef JF_TEST_HOOKS
	/* the test build's way through the forwarding on one kernel */
	const char *mode = getenv("JOBFREEZE_TEST_VDSO");
	if (mode && !strncmp(mode, "forward", 7))
		return true;
#endif
	if (img->has_vdso_text)
		return img->vdso_text.len != len || memcmp(img->vdso_text.data, text, len);
	return crc32c(0, text, len) != img->vdso_crc;
}

int vdso_restore(struct restore_ctx *r)
{
	struct proc_maps m;
	struct range cur[NR_AREAS] = { 0 }, want[NR_AREAS];
	uint64_t dest[NR_AREAS] = { 0 };
	unsigned char *text = NULL;
	size_t len;
	int ret = -1;

	if (proc_parse_maps(r->job, false, &m) < 0)
		return -1;
	for (int k = 0; k < NR_AREAS; k++) {
		const struct proc_vma *v = find_named(&m, vdso_area_names[k]);
		if (v)
			cur[k] = (struct range){ v->start, v->end };
	}
	proc_maps_free(&m);
	vdso_image_areas(r->img, want);
	len = cur[VDSO].end - cur[VDSO].start;
	if (want[VDSO].end == want[VDSO].start) {
		/* The job had unmapped its vDSO: so does its new process. */
		return vdso_place(r, cur, dest, NULL, 0);
	}
	if (!len || len > VDSO_MAX) {
		pr_err("this kernel gave the new process no usable [vdso] (a kernel booted with "
		       "vdso=0?): the job's C library calls into one");
		return -1;
	}
	text = xmalloc(len);
	if (remote_read(r->job, cur[VDSO].start, text, len) < 0)
		goto out;
	if (vdso_must_forward(r->img, text, len)) {
		ret = vdso_forward(r, cur, want, text, len);
		goto out;
	}
	for (int k = 0; k < NR_AREAS; k++) {
		uint64_t have = cur[k].end - cur[k].start, had = want[k].end - want[k].start;
		if (had && have != had) {
			pr_err("this kernel's %s is %lu bytes, the job's was %lu: the job was frozen "
			       "under another kernel (%s)", vdso_area_names[k], (unsigned long)have,
			       (unsigned long)had, r->inv->kernel);
			goto out;
		}
		dest[k] = want[k].start;
	}
	ret = vdso_place(r, cur, dest, NULL, 0);
out:
	free(text);
	return ret;
}

/* ---- the checks before a thaw ---- */

int vdso_check(const struct restore_ctx *r)
{
	const Process *img = r->img;
	struct range want[NR_AREAS];
	struct vdso_text k;
	struct vdso_funcs fs = { 0 };
	const char *why;
	int bad = 0;

	vdso_image_areas(img, want);
	if (want[VDSO].end == want[VDSO].start)
		return 0;	/* the job has no vDSO */
	if (img->has_vdso_text && img->vdso_text.len != want[VDSO].end - want[VDSO].start) {
		pr_err("process %d: damaged image (its vDSO's bytes do not fill its [vdso])", img->pid);
		return -1;
	}
	if (vdso_kernel_text(&k) < 0)
		return -1;
	if (!k.len) {
		/* valgrind unmaps its own: the restore compares the new process's */
		pr_warn("this process has no vDSO to compare process %d's with (a kernel booted "
			"with vdso=0, or an emulator): the thaw itself will tell", img->pid);
		return 0;
	}
	if (!vdso_must_forward(img, k.text, k.len))
		goto out;
	if (!img->n_vdso_symbols) {
		pr_err("process %d: the job's vDSO (kernel %s) differs from this kernel's and its "
		       "functions were not recorded (an image of an older jobfreeze, or a vDSO it "
		       "could not read): it can only be thawed under kernel %s", img->pid,
		       r->inv->kernel, r->inv->kernel);
		bad = 1;
		goto out;
	}
	if (vdso_elf_functions(k.text, k.len, &fs, &why) < 0) {
		pr_err("this kernel's vDSO cannot be read as an ELF image (%s): jobs of other "
		       "kernels cannot use it", why);
		bad = 1;
		goto out;
	}
	for (size_t i = 0; i < img->n_vdso_symbols; i++)
		if (!vdso_funcs_find(&fs, img->vdso_symbols[i]->name)) {
			pr_err("process %d: the vDSO of kernel %s, which the job was frozen under, has "
			       "%s(), which this kernel's vDSO lacks: the job may call it (thaw it "
			       "under a kernel whose vDSO has it)", img->pid, r->inv->kernel,
			       img->vdso_symbols[i]->name);
			bad++;
		}
	for (size_t i = 0; i < img->n_threads; i++) {
		struct user_regs_struct regs;
		memcpy(&regs, img->threads[i]->regs.data, sizeof(regs));
		if (regs.rip >= want[VDSO].start && regs.rip < want[VDSO].end) {
			pr_err("process %d: thread %d was frozen inside the vDSO (by an older "
			       "jobfreeze), whose code differs under this kernel: thaw it under "
			       "kernel %s", img->pid, img->threads[i]->tid, r->inv->kernel);
			bad++;
		}
	}
	bad += vdso_forward_check(img) < 0;
out:
	vdso_funcs_free(&fs);
	free(k.text);
	return bad ? -1 : 0;
}
