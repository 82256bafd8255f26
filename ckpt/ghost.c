/* ghost.c: the files of the job that have no name on disk: deleted regular
 * files, directories and symlinks, memfds, shared anonymous memory. Each is
 * one object (one inode) that several fds, mappings and working directories
 * of the job may share, so it is dumped once, for the whole job, and made
 * once at restore, in init, where every fd becomes a description of its own
 * on it and every mapping maps it: a write through one shows through the
 * others as before.
 *
 * Dump: before any process is read, ghosts_prescan notes which of these
 * inodes an fd or a shared mapping of the job holds (only those need to be
 * objects: a private mapping of a deleted library alone is just its
 * contents, ANON_FROM_FILE). Then the fds, mappings and working
 * directories name their object (ghost_add_fd, ghost_add_map,
 * ghost_add_cwd), and once every process is read, ghosts_dump_data copies
 * each object's data, only its extents (SEEK_DATA/SEEK_HOLE), so that
 * holes stay holes, through an fd of the job when one holds it, else
 * through a shared mapping.
 *
 * Restore: ghost_make builds the object: a deleted file, directory or
 * symlink in its old place, under its old name when it is free (else a
 * hidden one next to it), filled, given its mode and times, opened and
 * removed again before the job runs, so that the job sees what it saw:
 * "/dir/name (deleted)", the same device, st_nlink 0; a memfd with its
 * name, size and seals. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/vfs.h>
#include "ckpt/crc32c.h"
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/mem.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PG 4096UL
#define CHUNK (1UL << 20)
#define GHOST_LIMIT_DEFAULT (64ULL << 30)
#define HUGETLBFS_MAGIC 0x958458f6
#define MEMFD_PREFIX "/memfd:"
#define ROOM_SLACK (64ULL << 20)     /* left free on the image's disk */

#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

static const char deleted_suffix[] = " (deleted)";

uint64_t ghost_id_of(unsigned major, unsigned minor, uint64_t ino)
{
	return ino ^ ((uint64_t)major << 48) ^ ((uint64_t)minor << 40);
}

/* ---- dump ---- */

/* A shared mapping of an object, to read its data through when no fd
 * holds it. */
struct ghost_map {
	struct dump_ctx *c;
	uint64_t start, end, pgoff;
	bool swapped;            /* some of its pages are in swap */
};

struct ghost {
	uint64_t id;
	bool held;               /* an fd or a shared mapping of the job holds it */
	FilesGhost *rec;         /* made once something of the job refers to it */
	struct dump_ctx *src;    /* a process whose fd SRC_FD holds it, or NULL */
	int src_fd;
	struct ghost_map *maps;
	size_t nr_maps;
};

struct ghost_set {
	struct ghost *g;
	size_t n;
	uint64_t limit;          /* the most data one object may put in the image */
};

static struct ghost *find(struct ghost_set *s, uint64_t id)
{
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].id == id)
			return &s->g[i];
	return NULL;
}

static struct ghost *get(struct ghost_set *s, uint64_t id)
{
	struct ghost *g = find(s, id);

	if (g)
		return g;
	s->g = xrealloc(s->g, (s->n + 1) * sizeof(*s->g));
	g = &s->g[s->n++];
	*g = (struct ghost){ .id = id, .src_fd = -1 };
	return g;
}

static bool ends_deleted(const char *link)
{
	size_t l = strlen(link), sl = sizeof(deleted_suffix) - 1;

	return l > sl && !strcmp(link + l - sl, deleted_suffix);
}

static void prescan_fds(struct ghost_set *s, pid_t pid)
{
	char path[64], fdp[384], link[PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	if (!d)
		return;		/* files_dump will say why */
	while ((de = readdir(d))) {
		ssize_t n;
		if (de->d_name[0] == '.')
			continue;
		snprintf(fdp, sizeof(fdp), "%s/%s", path, de->d_name);
		n = readlink(fdp, link, sizeof(link) - 1);
		if (n <= 0 || link[0] != '/')
			continue;
		link[n] = 0;
		if (!ends_deleted(link) || stat(fdp, &st) < 0 || !S_ISREG(st.st_mode))
			continue;
		get(s, ghost_id_of(major(st.st_dev), minor(st.st_dev), st.st_ino))->held = true;
	}
	closedir(d);
}

struct ghost_set *ghosts_prescan(struct dump_ctx *ctx, size_t n, uint64_t limit)
{
	struct ghost_set *s = xcalloc(1, sizeof(*s));

	s->limit = limit ? limit : GHOST_LIMIT_DEFAULT;
	for (size_t i = 0; i < n; i++) {
		struct proc_maps m = { 0 };
		if (ctx[i].zombie)
			continue;
		prescan_fds(s, ctx[i].pid);
		if (proc_parse_maps(ctx[i].pid, false, &m) < 0)
			continue;	/* mem_dump_vmas will say why */
		for (size_t k = 0; k < m.n; k++) {
			const struct proc_vma *v = &m.v[k];
			if (v->shared && v->path && (v->deleted || !strncmp(v->path, MEMFD_PREFIX, 7)) &&
			    strncmp(v->path, "/SYSV", 5) && strcmp(v->path, "/[aio]"))
				get(s, ghost_id_of(v->dev_major, v->dev_minor, v->ino))->held = true;
		}
		proc_maps_free(&m);
	}
	return s;
}

bool ghost_held(struct ghost_set *s, uint64_t id)
{
	struct ghost *g = find(s, id);

	return g && g->held;
}

static int64_t ts_ns(const struct timespec *t)
{
	return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

static FilesGhost *new_rec(struct ghost *g, FilesGhost__Kind kind, const char *path,
			   const struct stat *st)
{
	FilesGhost *r = xmalloc(sizeof(*r));

	files_ghost__init(r);
	r->id = g->id;
	r->kind = kind;
	r->path = xstrdup(path);
	if (st) {
		r->size = st->st_size;
		r->mode = st->st_mode;
		r->atime_ns = ts_ns(&st->st_atim);
		r->mtime_ns = ts_ns(&st->st_mtim);
		r->dev = st->st_dev;
		r->ino = st->st_ino;
	}
	g->rec = r;
	return r;
}

/* A deleted file or directory comes back where it was: refused now if its
 * directory (or the nearest one of its ancestors still there) is not ours
 * to write, or if it belongs to someone a thaw cannot give it to. */
static int check_remakeable(struct dump_ctx *c, int fd, const char *path, const struct stat *st)
{
	char *dir = xstrdup(path);
	int ret = 0;

	char who[64];

	if (fd >= 0)
		snprintf(who, sizeof(who), "fd %d is", fd);
	else
		snprintf(who, sizeof(who), "its working directory is");
	if (st->st_uid != c->status.uid[1] || st->st_gid != c->status.gid[1]) {
		pr_err("process %d: %s %s, deleted, owned by %u:%u and not by the job's user "
		       "(%u:%u): a thaw could not make it again with its owner; close it before "
		       "freezing", c->pid, who, path, st->st_uid, st->st_gid, c->status.uid[1],
		       c->status.gid[1]);
		ret = -1;
		goto out;
	}
	for (char *slash = strrchr(dir, '/'); slash; slash = strrchr(dir, '/')) {
		*slash = 0;
		const char *d = *dir ? dir : "/";
		struct stat ds;
		if (stat(d, &ds) < 0)
			continue;
		/* (a directory of the user's own, 0500 say, is writable to the
		 * thaw's init, which has every capability over the user's files
		 * in its namespace) */
		if (access(d, W_OK | X_OK) < 0 &&
		    (ds.st_uid != c->status.uid[1] || ds.st_gid != c->status.gid[1])) {
			pr_err("process %d: %s %s, deleted, in %s, where you cannot write: a thaw "
			       "makes a deleted file again where it was; close it before freezing, or "
			       "make %s writable", c->pid, who, path, d, d);
			ret = -1;
		}
		break;
	}
out:
	free(dir);
	return ret;
}

/* Another name of a deleted file that still has links: looked for in the
 * directory it was deleted from. */
static char *other_name(const char *path, const struct stat *st)
{
	char *dirc = xstrdup(path), *dir = dirname(dirc), *found = NULL;
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && !found && (de = readdir(d))) {
		char *p = xasprintf("%s/%s", strcmp(dir, "/") ? dir : "", de->d_name);
		struct stat o;
		if (de->d_ino == st->st_ino && lstat(p, &o) == 0 && o.st_ino == st->st_ino &&
		    o.st_dev == st->st_dev)
			found = p;
		else
			free(p);
	}
	if (d)
		closedir(d);
	free(dirc);
	return found;
}

int ghost_add_fd(struct dump_ctx *c, Fd *f, int fd, const struct stat *st, char *link)
{
	char proc[64];
	struct statfs sfs;
	bool memfd = !strncmp(link, MEMFD_PREFIX, 7) && ends_deleted(link) && st->st_nlink == 0;
	struct ghost *g;
	FilesGhost__Kind kind;

	snprintf(proc, sizeof(proc), "/proc/%d/fd/%d", c->pid, fd);
	if (ends_deleted(link))
		link[strlen(link) - (sizeof(deleted_suffix) - 1)] = 0;
	free(f->path);
	f->path = xstrdup(link);
	if (S_ISREG(st->st_mode) && st->st_nlink > 0 && !memfd) {
		/* deleted under this name, alive under another: the same file */
		char *other = other_name(link, st);
		if (!other) {
			pr_err("process %d: fd %d is %s, deleted under that name but still linked %lu "
			       "time(s) elsewhere, where jobfreeze cannot find it: a copy would not be "
			       "the same file; close it before freezing", c->pid, fd, link,
			       (unsigned long)st->st_nlink);
			return -1;
		}
		pr_info("process %d: fd %d, %s, is still there as %s", c->pid, fd, link, other);
		free(f->path);
		f->path = other;
		return 1;	/* an ordinary file after all */
	}
	if (memfd) {
		if (statfs(proc, &sfs) == 0 && (unsigned long)sfs.f_type == HUGETLBFS_MAGIC) {
			pr_err("process %d: fd %d is a memfd of huge pages (%s, MFD_HUGETLB), which "
			       "jobfreeze cannot freeze yet", c->pid, fd, link);
			return -1;
		}
		kind = FILES_GHOST__KIND__MEMFD;
	} else if (S_ISREG(st->st_mode)) {
		kind = FILES_GHOST__KIND__FILE;
	} else if (S_ISDIR(st->st_mode)) {
		kind = FILES_GHOST__KIND__DIR;
	} else if (S_ISLNK(st->st_mode)) {
		kind = FILES_GHOST__KIND__SYMLINK;
	} else {
		pr_err("process %d: fd %d is %s, a deleted special file (mode %#o), which jobfreeze "
		       "cannot make again", c->pid, fd, link, st->st_mode);
		return -1;
	}
	g = get(c->ghosts, ghost_id_of(major(st->st_dev), minor(st->st_dev), st->st_ino));
	f->has_ghost_id = 1;
	f->ghost_id = g->id;
	if (g->rec && g->rec->size_from_maps) {
		/* seen first as a mapping: an fd says what it is */
		protobuf_c_message_free_unpacked(&g->rec->base, NULL);
		g->rec = NULL;
	}
	if (!g->rec) {
		if (kind != FILES_GHOST__KIND__MEMFD && check_remakeable(c, fd, link, st) < 0)
			return -1;
		new_rec(g, kind, memfd ? link + 7 : link, st);
		if (kind == FILES_GHOST__KIND__SYMLINK) {
			char target[PATH_MAX];
			int h = grab_fd(c->pid, fd);
			ssize_t n = h >= 0 ? readlinkat(h, "", target, sizeof(target) - 1) : -1;
			if (n < 0) {
				pr_perror("cannot read where the deleted symlink %s (fd %d of process %d) "
					  "points", link, fd, c->pid);
				if (h >= 0)
					close(h);
				return -1;
			}
			close(h);
			target[n] = 0;
			g->rec->target = xstrdup(target);
		}
	}
	if (!g->src && (kind == FILES_GHOST__KIND__FILE || kind == FILES_GHOST__KIND__MEMFD)) {
		g->src = c;
		g->src_fd = fd;
	}
	return 0;
}

int ghost_add_cwd(struct dump_ctx *c, const struct stat *st, const char *path)
{
	struct ghost *g = get(c->ghosts, ghost_id_of(major(st->st_dev), minor(st->st_dev),
						     st->st_ino));

	if (!g->rec) {
		if (check_remakeable(c, -1, path, st) < 0)
			return -1;
		new_rec(g, FILES_GHOST__KIND__DIR, path, st);
	}
	c->img->has_cwd_ghost = 1;
	c->img->cwd_ghost = g->id;
	return 0;
}

bool ghost_add_map(struct dump_ctx *c, const struct proc_vma *pv, Vma *v)
{
	uint64_t id = ghost_id_of(pv->dev_major, pv->dev_minor, pv->ino);
	struct ghost *g;

	if (!pv->shared && !ghost_held(c->ghosts, id))
		return false;	/* its contents alone: ANON_FROM_FILE */
	g = get(c->ghosts, id);
	v->kind = pv->shared ? VMA__KIND__SHMEM : VMA__KIND__GHOST_PRIVATE;
	v->has_shmem_id = 1;
	v->shmem_id = id;
	v->has_may_write = 1;
	v->may_write = !!(pv->vmflags & VMF_MAYWRITE);
	if (!pv->shared)
		return true;	/* an fd or a shared mapping brings its data */
	if (!g->rec) {
		bool memfd = !strncmp(pv->path, MEMFD_PREFIX, 7);
		bool anon = !strcmp(pv->path, "/dev/zero");
		g->rec = new_rec(g, memfd ? FILES_GHOST__KIND__MEMFD : anon ? FILES_GHOST__KIND__ANON :
				 FILES_GHOST__KIND__FILE, memfd ? pv->path + 7 : pv->path, NULL);
		g->rec->mode = S_IFREG | 0600;
		g->rec->dev = makedev(pv->dev_major, pv->dev_minor);
		g->rec->ino = pv->ino;
		g->rec->has_size_from_maps = 1;
		g->rec->size_from_maps = 1;
	}
	g->maps = xrealloc(g->maps, (g->nr_maps + 1) * sizeof(*g->maps));
	g->maps[g->nr_maps++] = (struct ghost_map){ c, pv->start, pv->end, pv->pgoff, pv->swap_kb > 0 };
	return true;
}

/* Collects the data of one object into the image, as extents. */
struct ghost_writer {
	struct dump_ctx *c;
	FilesGhost *rec;
	int out;
	size_t cap;
	uint64_t bytes;
	const char *name;
};

static int put_extent(struct ghost_writer *w, uint64_t off, const void *data, uint64_t len)
{
	FilesGhost *r = w->rec;

	if (r->n_extents && r->extents[r->n_extents - 2] + r->extents[r->n_extents - 1] == off) {
		r->extents[r->n_extents - 1] += len;
	} else {
		if (r->n_extents + 2 > w->cap)
			r->extents = xrealloc(r->extents, (w->cap = w->cap ? w->cap * 2 : 16) * 8);
		r->extents[r->n_extents++] = off;
		r->extents[r->n_extents++] = len;
	}
	r->crc32c = crc32c(r->crc32c, data, len);
	if (write_all(w->out, data, len) < 0) {
		pr_perror("cannot write %s/%s", w->c->dir->path, w->name);
		return -1;
	}
	w->bytes += len;
	return 0;
}

/* The data runs of IN (size SIZE) as offset, length pairs; one run of
 * everything where the file system cannot tell holes. */
static int data_runs(int in, uint64_t size, uint64_t **runs, size_t *nr, uint64_t *total)
{
	size_t cap = 0;
	off_t at = 0;

	*runs = NULL;
	*nr = 0;
	*total = 0;
	while ((uint64_t)at < size) {
		off_t d = lseek(in, at, SEEK_DATA), h;
		if (d < 0 && errno == ENXIO)
			break;
		if (d < 0 && errno == EINVAL && at == 0)
			d = 0;		/* no SEEK_DATA here: all of it */
		else if (d < 0)
			return -1;
		h = lseek(in, d, SEEK_HOLE);
		if (h < 0)
			h = size;
		if ((uint64_t)h > size)
			h = size;
		if (h <= d)
			break;
		if (*nr + 2 > cap)
			*runs = xrealloc(*runs, (cap = cap ? cap * 2 : 16) * 8);
		(*runs)[(*nr)++] = d;
		(*runs)[(*nr)++] = h - d;
		*total += h - d;
		at = h;
	}
	return 0;
}

static void human(char *buf, size_t len, uint64_t b)
{
	if (b >= (1ULL << 30))
		snprintf(buf, len, "%.1f GiB", b / (double)(1ULL << 30));
	else
		snprintf(buf, len, "%.1f MiB", b / (double)(1ULL << 20));
}

/* Refused before anything is copied: more than the limit, or than the
 * image's disk holds. */
static int check_room(struct ghost_set *s, struct dump_ctx *c, const FilesGhost *r, uint64_t bytes)
{
	char have[32], limit[32], need[32];
	struct statvfs sv;
	const char *what = r->kind == FILES_GHOST__KIND__MEMFD ? "the memfd" : "the deleted file";

	human(need, sizeof(need), bytes);
	if (bytes > s->limit) {
		human(limit, sizeof(limit), s->limit);
		pr_err("%s %s (process %d) holds %s of data, more than the %s that jobfreeze copies "
		       "into an image for one file: raise the limit with --ghost-limit SIZE (or "
		       "JOBFREEZE_GHOST_LIMIT=SIZE), or close it before freezing", what, r->path,
		       c->pid, need, limit);
		return -1;
	}
	if (fstatvfs(c->dir->fd, &sv) == 0 && bytes + ROOM_SLACK > (uint64_t)sv.f_bavail * sv.f_frsize) {
		human(have, sizeof(have), (uint64_t)sv.f_bavail * sv.f_frsize);
		pr_err("%s %s (process %d) holds %s of data, and the disk of %s has %s free: make "
		       "room, or freeze to another disk", what, r->path, c->pid, need, c->dir->path,
		       have);
		return -1;
	}
	return 0;
}

static int dump_from_fd(struct ghost_set *s, struct ghost *g, struct ghost_writer *w)
{
	char path[64];
	unsigned char *buf = NULL;
	uint64_t *runs = NULL, total;
	size_t nr;
	struct stat st;
	int in, ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/fd/%d", g->src->pid, g->src_fd);
	in = open(path, O_RDONLY | O_CLOEXEC);
	if (in < 0) {
		pr_perror("cannot read %s, behind fd %d of process %d, to copy it into the image",
			  g->rec->path, g->src_fd, g->src->pid);
		return -1;
	}
	if (fstat(in, &st) < 0 || data_runs(in, st.st_size, &runs, &nr, &total) < 0) {
		pr_perror("cannot find the data of %s (fd %d of process %d)", g->rec->path,
			  g->src_fd, g->src->pid);
		goto out;
	}
	g->rec->size = st.st_size;
	if (g->rec->kind == FILES_GHOST__KIND__MEMFD) {
		int seals = fcntl(in, F_GET_SEALS);
		if (seals > 0) {
			g->rec->has_seals = 1;
			g->rec->seals = seals;
		}
	}
	if (check_room(s, g->src, g->rec, total) < 0)
		goto out;
	buf = xmalloc(CHUNK);
	for (size_t i = 0; i < nr; i += 2)
		for (uint64_t off = runs[i], end = runs[i] + runs[i + 1]; off < end;) {
			size_t len = end - off < CHUNK ? end - off : CHUNK;
			ssize_t got = pread(in, buf, len, off);
			if (got <= 0) {
				if (got == 0)
					errno = EIO;	/* shrunk meanwhile? the job is stopped */
				pr_perror("cannot read %s (fd %d of process %d)", g->rec->path,
					  g->src_fd, g->src->pid);
				goto out;
			}
			if (put_extent(w, off, buf, got) < 0)
				goto out;
			off += got;
		}
	ret = 0;
out:
	free(buf);
	free(runs);
	close(in);
	return ret;
}

static int cmp_map(const void *a, const void *b)
{
	const struct ghost_map *x = a, *y = b;
	return x->pgoff < y->pgoff ? -1 : x->pgoff > y->pgoff;
}

/* Which pages of LEN bytes at AT the mapping M has in memory (mincore, in
 * its process), into VEC; all of them when some are in swap, which
 * mincore does not count. Reading a hole of shared memory through a
 * mapping would give it a page: holes are left alone. */
static int resident(const struct ghost_map *m, uint64_t at, size_t len, unsigned char *vec)
{
	long ret;

	memset(vec, 1, len / PG);
	if (m->swapped)
		return 0;
	ret = INJECT(&m->c->in, SYS_mincore, at, len, m->c->in.scratch);
	if (ret < 0 || remote_read(m->c->pid, m->c->in.scratch, vec, len / PG) < 0) {
		pr_err("cannot tell which pages of the shared memory at %#lx process %d has: %s",
		       (unsigned long)at, m->c->pid, strerror(ret < 0 ? -ret : EFAULT));
		return -1;
	}
	return 0;
}

/* No fd holds it: what the shared mappings show, each page once, zero
 * pages and holes left as holes. */
static int dump_from_maps(struct ghost *g, struct ghost_writer *w)
{
	unsigned char *buf = xmalloc(CHUNK), vec[CHUNK / PG];
	uint64_t done = 0;
	int ret = -1;

	if (g->nr_maps)	/* (qsort wants an array, even of nothing) */
		qsort(g->maps, g->nr_maps, sizeof(*g->maps), cmp_map);
	for (size_t i = 0; i < g->nr_maps; i++) {
		const struct ghost_map *m = &g->maps[i];
		uint64_t from = m->pgoff > done ? m->pgoff : done, to = m->pgoff + (m->end - m->start);

		for (uint64_t off = from; off < to; off += CHUNK) {
			size_t len = to - off < CHUNK ? to - off : CHUNK;
			uint64_t at = m->start + (off - m->pgoff);
			if (resident(m, at, len, vec) < 0)
				goto out;
			for (size_t k = 0, run; k < len; k += run) {
				for (run = PG; k + run < len && (vec[(k + run) / PG] & 1) == (vec[k / PG] & 1);)
					run += PG;
				if (!(vec[k / PG] & 1))
					continue;
				if (remote_read(m->c->pid, at + k, buf + k, run) < 0)
					goto out;
				for (size_t p = k; p < k + run; p += PG)
					if (!page_is_zero(buf + p) && put_extent(w, off + p, buf + p, PG) < 0)
						goto out;
			}
		}
		if (to > done)
			done = to;
	}
	if (done > g->rec->size)
		g->rec->size = done;
	ret = 0;
out:
	free(buf);
	return ret;
}

int ghosts_dump_data(struct dump_ctx *ctx, size_t n, struct ghost_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		struct ghost *g = &s->g[i];
		char name[64];
		int ret;

		if (!g->rec || g->rec->kind == FILES_GHOST__KIND__DIR ||
		    g->rec->kind == FILES_GHOST__KIND__SYMLINK)
			continue;
		snprintf(name, sizeof(name), "ghost-%llx.img", (unsigned long long)g->id);
		struct ghost_writer w = { .c = g->src ? g->src : g->maps ? g->maps[0].c : &ctx[0],
					  .rec = g->rec, .name = name };
		w.out = image_create_raw(ctx[0].dir, name);
		if (w.out < 0)
			return -1;
		ret = g->src ? dump_from_fd(s, g, &w) : g->nr_maps ? dump_from_maps(g, &w) : 0;
		if (ret == 0 && fsync(w.out) < 0) {
			pr_perror("cannot sync %s/%s", ctx[0].dir->path, name);
			ret = -1;
		}
		ctx[0].stats->bytes_written += w.bytes;
		close(w.out);
		if (ret < 0)
			return -1;
	}
	(void)n;
	return 0;
}

FilesGhost **ghosts_records(struct ghost_set *s, size_t *n)
{
	FilesGhost **r = xcalloc(s->n ? s->n : 1, sizeof(*r));

	*n = 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->g[i].rec)
			r[(*n)++] = s->g[i].rec;
	return r;
}

void ghosts_free(struct ghost_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		if (s->g[i].rec)
			protobuf_c_message_free_unpacked(&s->g[i].rec->base, NULL);
		free(s->g[i].maps);
	}
	free(s->g);
	free(s);
}

/* ---- restore ---- */

const FilesGhost *ghost_find(const Inventory *inv, uint64_t id)
{
	for (size_t i = 0; i < inv->n_ghosts; i++)
		if (inv->ghosts[i]->id == id)
			return inv->ghosts[i];
	return NULL;
}

/* The extents of G, from ghost-ID.img, into OUT (checked against its size
 * and checksum). */
static int fill(struct restore_ctx *r, const FilesGhost *g, int out)
{
	char name[64];
	unsigned char *buf = NULL;
	uint64_t size, want = 0;
	uint32_t crc = 0;
	int in, ret = -1;

	snprintf(name, sizeof(name), "ghost-%llx.img", (unsigned long long)g->id);
	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		return -1;
	for (size_t i = 1; i < g->n_extents; i += 2)
		want += g->extents[i];
	if (size != want) {
		pr_err("image file %s/%s is truncated or damaged (%llu bytes, expected %llu)",
		       r->dir->path, name, (unsigned long long)size, (unsigned long long)want);
		goto out;
	}
	buf = xmalloc(CHUNK);
	for (size_t i = 0; i + 1 < g->n_extents; i += 2)
		for (uint64_t off = g->extents[i], end = off + g->extents[i + 1]; off < end;) {
			size_t len = end - off < CHUNK ? end - off : CHUNK;
			if (read_all(in, buf, len) != (ssize_t)len) {
				pr_perror("cannot read %s/%s", r->dir->path, name);
				goto out;
			}
			crc = crc32c(crc, buf, len);
			if (pwrite_all(out, buf, len, off) < 0) {
				pr_perror("cannot fill %s again", g->path);
				goto out;
			}
			off += len;
		}
	if (crc != g->crc32c) {
		pr_err("image file %s/%s is damaged (checksum mismatch)", r->dir->path, name);
		goto out;
	}
	if (ftruncate(out, g->size) < 0) {
		pr_perror("cannot give %s its size again", g->path);
		goto out;
	}
	ret = 0;
out:
	free(buf);
	close(in);
	return ret;
}

/* Ancestors of PATH that are missing, made (0700) so that it can be made
 * again where it was; removed in reverse order once it is deleted again. */
struct made_dirs {
	char *d[64];
	int n;
};

static void make_parents(const char *path, struct made_dirs *m)
{
	char *p = xstrdup(path);

	m->n = 0;
	for (char *s = strchr(p + 1, '/'); s && m->n < 64; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0700) == 0)
			m->d[m->n++] = xstrdup(p);
		*s = '/';
	}
	free(p);
}

static void remove_parents(struct made_dirs *m)
{
	while (m->n > 0) {
		m->n--;
		rmdir(m->d[m->n]);
		free(m->d[m->n]);
	}
}

static int set_times(int fd, const FilesGhost *g)
{
	struct timespec ts[2] = { { g->atime_ns / 1000000000, g->atime_ns % 1000000000 },
				  { g->mtime_ns / 1000000000, g->mtime_ns % 1000000000 } };

	return futimens(fd, ts);
}

/* Makes G at its path (or a hidden name next to it), opens it and removes
 * the name again; the fd, or -1. */
static int make_on_disk(struct restore_ctx *r, const FilesGhost *g)
{
	char *dirc = xstrdup(g->path), *basec = xstrdup(g->path), *path = NULL;
	char *dir = dirname(dirc), *base = basename(basec);
	struct made_dirs made;
	bool created = false;
	int fd = -1, err = 0;

	make_parents(g->path, &made);
	for (int attempt = 0; attempt < 100 && !created && !err; attempt++) {
		free(path);
		path = attempt ? xasprintf("%s/.%s.jobfreeze-%d-%d", dir, base, getpid(), attempt)
			       : xasprintf("%s", g->path);
		switch (g->kind) {
		case FILES_GHOST__KIND__DIR:
			created = mkdir(path, 0700) == 0;
			if (created)
				fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
			break;
		case FILES_GHOST__KIND__SYMLINK:
			created = symlink(g->target, path) == 0;
			if (created)
				fd = open(path, O_PATH | O_NOFOLLOW | O_CLOEXEC);
			break;
		default:
			fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
			created = fd >= 0;
			break;
		}
		if (!created && errno != EEXIST) {
			pr_perror("cannot make %s again (deleted, held by the job) as %s", g->path, path);
			err = 1;
		} else if (created && fd < 0) {
			pr_perror("cannot open %s, made again", path);
			err = 1;
		}
	}
	if (!created && !err) {
		pr_err("cannot find a free name to make the deleted %s again", g->path);
		err = 1;
	}
	if (!err && g->kind == FILES_GHOST__KIND__FILE && fill(r, g, fd) < 0)
		err = 1;
	if (!err && g->kind != FILES_GHOST__KIND__SYMLINK &&
	    (fchmod(fd, g->mode & 07777) < 0 || set_times(fd, g) < 0)) {
		pr_perror("cannot give %s, made again, its mode and times", g->path);
		err = 1;
	}
	/* only what we made ourselves is removed */
	if (created && (g->kind == FILES_GHOST__KIND__DIR ? rmdir(path) : unlink(path)) < 0) {
		pr_perror("cannot delete %s again", path);
		err = 1;
	}
	remove_parents(&made);
	if (err && fd >= 0) {
		close(fd);
		fd = -1;
	}
	free(path);
	free(dirc);
	free(basec);
	return fd;
}

/* The seals a memfd gets at once: all but those that would stop its
 * mappings from being made again (FUTURE_WRITE forbids new writable shared
 * mappings; SEAL would then forbid adding it later). */
static unsigned early_seals(const FilesGhost *g)
{
	return g->seals & F_SEAL_FUTURE_WRITE ? g->seals & ~(F_SEAL_FUTURE_WRITE | F_SEAL_SEAL)
					      : g->seals;
}

static int make_memfd(struct restore_ctx *r, const FilesGhost *g)
{
	const char *name = g->kind == FILES_GHOST__KIND__ANON ? "jobfreeze-shm" : g->path;
	int fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);

	if (fd < 0) {
		pr_perror("cannot make the memfd %s again", name);
		return -1;
	}
	if (fill(r, g, fd) < 0)
		goto fail;
	if (g->kind == FILES_GHOST__KIND__MEMFD &&
	    (fchmod(fd, g->mode & 07777) < 0 || set_times(fd, g) < 0)) {
		pr_perror("cannot give the memfd %s its mode and times again", name);
		goto fail;
	}
	if (g->has_seals && early_seals(g) && fcntl(fd, F_ADD_SEALS, early_seals(g)) < 0) {
		pr_perror("cannot seal the memfd %s again (seals %#x)", name, g->seals);
		goto fail;
	}
	return fd;
fail:
	close(fd);
	return -1;
}

int ghost_make(struct restore_ctx *r, const FilesGhost *g)
{
	return g->kind == FILES_GHOST__KIND__MEMFD || g->kind == FILES_GHOST__KIND__ANON ?
		make_memfd(r, g) : make_on_disk(r, g);
}

int ghost_seal(const FilesGhost *g, int fd)
{
	unsigned rest = g->has_seals ? g->seals & ~early_seals(g) : 0;

	if (rest && fcntl(fd, F_ADD_SEALS, rest) < 0) {
		pr_perror("cannot seal the memfd %s again (seals %#x)", g->path, g->seals);
		return -1;
	}
	return 0;
}
