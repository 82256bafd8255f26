/* shmem.c: shared memory with no file to come back from: shared anonymous
 * memory, a shared mapping of a deleted file (python's semaphores in
 * /dev/shm) or of a memfd. Processes of the job that share one object
 * (across fork) must share it again: it is dumped into shmem-ID.img at the
 * offsets the mappings show, and comes back as one memfd made by init and
 * mapped by every process that had it. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include "ckpt/dump.h"
#include "ckpt/inject.h"
#include "ckpt/log.h"
#include "ckpt/mem.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define PG 4096UL
#define CHUNK (1UL << 20)
#define SHMEM_MAX (4ULL << 30)

int shmem_dump(struct dump_ctx *c, const Vma *v)
{
	char name[64];
	unsigned char *buf = xmalloc(CHUNK);
	int fd, ret = -1;

	snprintf(name, sizeof(name), "shmem-%llx.img", (unsigned long long)v->shmem_id);
	fd = openat(c->dir->fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		fd = image_create_raw(c->dir, name);	/* the first mapping of this object */
	if (fd < 0)
		goto out;
	/* Every mapping writes what it shows at its offset in the object: the
	 * same bytes where two overlap, holes where nothing was written. */
	for (uint64_t a = v->start; a < v->end; a += CHUNK) {
		size_t len = v->end - a < CHUNK ? v->end - a : CHUNK;
		if (remote_read(c->pid, a, buf, len) < 0)
			goto out;
		for (size_t k = 0; k < len; k += PG) {
			if (page_is_zero(buf + k))
				continue;
			if (pwrite_all(fd, buf + k, PG, v->pgoff + (a - v->start) + k) < 0) {
				pr_perror("cannot write %s/%s", c->dir->path, name);
				goto out;
			}
			c->stats->bytes_written += PG;
		}
	}
	if (fsync(fd) < 0) {
		pr_perror("cannot sync %s/%s", c->dir->path, name);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

/* The object in init: a memfd filled from the image, the first time. */
static struct job_shm *shm_get(struct restore_ctx *r, uint64_t id)
{
	struct shm_table *t = r->shm;
	struct job_shm *s;
	char name[64];
	uint64_t size;
	int in;

	for (size_t i = 0; i < t->n; i++)
		if (t->s[i].id == id)
			return &t->s[i];
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
	s->id = id;
	s->size = size;
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

long shmem_fd_in_process(struct restore_ctx *r, uint64_t id, uint64_t end)
{
	struct job_shm *s = shm_get(r, id);

	if (!s)
		return -EIO;
	if (end > SHMEM_MAX)
		return -EINVAL;
	if (end > s->size) {
		if (ftruncate(s->fd, end) < 0)
			return -errno;
		s->size = end;
	}
	if (fd_send(r->sock, s->fd) < 0)
		return -EIO;
	return fd_recv(r, r->keep_at);
}

void shm_table_close(struct shm_table *t)
{
	for (size_t i = 0; i < t->n; i++)
		close(t->s[i].fd);
	free(t->s);
	t->s = NULL;
	t->n = 0;
}
