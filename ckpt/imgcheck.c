/* imgcheck.c: what an image's messages must satisfy before the restore acts
 * on them. A damaged or hostile image must not make it allocate, map or
 * write more than a real job could have had, or in the wrong place. */
#include <sys/resource.h>
#include <sys/user.h>
#include "ckpt/imgcheck.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

/* Bounds no real job reaches: the kernel's own limits or far above them. */
#define MAX_PROCS     4096
#define MAX_THREADS   65536
#define MAX_VMAS      (1u << 20)         /* vm.max_map_count is 65530 by default */
#define MAX_FDS       (1u << 20)         /* fs.nr_open */
#define MAX_FD_NUMBER (1 << 20)
#define MAX_SIGNALS   64
#define MAX_XSTATE    (1u << 20)
#define MAX_PID       (1 << 22)          /* PID_MAX_LIMIT on 64-bit */
#define MAX_GHOST_SIZE (1ULL << 50)       /* beyond any file system's files */
#define MAX_PTYS      4096               /* kernel.pty.max by default */
#define MAX_PTY_QUEUE (64 * 1024)        /* a pty queues 4 KiB one way, 8 KiB the other */
#define MAX_VDSO      (1u << 20)
#define MAX_VDSO_SYMBOLS 4096

static bool bad_pid(int pid)
{
	return pid <= 0 || pid > MAX_PID;
}

/* The files with no name (ghost.c): their data runs in order, inside
 * the file, each object once. */
static int check_ghosts(const Inventory *inv, const char *file)
{
	if (inv->n_ghosts > MAX_FDS + (size_t)MAX_VMAS) {
		pr_err("image file %s is damaged (%zu files with no name)", file, inv->n_ghosts);
		return -1;
	}
	for (size_t i = 0; i < inv->n_ghosts; i++) {
		const FilesGhost *g = inv->ghosts[i];
		uint64_t end = 0;
		bool bad = g->size > MAX_GHOST_SIZE || g->n_extents % 2 ||
			   (g->kind == FILES_GHOST__KIND__SYMLINK && !g->target);
		for (size_t k = 0; k + 1 < g->n_extents && !bad; k += 2) {
			bad = g->extents[k] < end || !g->extents[k + 1] ||
			      g->extents[k + 1] > g->size - g->extents[k] || g->extents[k] > g->size;
			end = g->extents[k] + g->extents[k + 1];
		}
		for (size_t k = 0; k < i && !bad; k++)
			bad = inv->ghosts[k]->id == g->id;
		if (bad) {
			pr_err("image file %s is damaged (the file with no name %s)", file, g->path);
			return -1;
		}
	}
	return 0;
}

int image_check_inventory(const Inventory *inv, const char *file)
{
	if (inv->format_version != IMAGE_FORMAT_VERSION || inv->n_procs < 1 ||
	    inv->n_procs > MAX_PROCS || inv->procs[0]->pid != inv->root_pid || inv->procs[0]->ppid) {
		pr_err("image file %s is damaged (process list)", file);
		return -1;
	}
	/* cpu.c: one record per CPUID leaf asked and XSAVE component */
	if (inv->n_cpuid > 64 || inv->n_xsave_areas > 64) {
		pr_err("image file %s is damaged (%zu CPUID leaves, %zu XSAVE components)", file,
		       inv->n_cpuid, inv->n_xsave_areas);
		return -1;
	}
	for (size_t i = 0; i < inv->n_xsave_areas; i++)
		if (inv->xsave_areas[i]->offset > MAX_XSTATE || inv->xsave_areas[i]->size > MAX_XSTATE) {
			pr_err("image file %s is damaged (XSAVE component %u)", file,
			       inv->xsave_areas[i]->feature);
			return -1;
		}
	/* pipedata.c checks each record against its data file */
	if (inv->n_pipes > MAX_FDS) {
		pr_err("image file %s is damaged (%zu pipes)", file, inv->n_pipes);
		return -1;
	}
	if (check_ghosts(inv, file) < 0)
		return -1;
	/* pty.c makes that many pseudo-terminals, their queues that long */
	if (inv->n_ptys > MAX_PTYS) {
		pr_err("image file %s is damaged (%zu pseudo-terminals)", file, inv->n_ptys);
		return -1;
	}
	for (size_t i = 0; i < inv->n_ptys; i++) {
		const PtysPair *p = inv->ptys[i];
		if (p->index >= MAX_PTYS || p->input.len > MAX_PTY_QUEUE ||
		    p->output.len > MAX_PTY_QUEUE) {
			pr_err("image file %s is damaged (pseudo-terminal %u)", file, p->index);
			return -1;
		}
	}
	/* Each parent is listed before its children (top processes have
	 * none in the job); pids are unique. */
	for (size_t i = 0; i < inv->n_procs; i++) {
		const ProcEntry *pe = inv->procs[i];
		bool parent = !pe->ppid, dup = false;
		for (size_t k = 0; k < i; k++) {
			parent |= inv->procs[k]->pid == pe->ppid;
			dup |= inv->procs[k]->pid == pe->pid;
		}
		if (bad_pid(pe->pid) || (i && (!parent || dup))) {
			pr_err("image file %s is damaged (process %d)", file, pe->pid);
			return -1;
		}
		if (pe->zombie && (!i || !pe->ppid)) {
			pr_err("image file %s is damaged (zombie %d has no parent in the job)", file,
			       pe->pid);
			return -1;
		}
	}
	return 0;
}

static int check_threads(const Process *img, const char *file)
{
	if (img->n_threads < 1 || img->n_threads > MAX_THREADS) {
		pr_err("image file %s is damaged (%zu threads)", file, img->n_threads);
		return -1;
	}
	for (size_t i = 0; i < img->n_threads; i++) {
		const Thread *t = img->threads[i];
		bool dup = false;
		for (size_t k = 0; k < i; k++)
			dup |= img->threads[k]->tid == t->tid;
		if (t->regs.len != sizeof(struct user_regs_struct) || t->tid <= 1 ||
		    t->tid > MAX_PID || dup || (i == 0 && t->tid != img->pid) ||
		    t->xstate.len > MAX_XSTATE || t->n_pending > MAX_SIGNALS * 1024) {
			pr_err("image file %s is damaged (thread record %zu)", file, i);
			return -1;
		}
	}
	return 0;
}

/* fd numbers in the range the kernel allows, each once. */
static int check_fds(const Process *img, const char *file)
{
	if (img->n_fds > MAX_FDS) {
		pr_err("image file %s is damaged (%zu fds)", file, img->n_fds);
		return -1;
	}
	for (size_t i = 0; i < img->n_fds; i++) {
		int fd = img->fds[i]->fd;
		bool dup = false;
		/* n_fds is small in practice: the quadratic scan is cheaper than
		 * a bitmap of a million fds */
		for (size_t k = 0; k < i && !dup; k++)
			dup = img->fds[k]->fd == fd;
		for (size_t k = 0; k < img->fds[i]->n_epoll_src && !dup; k++)
			dup = img->fds[i]->epoll_src[k] < 0 || img->fds[i]->epoll_src[k] > MAX_FD_NUMBER;
		if (fd < 0 || fd > MAX_FD_NUMBER || dup) {
			pr_err("image file %s is damaged (fd number %d)", file, fd);
			return -1;
		}
	}
	return 0;
}

int image_check_process(const Process *img, const ProcEntry *pe, const char *file)
{
	bool *has_pages;
	int ret;

	if (img->pid != pe->pid || img->pid <= 1 || img->pid > MAX_PID || !img->mm ||
	    !img->exe || !img->cwd || img->n_sigactions > MAX_SIGNALS ||
	    img->n_shared_pending > MAX_SIGNALS * 1024 || img->n_rlimits > RLIM_NLIMITS ||
	    img->n_itimers > 3 || (img->has_cow_parent && img->cow_parent != pe->ppid)) {
		pr_err("image file %s is damaged (inconsistent process record)", file);
		return -1;
	}
	if (check_threads(img, file) < 0 || check_fds(img, file) < 0)
		return -1;
	/* vdso.c: a vDSO has a few dozen functions in a few pages */
	if (img->n_vdso_symbols > MAX_VDSO_SYMBOLS || img->vdso_text.len > MAX_VDSO) {
		pr_err("image file %s is damaged (a vDSO of %zu bytes, %zu functions)", file,
		       img->vdso_text.len, img->n_vdso_symbols);
		return -1;
	}
	if (img->n_vmas > MAX_VMAS || img->n_pages > MAX_VMAS * 64ull) {
		pr_err("image file %s is damaged (%zu memory areas, %zu page runs)", file,
		       img->n_vmas, img->n_pages);
		return -1;
	}
	/* Every address range before anything is mapped, in any process. */
	has_pages = xcalloc(img->n_vmas + 1, sizeof(bool));
	ret = mem_validate(img, has_pages);
	free(has_pages);
	if (ret < 0)
		pr_err("image file %s is damaged (memory layout): nothing was restored", file);
	return ret;
}
