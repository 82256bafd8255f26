/* faio: Linux AIO contexts (io_setup), as libaio users hold them: two
 * contexts with a freed index between them, requests completed and not
 * yet reaped in both (one ring wrapped around). After the thaw: the same
 * context ids (ring addresses), heads, tails and sizes; the waiting events
 * reaped with their data and results; new requests work. */
#include <linux/aio_abi.h>
#include <stdint.h>
#include <sys/syscall.h>
#include "fwait.h"

struct ring {
	unsigned id, nr, head, tail;
};

static int submit(aio_context_t ctx, int fd, unsigned data, long off)
{
	static char byte = 'a';
	struct iocb cb = { .aio_data = data, .aio_lio_opcode = IOCB_CMD_PWRITE, .aio_fildes = fd,
			   .aio_buf = (uintptr_t)&byte, .aio_nbytes = 1, .aio_offset = off };
	struct iocb *p = &cb;

	return syscall(SYS_io_submit, ctx, 1, &p) == 1 ? 0 : -1;
}

static int reap(aio_context_t ctx, struct io_event *ev, int n)
{
	return (int)syscall(SYS_io_getevents, ctx, n, n, ev, NULL);
}

int main(int argc, char **argv)
{
	aio_context_t a = 0, b = 0, c = 0;
	struct io_event ev[64];
	struct ring ra, rc;

	fw_init(argc, argv);
	int fd = open(fw_path("aio.dat"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	fw_need(fd >= 0, "aio.dat");
	fw_need(syscall(SYS_io_setup, 4, &a) == 0 && syscall(SYS_io_setup, 4, &b) == 0 &&
		syscall(SYS_io_setup, 64, &c) == 0 && syscall(SYS_io_destroy, b) == 0, "io_setup");
	struct ring *ha = (struct ring *)a, *hc = (struct ring *)c;
	/* a: 5 waiting; c: around the ring once and more, 7 waiting */
	for (unsigned i = 0; i < 5; i++)
		fw_need(submit(a, fd, 100 + i, i) == 0, "submit a");
	unsigned total = hc->nr + 3;
	for (unsigned i = 0; i < total; i++) {
		fw_need(submit(c, fd, 1000 + i, 10 + i % 64) == 0, "submit c");
		if (i < total - 7)
			fw_need(reap(c, ev, 1) == 1 && ev[0].data == 1000 + i, "reap c");
	}
	ra = *ha;
	rc = *hc;

	fw_ready_wait();

	fw_check("ring a", ha->id == ra.id && ha->nr == ra.nr && ha->head == ra.head && ha->tail == ra.tail,
		 "id %u nr %u head %u tail %u; was %u %u %u %u", ha->id, ha->nr, ha->head, ha->tail,
		 ra.id, ra.nr, ra.head, ra.tail);
	fw_check("ring c", hc->id == rc.id && hc->nr == rc.nr && hc->head == rc.head && hc->tail == rc.tail,
		 "id %u nr %u head %u tail %u; was %u %u %u %u", hc->id, hc->nr, hc->head, hc->tail,
		 rc.id, rc.nr, rc.head, rc.tail);
	int n = reap(a, ev, 5);
	bool ok = n == 5;
	for (int i = 0; i < n; i++)
		ok &= ev[i].data == 100u + i && ev[i].res == 1;
	fw_check("a's waiting events", ok, "got %d", n);
	n = reap(c, ev, 7);
	ok = n == 7;
	for (int i = 0; i < n; i++)
		ok &= ev[i].data == total - 7 + 1000u + i && ev[i].res == 1;
	fw_check("c's waiting events", ok, "got %d, first %llu", n, n > 0 ? (unsigned long long)ev[0].data : 0);
	struct timespec zero = { 0, 0 };
	fw_check("nothing more", syscall(SYS_io_getevents, c, 0, 8, ev, &zero) == 0, "more events");
	fw_check("new requests", submit(a, fd, 7, 200) == 0 && reap(a, ev, 1) == 1 && ev[0].data == 7 &&
		 submit(c, fd, 8, 201) == 0 && reap(c, ev, 1) == 1 && ev[0].data == 8, "%s", strerror(errno));
	aio_context_t d = 0;
	fw_check("a new context takes the freed index", syscall(SYS_io_setup, 4, &d) == 0 &&
		 ((struct ring *)d)->id == 1, "index %u", d ? ((struct ring *)d)->id : 99);
	fw_check("io_destroy", syscall(SYS_io_destroy, a) == 0 && syscall(SYS_io_destroy, c) == 0, "%s",
		 strerror(errno));
	return fw_done();
}
