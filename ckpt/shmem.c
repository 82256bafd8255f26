/* shmem.c: the objects of the job that mappings and fds share, made once
 * in init: shared anonymous memory, deleted files, memfds (ghost.c makes
 * them from the inventory's FilesGhost records), or, in images from before
 * those, a memfd filled from shmem-ID.img. Every process that mapped one
 * maps it again; every fd on one is a description of its own on it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "ckpt/inject.h"
#include "ckpt/log.h"
#include "ckpt/mem.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define SHMEM_MAX (4ULL << 30)

/* The object in init: made from its record, or a memfd filled from the
 * image, the first time. */
struct job_shm *shm_get(struct restore_ctx *r, uint64_t id)
{
	struct shm_table *t = r->shm;
	const FilesGhost *g = ghost_find(r->inv, id);
	struct job_shm *s;
	char name[64];
	uint64_t size;
	int in;

	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].id == id)
			return &t->s[i];
	if (g) {
		int fd = ghost_make(r, g);
		if (fd < 0)
			return NULL;
		t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
		t->s[t->n] = (struct job_shm){ .id = id, .fd = fd, .size = g->size, .g = g };
		return &t->s[t->n++];
	}
	snprintf(name, sizeof(name), "shmem-%llx.img", (unsigned long long)id);
	in = image_open_raw(r->dir, name, &size);
	if (in < 0)
		return NULL;
	if (size > SHMEM_MAX) {
		pr_err("image file %s/%s is damaged (%llu bytes)", r->dir->path, name,
		       (unsigned long long)size);
		close(in);
		return NULL;
	}
	t->s = xrealloc(t->s, (t->n + 1) * sizeof(*t->s));
	s = &t->s[t->n];
	*s = (struct job_shm){ .id = id, .size = size };
	s->fd = memfd_create("jobfreeze-shm", MFD_CLOEXEC);
	if (s->fd < 0 || ftruncate(s->fd, size) < 0) {
		pr_perror("cannot make shared memory for the job");
		if (s->fd >= 0)
			close(s->fd);
		close(in);
		return NULL;
	}
	t->n++;
	if (copy_fd(in, s->fd, NULL) < 0) {
		pr_perror("cannot fill shared memory from %s/%s", r->dir->path, name);
		s = NULL;
	}
	close(in);
	return s;
}

long shmem_fd_in_process(struct restore_ctx *r, uint64_t id, uint64_t end, bool writable)
{
	struct job_shm *s = shm_get(r, id);
	char path[64];
	long ret;
	int fd;

	if (!s)
		return -EIO;
	/* (a deleted file or an fd's memfd has its size: past it, SIGBUS as before) */
	if (end > s->size && (!s->g || s->g->size_from_maps)) {
		if (end > SHMEM_MAX)
			return -EINVAL;
		if (ftruncate(s->fd, end) < 0)
			return -errno;
		s->size = end;
	}
	/* A mapping that may never become writable (a sealed memfd, a read-only
	 * fd) comes from a read-only description, as it did. */
	snprintf(path, sizeof(path), "/proc/self/fd/%d", s->fd);
	fd = writable ? s->fd : open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	ret = fd_send(r->sock, fd) < 0 ? -EIO : fd_recv(r, r->keep_at);
	if (fd != s->fd)
		close(fd);
	return ret;
}

int shmem_finish(struct restore_ctx *r)
{
	for (size_t i = 0; i < r->shm->n; i++)
		if (r->shm->s[i].g && ghost_seal(r->shm->s[i].g, r->shm->s[i].fd) < 0)
			return -1;
	return 0;
}

void shm_table_close(struct shm_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		close(t->s[i].fd);
	free(t->s);
	t->s = NULL;
	t->n = 0;
}
