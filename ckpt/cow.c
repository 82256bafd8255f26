/* cow.c: a process rebuilt by forking its parent, so that the memory they
 * shared copy-on-write when frozen is shared again. An ordinary user
 * cannot see page frames in pagemap, so the dump cannot tell which pages
 * two processes share; it sees that a page is mapped by more than one
 * process (the pagemap exclusive bit is clear) and, reading both, that the
 * parent holds the same bytes at the same address in an area a fork leaves
 * in place (mem_fork_kept). Such pages are recorded as the parent's
 * (PageRun.from_parent) and stored once, with the parent (mem.c). The
 * restore forks the child from its parent once the parent's memory is
 * complete, without exec (restore.c): the fork shares everything again;
 * here the child drops what it did not have (areas unmapped, pages given
 * up with MADV_DONTNEED), maps its own areas, and forgets the parent's
 * state that a fork passes on and an exec would not have; its own pages
 * are written after (mem_restore_pages). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "ckpt/log.h"
#include "ckpt/mem.h"
#include "ckpt/proc.h"
#include "ckpt/pagefile.h"
#include "ckpt/restore.h"
#include "ckpt/spans.h"
#include "ckpt/util.h"

#define PAGE 4096UL
#define RSEQ_FLAG_UNREGISTER 1


/* The page runs of IMG as spans; only those from its parent with PARENT_ONLY. */
static void runs_spans(const Process *img, bool parent_only, struct spans *out)
{
	for (size_t i = 0; i < img->n_pages; i++)
		if (!parent_only || img->pages[i]->from_parent)
			spans_add(out, img->pages[i]->vaddr,
				  img->pages[i]->vaddr + img->pages[i]->nr_pages * PAGE);
}

/* Runs the calls in batches; each must return 0 (munmap, mprotect,
 * madvise). WHAT names them in messages. */
static int run_calls(struct restore_ctx *r, const struct inject_call *c, size_t n, const char *what)
{
	long ret[INJECT_BATCH_MAX];

	for (size_t i = 0; i < n; i += INJECT_BATCH_MAX) {
		size_t k = n - i < INJECT_BATCH_MAX ? n - i : INJECT_BATCH_MAX;
		if (inject_batch(&r->in, c + i, k, ret) < 0)
			return -1;
		for (size_t j = 0; j < k; j++)
			if (ret[j] < 0) {
				pr_err("process %d: cannot %s %#lx-%#lx: %s", r->img->pid, what,
				       (unsigned long)c[i + j].a[0],
				       (unsigned long)(c[i + j].a[0] + c[i + j].a[1]), strerror(-ret[j]));
				return -1;
			}
	}
	return 0;
}

static int spans_call(struct restore_ctx *r, const struct spans *l, long nr, uint64_t arg,
		      const char *what)
{
	struct inject_call *c = xcalloc(l->n ? l->n : 1, sizeof(*c));
	int ret;

	for (size_t i = 0; i < l->n; i++)
		c[i] = (struct inject_call){ nr, { l->s[i].start, l->s[i].end - l->s[i].start, arg } };
	ret = run_calls(r, c, l->n, what);
	free(c);
	return ret;
}

/* The scratch area the fork inherited lies where the child has memory of
 * its own: a new one goes into a gap of both layouts, the old one goes
 * with the parent's memory (UNMAP). */
static int move_scratch(struct restore_ctx *r, const struct proc_maps *m, struct spans *unmap)
{
	struct range *cur = xcalloc(m->n + 1, sizeof(*cur));
	uint64_t old = r->in.scratch, at;
	long ret;

	for (size_t i = 0; i < m->n; i++)
		cur[i] = (struct range){ m->v[i].start, m->v[i].end };
	at = find_gap(r, r->in.scratch_size, cur, m->n);
	free(cur);
	ret = at ? INJECT(&r->in, SYS_mmap, at, r->in.scratch_size, PROT_READ | PROT_WRITE | PROT_EXEC,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0) : -ENOMEM;
	if (ret != (long)at) {
		pr_err("process %d: no room for its scratch memory: %s", r->img->pid,
		       strerror(ret < 0 ? -ret : EEXIST));
		return -1;
	}
	r->in.scratch = at;
	spans_add(unmap, old, old + r->in.scratch_size);
	return 0;
}

/* What the fork gave it and it keeps: per area of its own (KEPT[i]), and
 * all of it (KEEP). Whether its own areas meet the scratch area. */
static bool kept_parts(struct restore_ctx *r, struct spans *kept, struct spans *keep)
{
	const Process *img = r->img;
	uint64_t s0 = r->in.scratch, s1 = s0 + r->in.scratch_size;
	bool clash = false;

	for (size_t i = 0; i < img->n_vmas; i++) {
		const Vma *v = img->vmas[i];
		if (mem_is_kernel_area(v))
			continue;
		mem_fork_kept(r->parent->img, v, &kept[i]);
		for (size_t k = 0; k < kept[i].n; k++)
			spans_add(keep, kept[i].s[k].start, kept[i].s[k].end);
		clash |= v->start < s1 && v->end > s0;
	}
	return clash;
}

/* Everything else the fork gave goes: the address space from the lowest
 * area to the highest but for KEEP, the kernel's areas (as M shows them)
 * and the scratch area; the holes in between cost nothing to unmap. */
static void unmap_rest(struct restore_ctx *r, const struct proc_maps *m, const struct spans *keep,
		       struct spans *unmap)
{
	struct spans all = { 0 }, protect = { 0 };
	uint64_t lo = ~0ULL, hi = 0;

	for (size_t i = 0; i < m->n; i++) {
		const char *p = m->v[i].path ? m->v[i].path : "";
		if (!strcmp(p, "[vdso]") || !strcmp(p, "[vvar]") || !strcmp(p, "[vvar_vclock]") ||
		    !strcmp(p, "[vsyscall]")) {
			spans_add(&protect, m->v[i].start, m->v[i].end);
			continue;
		}
		lo = m->v[i].start < lo ? m->v[i].start : lo;
		hi = m->v[i].end > hi ? m->v[i].end : hi;
	}
	spans_add(&all, lo, hi);
	for (size_t i = 0; i < keep->n; i++)
		spans_add(&protect, keep->s[i].start, keep->s[i].end);
	spans_add(&protect, r->in.scratch, r->in.scratch + r->in.scratch_size);
	spans_minus(&all, &protect, unmap);
	spans_free(&all);
	spans_free(&protect);
}

/* Area I of its own: the parts the fork did not leave mapped as the job
 * had them; the parts it left, writable while its pages go in (the
 * parent's protection may differ). */
static int own_area(struct restore_ctx *r, size_t i, const struct spans *kept, struct mem_file *f)
{
	const Process *pimg = r->parent->img;
	const Vma *v = r->img->vmas[i];
	struct spans whole = { 0 }, fresh = { 0 }, prot = { 0 };
	uint32_t want = mem_map_prot(v, r->has_pages[i]);
	int ret = -1;

	spans_add(&whole, v->start, v->end);
	spans_minus(&whole, kept, &fresh);
	for (size_t k = 0; k < fresh.n; k++)
		if (mem_map_part(r, i, fresh.s[k].start, fresh.s[k].end, f) < 0)
			goto out;
	for (size_t k = 0; k < kept->n; k++) {
		const struct span *s = &kept->s[k];
		for (size_t p = mem_area_above(pimg, s->start);
		     p < pimg->n_vmas && pimg->vmas[p]->start < s->end; p++) {
			const Vma *pv = pimg->vmas[p];
			if (pv->prot != want)
				spans_add(&prot, pv->start > s->start ? pv->start : s->start,
					  pv->end < s->end ? pv->end : s->end);
		}
	}
	ret = spans_call(r, &prot, SYS_mprotect, want, "set the protection of");
out:
	spans_free(&whole);
	spans_free(&fresh);
	spans_free(&prot);
	return ret;
}

int cow_restore_layout(struct restore_ctx *r)
{
	const Process *img = r->img, *pimg = r->parent->img;
	struct spans *kept = xcalloc(img->n_vmas + 1, sizeof(*kept));
	struct spans keep = { 0 }, unmap = { 0 }, from = { 0 }, stray = { 0 }, theirs = { 0 },
		     theirs_kept = { 0 }, mine = { 0 }, drop = { 0 };
	struct proc_maps m = { 0 };
	struct mem_file f = { .fd = -1 };
	int ret = -1;
	bool clash = kept_parts(r, kept, &keep);

	/* The parent's bytes are only where the fork leaves them. */
	runs_spans(img, true, &from);
	spans_minus(&from, &keep, &stray);
	if (stray.n) {
		pr_err("damaged image: process %d takes pages at %#lx from its parent where it has "
		       "memory of its own", img->pid, (unsigned long)stray.s[0].start);
		goto out;
	}
	if (proc_parse_maps(r->job, false, &m) < 0 || (clash && move_scratch(r, &m, &unmap) < 0))
		goto out;
	unmap_rest(r, &m, &keep, &unmap);
	if (spans_call(r, &unmap, SYS_munmap, 0, "unmap its parent's memory at") < 0)
		goto out;
	for (size_t i = 0; i < img->n_vmas; i++)
		if (!mem_is_kernel_area(img->vmas[i]) && own_area(r, i, &kept[i], &f) < 0)
			goto out;
	if (aio_restore(r) < 0)
		goto out;
	/* Pages the parent has where it kept the parent's area, and it had
	 * none: given up, they read as zero or as the file's again. */
	runs_spans(pimg, false, &theirs);
	for (size_t i = 0; i < pimg->n_base_pages; i++)
		spans_add(&theirs, pimg->base_pages[i]->vaddr,
			  pimg->base_pages[i]->vaddr + pimg->base_pages[i]->nr_pages * PAGE);
	runs_spans(img, false, &mine);
	spans_and(&theirs, &keep, &theirs_kept);
	spans_minus(&theirs_kept, &mine, &drop);
	if (spans_call(r, &drop, SYS_madvise, MADV_DONTNEED, "give up its parent's pages at") < 0)
		goto out;
	ret = 0;
out:
	mem_file_close(r, &f);
	proc_maps_free(&m);
	for (size_t i = 0; i < img->n_vmas; i++)
		spans_free(&kept[i]);
	free(kept);
	spans_free(&keep);
	spans_free(&unmap);
	spans_free(&from);
	spans_free(&stray);
	spans_free(&theirs);
	spans_free(&theirs_kept);
	spans_free(&mine);
	spans_free(&drop);
	return ret;
}

/* Writes the N pages at BUF to ADDR in the process (through read-only
 * protections too). */
static int put_pages(struct restore_ctx *r, uint64_t addr, const unsigned char *buf, size_t n)
{
	if (!n)
		return 0;
	r->stats->pages_read += n;
	r->stats->bytes_read += n * PAGE;
	return remote_write(r->job, addr, buf, n * PAGE);
}

int cow_finish_base(struct restore_ctx *r)
{
	const Process *img = r->img;
	enum { GROUP = 64 };
	unsigned char *buf = xmalloc(GROUP * PAGE);
	struct spans drop = { 0 };
	int ret = -1;

	for (size_t i = 0; i < img->n_base_pages; i++) {
		const PageRun *b = img->base_pages[i];
		uint64_t at = b->vaddr;	/* the first page of the group in buf */
		size_t n = 0;

		for (uint64_t k = 0; k < b->nr_pages; k++) {
			uint64_t addr = b->vaddr + k * PAGE;
			int got = mem_stored_page(r, addr, false, buf + n * PAGE);
			if (got < 0)
				goto out;
			if (got)
				n++;
			else
				spans_add(&drop, addr, addr + PAGE);
			if (!got || n == GROUP) {
				if (put_pages(r, at, buf, n) < 0)
					goto out;
				at = addr + PAGE;
				n = 0;
			}
		}
		if (put_pages(r, at, buf, n) < 0)
			goto out;
	}
	/* what it did not hold: zero, or the file's again */
	ret = spans_call(r, &drop, SYS_madvise, MADV_DONTNEED, "give up its base pages at");
out:
	pf_reader_close(r->pages);
	r->pages = NULL;
	spans_free(&drop);
	free(buf);
	return ret;
}

/* The kernel's struct sigaction and stack_t on x86_64. */
struct ksigaction {
	uint64_t handler, flags, restorer, mask;
};
struct kstack {
	uint64_t sp;
	int32_t flags;
	int32_t pad;
	uint64_t size;
};

static bool has_action(const Process *img, uint32_t signo)
{
	for (size_t i = 0; i < img->n_sigactions; i++)
		if (img->sigactions[i]->signo == signo)
			return true;
	return false;
}

int cow_forget_parent(struct restore_ctx *r)
{
	const Process *img = r->img, *pimg = r->parent->img;
	const Thread *pt = pimg->threads[0], *t = img->threads[0];
	static const struct ksigaction dfl;
	const struct kstack off = { .flags = SS_DISABLE };
	struct inject_call c[80];
	long ret[80];
	size_t n = 0;

	/* Actions it has are set later (signals_restore); those it had left
	 * at their default go back to it. */
	if (!scratch_put(r, 0, &dfl, sizeof(dfl)) || !scratch_put(r, 64, &off, sizeof(off)))
		return -1;
	for (size_t i = 0; i < pimg->n_sigactions && n < 64; i++)
		if (!has_action(img, pimg->sigactions[i]->signo))
			c[n++] = (struct inject_call){ SYS_rt_sigaction,
				{ pimg->sigactions[i]->signo, r->in.scratch, 0, 8 } };
	/* The fork keeps the parent's rseq registration; its own comes later
	 * (thread_task_restore), and a second one is refused. (A clone that
	 * shares its parent's fds dropped it already: restore.c share_child) */
	if (pt->has_rseq_ptr && pt->rseq_ptr && !img->has_files_from)
		c[n++] = (struct inject_call){ SYS_rseq,
			{ pt->rseq_ptr, pt->rseq_len, RSEQ_FLAG_UNREGISTER, pt->rseq_sig } };
	if (!(pt->altstack_flags & SS_DISABLE) && (t->altstack_flags & SS_DISABLE))
		c[n++] = (struct inject_call){ SYS_sigaltstack, { r->in.scratch + 64, 0 } };
	if (inject_batch(&r->in, c, n, ret) < 0)
		return -1;
	for (size_t i = 0; i < n; i++)
		if (ret[i] < 0) {
			pr_err("process %d: cannot undo what it inherited from its parent (system call "
			       "%ld): %s", img->pid, c[i].nr, strerror(-ret[i]));
			return -1;
		}
	return 0;
}
