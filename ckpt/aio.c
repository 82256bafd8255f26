/* aio.c: Linux AIO contexts (io_setup; libaio, databases). A context is a
 * ring the kernel maps into the process ("/[aio]"), whose address is the
 * context's id, holding the events completed and not yet reaped between
 * its head and tail; the kernel keeps its own copy of the tail and counts
 * the requests in the ring against the context's size.
 *
 * Dump: the ring as the job left it, in its Vma. Restore: io_setup, in the
 * order of the contexts' indexes (the ring names its own, which the kernel
 * looks up by), the new ring moved to its old address; then as many
 * requests as the old head said reaped are made and reaped, and as many
 * as were waiting made and left waiting, so that the kernel's tail and
 * counts are those of the old context; last, the events waiting are
 * written back over the made ones. Requests still in flight when the job
 * was frozen cannot be seen from outside the kernel: they are lost. */
#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define AIO_RING_MAGIC 0xa10a10a1
#define BATCH 8                   /* requests per injected call */

/* The kernel's struct aio_ring, the ring's header. */
struct ring_head {
	uint32_t id, nr, head, tail, magic, compat, incompat, header_length;
};

int aio_dump(struct dump_ctx *c, const struct proc_vma *pv, Vma *v)
{
	size_t len = pv->end - pv->start;
	struct ring_head h;

	v->kind = VMA__KIND__AIO;
	v->has_aio_ring = 1;
	v->aio_ring.len = len;
	v->aio_ring.data = xmalloc(len);
	if (remote_read(c->pid, pv->start, v->aio_ring.data, len) < 0)
		return -1;
	memcpy(&h, v->aio_ring.data, sizeof(h));
	if (h.magic != AIO_RING_MAGIC || h.header_length != sizeof(h) ||
	    (uint64_t)h.nr * sizeof(struct io_event) + sizeof(h) > len || h.head >= h.nr ||
	    h.tail >= h.nr) {
		pr_err("process %d: the AIO context at %#lx has a ring jobfreeze does not understand "
		       "(magic %#x, %u events, head %u, tail %u)", c->pid, (unsigned long)pv->start,
		       h.magic, h.nr, h.head, h.tail);
		return -1;
	}
	pr_info("process %d: AIO context %#lx, %u events waiting to be reaped", c->pid,
		(unsigned long)pv->start, (h.tail + h.nr - h.head) % h.nr);
	return 0;
}

/* ---- restore ---- */

int aio_check(const Vma *v)
{
	struct ring_head h;

	if (!v->has_aio_ring || v->aio_ring.len != v->end - v->start || v->aio_ring.len < sizeof(h))
		return -1;
	memcpy(&h, v->aio_ring.data, sizeof(h));
	return h.nr < 3 || h.head >= h.nr || h.tail >= h.nr || h.id > 1 << 16 ||
	       sizeof(h) + (uint64_t)h.nr * sizeof(struct io_event) > v->aio_ring.len ? -1 : 0;
}

static struct ring_head head_of(const Vma *v)
{
	struct ring_head h;

	memcpy(&h, v->aio_ring.data, sizeof(h));
	return h;
}

/* N requests (N <= BATCH) on DEVNULL that complete at once; reaped too
 * when REAP. */
static int dummies(struct restore_ctx *r, uint64_t ctx, int devnull, unsigned n, bool reap)
{
	struct iocb cb[BATCH];
	uint64_t ptrs[BATCH] = { 0 }, base = r->in.scratch;
	const size_t ptr_off = 0, cb_off = 64, ev_off = 64 + sizeof(cb);
	long ret;

	memset(cb, 0, sizeof(cb));
	for (unsigned i = 0; i < n; i++) {
		cb[i].aio_lio_opcode = IOCB_CMD_PWRITE;
		cb[i].aio_fildes = devnull;
		cb[i].aio_buf = base + ev_off;
		cb[i].aio_nbytes = 0;
		ptrs[i] = base + cb_off + i * sizeof(struct iocb);
	}
	if (!scratch_put(r, cb_off, cb, sizeof(cb)) || !scratch_put(r, ptr_off, ptrs, sizeof(ptrs)))
		return -EFAULT;
	ret = INJECT(&r->in, SYS_io_submit, ctx, n, base + ptr_off);
	if (ret == (long)n && reap)
		ret = INJECT(&r->in, SYS_io_getevents, ctx, n, n, base + ev_off, 0);
	return ret == (long)n ? 0 : ret < 0 ? ret : -EAGAIN;
}

/* A new context with V's ring, at V's address, with its head, tail and
 * waiting events. */
static int make_ring(struct restore_ctx *r, const Vma *v, int devnull)
{
	struct ring_head want = head_of(v), got;
	uint64_t ctx = 0, len = v->end - v->start;
	unsigned waiting = (want.tail + want.nr - want.head) % want.nr;
	uint64_t at = scratch_put(r, 0, &ctx, sizeof(ctx));
	long ret;

	/* the kernel doubles what it is asked for (at least 4 per CPU), adds
	 * 2 and rounds up to whole pages */
	ret = at ? INJECT(&r->in, SYS_io_setup, (want.nr - 2) / 2, at) : -EFAULT;
	if (ret < 0 || remote_read(r->job, at, &ctx, sizeof(ctx)) < 0 || remote_read(r->job, ctx, &got,
										   sizeof(got)) < 0) {
		pr_err("cannot make the AIO context at %#lx again: %s", (unsigned long)v->start,
		       strerror(ret < 0 ? -ret : EFAULT));
		return -1;
	}
	if (got.nr != want.nr || got.id != want.id) {
		pr_err("the AIO context at %#lx held %u events (index %u); made again here it holds %u "
		       "(index %u): thaw the job on a machine with as many CPUs as where it was frozen",
		       (unsigned long)v->start, want.nr, want.id, got.nr, got.id);
		return -1;
	}
	ret = INJECT(&r->in, SYS_mremap, ctx, len, len, MREMAP_MAYMOVE | MREMAP_FIXED, v->start);
	if (ret != (long)v->start) {
		pr_err("cannot move the AIO context to %#lx: %s", (unsigned long)v->start,
		       strerror(ret < 0 ? -ret : EFAULT));
		return -1;
	}
	for (unsigned done = 0, n; done < want.head + waiting; done += n) {
		bool reap = done < want.head;
		n = (reap ? want.head : want.head + waiting) - done;
		if (n > BATCH)
			n = BATCH;
		ret = dummies(r, v->start, devnull, n, reap);
		if (ret < 0) {
			pr_err("cannot bring the AIO context at %#lx to where it was: %s",
			       (unsigned long)v->start, strerror(-ret));
			return -1;
		}
	}
	/* the waiting events themselves, over those of the stand-ins */
	if (remote_read(r->job, v->start, &got, sizeof(got)) < 0 || got.head != want.head ||
	    got.tail != want.tail ||
	    remote_write(r->job, v->start + sizeof(got), v->aio_ring.data + sizeof(got),
			 v->aio_ring.len - sizeof(got)) < 0) {
		pr_err("cannot put back the events of the AIO context at %#lx", (unsigned long)v->start);
		return -1;
	}
	return 0;
}

int aio_restore(struct restore_ctx *r)
{
	uint32_t next = 0, top = 0;
	long devnull = -1, ret;
	uint64_t fillers[64];
	int nfill = 0, err = 0;

	for (size_t i = 0; i < r->img->n_vmas; i++)
		if (r->img->vmas[i]->kind == VMA__KIND__AIO && head_of(r->img->vmas[i]).id >= top)
			top = head_of(r->img->vmas[i]).id + 1;
	if (!top)
		return 0;
	uint64_t path = scratch_put(r, 0, "/dev/null", 10);
	devnull = path ? INJECT(&r->in, SYS_openat, AT_FDCWD, path, O_RDWR | O_CLOEXEC) : -EFAULT;
	if (devnull < 0) {
		pr_err("cannot open /dev/null in process %d: %s", r->img->pid, strerror(-devnull));
		return -1;
	}
	/* by index: the kernel gives each new context the lowest free one */
	for (; next < top && !err; next++) {
		const Vma *v = NULL;
		for (size_t i = 0; i < r->img->n_vmas; i++)
			if (r->img->vmas[i]->kind == VMA__KIND__AIO && head_of(r->img->vmas[i]).id == next)
				v = r->img->vmas[i];
		if (v) {
			err = make_ring(r, v, devnull) < 0;
			continue;
		}
		/* an index the job freed: taken for a moment */
		uint64_t ctx = 0, at = scratch_put(r, 0, &ctx, 8);	/* (io_setup wants 0 there) */
		ret = at && nfill < 64 ? INJECT(&r->in, SYS_io_setup, 1, at) : -ENOMEM;
		if (ret < 0 || remote_read(r->job, at, &ctx, 8) < 0) {
			pr_err("cannot give the AIO contexts of process %d their indexes again",
			       r->img->pid);
			err = 1;
		} else {
			fillers[nfill++] = ctx;
		}
	}
	while (nfill > 0)
		INJECT(&r->in, SYS_io_destroy, fillers[--nfill]);
	INJECT(&r->in, SYS_close, devnull);
	return err ? -1 : 0;
}
