/* mem.c: the job's address space. Dump: classify each VMA, store only the
 * pages that cannot come back from a file (anonymous, privately written,
 * not zero) in batches; restore: map each VMA at its address, fill it. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include "ckpt/crc32c.h"
#include "ckpt/dump.h"
#include "ckpt/fileid.h"
#include "ckpt/imgcheck.h"
#include "ckpt/log.h"
#include "ckpt/mem.h"
#include "ckpt/pagefile.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PAGE 4096UL

enum page_policy {
	PAGES_NONE,         /* nothing to store: comes back from the file or kernel */
	PAGES_ANON,         /* private anonymous: present or swapped pages */
	PAGES_COW,          /* private file mapping: pages written since mapping */
	PAGES_ALL,          /* shared anonymous, deleted file: every readable page */
};

static enum page_policy policy_of(const Vma *v)
{
	if (v->vdso_copy)
		return PAGES_NONE;	/* a thaw's copy of its kernel's vDSO (vdso.c) */
	switch (v->kind) {
	case VMA__KIND__ANON:
		/* droppable memory may lose its contents at any moment: a
		 * freeze is one such moment */
		if ((v->flags & MAP_TYPE) == MAP_DROPPABLE)
			return PAGES_NONE;
		return v->flags & MAP_SHARED ? PAGES_ALL : PAGES_ANON;
	case VMA__KIND__FILE:
		return v->flags & MAP_SHARED ? PAGES_NONE : PAGES_COW;
	case VMA__KIND__GHOST_PRIVATE:
		return PAGES_COW;
	case VMA__KIND__ANON_FROM_FILE:
		return PAGES_ALL;
	default:
		return PAGES_NONE;
	}
}

static uint32_t madv_of(uint32_t vmflags)
{
	return (vmflags & VMF_DONTFORK ? VMA_MADV_DONTFORK : 0) |
	       (vmflags & VMF_WIPEONFORK ? VMA_MADV_WIPEONFORK : 0) |
	       (vmflags & VMF_HUGEPAGE ? VMA_MADV_HUGEPAGE : 0) |
	       (vmflags & VMF_NOHUGEPAGE ? VMA_MADV_NOHUGEPAGE : 0) |
	       (vmflags & VMF_DONTDUMP ? VMA_MADV_DONTDUMP : 0) |
	       (vmflags & VMF_SEQ_READ ? VMA_MADV_SEQUENTIAL : 0) |
	       (vmflags & VMF_RAND_READ ? VMA_MADV_RANDOM : 0) |
	       (vmflags & VMF_MERGEABLE ? VMA_MADV_MERGEABLE : 0) |
	       (vmflags & VMF_LOCKED ? VMA_MADV_LOCKED : 0) |
	       (vmflags & VMF_LOCKONFAULT ? VMA_MADV_LOCKONFAULT : 0);
}

/* The mapping type and the flags of mmap() that VmFlags show. */
static uint32_t map_flags_of(const struct proc_vma *pv)
{
	uint32_t type = pv->shared ? MAP_SHARED :
			pv->vmflags & VMF_DROPPABLE ? MAP_DROPPABLE : MAP_PRIVATE;

	return type | (pv->vmflags & VMF_GROWSDOWN ? MAP_GROWSDOWN : 0) |
	       (pv->vmflags & VMF_NORESERVE ? MAP_NORESERVE : 0);
}

/* The guard regions of V (MADV_GUARD_INSTALL), which only pagemap shows:
 * recorded as ranges, installed again once the area is filled. */
static int dump_guards(struct dump_ctx *c, int *pagemap_fd, Vma *v)
{
	uint64_t buf[512], run = 0;
	size_t cap = 0;

	if (*pagemap_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/pagemap", c->pid);
		*pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (*pagemap_fd < 0) {
			pr_perror("cannot open %s", path);
			return -1;
		}
	}
	for (uint64_t a = v->start; a < v->end;) {
		size_t n = (v->end - a) / PAGE < ARRAY_SIZE(buf) ? (v->end - a) / PAGE : ARRAY_SIZE(buf);
		if (pread(*pagemap_fd, buf, n * 8, a / PAGE * 8) != (ssize_t)(n * 8)) {
			pr_perror("cannot read the pagemap of process %d at %#lx", c->pid,
				  (unsigned long)a);
			return -1;
		}
		for (size_t k = 0; k <= n; k++) {
			bool guard = k < n && (buf[k] & PM_GUARD);
			uint64_t at = a + k * PAGE;
			if (guard && !run)
				run = at;
			if (!guard && run && (k < n || at == v->end)) {
				if (v->n_guards + 2 > cap)
					v->guards = xrealloc(v->guards, (cap = cap ? cap * 2 : 8) * 8);
				v->guards[v->n_guards++] = run;
				v->guards[v->n_guards++] = at;
				run = 0;
			}
		}
		a += n * PAGE;
	}
	return 0;
}

/* Decides how one VMA is dumped, or refuses it with a reason. */
static int classify(struct dump_ctx *c, const struct proc_vma *pv, Vma *v)
{
	const char *p = pv->path;

	v->kind = VMA__KIND__ANON;
	if ((pv->vmflags & VMF_IO) && !(p && p[0] == '[')) {
		pr_err("process %d maps device memory at %#lx-%#lx (%s): it cannot be saved; "
		       "such a program (a GPU or hardware user) cannot be frozen", c->pid,
		       (unsigned long)pv->start, (unsigned long)pv->end, p ? p : "anonymous");
		return -1;
	}
	if (pv->vmflags & VMF_HUGETLB) {
		pr_err("process %d maps huge pages (hugetlbfs) at %#lx-%#lx (%s): jobfreeze cannot "
		       "freeze them yet; run the job without MAP_HUGETLB or SHM_HUGETLB (transparent "
		       "huge pages are fine)", c->pid, (unsigned long)pv->start,
		       (unsigned long)pv->end, p && *p ? p : "anonymous");
		return -1;
	}
	if (!p || !*p)
		return 0;
	if (!strcmp(p, "[vdso]")) {
		v->kind = VMA__KIND__VDSO;
	} else if (!strcmp(p, "[vvar]")) {
		v->kind = VMA__KIND__VVAR;
	} else if (!strcmp(p, "[vvar_vclock]")) {
		v->kind = VMA__KIND__VVAR_VCLOCK;
	} else if (!strcmp(p, "[vsyscall]")) {
		v->kind = VMA__KIND__VSYSCALL;
	} else if (p[0] == '[') {
		/* [heap], [stack], [anon:name]: anonymous memory with a label */
		if (strcmp(p, "[heap]") && strcmp(p, "[stack]") && strncmp(p, "[anon:", 6)) {
			pr_err("process %d has a special mapping %s at %#lx that jobfreeze does not "
			       "know how to restore", c->pid, p, (unsigned long)pv->start);
			return -1;
		}
	} else if (p[0] != '/') {
		pr_err("process %d maps %s at %#lx, which is not a file path", c->pid, p,
		       (unsigned long)pv->start);
		return -1;
	} else if (!strncmp(p, "/SYSV", 5)) {
		if (sysvshm_classify(c, pv, v) < 0)
			return -1;
	} else if (!strcmp(p, "/[aio]")) {
		if (aio_dump(c, pv, v) < 0)
			return -1;
	} else if (pv->deleted || !strncmp(p, "/memfd:", 7)) {
		/* Shared anonymous memory (a deleted /dev/zero), a deleted file or
		 * a memfd: one object, perhaps shared with fds and other
		 * processes; or, mapped privately and held by nothing else, just
		 * its contents. */
		if (!ghost_add_map(c, pv, v)) {
			pr_info("process %d: %s at %#lx was deleted; its contents go into the image",
				c->pid, p, (unsigned long)pv->start);
			v->kind = VMA__KIND__ANON_FROM_FILE;
		}
	} else {
		struct stat st;
		bool same = fileid_stat_cached(&c->shared->fileids, p, &st) == 0 &&
			    st.st_ino == pv->ino &&
			    major(st.st_dev) == pv->dev_major && minor(st.st_dev) == pv->dev_minor;
		if (same && !S_ISREG(st.st_mode)) {
			pr_err("process %d maps %s at %#lx, which is not a regular file (a device?): "
			       "it cannot be frozen", c->pid, p, (unsigned long)pv->start);
			return -1;
		}
		if (same && !pv->deleted) {
			v->kind = VMA__KIND__FILE;
			v->file = fileid_make_cached(&c->shared->fileids, p, &st);
			if (pv->shared && (pv->vmflags & VMF_MAYWRITE)) {
				v->has_may_write = 1;
				v->may_write = 1;
			}
		} else if (!pv->shared) {
			/* The file the job mapped is no longer on disk under that name:
			 * keep its content, it cannot come back from a file. */
			pr_info("process %d: %s at %#lx was deleted or replaced; its contents go "
				"into the image", c->pid, p, (unsigned long)pv->start);
			v->kind = VMA__KIND__ANON_FROM_FILE;
		} else {
			pr_err("process %d has a shared mapping of %s at %#lx, which was deleted or "
			       "replaced on disk: its contents cannot be brought back", c->pid, p,
			       (unsigned long)pv->start);
			return -1;
		}
	}
	v->name = xstrdup(p);
	return 0;
}

int mem_dump_vmas(struct dump_ctx *c)
{
	Process *img = c->img;
	int pagemap_fd = -1, ret = -1;

	img->vmas = xcalloc(c->maps.n, sizeof(Vma *));
	for (size_t i = 0; i < c->maps.n; i++) {
		const struct proc_vma *pv = &c->maps.v[i];
		Vma *v = xmalloc(sizeof(*v));

		vma__init(v);
		img->vmas[img->n_vmas++] = v;
		v->start = pv->start;
		v->end = pv->end;
		v->prot = pv->prot;
		v->flags = map_flags_of(pv);
		v->pgoff = pv->pgoff;
		v->madv = madv_of(pv->vmflags);
		if (classify(c, pv, v) < 0)
			goto out;
		v->has_vdso_copy = v->vdso_copy = img->has_vdso_copy_at && pv->start == img->vdso_copy_at;
		if ((pv->vmflags & VMF_GUARD) && dump_guards(c, &pagemap_fd, v) < 0)
			goto out;
	}
	ret = 0;
out:
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	return ret;
}

/* ---- copy-on-write sharing: which areas a fork leaves in place ---- */

static bool same_file(const FileId *a, const FileId *b)
{
	return a && b && !strcmp(a->path, b->path) && a->ino == b->ino && a->dev == b->dev &&
	       a->size == b->size && a->mtime_ns == b->mtime_ns;
}

bool mem_fork_ok(const Process *parent, const Process *child)
{
	size_t i = 0, k = 0;

	if (!same_file(parent->exe, child->exe))
		return false;
	/* The same kernel areas at the same places, in address order. */
	for (;;) {
		while (i < parent->n_vmas && !mem_is_kernel_area(parent->vmas[i]))
			i++;
		while (k < child->n_vmas && !mem_is_kernel_area(child->vmas[k]))
			k++;
		if (i == parent->n_vmas || k == child->n_vmas)
			return i == parent->n_vmas && k == child->n_vmas;
		const Vma *a = parent->vmas[i++], *b = child->vmas[k++];
		if (a->kind != b->kind || a->start != b->start || a->end != b->end)
			return false;
	}
}

/* Whether the parent's area PV, inherited by a fork, is what the child's V
 * holds where they overlap: private, of the same kind, file and offset,
 * flags and advice, and not one a fork drops or empties. */
static bool kept_as(const Vma *pv, const Vma *v)
{
	/* (guard regions: installed again on the area as the child had them) */
	if (pv->kind != v->kind || pv->flags != v->flags || pv->madv != v->madv ||
	    (v->flags & MAP_SHARED) || (pv->madv & (VMA_MADV_DONTFORK | VMA_MADV_WIPEONFORK)) ||
	    pv->n_guards || v->n_guards || pv->vdso_copy || v->vdso_copy)
		return false;
	switch (v->kind) {
	case VMA__KIND__ANON:
	case VMA__KIND__ANON_FROM_FILE:
		return true;
	case VMA__KIND__FILE:
		/* the same file page at the same address */
		return same_file(pv->file, v->file) && pv->pgoff - pv->start == v->pgoff - v->start;
	default:
		return false;
	}
}

size_t mem_area_above(const Process *p, uint64_t addr)
{
	size_t lo = 0, hi = p->n_vmas;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (p->vmas[mid]->end <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

void mem_fork_kept(const Process *parent, const Vma *v, struct spans *out)
{
	for (size_t i = mem_area_above(parent, v->start);
	     i < parent->n_vmas && parent->vmas[i]->start < v->end; i++) {
		const Vma *pv = parent->vmas[i];
		if (kept_as(pv, v))
			spans_add(out, pv->start > v->start ? pv->start : v->start,
				  pv->end < v->end ? pv->end : v->end);
	}
}

/* ---- dump: the pages ---- */

static int compress_level(const struct dump_opts *o)
{
	return o->no_compress ? 0 : o->compress_level > 0 ? o->compress_level : PF_LEVEL_DEFAULT;
}

/* What the batch knows of each of its ranges. */
enum {
	IOV_VMA_FIRST = 1,      /* starts a VMA: no run spans two */
	IOV_COMPARE = 2,        /* pages the parent may share: compared with its own */
	IOV_KEEP_ZERO = 4,      /* zero pages are stored too (a private file mapping's
				 * zeroes are not the file's) */
	IOV_SHARED = 8,         /* anonymous pages other processes may map too: never
				 * pinned (read_ranges) */
	IOV_BASE_OK = 16,       /* differing from the parent's, they may become its base
				 * (Process.base_pages): the first child, and pages the
				 * parent maps alone */
};

/* One batch of candidate pages read from the task and written to the image. */
struct page_reader {
	struct dump_ctx *c;
	struct pf_writer *w;              /* pages-PID.img (pagefile.c) */
	int mem_fd;                       /* /proc/PID/mem */
	int parent_mem_fd;                /* the parent's, when comparing */
	unsigned char *buf;
	unsigned char *pbuf;              /* the parent's pages at the same offsets */
	struct iovec remote[MEM_BATCH_IOVS];
	uint8_t flags[MEM_BATCH_IOVS];    /* IOV_* of remote[i] */
	uint8_t next_flags;               /* IOV_VMA_FIRST for the next range queued */
	size_t nr_remote, bytes;
	size_t cap_runs;
	/* copy-on-write sharing with the parent (cow.c) */
	struct dump_ctx *parent;          /* NULL: nothing is compared */
	size_t prun, pbase, pshared;      /* the parent's first run, base run, shared span
					   * not below the walk */
	bool make_base;                   /* the first child: may give the parent a base */
	struct pf_writer *base_w;         /* the parent's pages file, for its base */
	size_t cap_base;
};

/* The run that N pages at VADDR belong to: the previous one extended, or
 * a new one. Its CRC32C is carried on by the page file's writer, over
 * the bytes as they are put (pf_put), so by a worker thread. */
static PageRun *add_run(struct page_reader *pr, uint64_t vaddr, uint64_t n, bool may_merge,
			bool from_parent)
{
	Process *img = pr->c->img;
	PageRun *r;

	/* Runs are written back to back, so a run that follows the previous one
	 * in memory (in the same VMA, of the same kind) extends it; CRC32C
	 * chains over the concatenation. */
	if (img->n_pages && may_merge) {
		r = img->pages[img->n_pages - 1];
		if (r->vaddr + r->nr_pages * PAGE == vaddr && r->from_parent == from_parent) {
			r->nr_pages += n;
			return r;
		}
	}
	if (img->n_pages == pr->cap_runs)
		img->pages = xrealloc(img->pages, (pr->cap_runs = pr->cap_runs ? pr->cap_runs * 2 : 256) *
				      sizeof(PageRun *));
	r = xmalloc(sizeof(*r));
	page_run__init(r);
	r->vaddr = vaddr;
	r->nr_pages = n;
	if (from_parent) {
		r->has_from_parent = 1;
		r->from_parent = 1;
	}
	img->pages[img->n_pages++] = r;
	return r;
}

/* Reads the batch's ranges from the task into buf, at their offsets in
 * the batch; LEN[i] gets how much of range i was read. Anonymous pages
 * that other processes may map too (IOV_SHARED) are read through
 * /proc/PID/mem: process_vm_readv pins the pages it reads, and before a
 * shared anonymous page may be pinned the kernel gives the process a copy
 * of its own, which would undo the very sharing being saved (and leave a
 * job going on after a snapshot with those copies). */
static void read_ranges(struct page_reader *pr, size_t *len)
{
	struct iovec local[MEM_BATCH_IOVS], remote[MEM_BATCH_IOVS];
	size_t idx[MEM_BATCH_IOVS], n = 0, off = 0;

	for (size_t i = 0; i < pr->nr_remote; off += pr->remote[i].iov_len, i++) {
		len[i] = 0;
		if (pr->flags[i] & IOV_SHARED) {
			ssize_t r = pread(pr->mem_fd, pr->buf + off, pr->remote[i].iov_len,
					  (off_t)pr->remote[i].iov_base);
			len[i] = r > 0 ? r : 0;
			continue;
		}
		local[n] = (struct iovec){ pr->buf + off, pr->remote[i].iov_len };
		remote[n] = pr->remote[i];
		idx[n++] = i;
	}
	ssize_t r = n ? process_vm_readv(pr->c->pid, local, n, remote, n, 0) : 0;
	for (size_t k = 0; k < n && r > 0; k++) {
		len[idx[k]] = (size_t)r < local[k].iov_len ? (size_t)r : local[k].iov_len;
		r -= len[idx[k]];
	}
}

/* A page process_vm_readv could not read (protections it refuses) again
 * through /proc/PID/mem; false if it cannot be read at all. */
static bool read_page_slow(struct page_reader *pr, uint64_t addr, unsigned char *dst)
{
	return pread(pr->mem_fd, dst, PAGE, addr) == (ssize_t)PAGE;
}

/* The bytes a process stored (its own runs, then its base runs, in order:
 * a copy of its pages file), kept while processes below it remain to be
 * dumped, so that their pages are compared with them instead of with the
 * parent's memory read again through /proc/PID/mem for each child (a
 * grandchild's page may be one its parent took from its own). At most
 * KEPT_MAX bytes for the whole dump; beyond, the parent is read again. */
struct kept_pages {
	unsigned char *data;
	size_t len, cap;
	bool full;                        /* something could not be kept */
	uint64_t *run_off;                /* per page run: where its bytes are in data */
	uint64_t *base_off;               /* per base run */
	size_t cap_base_off;
	struct spans shared;              /* its pages other processes mapped too */
	bool base_done;                   /* its first child decided its base */
	struct pf_prev *prev;             /* its pages in the earlier snapshot: for its base */
	unsigned left;                    /* processes below it still to be dumped */
};

#define KEPT_MAX (512UL << 20)

/* Appends the bytes of OUT to C's copy; false if they could not be kept. */
static bool keep_pages(struct dump_ctx *c, const struct iovec *out, size_t nr_out)
{
	struct kept_pages *k = c->kept;
	size_t want = 0;

	if (!k || k->full)
		return false;
	for (size_t i = 0; i < nr_out; i++)
		want += out[i].iov_len;
	if (k->len + want > k->cap) {
		size_t cap = k->cap ? k->cap : MEM_BATCH_BYTES;
		while (cap < k->len + want)
			cap *= 2;
		/* (two threads may keep pages at once: each its own process's) */
		size_t all = __atomic_load_n(&c->shared->kept_bytes, __ATOMIC_RELAXED);
		void *d = all + (cap - k->cap) > KEPT_MAX ? MAP_FAILED :
			  k->data ? mremap(k->data, k->cap, cap, MREMAP_MAYMOVE) :
			  mmap(NULL, cap, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (d == MAP_FAILED) {
			k->full = true;	/* the rest is read again when needed */
			return false;
		}
		__atomic_fetch_add(&c->shared->kept_bytes, cap - k->cap, __ATOMIC_RELAXED);
		k->data = d;
		k->cap = cap;
	}
	for (size_t i = 0; i < nr_out; i++) {
		memcpy(k->data + k->len, out[i].iov_base, out[i].iov_len);
		k->len += out[i].iov_len;
	}
	return true;
}

/* The run of RUNS (sorted) that holds ADDR, or N. */
static size_t run_at(PageRun **runs, size_t n, uint64_t addr)
{
	size_t lo = 0, hi = n;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (runs[mid]->vaddr + runs[mid]->nr_pages * PAGE <= addr)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < n && runs[lo]->vaddr <= addr ? lo : n;
}

/* What process P held at ADDR when it forked its children, if kept: its
 * base page there, else its own stored page, or, for a page it took from
 * its own parent, what that one held when it forked it. *KNOWN tells
 * whether P's page there is known at all (false: read P's memory again,
 * which only holds it when P has no base page there). */
static const unsigned char *kept_page(const struct dump_ctx *p, uint64_t addr, bool *known)
{
	*known = false;
	for (; p && p->kept; p = p->parent) {
		const Process *img = p->img;
		struct kept_pages *k = p->kept;
		size_t i;

		i = run_at(img->base_pages, img->n_base_pages, addr);
		if (i < img->n_base_pages) {
			uint64_t at = k->base_off[i] + (addr - img->base_pages[i]->vaddr);
			*known = true;	/* (never its memory: that holds what came after) */
			return at + PAGE <= k->len ? k->data + at : NULL;
		}
		i = run_at(img->pages, img->n_pages, addr);
		if (i == img->n_pages || !k->run_off)
			return NULL;
		if (img->pages[i]->from_parent)
			continue;
		uint64_t at = k->run_off[i] + (addr - img->pages[i]->vaddr);
		return at + PAGE <= k->len ? k->data + at : NULL;
	}
	return NULL;
}

/* Where each of C's own runs is in its copy (own runs follow each other
 * there as in the file): made once its pages are all read, before its
 * children, which may be compared by two threads at once, look there. */
static void kept_index(struct dump_ctx *c)
{
	const Process *img = c->img;
	struct kept_pages *k = c->kept;
	uint64_t off = 0;

	k->run_off = xcalloc(img->n_pages + 1, sizeof(uint64_t));
	for (size_t i = 0; i < img->n_pages; i++) {
		k->run_off[i] = off;
		if (!img->pages[i]->from_parent)
			off += img->pages[i]->nr_pages * PAGE;
	}
}

static void kept_free(struct dump_ctx *c)
{
	struct kept_pages *k = c->kept;

	if (!k)
		return;
	if (k->data)
		munmap(k->data, k->cap);
	__atomic_fetch_sub(&c->shared->kept_bytes, k->cap, __ATOMIC_RELAXED);
	free(k->run_off);
	free(k->base_off);
	pf_prev_free(k->prev);
	spans_free(&k->shared);
	free(k);
	c->kept = NULL;
}

void mem_dump_free(struct dump_ctx *c)
{
	kept_free(c);
}

/* The parent's base grows by N pages at VADDR (DATA), shared from now on
 * by the first child and those after it that hold the same. */
static int add_base(struct page_reader *pr, uint64_t vaddr, const unsigned char *data, uint64_t n)
{
	struct dump_ctx *p = pr->parent;
	struct kept_pages *k = p->kept;
	Process *img = p->img;
	struct iovec iov = { (void *)data, n * PAGE };
	PageRun *r = img->n_base_pages ? img->base_pages[img->n_base_pages - 1] : NULL;
	size_t a;

	if (!pr->base_w) {
		char name[64];
		snprintf(name, sizeof(name), "pages-%d.img", img->pid);
		int fd = openat(p->dir->fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0) {
			pr_perror("cannot add to %s/%s", p->dir->path, name);
			return -1;
		}
		/* (its chunks follow those of its own runs) */
		pr->base_w = pf_writer_new(p->dir, fd, name, img, compress_level(p->o), k->prev,
					   pr->c->stats);
		if (!pr->base_w)
			return -1;
	}
	uint64_t at = k->len;
	if (!keep_pages(p, &iov, 1))
		return 1;	/* no room to compare the others with it: not a base */
	pr->c->stats->pages_written += n;
	pr->c->stats->bytes_written += n * PAGE;
	/* (a run lies in one of the parent's areas) */
	if (r && r->vaddr + r->nr_pages * PAGE == vaddr &&
	    (a = mem_area_above(img, r->vaddr)) < img->n_vmas && img->vmas[a]->end >= vaddr + n * PAGE) {
		r->nr_pages += n;
	} else {
		if (img->n_base_pages == pr->cap_base) {
			pr->cap_base = pr->cap_base ? pr->cap_base * 2 : 64;
			img->base_pages = xrealloc(img->base_pages, pr->cap_base * sizeof(PageRun *));
			k->base_off = xrealloc(k->base_off, pr->cap_base * sizeof(uint64_t));
		}
		r = xmalloc(sizeof(*r));
		page_run__init(r);
		r->vaddr = vaddr;
		r->nr_pages = n;
		k->base_off[img->n_base_pages] = at;
		img->base_pages[img->n_base_pages++] = r;
	}
	return pf_put(pr->base_w, vaddr, data, n * PAGE, &r->crc32c) < 0 ? -1 : 0;
}

enum page_kind { PG_NONE, PG_OWN, PG_PARENT };

/* A batch's own pages to write, as runs (at most one per page). */
struct batch_out {
	struct iovec iov[MEM_BATCH_BYTES / PAGE];
	uint64_t addr[MEM_BATCH_BYTES / PAGE];
	PageRun *run[MEM_BATCH_BYTES / PAGE];	/* the run each belongs to */
	size_t n;
};

/* The run of N pages of KIND at START (BUF) ends: added to the image's
 * runs (FIRST: the first of its range, never merged with the one
 * before), and to O if they are the job's own. */
static void end_run(struct page_reader *pr, struct batch_out *o, uint64_t start,
		    unsigned char *buf, uint64_t n, bool first, enum page_kind kind)
{
	PageRun *r = add_run(pr, start, n, !first, kind == PG_PARENT);

	if (kind == PG_OWN) {
		o->addr[o->n] = start;
		o->run[o->n] = r;
		o->iov[o->n++] = (struct iovec){ buf, n * PAGE };
	}
}

static int write_runs(struct page_reader *pr, const struct batch_out *o)
{
	keep_pages(pr->c, o->iov, o->n);
	for (size_t i = 0; i < o->n; i++) {
		if (pf_put(pr->w, o->addr[i], o->iov[i].iov_base, o->iov[i].iov_len,
			   &o->run[i]->crc32c) < 0)
			return -1;
		pr->c->stats->pages_written += o->iov[i].iov_len / PAGE;
		pr->c->stats->bytes_written += o->iov[i].iov_len;
	}
	return 0;
}

static int flush_batch(struct page_reader *pr)
{
	struct batch_out out;
	size_t got[MEM_BATCH_IOVS];
	size_t off = 0;

	if (!pr->bytes)
		return 0;
	out.n = 0;
	read_ranges(pr, got);
	/* Walk the batch page by page: drop zero and unreadable pages, leave
	 * the parent's to it, write the rest as runs. */
	for (size_t i = 0; i < pr->nr_remote; i++) {
		uint64_t base = (uint64_t)pr->remote[i].iov_base;
		size_t n = pr->remote[i].iov_len / PAGE;
		uint64_t run_start = 0, run_n = 0;
		enum page_kind run_kind = PG_NONE;
		unsigned char *run_buf = NULL;
		bool first = pr->flags[i] & IOV_VMA_FIRST;

		size_t parent_got = 0;
		bool parent_read = false;

		for (size_t k = 0; k < n; k++, off += PAGE) {
			unsigned char *pg = pr->buf + off;
			uint64_t addr = base + k * PAGE;
			bool ok = (k + 1) * PAGE <= got[i] || read_page_slow(pr, addr, pg);
			bool zero = false;
			enum page_kind kind = ok ? PG_OWN : PG_NONE;

			/* (compared first: most such pages are the parent's, and
			 * one that is needs no look for zeros) */
			if (kind == PG_OWN && (pr->flags[i] & IOV_COMPARE)) {
				bool known;
				const unsigned char *pp = kept_page(pr->parent, addr, &known);
				if (!pp && !known && !parent_read) {
					/* not kept: the parent read again, the whole range */
					ssize_t r = pread(pr->parent_mem_fd, pr->pbuf + (off - k * PAGE),
							  n * PAGE, base);
					parent_got = r > 0 ? r : 0;
					parent_read = true;
				}
				if (!pp && !known && (k + 1) * PAGE <= parent_got)
					pp = pr->pbuf + off;
				if (pp && !memcmp(pg, pp, PAGE))
					kind = PG_PARENT;
			}
			if (kind == PG_OWN && !(pr->flags[i] & IOV_KEEP_ZERO) && page_is_zero(pg)) {
				zero = true;
				kind = PG_NONE;
			}
			if (kind == PG_OWN && (pr->flags[i] & IOV_BASE_OK)) {
				int b = add_base(pr, addr, pg, 1);
				if (b < 0)
					return -1;
				if (b == 0)
					kind = PG_PARENT;
			}

			pr->c->stats->pages_scanned++;
			pr->c->stats->pages_zero += zero;
			pr->c->stats->pages_shared += kind == PG_PARENT;
			if (kind != PG_NONE && kind == run_kind && run_start + run_n * PAGE == addr) {
				run_n++;
				continue;
			}
			if (run_kind != PG_NONE) {
				end_run(pr, &out, run_start, run_buf, run_n, first, run_kind);
				first = false;
			}
			run_kind = kind;
			run_start = addr;
			run_buf = pg;
			run_n = 1;
		}
		if (run_kind != PG_NONE)
			end_run(pr, &out, run_start, run_buf, run_n, first, run_kind);
	}
	if (write_runs(pr, &out) < 0)
		return -1;
	pr->nr_remote = 0;
	pr->bytes = 0;
	return 0;
}

static int queue_pages(struct page_reader *pr, uint64_t addr, uint64_t n, uint8_t flags)
{
	while (n) {
		uint64_t room = (MEM_BATCH_BYTES - pr->bytes) / PAGE;
		uint64_t take = n < room ? n : room;

		if (take) {
			pr->flags[pr->nr_remote] = flags | pr->next_flags;
			pr->next_flags = 0;
			pr->remote[pr->nr_remote++] = (struct iovec){ (void *)addr, take * PAGE };
			pr->bytes += take * PAGE;
			addr += take * PAGE;
			n -= take;
		}
		if (pr->bytes == MEM_BATCH_BYTES || pr->nr_remote == MEM_BATCH_IOVS)
			if (flush_batch(pr) < 0)
				return -1;
	}
	return 0;
}

/* Whether RUNS[*AT...] (sorted) holds ADDR; the walk only goes up. */
static bool runs_hold(PageRun **runs, size_t n, size_t *at, uint64_t addr)
{
	while (*at < n && runs[*at]->vaddr + runs[*at]->nr_pages * PAGE <= addr)
		(*at)++;
	return *at < n && runs[*at]->vaddr <= addr;
}

/* Whether the parent held a page at ADDR when it forked (stored or base). */
static bool parent_has_page(struct page_reader *pr, uint64_t addr)
{
	const Process *p = pr->parent->img;

	return runs_hold(p->pages, p->n_pages, &pr->prun, addr) ||
	       runs_hold(p->base_pages, p->n_base_pages, &pr->pbase, addr);
}

/* Whether the parent's page at ADDR may become a base: the first child
 * decides, where the parent's own page is mapped by it alone (a page it
 * changed after the last fork: no child can share it). */
static bool base_ok(struct page_reader *pr, uint64_t addr)
{
	const struct spans *sh = &pr->parent->kept->shared;

	if (!pr->make_base)
		return false;
	while (pr->pshared < sh->n && sh->s[pr->pshared].end <= addr)
		pr->pshared++;
	return !(pr->pshared < sh->n && sh->s[pr->pshared].start <= addr);
}

#define PAGEMAP_CHUNK 65536	/* entries per pagemap read: 256 MiB of address space */

/* A page of V that may be the parent's: in a part of V that a fork from
 * the parent leaves in place, and shared with some process (not
 * exclusive): IOV_COMPARE where the parent held one at fork time,
 * IOV_BASE_OK where it may become the parent's base; 0 if neither. */
static uint8_t may_be_parents(struct page_reader *pr, const struct spans *kept, size_t *ks,
			      uint64_t addr, uint64_t e)
{
	while (*ks < kept->n && kept->s[*ks].end <= addr)
		(*ks)++;
	if (!(*ks < kept->n && kept->s[*ks].start <= addr) || ((e & PM_PRESENT) && (e & PM_EXCLUSIVE)))
		return 0;
	return (parent_has_page(pr, addr) ? IOV_COMPARE : 0) | (base_ok(pr, addr) ? IOV_BASE_OK : 0);
}

static int dump_vma_pages(struct page_reader *pr, int pagemap_fd, const Vma *v)
{
	enum page_policy pol = policy_of(v);
	uint8_t keep_zero = pol == PAGES_COW ? IOV_KEEP_ZERO : 0;
	struct spans kept = { 0 };
	size_t ks = 0;
	uint64_t *pm = NULL;
	int ret = -1;

	if (pol == PAGES_NONE)
		return 0;
	pr->next_flags = IOV_VMA_FIRST;
	if (pr->parent)
		mem_fork_kept(pr->parent->img, v, &kept);
	pm = xmalloc(PAGEMAP_CHUNK * sizeof(uint64_t));
	for (uint64_t a = v->start; a < v->end;) {
		uint64_t n = (v->end - a) / PAGE, run_start = 0, run_n = 0;
		uint8_t run_flags = 0;
		if (n > PAGEMAP_CHUNK)
			n = PAGEMAP_CHUNK;
		ssize_t r = pread(pagemap_fd, pm, n * 8, (a / PAGE) * 8);
		if (r != (ssize_t)(n * 8)) {
			pr_perror("cannot read /proc/%d/pagemap at %#lx", pr->c->pid, (unsigned long)a);
			goto out;
		}
		for (uint64_t k = 0; k < n; k++) {
			uint64_t e = pm[k], addr = a + k * PAGE;
			bool want = pol == PAGES_ALL || (e & PM_SWAP) ||
				    ((e & PM_PRESENT) && (pol == PAGES_ANON || !(e & PM_FILE)));
			uint8_t flags = keep_zero;
			if (!(e & PM_FILE) && !((e & PM_PRESENT) && (e & PM_EXCLUSIVE)))
				flags |= IOV_SHARED;
			if (want && kept.n)
				flags |= may_be_parents(pr, &kept, &ks, addr, e);
			/* a parent: which of its pages its children may share */
			if (want && pr->c->kept && (flags & IOV_SHARED))
				spans_add(&pr->c->kept->shared, addr, addr + PAGE);
			if (want && run_n && flags == run_flags) {
				run_n++;
				continue;
			}
			if (run_n && queue_pages(pr, run_start, run_n, run_flags) < 0)
				goto out;
			run_n = want;
			run_start = addr;
			run_flags = flags;
		}
		if (run_n && queue_pages(pr, run_start, run_n, run_flags) < 0)
			goto out;
		a += n * PAGE;
	}
	ret = 0;
out:
	spans_free(&kept);
	free(pm);
	return ret;
}

/* A child of a process of the job that runs the same program, with the
 * kernel's areas where the parent has them, is rebuilt by forking that
 * parent (cow.c): what they share is compared and left to the parent. */
static struct dump_ctx *cow_source(struct dump_ctx *c)
{
	struct dump_ctx *p = c->parent;

	if (!p || !p->img || !mem_fork_ok(p->img, c->img))
		return NULL;
	c->img->has_cow_parent = 1;
	c->img->cow_parent = p->img->pid;
	return p;
}

static int open_proc(pid_t pid, const char *what)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		pr_perror("cannot open %s", path);
	return fd;
}

int mem_dump_pages(struct dump_ctx *c, unsigned char **buf)
{
	struct page_reader pr = { .c = c, .mem_fd = -1, .parent_mem_fd = -1,
				  .parent = cow_source(c) };
	struct pf_prev *prev = NULL;
	int pagemap_fd = -1, ret = -1;
	char name[64];

	snprintf(name, sizeof(name), "pages-%d.img", c->img->pid);
	int out_fd = image_create_raw(c->dir, name);
	if (out_fd < 0)
		return -1;
	if (c->shared->prev)
		prev = pf_prev_load(c->shared->prev, c->dir, c->img->pid);
	pr.w = pf_writer_new(c->dir, out_fd, name, c->img, compress_level(c->o), prev, c->stats);
	if (!pr.w) {
		pf_prev_free(prev);
		return -1;
	}
	if (c->nr_descendants && !c->kept) {
		c->kept = xcalloc(1, sizeof(*c->kept));
		c->kept->left = c->nr_descendants;
	}
	/* its parent's first child: the parent's base is made with its pages */
	pr.make_base = pr.parent && pr.parent->kept && !pr.parent->kept->base_done &&
		       !pr.parent->kept->full;
	if ((pagemap_fd = open_proc(c->pid, "pagemap")) < 0 ||
	    (pr.mem_fd = open_proc(c->pid, "mem")) < 0 ||
	    (pr.parent && (pr.parent_mem_fd = open_proc(pr.parent->pid, "mem")) < 0))
		goto out;
	/* One buffer for every process a thread dumps: faulted in once. */
	if (!*buf) {
		void *b = mmap(NULL, 2 * MEM_BATCH_BYTES, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (b == MAP_FAILED) {
			pr_perror("cannot allocate a %u MiB page buffer", 2 * MEM_BATCH_BYTES >> 20);
			goto out;
		}
		*buf = b;
	}
	pr.buf = *buf;
	pr.pbuf = pr.buf + MEM_BATCH_BYTES;
	for (size_t i = 0; i < c->img->n_vmas; i++)
		if (dump_vma_pages(&pr, pagemap_fd, c->img->vmas[i]) < 0)
			goto out;
	if (flush_batch(&pr) < 0 || pf_finish(pr.w) < 0 || (pr.base_w && pf_finish(pr.base_w) < 0))
		goto out;
	/* Synced with the whole image at the end (image_dir_sync); the disk
	 * starts on it now, while the next processes are read. */
	sync_file_range(out_fd, 0, 0, SYNC_FILE_RANGE_WRITE);
	c->mem_made_base = pr.make_base;
	if (c->kept)
		kept_index(c);
	ret = 0;
out:
	if (pr.mem_fd >= 0)
		close(pr.mem_fd);
	if (pr.parent_mem_fd >= 0)
		close(pr.parent_mem_fd);
	pf_writer_free(pr.base_w);
	if (pagemap_fd >= 0)
		close(pagemap_fd);
	pf_writer_free(pr.w);	/* (closes out_fd) */
	/* (kept for its base, made while its first child is dumped) */
	if (c->kept && !c->kept->prev && !c->kept->base_done)
		c->kept->prev = prev;
	else
		pf_prev_free(prev);
	return ret;
}

bool mem_dump_ready(const struct dump_ctx *c)
{
	const struct dump_ctx *p = c->parent;

	if (!p)
		return true;
	if (p->mem_state != MEM_DONE)
		return false;
	return !p->kept || p->kept->base_done || !p->mem_kids_busy;
}

void mem_dump_started(struct dump_ctx *c)
{
	c->mem_state = MEM_BUSY;
	if (c->parent)
		c->parent->mem_kids_busy++;
}

void mem_dump_finished(struct dump_ctx *c)
{
	c->mem_state = MEM_DONE;
	if (c->parent)
		c->parent->mem_kids_busy--;
	if (c->mem_made_base)
		c->parent->kept->base_done = true;
	/* the pages of those above it are kept until the last process below
	 * them is done */
	for (struct dump_ctx *a = c->parent; a; a = a->parent)
		if (a->kept && !--a->kept->left)
			kept_free(a);
}

void mem_page_buf_free(unsigned char **buf)
{
	if (*buf)
		munmap(*buf, 2 * MEM_BATCH_BYTES);
	*buf = NULL;
}

/* ---- restore ---- */

#define TASK_SIZE_MAX 0x7ffffffff000ULL

static uint64_t stored_bytes(PageRun **runs, size_t n)
{
	uint64_t sum = 0;

	for (size_t i = 0; i < n; i++)
		if (!runs[i]->from_parent)
			sum += runs[i]->nr_pages * PAGE;
	return sum;
}

/* Page runs RUNS (N, of a list named WHAT) sorted, disjoint, each inside
 * one area whose pages come from the image; HAS_PAGES marks the areas
 * that get bytes written. */
static int check_runs(const Process *img, PageRun **runs, size_t n, const char *what,
		      bool *has_pages)
{
	size_t v = 0;

	for (size_t i = 0; i < n; i++) {
		const PageRun *p = runs[i];
		uint64_t end = p->vaddr + p->nr_pages * PAGE;
		if (!p->nr_pages || p->nr_pages > TASK_SIZE_MAX / PAGE || p->vaddr % PAGE || end < p->vaddr ||
		    (i && p->vaddr < runs[i - 1]->vaddr + runs[i - 1]->nr_pages * PAGE)) {
			pr_err("damaged image: %s %zu at %#lx is invalid", what, i, (unsigned long)p->vaddr);
			return -1;
		}
		while (v < img->n_vmas && img->vmas[v]->end <= p->vaddr)
			v++;
		if (v == img->n_vmas || p->vaddr < img->vmas[v]->start || end > img->vmas[v]->end ||
		    policy_of(img->vmas[v]) == PAGES_NONE || (p->from_parent && !img->has_cow_parent)) {
			pr_err("damaged image: %s %zu at %#lx lies outside the memory it belongs to",
			       what, i, (unsigned long)p->vaddr);
			return -1;
		}
		/* (the parent's come with the fork: nothing to write) */
		has_pages[v] |= !p->from_parent;
	}
	return 0;
}

/* Checks every range against the others before anything is mapped: VMAs
 * sorted, aligned, disjoint, in user space; each page run inside one VMA
 * whose contents come from the image. */
int mem_validate(const Process *img, bool *has_pages)
{
	for (size_t i = 0; i < img->n_vmas; i++) {
		const Vma *a = img->vmas[i];
		if (a->start >= a->end || a->start < PAGE || a->start % PAGE || a->end % PAGE ||
		    a->pgoff > TASK_SIZE_MAX ||
		    (a->end > TASK_SIZE_MAX && a->kind != VMA__KIND__VSYSCALL) ||
		    (i && a->start < img->vmas[i - 1]->end) || (a->kind == VMA__KIND__FILE && !a->file) ||
		    ((a->kind == VMA__KIND__SHMEM || a->kind == VMA__KIND__SYSV_SHM ||
		      a->kind == VMA__KIND__GHOST_PRIVATE) && !a->has_shmem_id)) {
			pr_err("damaged image: memory area %zu (%#lx-%#lx) is invalid or overlaps another",
			       i, (unsigned long)a->start, (unsigned long)a->end);
			return -1;
		}
		if (a->kind == VMA__KIND__AIO && aio_check(a) < 0) {
			pr_err("damaged image: the AIO ring at %#lx", (unsigned long)a->start);
			return -1;
		}
		for (size_t k = 0; k < a->n_guards; k += 2)
			if (a->n_guards % 2 || a->guards[k] % PAGE || a->guards[k + 1] % PAGE ||
			    a->guards[k] < a->start || a->guards[k + 1] > a->end ||
			    a->guards[k] >= a->guards[k + 1]) {
				pr_err("damaged image: a guard region of memory area %zu (%#lx-%#lx)", i,
				       (unsigned long)a->start, (unsigned long)a->end);
				return -1;
			}
	}
	for (size_t i = 0; i < img->n_base_pages; i++)
		if (img->base_pages[i]->from_parent) {
			pr_err("damaged image: base run %zu at %#lx", i,
			       (unsigned long)img->base_pages[i]->vaddr);
			return -1;
		}
	if (check_runs(img, img->pages, img->n_pages, "page run", has_pages) < 0 ||
	    check_runs(img, img->base_pages, img->n_base_pages, "base run", has_pages) < 0)
		return -1;
	return pf_validate(img, stored_bytes(img->pages, img->n_pages) +
				stored_bytes(img->base_pages, img->n_base_pages));
}

uint32_t mem_map_prot(const Vma *v, bool has_pages)
{
	/* Pages are written from outside; the final protection comes after. */
	return has_pages ? v->prot | PROT_READ | PROT_WRITE : v->prot;
}

void mem_file_close(struct restore_ctx *r, struct mem_file *f)
{
	if (f->fd >= 0)
		INJECT(&r->in, SYS_close, f->fd);
	f->fd = -1;
	f->path = NULL;
}

/* The file of V open in the process (consecutive areas of one file share
 * it): its fd there, or -errno. */
static long open_mapped(struct restore_ctx *r, const Vma *v, struct mem_file *f)
{
	int mode = (v->flags & MAP_SHARED) && ((v->prot & PROT_WRITE) || v->may_write) ?
		   O_RDWR : O_RDONLY;

	if (f->path && !strcmp(f->path, v->file->path) && f->mode == mode)
		return f->fd;
	mem_file_close(r, f);
	uint64_t p = scratch_put(r, 0, v->file->path, strlen(v->file->path) + 1);
	long fd = p ? INJECT(&r->in, SYS_openat, AT_FDCWD, p, mode | O_CLOEXEC) : -EFAULT;
	if (fd < 0) {
		pr_err("cannot open %s to map it at %#lx: %s", v->file->path,
		       (unsigned long)v->start, strerror(-fd));
		return fd;
	}
	f->path = v->file->path;
	f->mode = mode;
	f->fd = fd;
	return fd;
}

int mem_map_part(struct restore_ctx *r, size_t i, uint64_t start, uint64_t end, struct mem_file *f)
{
	const Vma *v = r->img->vmas[i];
	uint32_t prot = mem_map_prot(v, r->has_pages[i]);
	uint32_t type = v->flags & MAP_TYPE;
	uint32_t flags = MAP_FIXED | (type == MAP_SHARED || type == MAP_DROPPABLE ? type : MAP_PRIVATE) |
			 (v->flags & (MAP_GROWSDOWN | MAP_NORESERVE));
	uint64_t pgoff = v->pgoff + (start - v->start);
	long m, fd;

	if (v->kind == VMA__KIND__AIO)
		return 0;	/* (AIO rings: made by aio_restore) */
	if (v->kind == VMA__KIND__FILE) {
		fd = open_mapped(r, v, f);
		if (fd < 0)
			return -1;
		m = INJECT(&r->in, SYS_mmap, start, end - start, prot, flags, fd, pgoff);
	} else if (v->kind == VMA__KIND__SHMEM || v->kind == VMA__KIND__GHOST_PRIVATE) {
		/* the job's one object, shared with whoever else maps it */
		bool shared = v->kind == VMA__KIND__SHMEM;
		long sfd = shmem_fd_in_process(r, v->shmem_id, pgoff + (end - start),
					       shared && ((v->prot & PROT_WRITE) || v->may_write ||
							  !v->has_may_write));
		if (sfd < 0) {
			pr_err("cannot get the %s mapped at %#lx: %s", v->name ? v->name :
			       "shared memory", (unsigned long)start, strerror(-sfd));
			return -1;
		}
		m = INJECT(&r->in, SYS_mmap, start, end - start, shared ? v->prot : prot,
			   shared ? MAP_FIXED | MAP_SHARED : flags, sfd, pgoff);
		INJECT(&r->in, SYS_close, sfd);
	} else if (v->kind == VMA__KIND__SYSV_SHM) {
		m = start == v->start && end == v->end ? sysvshm_attach(r, i) : -EINVAL;
	} else {
		m = INJECT(&r->in, SYS_mmap, start, end - start, prot, flags | MAP_ANONYMOUS, -1, 0);
	}
	if (m != (long)start) {
		pr_err("cannot map %s at %#lx-%#lx: %s", v->name ? v->name : "anonymous memory",
		       (unsigned long)start, (unsigned long)end,
		       m < 0 ? strerror(-m) : "placed elsewhere");
		return -1;
	}
	return 0;
}

int mem_restore_layout(struct restore_ctx *r)
{
	const Process *img = r->img;
	bool *has_pages = xcalloc(img->n_vmas + 1, sizeof(bool));
	struct mem_file f = { .fd = -1 };
	int ret = -1;

	r->has_pages = has_pages;
	if (mem_validate(img, has_pages) < 0)
		return -1;
	/* Forked from its parent, it holds the parent's memory: cow.c makes
	 * its own of it. */
	if (r->parent)
		return 0;
	for (size_t i = 0; i < img->n_vmas; i++) {
		const Vma *v = img->vmas[i];
		if (!mem_is_kernel_area(v) && mem_map_part(r, i, v->start, v->end, &f) < 0)
			goto out;
	}
	ret = aio_restore(r);
out:
	mem_file_close(r, &f);
	return ret;
}

/* The job's memory written from the page stream, chunk by chunk: each
 * chunk's bytes go to the runs they belong to, each run's CRC32C checked
 * once its last byte is seen. */
struct run_walk {
	struct restore_ctx *r;
	PageRun **runs[2];
	size_t nr[2];
	size_t list, i;           /* the run being filled: runs[list][i] */
	uint64_t done;            /* its bytes seen */
	uint32_t crc;
	const char *name;
	struct pf_reader *pf;
	size_t chunk, run_chunk;  /* the chunk being walked, the run's first */
	struct iovec local[MEM_BATCH_IOVS], remote[MEM_BATCH_IOVS];
	size_t n;                 /* gathered, not written yet */
	uint64_t total;
	bool sunk;                /* the chunks are written by pf's workers (write_chunk) */
};

/* The runs with bytes in the image, in the order of the page stream, with
 * where each starts in it: which addresses a chunk's bytes go to, for
 * any thread. */
struct run_map {
	pid_t job;
	const PageRun **runs;
	uint64_t *start;
	size_t n;
};

static void run_map_build(struct run_map *m, const Process *img, pid_t job)
{
	PageRun **lists[2] = { img->pages, img->base_pages };
	size_t nr[2] = { img->n_pages, img->n_base_pages };
	uint64_t at = 0;

	m->job = job;
	m->runs = xmalloc((nr[0] + nr[1] + 1) * sizeof(*m->runs));
	m->start = xmalloc((nr[0] + nr[1] + 1) * sizeof(*m->start));
	m->n = 0;
	for (int l = 0; l < 2; l++)
		for (size_t i = 0; i < nr[l]; i++) {
			if (lists[l][i]->from_parent)
				continue;
			m->runs[m->n] = lists[l][i];
			m->start[m->n++] = at;
			at += lists[l][i]->nr_pages * PAGE;
		}
}

/* pf_sink: the LEN bytes at OFF of the stream written to their runs in
 * the job, at once (a chunk's pages lie in at most CHUNK_BYTES / PAGE
 * runs). Bytes past the last run are left to the walk to refuse. */
static int write_chunk(void *arg, uint64_t off, const unsigned char *data, size_t len)
{
	const struct run_map *m = arg;
	struct iovec local[CHUNK_BYTES / PAGE], remote[CHUNK_BYTES / PAGE];
	size_t lo = 0, hi = m->n, k = 0, pos = 0;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (m->start[mid] + m->runs[mid]->nr_pages * PAGE <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (size_t i = lo; i < m->n && pos < len && k < CHUNK_BYTES / PAGE; i++) {
		uint64_t in = off + pos - m->start[i];
		uint64_t take = m->runs[i]->nr_pages * PAGE - in;
		if (take > len - pos)
			take = len - pos;
		local[k] = (struct iovec){ (void *)(data + pos), take };
		remote[k++] = (struct iovec){ (void *)(m->runs[i]->vaddr + in), take };
		pos += take;
	}
	if (!k)
		return 0;
	ssize_t wr = process_vm_writev(m->job, local, k, remote, k, 0);
	if (wr != (ssize_t)pos) {
		if (wr >= 0)
			errno = EFAULT;
		pr_perror("cannot write the job's memory (%zu runs from %#lx)", k,
			  (unsigned long)remote[0].iov_base);
		return -1;
	}
	return 0;
}

/* The next run with bytes in the image, or false. */
static bool walk_next(struct run_walk *w)
{
	for (; w->list < 2; w->list++, w->i = 0)
		for (; w->i < w->nr[w->list]; w->i++)
			if (!w->runs[w->list][w->i]->from_parent)
				return true;
	return false;
}

/* Writes what W has gathered into the job. */
static int walk_flush(struct run_walk *w)
{
	if (!w->n)
		return 0;
	ssize_t wr = process_vm_writev(w->r->job, w->local, w->n, w->remote, w->n, 0);
	if (wr != (ssize_t)w->total) {
		if (wr >= 0)
			errno = EFAULT;
		pr_perror("cannot write the job's memory (%zu runs from %#lx)", w->n,
			  (unsigned long)w->remote[0].iov_base);
		return -1;
	}
	w->r->stats->pages_read += w->total / PAGE;
	w->r->stats->bytes_read += w->total;
	w->n = 0;
	w->total = 0;
	return 0;
}

/* Gathers the bytes of one chunk for the runs they belong to. */
static int walk_chunk(struct run_walk *w, const unsigned char *data, size_t len)
{
	size_t pos = 0;

	while (pos < len) {
		if (!walk_next(w)) {
			pr_err("image file %s/%s is damaged: more page data than its runs hold",
			       w->r->dir->path, w->name);
			return -1;
		}
		const PageRun *p = w->runs[w->list][w->i];
		uint64_t rest = p->nr_pages * PAGE - w->done;
		if (!w->done)
			w->run_chunk = w->chunk;
		size_t take = len - pos < rest ? len - pos : rest;
		w->crc = crc32c(w->crc, data + pos, take);
		if (w->sunk) {
			w->r->stats->pages_read += take / PAGE;
			w->r->stats->bytes_read += take;
		} else if (w->n && w->remote[w->n - 1].iov_base + w->remote[w->n - 1].iov_len ==
			    (void *)(p->vaddr + w->done) &&
		    w->local[w->n - 1].iov_base + w->local[w->n - 1].iov_len == data + pos) {
			w->local[w->n - 1].iov_len += take;
			w->remote[w->n - 1].iov_len += take;
		} else {
			if (w->n == MEM_BATCH_IOVS && walk_flush(w) < 0)
				return -1;
			w->local[w->n] = (struct iovec){ (void *)(data + pos), take };
			w->remote[w->n] = (struct iovec){ (void *)(p->vaddr + w->done), take };
			w->n++;
		}
		if (!w->sunk)
			w->total += take;
		pos += take;
		w->done += take;
		if (w->done == p->nr_pages * PAGE) {
			/* Damage is found before the job may run on it. */
			if (w->crc != p->crc32c) {
				/* the chunk at fault, by its hash, says where it is */
				if (!pf_find_damage(w->pf, w->run_chunk, w->chunk))
					pr_err("image file %s/%s is damaged: checksum mismatch in the "
					       "pages at %#lx", w->r->dir->path, w->name,
					       (unsigned long)p->vaddr);
				return -1;
			}
			w->i++;
			w->done = 0;
			w->crc = 0;
		}
	}
	return 0;
}

/* Its own pages, then its base (what it held when it forked its children:
 * it gets its own pages back there once they are forked, cow.c). */
int mem_restore_pages(struct restore_ctx *r)
{
	const Process *img = r->img;
	char name[64];
	struct run_walk *w = xcalloc(1, sizeof(*w));
	uint64_t want = stored_bytes(img->pages, img->n_pages) +
			stored_bytes(img->base_pages, img->n_base_pages);
	struct pf_reader *pf;
	struct run_map map;
	int ret = -1;

	*w = (struct run_walk){ .r = r, .runs = { img->pages, img->base_pages },
				.nr = { img->n_pages, img->n_base_pages }, .name = name };
	snprintf(name, sizeof(name), "pages-%d.img", img->pid);
	if (!(pf = pf_reader_open(r->dir, img, want))) {
		free(w);
		return -1;
	}
	run_map_build(&map, img, r->job);
	/* A process with base runs gets the bytes of some addresses twice:
	 * its own, then those it held when it forked (cow.c), which must
	 * be the ones there at the fork. Written by the workers in no
	 * particular order, its own could come last, and a child forked
	 * from it would start with its parent's later memory. Such a
	 * process is written in order, by this thread. */
	w->sunk = pf_read_ahead(pf, stored_bytes(img->base_pages, img->n_base_pages) ? NULL :
				write_chunk, &map);
	size_t batch = pf_batch(pf), n = pf_nr_chunks(pf);
	for (size_t i = 0; i < n; i++) {
		size_t len;
		const unsigned char *data = pf_chunk(pf, i, &len);
		w->pf = pf;
		w->chunk = i;
		if (!data || walk_chunk(w, data, len) < 0)
			goto out;
		/* (a batch of chunks stays valid: written at once) */
		if ((i + 1) % batch == 0 || i + 1 == n) {
			if (walk_flush(w) < 0)
				goto out;
			pf_release(pf, i + 1);
		}
	}
	if (walk_next(w)) {
		pr_err("image file %s/%s is damaged: less page data than its runs hold",
		       r->dir->path, name);
		goto out;
	}
	ret = 0;
out:
	pf_reader_close(pf);	/* (its workers done with MAP) */
	free(map.runs);
	free(map.start);
	free(w);
	return ret;
}

/* Where in pages-PID.img the bytes of page ADDR of run I of RUNS are, the
 * file holding first FIRST bytes of other runs. */
static uint64_t offset_in(PageRun **runs, size_t i, uint64_t first, uint64_t addr)
{
	return first + stored_bytes(runs, i) + (addr - runs[i]->vaddr);
}

int mem_stored_page(struct restore_ctx *r, uint64_t addr, bool fork_time, unsigned char *buf)
{
	for (; r; r = r->parent, fork_time = true) {
		const Process *img = r->img;
		size_t i = fork_time ? run_at(img->base_pages, img->n_base_pages, addr) : 0;
		uint64_t off;

		if (fork_time && i < img->n_base_pages) {
			off = offset_in(img->base_pages, i, stored_bytes(img->pages, img->n_pages), addr);
		} else {
			i = run_at(img->pages, img->n_pages, addr);
			if (i == img->n_pages)
				return 0;
			if (img->pages[i]->from_parent)
				continue;	/* what its parent held when it forked it */
			off = offset_in(img->pages, i, 0, addr);
		}
		if (!r->pages) {
			r->pages = pf_reader_open(r->dir, img, stored_bytes(img->pages, img->n_pages) +
					       stored_bytes(img->base_pages, img->n_base_pages));
			if (!r->pages)
				return -1;
		}
		return pf_read_at(r->pages, off, buf, PAGE) < 0 ? -1 : 1;
	}
	return 0;
}

int mem_restore_protections(struct restore_ctx *r)
{
	static const struct { uint32_t bit; int advice; } madv[] = {
		{ VMA_MADV_DONTFORK, MADV_DONTFORK }, { VMA_MADV_WIPEONFORK, MADV_WIPEONFORK },
		{ VMA_MADV_HUGEPAGE, MADV_HUGEPAGE }, { VMA_MADV_NOHUGEPAGE, MADV_NOHUGEPAGE },
		{ VMA_MADV_DONTDUMP, MADV_DONTDUMP }, { VMA_MADV_SEQUENTIAL, MADV_SEQUENTIAL },
		{ VMA_MADV_RANDOM, MADV_RANDOM }, { VMA_MADV_MERGEABLE, MADV_MERGEABLE },
	};

	for (size_t i = 0; i < r->img->n_vmas; i++) {
		const Vma *v = r->img->vmas[i];
		long ret;

		if (mem_is_kernel_area(v) || v->kind == VMA__KIND__AIO)
			continue;
		if (mem_map_prot(v, r->has_pages[i]) != v->prot) {
			ret = INJECT(&r->in, SYS_mprotect, v->start, v->end - v->start, v->prot);
			if (ret < 0) {
				pr_err("cannot set the protection of %#lx-%#lx: %s", (unsigned long)v->start,
				       (unsigned long)v->end, strerror(-ret));
				return -1;
			}
		}
		for (size_t k = 0; k < ARRAY_SIZE(madv); k++) {
			if (!(v->madv & madv[k].bit))
				continue;
			ret = INJECT(&r->in, SYS_madvise, v->start, v->end - v->start, madv[k].advice);
			if (ret < 0)
				pr_warn("cannot replay madvise(%d) on %#lx-%#lx: %s", madv[k].advice,
					(unsigned long)v->start, (unsigned long)v->end, strerror(-ret));
		}
		if (v->madv & (VMA_MADV_LOCKED | VMA_MADV_LOCKONFAULT)) {
			ret = INJECT(&r->in, SYS_mlock2, v->start, v->end - v->start,
				     v->madv & VMA_MADV_LOCKONFAULT ? 1 /* MLOCK_ONFAULT */ : 0);
			if (ret < 0) {
				pr_err("cannot lock the job's memory at %#lx-%#lx again (mlock): %s; "
				       "see ulimit -l", (unsigned long)v->start, (unsigned long)v->end,
				       strerror(-ret));
				return -1;
			}
		}
		/* last: installing a guard drops what the page held */
		for (size_t k = 0; k + 1 < v->n_guards; k += 2) {
			ret = INJECT(&r->in, SYS_madvise, v->guards[k], v->guards[k + 1] - v->guards[k],
				     MADV_GUARD_INSTALL);
			if (ret < 0) {
				pr_err("cannot install the guard region at %#lx-%#lx again: %s",
				       (unsigned long)v->guards[k], (unsigned long)v->guards[k + 1],
				       strerror(-ret));
				return -1;
			}
		}
	}
	return 0;
}
