/* inotify.c: inotify instances. fdinfo lists each watch by watch number,
 * inode and device; without privileges an inode cannot be opened by
 * handle, so its path is looked for among those the job uses (working
 * directories and what is in them, open files, mapped files, and their
 * directories), then below its working directories (a bounded walk), or
 * the dump is refused. At restore the watches are added
 * again in their number order, numbers skipped by the job skipped too, so
 * each keeps its number. Events not read yet cannot be put back: such a
 * dump is refused (a moment later, the job has read them). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define MAX_WD_GAP 65536

int inotify_dump(struct dump_ctx *c, Fd *f, const char *info)
{
	int s = grab_fd(c->pid, f->fd), queued = 0;

	if (s < 0)
		return -1;
	if (ioctl(s, FIONREAD, &queued) < 0) {
		pr_perror("process %d: cannot look at the inotify queue of fd %d", c->pid, f->fd);
		close(s);
		return -1;
	}
	close(s);
	if (queued) {
		/* (a stopped process reads nothing: "a moment later" would not help) */
		pr_err("process %d: the inotify instance of fd %d has %d bytes of events not read "
		       "yet, which cannot be put back%s", c->pid, f->fd, queued,
		       c->was_stopped ? ", and the process is stopped (^Z), so it does not read "
					"them: let it run a moment (fg or bg), then freeze it" :
					": try again in a moment (with the image directory outside "
					"the directories it watches: making it is an event too)");
		return -1;
	}
	f->kind = FD__KIND__INOTIFY;
	for (const char *p = info; (p = strstr(p, "inotify wd:")); p++) {
		unsigned wd, mask;
		unsigned long long ino, sdev;
		if (sscanf(p, "inotify wd:%x ino:%llx sdev:%llx mask:%x", &wd, &ino, &sdev, &mask) != 4) {
			pr_err("cannot understand the inotify watches of fd %d of process %d", f->fd,
			       c->pid);
			return -1;
		}
		InotifyWatch *w = xmalloc(sizeof(*w));
		inotify_watch__init(w);
		w->wd = wd;
		w->mask = mask;
		w->ino = ino;
		/* the kernel's dev_t: major in the top 12 bits, minor in the low 20 */
		w->dev = makedev(sdev >> 20, sdev & 0xfffff);
		f->watches = xrealloc(f->watches, (f->n_watches + 1) * sizeof(*f->watches));
		f->watches[f->n_watches++] = w;
	}
	return 0;
}

struct candidates {
	char **path;
	size_t n;
};

static void add(struct candidates *cd, const char *path)
{
	if (!path || path[0] != '/')
		return;
	cd->path = xrealloc(cd->path, (cd->n + 1) * sizeof(char *));
	cd->path[cd->n++] = xstrdup(path);
}

/* PATH, its directory, and with CHILDREN what is in it */
static void add_around(struct candidates *cd, const char *path, bool children)
{
	char *copy;

	if (!path || path[0] != '/')
		return;
	add(cd, path);
	copy = xstrdup(path);
	add(cd, dirname(copy));
	free(copy);
	if (!children)
		return;
	DIR *d = opendir(path);
	struct dirent *de;
	while (d && (de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		char *p = xasprintf("%s/%s", strcmp(path, "/") ? path : "", de->d_name);
		add(cd, p);
		free(p);
	}
	if (d)
		closedir(d);
}

static const char *find_path(const struct candidates *cd, const InotifyWatch *w)
{
	for (size_t i = 0; i < cd->n; i++) {
		struct stat st;
		if (lstat(cd->path[i], &st) == 0 && st.st_ino == w->ino && st.st_dev == w->dev)
			return cd->path[i];
	}
	return NULL;
}

/* ---- the watches not found among the job's paths ---------------------- */

/* Below each working directory, breadth first, at most this many entries
 * in all and this deep: a watched tree (an editor's or a dev server's
 * watcher) is the project the job works in. */
#define SEARCH_ENTRIES 200000
#define SEARCH_DEPTH 12

struct wanted {
	InotifyWatch **w;   /* by inode */
	size_t n, left;     /* LEFT: still without a path */
};

static void want_add(struct wanted *ws, InotifyWatch *w)
{
	ws->w = xrealloc(ws->w, (ws->n + 1) * sizeof(*ws->w));
	ws->w[ws->n++] = w;
	ws->left++;
}

static int cmp_ino(const void *a, const void *b)
{
	uint64_t x = (*(InotifyWatch *const *)a)->ino, y = (*(InotifyWatch *const *)b)->ino;
	return x < y ? -1 : x > y;
}

/* PATH, whose directory entry says inode INO: the path of the watches on
 * that inode (the device checked by lstat) */
static void match(struct wanted *ws, uint64_t ino, const char *path)
{
	size_t lo = 0, hi = ws->n;
	struct stat st;
	bool statted = false;

	while (lo < hi) {	/* the first watch on INO */
		size_t mid = (lo + hi) / 2;
		if (ws->w[mid]->ino < ino)
			lo = mid + 1;
		else
			hi = mid;
	}
	for (; lo < ws->n && ws->w[lo]->ino == ino; lo++) {
		InotifyWatch *w = ws->w[lo];
		if (w->path)
			continue;
		if (!statted && lstat(path, &st) < 0)
			return;
		statted = true;
		if (st.st_dev == w->dev && st.st_ino == w->ino) {
			w->path = xstrdup(path);
			ws->left--;
		}
	}
}

static void search_below(struct wanted *ws, const char *root, size_t *budget)
{
	char **queue = xmalloc(sizeof(char *));
	unsigned *depth = xmalloc(sizeof(unsigned));
	size_t head = 0, tail = 0;
	struct stat st;

	queue[tail] = xstrdup(root);
	depth[tail++] = 0;
	if (lstat(root, &st) == 0)
		match(ws, st.st_ino, root);
	while (head < tail && ws->left && *budget) {
		char *dir = queue[head];
		unsigned d = depth[head++];
		DIR *dp = opendir(dir);
		struct dirent *de;

		while (dp && (de = readdir(dp)) && *budget) {
			if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
				continue;
			(*budget)--;
			char *p = xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", de->d_name);
			match(ws, de->d_ino, p);
			bool sub = de->d_type == DT_DIR ||
				   (de->d_type == DT_UNKNOWN && lstat(p, &st) == 0 && S_ISDIR(st.st_mode));
			if (sub && d + 1 < SEARCH_DEPTH) {
				queue = xrealloc(queue, (tail + 1) * sizeof(char *));
				depth = xrealloc(depth, (tail + 1) * sizeof(unsigned));
				queue[tail] = p;
				depth[tail++] = d + 1;
			} else {
				free(p);
			}
		}
		if (dp)
			closedir(dp);
	}
	for (size_t i = 0; i < tail; i++)
		free(queue[i]);
	free(queue);
	free(depth);
}

int inotify_resolve(struct dump_ctx *ctx, size_t n)
{
	struct candidates cd = { 0 };
	int ret = 0;
	bool any = false;

	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++)
			any |= ctx[i].img->fds[k]->kind == FD__KIND__INOTIFY;
	if (!any)
		return 0;
	for (size_t i = 0; i < n; i++) {
		const Process *p = ctx[i].img;
		if (!p)
			continue;
		add_around(&cd, p->cwd, true);
		for (size_t k = 0; k < p->n_fds; k++)
			if (p->fds[k]->file)
				add_around(&cd, p->fds[k]->path, p->fds[k]->kind == FD__KIND__DIR);
		for (size_t k = 0; k < p->n_vmas; k++)
			if (p->vmas[k]->file)
				add_around(&cd, p->vmas[k]->file->path, false);
	}
	/* first among those paths; what is not there, below the job's
	 * working directories (a watcher of a project's tree) */
	struct wanted want = { 0 };
	for (size_t i = 0; i < n; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds; k++) {
			Fd *f = ctx[i].img->fds[k];
			for (size_t w = 0; f->kind == FD__KIND__INOTIFY && w < f->n_watches; w++) {
				const char *path = find_path(&cd, f->watches[w]);
				if (path)
					f->watches[w]->path = xstrdup(path);
				else
					want_add(&want, f->watches[w]);
			}
		}
	if (want.n) {
		size_t budget = SEARCH_ENTRIES;
		qsort(want.w, want.n, sizeof(*want.w), cmp_ino);
		for (size_t i = 0; i < n && want.left; i++)
			if (ctx[i].img && ctx[i].img->cwd)
				search_below(&want, ctx[i].img->cwd, &budget);
	}
	for (size_t i = 0; i < n && !ret; i++)
		for (size_t k = 0; ctx[i].img && k < ctx[i].img->n_fds && !ret; k++) {
			Fd *f = ctx[i].img->fds[k];
			for (size_t w = 0; f->kind == FD__KIND__INOTIFY && w < f->n_watches; w++) {
				if (f->watches[w]->path)
					continue;
				pr_err("process %d: fd %d watches (inotify) inode %llu of device "
				       "%u:%u, whose path jobfreeze could not find among the "
				       "paths the job uses (working directory and below it, open "
				       "and mapped files): it cannot be frozen", ctx[i].pid, f->fd,
				       (unsigned long long)f->watches[w]->ino,
				       major(f->watches[w]->dev), minor(f->watches[w]->dev));
				ret = -1;
				break;
			}
		}
	free(want.w);
	for (size_t i = 0; i < cd.n; i++)
		free(cd.path[i]);
	free(cd.path);
	return ret;
}

/* ---- restore ---------------------------------------------------------- */

static int cmp_wd(const void *a, const void *b)
{
	return (*(InotifyWatch *const *)a)->wd - (*(InotifyWatch *const *)b)->wd;
}

/* A directory none of F's watches is on, to use up watch numbers with. */
static const char *spare_dir(const Fd *f)
{
	static const char *const dirs[] = { "/", "/tmp", "/proc", "/dev" };

	for (size_t i = 0; i < ARRAY_SIZE(dirs); i++) {
		struct stat st;
		bool used = false;
		if (stat(dirs[i], &st) < 0)
			continue;
		for (size_t w = 0; w < f->n_watches; w++)
			used |= f->watches[w]->ino == st.st_ino && f->watches[w]->dev == st.st_dev;
		if (!used)
			return dirs[i];
	}
	return NULL;
}

static int add_watches(int fd, const Fd *f)
{
	InotifyWatch **w = xcalloc(f->n_watches ? f->n_watches : 1, sizeof(*w));
	const char *spare = spare_dir(f);
	int next = 1, ret = -1;
	char drain[4096];

	memcpy(w, f->watches, f->n_watches * sizeof(*w));
	if (f->n_watches)	/* (qsort wants an array, even of nothing) */
		qsort(w, f->n_watches, sizeof(*w), cmp_wd);
	for (size_t i = 0; i < f->n_watches; i++) {
		struct stat st;
		int got;

		if (!w[i]->path || w[i]->wd < next || w[i]->wd - next > MAX_WD_GAP) {
			pr_err("damaged image: inotify watches of the job's fd %d", f->fd);
			goto out;
		}
		/* Numbers go up one by one: use up the ones the job had freed. */
		while (next < w[i]->wd) {
			int d = spare ? inotify_add_watch(fd, spare, IN_ACCESS) : -1;
			if (d < 0 || inotify_rm_watch(fd, d) < 0) {
				pr_perror("cannot give the job's inotify watches their numbers");
				goto out;
			}
			next = d + 1;
		}
		if (stat(w[i]->path, &st) < 0 || st.st_ino != w[i]->ino || st.st_dev != w[i]->dev) {
			pr_err("%s, which the job watched (inotify, fd %d), %s since it was frozen",
			       w[i]->path, f->fd, errno == ENOENT ? "is gone" : "was replaced");
			goto out;
		}
		got = inotify_add_watch(fd, w[i]->path, w[i]->mask);
		if (got != w[i]->wd) {
			if (got < 0)
				pr_perror("cannot watch %s again for the job's fd %d", w[i]->path, f->fd);
			else
				pr_err("watching %s again for the job's fd %d gave watch %d, not %d",
				       w[i]->path, f->fd, got, w[i]->wd);
			goto out;
		}
		next = got + 1;
	}
	/* The numbers used up left IN_IGNORED events: not the job's. */
	while (read(fd, drain, sizeof(drain)) > 0)
		;
	ret = 0;
out:
	free(w);
	return ret;
}

int inotify_open(const Fd *f)
{
	int fd = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);

	if (fd < 0) {
		pr_perror("cannot make an inotify instance for the job's fd %d", f->fd);
		return -1;
	}
	if (add_watches(fd, f) < 0 ||
	    (!(f->flags & O_NONBLOCK) && fcntl(fd, F_SETFL, 0) < 0)) {
		close(fd);
		return -1;
	}
	return fd;
}
