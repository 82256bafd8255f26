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
		bool same = stat(p, &st) == 0 && st.st_ino == pv->ino &&
			    major(st.st_dev) == pv->dev_major && minor(st.st_dev) == pv->dev_minor;
		if (same && !S_ISREG(st.st_mode)) {
			pr_err("process %d maps %s at %#lx, which is not a regular file (a device?): "
			       "it cannot be frozen", c->pid, p, (unsigned long)pv->start);
			return -1;
		}
		if (same && !pv->deleted) {
			v->kind = VMA__KIND__FILE;
			v->file = fileid_make(p, &st);
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

/* One batch of candidate pages read from the task and written to the image. */
struct page_reader {
	struct dump_ctx *c;
	int out_fd;
	int mem_fd;                       /* /proc/PID/mem, opened when first needed */
	unsigned char *buf;
	struct iovec remote[MEM_BATCH_IOVS];
	bool vma_first[MEM_BATCH_IOVS];   /* remote[i] starts a VMA: no run spans two */
	bool next_is_vma_start;
	size_t nr_remote, bytes;
	size_t cap_runs;
};

static void add_run(struct page_reader *pr, uint64_t vaddr, const unsigned char *data, uint64_t n,
		    bool may_merge)
{
	Process *img = pr->c->img;
	PageRun *r;

	/* Runs are written back to back, so a run that follows the previous one
	 * in memory (in the same VMA) extends it; CRC32C chains over the
	 * concatenation. */
	if (img->n_pages && may_merge) {
		r = img->pages[img->n_pages - 1];
		if (r->vaddr + r->nr_pages * PAGE == vaddr) {
			r->nr_pages += n;
			r->crc32c = crc32c(r->crc32c, data, n * PAGE);
			return;
		}
	}
	if (img->n_pages == pr->cap_runs)
		img->pages = xrealloc(img->pages, (pr->cap_runs = pr->cap_runs ? pr->cap_runs * 2 : 256) *
				      sizeof(PageRun *));
	r = xmalloc(sizeof(*r));
	page_run__init(r);
	r->vaddr = vaddr;
	r->nr_pages = n;
	r->crc32c = crc32c(0, data, n * PAGE);
	img->pages[img->n_pages++] = r;
}

/* Reads page I of the batch again through /proc/PID/mem (protections that
 * process_vm_readv refuses); false if the page cannot be read at all. */
static bool read_page_slow(struct page_reader *pr, uint64_t addr, unsigned char *dst)
{
	if (pr->mem_fd < 0) {
		char path[64];
		snprintf(path, sizeof(path), "/proc/%d/mem", pr->c->pid);
		pr->mem_fd = open(path, O_RDONLY | O_CLOEXEC);
		if (pr->mem_fd < 0) {
			pr_perror("cannot open %s", path);
			return false;
		}
	}
	return pread(pr->mem_fd, dst, PAGE, addr) == (ssize_t)PAGE;
}

static int flush_batch(struct page_reader *pr)
{
	struct iovec local = { pr->buf, pr->bytes };
	struct iovec out[MEM_BATCH_BYTES / PAGE];	/* at most one run per page */
	size_t nr_out = 0, off = 0;
	ssize_t got;

	if (!pr->bytes)
		return 0;
	got = process_vm_readv(pr->c->pid, &local, 1, pr->remote, pr->nr_remote, 0);
	if (got < 0)
		got = 0;
	/* Walk the batch page by page: drop zero and unreadable pages, write
	 * the rest as runs. */
	for (size_t i = 0; i < pr->nr_remote; i++) {
		uint64_t base = (uint64_t)pr->remote[i].iov_base;
		size_t n = pr->remote[i].iov_len / PAGE;
		uint64_t run_start = 0, run_n = 0;
		unsigned char *run_buf = NULL;

		for (size_t k = 0; k < n; k++, off += PAGE) {
			unsigned char *pg = pr->buf + off;
			uint64_t addr = base + k * PAGE;
			bool ok = (ssize_t)(off + PAGE) <= got || read_page_slow(pr, addr, pg);
			bool keep = ok && !page_is_zero(pg);

			pr->c->stats->pages_scanned++;
			if (ok && !keep)
				pr->c->stats->pages_zero++;
			if (keep && run_n && run_start + run_n * PAGE == addr) {
				run_n++;
				continue;
			}
			if (run_n) {
				add_run(pr, run_start, run_buf, run_n, !pr->vma_first[i]);
				out[nr_out++] = (struct iovec){ run_buf, run_n * PAGE };
				run_n = 0;
			}
			if (keep) {
				run_start = addr;
				run_buf = pg;
				run_n = 1;
			}
		}
		if (run_n) {
			add_run(pr, run_start, run_buf, run_n, !pr->vma_first[i]);
			out[nr_out++] = (struct iovec){ run_buf, run_n * PAGE };
		}
	}
	/* Write the runs in slices of IOV_MAX iovecs. */
	for (size_t i = 0; i < nr_out;) {
		size_t k = nr_out - i < IOV_MAX ? nr_out - i : IOV_MAX;
		size_t want = 0;
		for (size_t j = 0; j < k; j++)
			want += out[i + j].iov_len;
		ssize_t w = writev(pr->out_fd, out + i, k);
		if (w != (ssize_t)want) {
			if (w >= 0)
				errno = ENOSPC;
			pr_perror("cannot write page data to %s/pages-%d.img", pr->c->dir->path,
				  pr->c->img->pid);
			return -1;
		}
		pr->c->stats->pages_written += want / PAGE;
		pr->c->stats->bytes_written += want;
		i += k;
	}
	pr->nr_remote = 0;
	pr->bytes = 0;
	return 0;
}

static int queue_pages(struct page_reader *pr, uint64_t addr, uint64_t n)
{
	while (n) {
		uint64_t room = (MEM_BATCH_BYTES - pr->bytes) / PAGE;
		uint64_t take = n < room ? n : room;

		if (take) {
			pr->vma_first[pr->nr_remote] = pr->next_is_vma_start;
			pr->next_is_vma_start = false;
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

#define PAGEMAP_CHUNK 65536	/* entries per pagemap read: 256 MiB of address space */

static int dump_vma_pages(struct page_reader *pr, int pagemap_fd, const Vma *v)
{
	enum page_policy pol = policy_of(v);
	uint64_t *pm = NULL;
	int ret = -1;

	if (pol == PAGES_NONE)
		return 0;
	pr->next_is_vma_start = true;
	if (pol == PAGES_ALL)
		return queue_pages(pr, v->start, (v->end - v->start) / PAGE);
	pm = xmalloc(PAGEMAP_CHUNK * sizeof(uint64_t));
	for (uint64_t a = v->start; a < v->end;) {
		uint64_t n = (v->end - a) / PAGE, run_start = 0, run_n = 0;
		if (n > PAGEMAP_CHUNK)
			n = PAGEMAP_CHUNK;
		ssize_t r = pread(pagemap_fd, pm, n * 8, (a / PAGE) * 8);
		if (r != (ssize_t)(n * 8)) {
			pr_perror("cannot read /proc/%d/pagemap at %#lx", pr->c->pid, (unsigned long)a);
			goto out;
		}
		for (uint64_t k = 0; k < n; k++) {
			uint64_t e = pm[k];
			bool want = (e & PM_SWAP) || ((e & PM_PRESENT) &&
				    (pol == PAGES_ANON || !(e & PM_FILE)));
			if (want) {
				if (!run_n)
					run_start = a + k * PAGE;
				run_n++;
			} else if (run_n) {
				if (queue_pages(pr, run_start, run_n) < 0)
					goto out;
				run_n = 0;
			}
		}
		if (run_n && queue_pages(pr, run_start, run_n) < 0)
			goto out;
		a += n * PAGE;
	}
	ret = 0;
out:
	free(pm);
	return ret;
}

int mem_dump_pages(struct dump_ctx *c)
{
	struct page_reader pr = { .c = c, .mem_fd = -1 };
	char name[64], path[64];
	int pagemap_fd, ret = -1;

	snprintf(name, sizeof(name), "pages-%d.img", c->img->pid);
	pr.out_fd = image_create_raw(c->dir, name);
	if (pr.out_fd < 0)
		return -1;
	snprintf(path, sizeof(path), "/proc/%d/pagemap", c->pid);
	pagemap_fd = open(path, O_RDONLY | O_CLOEXEC);
	if (pagemap_fd < 0) {
		pr_perror("cannot open %s", path);
		close(pr.out_fd);
		return -1;
	}
	pr.buf = mmap(NULL, MEM_BATCH_BYTES, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (pr.buf == MAP_FAILED) {
		pr_perror("cannot allocate a %u MiB page buffer", MEM_BATCH_BYTES >> 20);
		goto out;
	}
	for (size_t i = 0; i < c->img->n_vmas; i++)
		if (dump_vma_pages(&pr, pagemap_fd, c->img->vmas[i]) < 0)
			goto out;
	if (flush_batch(&pr) < 0)
		goto out;
	if (fsync(pr.out_fd) < 0) {
		pr_perror("cannot sync %s/%s", c->dir->path, name);
		goto out;
	}
	ret = 0;
out:
	if (pr.buf && pr.buf != MAP_FAILED)
		munmap(pr.buf, MEM_BATCH_BYTES);
	if (pr.mem_fd >= 0)
		close(pr.mem_fd);
	close(pagemap_fd);
	close(pr.out_fd);
	return ret;
}

/* ---- restore ---- */

#define TASK_SIZE_MAX 0x7ffffffff000ULL

static bool is_kernel_area(const Vma *v)
{
	return v->kind == VMA__KIND__VDSO || v->kind == VMA__KIND__VVAR ||
	       v->kind == VMA__KIND__VVAR_VCLOCK || v->kind == VMA__KIND__VSYSCALL || v->vdso_copy;
}

/* Checks every range against the others before anything is mapped: VMAs
 * sorted, aligned, disjoint, in user space; each page run inside one VMA
 * whose contents come from the image. */
int mem_validate(const Process *img, bool *has_pages)
{
	size_t v = 0;

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
	for (size_t i = 0; i < img->n_pages; i++) {
		const PageRun *p = img->pages[i];
		uint64_t end = p->vaddr + p->nr_pages * PAGE;
		if (!p->nr_pages || p->nr_pages > TASK_SIZE_MAX / PAGE || p->vaddr % PAGE || end < p->vaddr ||
		    (i && p->vaddr < img->pages[i - 1]->vaddr + img->pages[i - 1]->nr_pages * PAGE)) {
			pr_err("damaged image: page run %zu at %#lx is invalid", i, (unsigned long)p->vaddr);
			return -1;
		}
		while (v < img->n_vmas && img->vmas[v]->end <= p->vaddr)
			v++;
		if (v == img->n_vmas || p->vaddr < img->vmas[v]->start || end > img->vmas[v]->end ||
		    policy_of(img->vmas[v]) == PAGES_NONE) {
			pr_err("damaged image: page run %zu at %#lx lies outside the memory it belongs to",
			       i, (unsigned long)p->vaddr);
			return -1;
		}
		has_pages[v] = true;
	}
	return 0;
}

static uint32_t map_prot(const Vma *v, bool has_pages)
{
	/* Pages are written from outside; the final protection comes after. */
	return has_pages ? v->prot | PROT_READ | PROT_WRITE : v->prot;
}

int mem_restore_layout(struct restore_ctx *r)
{
	const Process *img = r->img;
	bool *has_pages = xcalloc(img->n_vmas, sizeof(bool));
	const char *open_path = NULL;
	int open_mode = -1;
	long fd = -1;
	int ret = -1;

	if (mem_validate(img, has_pages) < 0)
		goto out;
	r->has_pages = has_pages;
	for (size_t i = 0; i < img->n_vmas; i++) {
		const Vma *v = img->vmas[i];
		uint32_t type = v->flags & MAP_TYPE;
		uint32_t flags = MAP_FIXED | (type == MAP_SHARED || type == MAP_DROPPABLE ? type : MAP_PRIVATE) |
				 (v->flags & (MAP_GROWSDOWN | MAP_NORESERVE));
		long m;

		if (is_kernel_area(v) || v->kind == VMA__KIND__AIO)
			continue;	/* (AIO rings: made by aio_restore, below) */
		if (v->kind == VMA__KIND__FILE) {
			int mode = (v->flags & MAP_SHARED) && ((v->prot & PROT_WRITE) || v->may_write) ?
				   O_RDWR : O_RDONLY;
			if (!open_path || strcmp(open_path, v->file->path) || open_mode != mode) {
				if (fd >= 0)
					INJECT(&r->in, SYS_close, fd);
				uint64_t p = scratch_put(r, 0, v->file->path, strlen(v->file->path) + 1);
				fd = p ? INJECT(&r->in, SYS_openat, AT_FDCWD, p, mode | O_CLOEXEC) : -EFAULT;
				if (fd < 0) {
					pr_err("cannot open %s to map it at %#lx: %s", v->file->path,
					       (unsigned long)v->start, strerror(-fd));
					goto out;
				}
				open_path = v->file->path;
				open_mode = mode;
			}
			m = INJECT(&r->in, SYS_mmap, v->start, v->end - v->start,
				   map_prot(v, has_pages[i]), flags, fd, v->pgoff);
		} else if (v->kind == VMA__KIND__SHMEM || v->kind == VMA__KIND__GHOST_PRIVATE) {
			/* the job's one object, shared with whoever else maps it */
			bool shared = v->kind == VMA__KIND__SHMEM;
			long sfd = shmem_fd_in_process(r, v->shmem_id, v->pgoff + (v->end - v->start),
						       shared && ((v->prot & PROT_WRITE) || v->may_write ||
								  !v->has_may_write));
			if (sfd < 0) {
				pr_err("cannot get the %s mapped at %#lx: %s", v->name ? v->name :
				       "shared memory", (unsigned long)v->start, strerror(-sfd));
				goto out;
			}
			m = INJECT(&r->in, SYS_mmap, v->start, v->end - v->start,
				   shared ? v->prot : map_prot(v, has_pages[i]),
				   shared ? MAP_FIXED | MAP_SHARED : flags, sfd, v->pgoff);
			INJECT(&r->in, SYS_close, sfd);
		} else if (v->kind == VMA__KIND__SYSV_SHM) {
			m = sysvshm_attach(r, i);
		} else {
			m = INJECT(&r->in, SYS_mmap, v->start, v->end - v->start,
				   map_prot(v, has_pages[i]), flags | MAP_ANONYMOUS, -1, 0);
		}
		if (m != (long)v->start) {
			pr_err("cannot map %s at %#lx-%#lx: %s", v->name ? v->name : "anonymous memory",
			       (unsigned long)v->start, (unsigned long)v->end,
			       m < 0 ? strerror(-m) : "placed elsewhere");
			goto out;
		}
	}
	ret = aio_restore(r);
out:
	if (fd >= 0)
		INJECT(&r->in, SYS_close, fd);
	return ret;
}

int mem_restore_pages(struct restore_ctx *r)
{
	const Process *img = r->img;
	char name[64];
	uint64_t size, want = 0, off = 0;
	unsigned char *map = NULL;
	int ret = -1;

	for (size_t i = 0; i < img->n_pages; i++)
		want += img->pages[i]->nr_pages * PAGE;
	snprintf(name, sizeof(name), "pages-%d.img", img->pid);
	int fd = image_open_raw(r->dir, name, &size);
	if (fd < 0)
		return -1;
	if (size != want) {
		pr_err("image file %s/%s is truncated or damaged: %llu bytes, the image lists %llu",
		       r->dir->path, name, (unsigned long long)size, (unsigned long long)want);
		goto out;
	}
	if (!want) {
		ret = 0;
		goto out;
	}
	/* Populated up front: one batch of page-cache lookups instead of a
	 * fault per page while the job's memory is written. */
	map = mmap(NULL, size, PROT_READ, MAP_PRIVATE | MAP_POPULATE, fd, 0);
	if (map == MAP_FAILED) {
		map = NULL;
		pr_perror("cannot map image file %s/%s", r->dir->path, name);
		goto out;
	}
	madvise(map, size, MADV_SEQUENTIAL);
	struct iovec local[MEM_BATCH_IOVS], remote[MEM_BATCH_IOVS];
	size_t n = 0;
	for (size_t i = 0; i <= img->n_pages; i++) {
		if (i < img->n_pages) {
			const PageRun *p = img->pages[i];
			uint64_t len = p->nr_pages * PAGE;
			/* Damage is found before the job may run on it. */
			if (crc32c(0, map + off, len) != p->crc32c) {
				pr_err("image file %s/%s is damaged: checksum mismatch in the pages "
				       "at %#lx", r->dir->path, name, (unsigned long)p->vaddr);
				goto out;
			}
			local[n] = (struct iovec){ map + off, len };
			remote[n] = (struct iovec){ (void *)p->vaddr, len };
			n++;
			off += len;
		}
		if (n == MEM_BATCH_IOVS || (i == img->n_pages && n)) {
			uint64_t total = 0;
			for (size_t k = 0; k < n; k++)
				total += local[k].iov_len;
			ssize_t w = process_vm_writev(r->job, local, n, remote, n, 0);
			if (w != (ssize_t)total) {
				if (w >= 0)
					errno = EFAULT;
				pr_perror("cannot write the job's memory (%zu runs from %#lx)", n,
					  (unsigned long)remote[0].iov_base);
				goto out;
			}
			r->stats->pages_read += total / PAGE;
			r->stats->bytes_read += total;
			n = 0;
		}
	}
	ret = 0;
out:
	if (map)
		munmap(map, size);
	close(fd);
	return ret;
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

		if (is_kernel_area(v) || v->kind == VMA__KIND__AIO)
			continue;
		if (map_prot(v, r->has_pages[i]) != v->prot) {
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
