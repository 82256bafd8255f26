/* pipedata.c: the bytes queued in a pipe or a FIFO. They are copied with
 * tee(2), which leaves them in the pipe (a failed or -R dump must not take
 * them from the job), and the copy is checked against FIONREAD, the
 * kernel's own count: a copy that comes up short fails the dump instead of
 * thawing a job that silently lost part of its stream. In packet mode
 * (O_DIRECT) each packet's length is kept, since a read returns one packet. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include "ckpt/crc32c.h"
#include "ckpt/log.h"
#include "ckpt/pipedata.h"
#include "ckpt/util.h"

#define PACKET_MAX 4096U	/* a packet never spans pipe buffers (pages) */

/* Why F_SETPIPE_SZ(SIZE) was refused, as a user can act on it. */
static void explain_capacity(const char *what, int size)
{
	char *max = read_file("/proc/sys/fs/pipe-max-size", NULL);
	unsigned long m = max ? strtoul(max, NULL, 10) : 0;

	free(max);
	if (errno == EPERM && m && (unsigned long)size > m)
		pr_err("%s needs a capacity of %d bytes, more than an ordinary user may give a pipe "
		       "here (/proc/sys/fs/pipe-max-size is %lu)", what, size, m);
	else if (errno == EPERM)
		pr_err("%s needs a capacity of %d bytes, and this user's pipes already hold as "
		       "much as the system allows (/proc/sys/fs/pipe-user-pages-soft): close some "
		       "pipes or raise the limit", what, size);
	else
		pr_perror("cannot give %s a capacity of %d bytes", what, size);
}

/* Reads the copy back from TMP: one read returns one packet in packet
 * mode, everything at once otherwise; the lengths tell which it was. */
static int read_copy(int tmp, char *buf, size_t size, PipeData *pd, const char *what)
{
	size_t off = 0, cap = 0;

	while (off < size) {
		ssize_t n = read(tmp, buf + off, size - off);
		if (n <= 0) {
			if (n == 0)
				errno = EIO;
			pr_perror("cannot read back the copy of the data queued in %s", what);
			return -1;
		}
		if (pd->n_packets == cap)
			pd->packets = xrealloc(pd->packets, (cap = cap ? 2 * cap : 16) * sizeof(uint32_t));
		pd->packets[pd->n_packets++] = n;
		off += n;
	}
	return 0;
}

int pipedata_save(struct image_dir *dir, const char *name, int src, bool packets, PipeData *pd,
		  const char *what, uint64_t *bytes_written)
{
	int tmp[2] = { -1, -1 }, out = -1, queued = 0, cap, ret = -1;
	char *buf = NULL;
	ssize_t n = 0;

	cap = fcntl(src, F_GETPIPE_SZ);
	if (cap < 0 || ioctl(src, FIONREAD, &queued) < 0) {
		pr_perror("cannot read the size and fill of %s", what);
		return -1;
	}
	if (pipe2(tmp, O_CLOEXEC | O_NONBLOCK) < 0) {
		pr_perror("cannot make a pipe to copy the data queued in %s", what);
		return -1;
	}
	if (fcntl(tmp[1], F_SETPIPE_SZ, cap) < 0) {
		explain_capacity("the copy of the data queued in a pipe", cap);
		goto out;
	}
	if (queued > 0) {
		n = tee(src, tmp[1], queued, SPLICE_F_NONBLOCK);
		if (n != queued) {
			if (n < 0)
				pr_perror("cannot copy the %d bytes queued in %s", queued, what);
			else
				pr_err("only %zd of the %d bytes queued in %s could be copied: the job "
				       "would lose the rest, so it is not frozen", n, queued, what);
			goto out;
		}
	}
	buf = xmalloc(queued ? queued : 1);
	pipedata_clear(pd);
	if (read_copy(tmp[0], buf, queued, pd, what) < 0)
		goto out;
	/* A stream reads back in one piece; several pieces were packets. */
	if (!packets && pd->n_packets > 1)
		packets = true;
	if (!packets) {
		free(pd->packets);
		pd->packets = NULL;
		pd->n_packets = 0;
	}
	pd->capacity = cap;
	pd->size = queued;
	pd->crc32c = crc32c(0, buf, queued);
	out = image_create_raw(dir, name);
	if (out < 0)
		goto out;
	if (write_synced(out, buf, queued) < 0) {
		pr_perror("cannot write %s/%s", dir->path, name);
		goto out;
	}
	*bytes_written += queued;
	ret = 0;
out:
	free(buf);
	if (out >= 0)
		close(out);
	close(tmp[0]);
	close(tmp[1]);
	return ret;
}

/* Bounds a damaged image cannot pass. */
static int check_record(const PipeData *pd, uint64_t file_size, const char *file)
{
	uint64_t sum = 0;

	if (pd->capacity < 4096 || pd->capacity > PIPE_CAPACITY_MAX || pd->size > pd->capacity ||
	    file_size != pd->size || pd->n_packets > pd->capacity / 4096) {
		pr_err("image file %s is damaged (%llu bytes, %llu recorded, for a pipe of %u)", file,
		       (unsigned long long)file_size, (unsigned long long)pd->size, pd->capacity);
		return -1;
	}
	for (size_t i = 0; i < pd->n_packets; i++) {
		if (!pd->packets[i] || pd->packets[i] > PACKET_MAX) {
			pr_err("image file %s is damaged (a packet of %u bytes)", file, pd->packets[i]);
			return -1;
		}
		sum += pd->packets[i];
	}
	if (pd->n_packets && sum != pd->size) {
		pr_err("image file %s is damaged (packets of %llu bytes in all, %llu recorded)", file,
		       (unsigned long long)sum, (unsigned long long)pd->size);
		return -1;
	}
	return 0;
}

int pipedata_refill(struct image_dir *dir, const char *name, const PipeData *pd, int w,
		    const char *what)
{
	char *file = xasprintf("%s/%s", dir->path, name), *buf = NULL;
	uint64_t size = 0;
	int in = -1, ret = -1;
	size_t off = 0;

	in = image_open_raw(dir, name, &size);
	if (in < 0 || check_record(pd, size, file) < 0)
		goto out;
	buf = xmalloc(size ? size : 1);
	if (read_all(in, buf, size) != (ssize_t)size) {
		pr_perror("cannot read image file %s", file);
		goto out;
	}
	if (crc32c(0, buf, size) != pd->crc32c) {
		pr_err("image file %s is damaged (checksum mismatch)", file);
		goto out;
	}
	if (fcntl(w, F_SETPIPE_SZ, pd->capacity) < 0) {
		explain_capacity(what, pd->capacity);
		goto out;
	}
	/* Our own end: non-blocking, so that data not fitting fails instead
	 * of waiting forever; O_DIRECT makes each write one packet. */
	if (fcntl(w, F_SETFL, O_NONBLOCK | (pd->n_packets ? O_DIRECT : 0)) < 0) {
		pr_perror("cannot set up the refill of %s", what);
		goto out;
	}
	for (size_t i = 0; off < size; i++) {
		size_t len = pd->n_packets ? pd->packets[i] : size - off;
		ssize_t n = write(w, buf + off, len);
		if (n != (ssize_t)len) {
			if (n >= 0)
				errno = EAGAIN;
			pr_perror("cannot queue the %llu bytes of %s again (from %s)",
				  (unsigned long long)size, what, file);
			goto out;
		}
		off += n;
	}
	ret = 0;
out:
	if (in >= 0)
		close(in);
	free(buf);
	free(file);
	return ret;
}

const PipeData *pipedata_find(const Inventory *inv, uint64_t id, uint64_t fifo_dev)
{
	for (size_t i = 0; i < inv->n_pipes; i++) {
		const PipeData *pd = inv->pipes[i];
		if (pd->id == id && (pd->has_fifo_dev ? pd->fifo_dev : 0) == fifo_dev)
			return pd;
	}
	return NULL;
}

void pipedata_clear(PipeData *pd)
{
	free(pd->packets);
	pd->packets = NULL;
	pd->n_packets = 0;
}
