/* fileid.c: file identity. Executables and libraries are matched by their
 * GNU build-id (a rebuilt or upgraded binary differs), other files by size
 * and modification time. */
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/fileid.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

#define MAX_PHDRS 128
#define MAX_NOTE 4096

/* Reads the NT_GNU_BUILD_ID note of an ELF64 file; returns its length or 0. */
static size_t read_build_id(int fd, uint8_t *out, size_t max)
{
	Elf64_Ehdr eh;
	Elf64_Phdr ph[MAX_PHDRS];

	if (pread(fd, &eh, sizeof(eh), 0) != sizeof(eh) || memcmp(eh.e_ident, ELFMAG, SELFMAG) ||
	    eh.e_ident[EI_CLASS] != ELFCLASS64 || eh.e_phentsize != sizeof(Elf64_Phdr) ||
	    eh.e_phnum == 0 || eh.e_phnum > MAX_PHDRS)
		return 0;
	if (pread(fd, ph, eh.e_phnum * sizeof(ph[0]), eh.e_phoff) != (ssize_t)(eh.e_phnum * sizeof(ph[0])))
		return 0;
	for (int i = 0; i < eh.e_phnum; i++) {
		uint8_t note[MAX_NOTE];
		size_t len = ph[i].p_filesz, off = 0;

		if (ph[i].p_type != PT_NOTE || len > sizeof(note) || len < sizeof(Elf64_Nhdr))
			continue;
		if (pread(fd, note, len, ph[i].p_offset) != (ssize_t)len)
			continue;
		while (off + sizeof(Elf64_Nhdr) <= len) {
			Elf64_Nhdr nh;
			memcpy(&nh, note + off, sizeof(nh));
			size_t name_off = off + sizeof(nh);
			size_t desc_off = name_off + ((nh.n_namesz + 3) & ~3u);
			size_t next = desc_off + ((nh.n_descsz + 3) & ~3u);
			if (nh.n_namesz > len || nh.n_descsz > len || next > len)
				break;
			if (nh.n_type == NT_GNU_BUILD_ID && nh.n_namesz == 4 &&
			    !memcmp(note + name_off, "GNU", 4) && nh.n_descsz <= max) {
				memcpy(out, note + desc_off, nh.n_descsz);
				return nh.n_descsz;
			}
			off = next;
		}
	}
	return 0;
}

FileId *fileid_make(const char *path, const struct stat *st)
{
	FileId *id = xmalloc(sizeof(*id));

	file_id__init(id);
	id->path = xstrdup(path);
	id->size = st->st_size;
	id->mtime_ns = (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec;
	id->ino = st->st_ino;
	id->dev = st->st_dev;
	id->mode = st->st_mode;
	if (S_ISREG(st->st_mode) && (st->st_mode & 0111 || strstr(path, ".so"))) {
		uint8_t bid[64];
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			size_t n = read_build_id(fd, bid, sizeof(bid));
			if (n) {
				id->has_build_id = 1;
				id->build_id.len = n;
				id->build_id.data = xmalloc(n);
				memcpy(id->build_id.data, bid, n);
			}
			close(fd);
		}
	}
	return id;
}

static bool same_object(const FileId *id, const char *path, const struct stat *st)
{
	return id->ino == st->st_ino && id->dev == st->st_dev && id->size == (uint64_t)st->st_size &&
	       id->mtime_ns == (int64_t)st->st_mtim.tv_sec * 1000000000 + st->st_mtim.tv_nsec &&
	       id->mode == st->st_mode && !strcmp(id->path, path);
}

FileId *fileid_make_cached(struct fileid_cache *c, const char *path, const struct stat *st)
{
	FileId *id = NULL, *copy;

	for (size_t i = 0; i < c->n && !id; i++)
		if (same_object(c->ids[i], path, st))
			id = c->ids[i];
	if (!id) {
		id = fileid_make(path, st);
		c->ids = xrealloc(c->ids, (c->n + 1) * sizeof(*c->ids));
		c->ids[c->n++] = id;
	}
	copy = xmalloc(sizeof(*copy));
	*copy = *id;
	copy->path = xstrdup(id->path);
	if (id->has_build_id) {
		copy->build_id.data = xmalloc(id->build_id.len);
		memcpy(copy->build_id.data, id->build_id.data, id->build_id.len);
	}
	return copy;
}

struct stat_entry {
	char *path;                       /* NULL: an empty slot */
	struct stat st;
	int err;                          /* errno of a failed stat */
};

static size_t path_hash(const char *p)
{
	size_t h = 14695981039346656037ULL;	/* FNV-1a */

	for (; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h;
}

static struct stat_entry *stat_slot(struct stat_entry *t, size_t cap, const char *path)
{
	size_t i = path_hash(path) & (cap - 1);

	while (t[i].path && strcmp(t[i].path, path))
		i = (i + 1) & (cap - 1);
	return &t[i];
}

int fileid_stat_cached(struct fileid_cache *c, const char *path, struct stat *st)
{
	struct stat_entry *e;

	if (2 * (c->nr_stats + 1) > c->cap_stats) {
		size_t cap = c->cap_stats ? 2 * c->cap_stats : 64;
		struct stat_entry *t = xcalloc(cap, sizeof(*t));
		for (size_t i = 0; i < c->cap_stats; i++)
			if (c->stats[i].path)
				*stat_slot(t, cap, c->stats[i].path) = c->stats[i];
		free(c->stats);
		c->stats = t;
		c->cap_stats = cap;
	}
	e = stat_slot(c->stats, c->cap_stats, path);
	if (!e->path) {
		e->err = stat(path, &e->st) < 0 ? errno : 0;
		e->path = xstrdup(path);
		c->nr_stats++;
	}
	*st = e->st;
	errno = e->err;
	return e->err ? -1 : 0;
}

void fileid_cache_free(struct fileid_cache *c)
{
	for (size_t i = 0; i < c->cap_stats; i++)
		free(c->stats[i].path);
	free(c->stats);
	c->stats = NULL;
	c->nr_stats = c->cap_stats = 0;
	for (size_t i = 0; i < c->n; i++)
		fileid_free(c->ids[i]);
	free(c->ids);
	c->ids = NULL;
	c->n = 0;
}

void fileid_free(FileId *id)
{
	if (id)
		protobuf_c_message_free_unpacked(&id->base, NULL);
}

enum check_level { CHECK_ALL, CHECK_SIZE, CHECK_KIND };

static int check(const FileId *id, const char *what, enum check_level level)
{
	struct stat st;
	int64_t mtime;

	if (stat(id->path, &st) < 0) {
		pr_err("%s %s is gone (%s): it cannot be given back to the job", what, id->path,
		       strerror(errno));
		return -1;
	}
	if ((st.st_mode & S_IFMT) != (id->mode & S_IFMT)) {
		pr_err("%s %s is no longer the same kind of file", what, id->path);
		return -1;
	}
	if (!S_ISREG(st.st_mode) || level == CHECK_KIND)
		return 0;
	if (id->has_build_id) {
		uint8_t bid[64];
		size_t n = 0;
		int fd = open(id->path, O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			n = read_build_id(fd, bid, sizeof(bid));
			close(fd);
		}
		if (n != id->build_id.len || memcmp(bid, id->build_id.data, n) ||
		    (uint64_t)st.st_size != id->size) {
			pr_err("%s %s has changed since the job was frozen (different build-id or "
			       "size): it was rebuilt or upgraded; the job needs the old file back",
			       what, id->path);
			return -1;
		}
		return 0;
	}
	mtime = (int64_t)st.st_mtim.tv_sec * 1000000000 + st.st_mtim.tv_nsec;
	if (level == CHECK_SIZE)
		mtime = id->mtime_ns;
	if ((uint64_t)st.st_size != id->size || mtime != id->mtime_ns) {
		pr_err("%s %s has changed since the job was frozen (size %llu -> %llu%s): the job "
		       "would see a different file; restore the old one%s", what, id->path,
		       (unsigned long long)id->size, (unsigned long long)st.st_size,
		       mtime != id->mtime_ns ? ", modified" : "",
		       strstr(what, "fd") ? ", or give the job another file with --inherit-fd" : "");
		return -1;
	}
	return 0;
}

int fileid_check(const FileId *id, const char *what)
{
	return check(id, what, CHECK_ALL);
}

int fileid_check_size(const FileId *id, const char *what)
{
	return check(id, what, CHECK_SIZE);
}

int fileid_check_exists(const FileId *id, const char *what)
{
	return check(id, what, CHECK_KIND);
}
