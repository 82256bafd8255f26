/* vdso.c: the kernel-provided [vvar], [vvar_vclock] and [vdso] areas. The
 * C library caches vdso function addresses, so they must come back at the
 * dumped addresses; a different kernel's vdso is refused. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "ckpt/crc32c.h"
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define VDSO_MAX (1 << 20)

/* Reads the vdso text of PID at [start, end): syscall offset and checksum. */
static int vdso_scan(pid_t pid, uint64_t start, uint64_t end, long *off, uint32_t *crc)
{
	unsigned char *code;

	if (end - start > VDSO_MAX) {
		pr_err("process %d: [vdso] of %lu bytes is implausibly large", pid,
		       (unsigned long)(end - start));
		return -1;
	}
	code = xmalloc(end - start);
	if (remote_read(pid, start, code, end - start) < 0) {
		free(code);
		return -1;
	}
	*crc = crc32c(0, code, end - start);
	*off = find_syscall_insn(code, end - start);
	free(code);
	if (*off < 0) {
		pr_err("process %d: no syscall instruction in its [vdso]", pid);
		return -1;
	}
	return 0;
}

int vdso_locate(pid_t pid, const struct proc_maps *m, uint64_t *syscall_ip, uint32_t *crc)
{
	for (size_t i = 0; i < m->n; i++) {
		const struct proc_vma *v = &m->v[i];
		long off;

		if (!v->path || strcmp(v->path, "[vdso]"))
			continue;
		if (vdso_scan(pid, v->start, v->end, &off, crc) < 0)
			return -1;
		*syscall_ip = v->start + off;
		return 0;
	}
	pr_err("process %d has no [vdso]: jobfreeze needs it to run system calls in the process",
	       pid);
	return -1;
}

int vdso_dump(struct dump_ctx *c, uint64_t *syscall_ip)
{
	uint32_t crc;

	if (vdso_locate(c->pid, &c->maps, syscall_ip, &crc) < 0)
		return -1;
	c->img->vdso_crc = crc;
	return 0;
}

static const char *const trio_names[] = { "[vvar]", "[vvar_vclock]", "[vdso]" };
static const Vma__Kind trio_kinds[] = { VMA__KIND__VVAR, VMA__KIND__VVAR_VCLOCK, VMA__KIND__VDSO };

int vdso_restore(struct restore_ctx *r)
{
	struct proc_maps m;
	struct range cur[3] = { 0 }, want[3] = { 0 };
	long off;
	uint32_t crc;
	int ret = -1;

	if (proc_parse_maps(r->job, false, &m) < 0)
		return -1;
	for (size_t i = 0; i < m.n; i++)
		for (int k = 0; k < 3; k++)
			if (m.v[i].path && !strcmp(m.v[i].path, trio_names[k]))
				cur[k] = (struct range){ m.v[i].start, m.v[i].end };
	for (size_t i = 0; i < r->img->n_vmas; i++)
		for (int k = 0; k < 3; k++)
			if (r->img->vmas[i]->kind == trio_kinds[k])
				want[k] = (struct range){ r->img->vmas[i]->start, r->img->vmas[i]->end };
	for (int k = 0; k < 3; k++) {
		if ((cur[k].end - cur[k].start) != (want[k].end - want[k].start)) {
			pr_err("this kernel's %s is %lu bytes, the job's was %lu: the job was frozen "
			       "under another kernel and can only be thawed under that one", trio_names[k],
			       (unsigned long)(cur[k].end - cur[k].start),
			       (unsigned long)(want[k].end - want[k].start));
			goto out;
		}
	}
	if (vdso_locate(r->job, &m, &r->in.syscall_ip, &crc) < 0)
		goto out;
	if (crc != r->img->vdso_crc) {
		pr_err("this kernel's [vdso] differs from the one the job was frozen with: the job "
		       "can only be thawed under the kernel it was frozen under (%s)", r->inv->kernel);
		goto out;
	}
	off = r->in.syscall_ip - cur[2].start;
	/* Two moves: first all three out of the way, then each to its place, so
	 * no move lands on an area another one still occupies. */
	for (int phase = 0; phase < 2; phase++) {
		for (int k = 0; k < 3; k++) {
			uint64_t size = cur[k].end - cur[k].start, to;
			if (!size)
				continue;
			if (phase == 0) {
				struct range avoid[4] = { cur[0], cur[1], cur[2],
					{ r->in.scratch, r->in.scratch + r->in.scratch_size } };
				to = find_gap(r, size, avoid, 4);
				if (!to) {
					pr_err("no free address range to move the vdso through");
					goto out;
				}
			} else {
				to = want[k].start;
			}
			if (to == cur[k].start)
				continue;
			long ret2 = INJECT(&r->in, SYS_mremap, cur[k].start, size, size,
					   MREMAP_MAYMOVE | MREMAP_FIXED, to);
			if (ret2 < 0) {
				pr_err("cannot move %s from %#lx to %#lx: %s", trio_names[k],
				       (unsigned long)cur[k].start, (unsigned long)to, strerror(-ret2));
				goto out;
			}
			cur[k] = (struct range){ to, to + size };
			if (k == 2)
				r->in.syscall_ip = to + off;
		}
	}
	ret = 0;
out:
	proc_maps_free(&m);
	return ret;
}
