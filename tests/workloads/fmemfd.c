/* fmemfd: memfds as programs hold them. One with a name, holes, seals,
 * a mode, O_APPEND and an offset, held by two fds of one description and
 * by a description of its own, mapped shared and privately (a page of the
 * private mapping written); one of 3 GiB holding 4 KiB, which must stay
 * sparse; one sealed against writes; one sealed against future writes
 * while a writable mapping of it exists; an executable one run with
 * fexecve; one only mapped (its fd closed) and shared with a child, which
 * also holds the first one. After the thaw each must show what it showed
 * and behave as before. MODE "hugetlb": also a memfd of huge pages, which
 * is refused. */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "fwait.h"

#define PG 4096
#define MIB (1L << 20)
#ifndef F_SEAL_FUTURE_WRITE
#define F_SEAL_FUTURE_WRITE 0x0010
#endif

struct snap {
	char link[256];
	struct stat st;
	long pos, data, hole;
	int flags, seals;
};

static void snap(int fd, struct snap *s)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, s->link, sizeof(s->link) - 1);
	s->link[n > 0 ? n : 0] = 0;
	fstat(fd, &s->st);
	s->flags = fcntl(fd, F_GETFL);
	s->seals = fcntl(fd, F_GET_SEALS);
	s->pos = lseek(fd, 0, SEEK_CUR);
	/* (through /proc, not to move the offset) */
	int ro = open(p, O_RDONLY);
	s->data = lseek(ro, 0, SEEK_DATA);
	s->hole = lseek(ro, s->data, SEEK_HOLE);
	s->data = s->data * 1000 + lseek(ro, s->hole, SEEK_DATA) / MIB;
	close(ro);
}

static bool same(const struct snap *a, const struct snap *b)
{
	return !strcmp(a->link, b->link) && a->st.st_size == b->st.st_size &&
	       a->st.st_mode == b->st.st_mode && a->st.st_blocks == b->st.st_blocks &&
	       a->st.st_dev == b->st.st_dev && a->pos == b->pos && a->flags == b->flags &&
	       a->seals == b->seals && a->data == b->data && a->hole == b->hole;
}

static void check_same(const char *name, int fd, const struct snap *before)
{
	struct snap now;

	snap(fd, &now);
	fw_check(name, same(before, &now), "now %s size %ld mode %o blocks %ld pos %ld flags %o "
		 "seals %#x data %ld hole %ld; was %s size %ld mode %o blocks %ld pos %ld flags %o "
		 "seals %#x data %ld hole %ld", now.link, (long)now.st.st_size, now.st.st_mode,
		 (long)now.st.st_blocks, now.pos, now.flags, now.seals, now.data, now.hole, before->link,
		 (long)before->st.st_size, before->st.st_mode, (long)before->st.st_blocks, before->pos,
		 before->flags, before->seals, before->data, before->hole);
}

int main(int argc, char **argv)
{
	struct snap s1, s1ro, s2, s3, s5;
	char buf[64], p[64];
	int st;

	fw_init(argc, argv);
	/* one of everything */
	int m1 = memfd_create("fw one", MFD_ALLOW_SEALING);
	fw_need(m1 >= 0, "memfd_create");
	fw_need(pwrite(m1, "hello", 5, 0) == 5 && pwrite(m1, "world", 5, MIB) == 5 &&
		ftruncate(m1, 3 * MIB) == 0 && fchmod(m1, 0640) == 0, "fill m1");
	fw_need(fcntl(m1, F_ADD_SEALS, F_SEAL_SHRINK) == 0, "seal m1");
	fw_need(fcntl(m1, F_SETFL, O_APPEND) == 0 && lseek(m1, 7, SEEK_SET) == 7, "m1 flags");
	int m1dup = dup(m1);
	snprintf(p, sizeof(p), "/proc/self/fd/%d", m1);
	int m1ro = open(p, O_RDONLY), m1kid = open(p, O_RDWR);
	fw_need(m1dup >= 0 && m1ro >= 0 && m1kid >= 0 && lseek(m1ro, 3, SEEK_SET) == 3, "m1 fds");
	char *sh = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m1, MIB);
	char *pv = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, m1, 0);
	fw_need(sh != MAP_FAILED && pv != MAP_FAILED, "map m1");
	memcpy(pv + PG, "private", 8);
	snap(m1, &s1);
	snap(m1ro, &s1ro);

	/* big and sparse */
	int m2 = memfd_create("fw-big", 0);
	fw_need(m2 >= 0 && ftruncate(m2, 3L << 30) == 0 && pwrite(m2, "far", 3, 2L << 30) == 3, "m2");
	snap(m2, &s2);

	/* sealed against writes */
	int m3 = memfd_create("fw-sealed", MFD_ALLOW_SEALING);
	fw_need(m3 >= 0 && write(m3, "sealed", 6) == 6, "m3");
	fw_need(fcntl(m3, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SEAL) == 0, "seal m3");
	snap(m3, &s3);

	/* future writes sealed while a writable mapping exists */
	int m4 = memfd_create("fw-future", MFD_ALLOW_SEALING);
	fw_need(m4 >= 0 && ftruncate(m4, PG) == 0, "m4");
	char *fw = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m4, 0);
	fw_need(fw != MAP_FAILED && fcntl(m4, F_ADD_SEALS, F_SEAL_FUTURE_WRITE) == 0, "seal m4");

	/* an executable one */
	int m5 = memfd_create("fw-script", 0);
	fw_need(m5 >= 0 && write(m5, "#!/bin/sh\nexit 7\n", 17) == 17, "m5");
	snap(m5, &s5);

	/* only mapped, shared with a child that also holds m1 */
	int m6 = memfd_create("fw-mapped", 0);
	fw_need(m6 >= 0 && ftruncate(m6, 2 * PG) == 0, "m6");
	char *only = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, m6, 0);
	fw_need(only != MAP_FAILED, "map m6");
	strcpy(only + PG, "mapped");
	close(m6);

	int m7 = memfd_create("fw-empty", 0);
	fw_need(m7 >= 0, "m7");

	if (argc > 2 && !strcmp(argv[2], "hugetlb")) {
		int h = memfd_create("fw-huge", MFD_HUGETLB);
		fw_need(h >= 0, "memfd_create(MFD_HUGETLB)");
	}

	int token[2];
	fw_need(pipe(token) == 0, "pipe");
	pid_t child = fork();
	fw_need(child >= 0, "fork");
	if (child == 0) {
		/* once the parent has looked at everything as it was */
		fw_wait_go();
		fw_need(read(token[0], buf, 1) == 1, "read token");
		strcpy(only, "child");
		_exit(pwrite(m1kid, "kid", 3, 2 * MIB) == 3 ? 0 : 1);
	}

	fw_ready_wait();

	check_same("memfd", m1, &s1);
	check_same("memfd, own description", m1ro, &s1ro);
	fw_need(write(token[1], "t", 1) == 1, "write token");
	fw_check("one description", lseek(m1dup, 11, SEEK_SET) == 11 && lseek(m1, 0, SEEK_CUR) == 11 &&
		 lseek(m1ro, 0, SEEK_CUR) == 3, "the offsets are not shared as before");
	fw_check("appends", write(m1, "!", 1) == 1 && lseek(m1, 0, SEEK_CUR) == 3 * MIB + 1,
		 "offset %ld", (long)lseek(m1, 0, SEEK_CUR));
	fw_check("seals hold", ftruncate(m1, MIB) < 0 && errno == EPERM, "shrank");
	fw_check("shared mapping", !memcmp(sh, "world", 5), "reads %.5s", sh);
	memcpy(sh, "WORLD", 5);
	fw_check("written through the mapping", pread(m1ro, buf, 5, MIB) == 5 && !memcmp(buf, "WORLD", 5),
		 "reads %.5s", buf);
	fw_check("private mapping", !memcmp(pv, "hello", 5) && !strcmp(pv + PG, "private"),
		 "reads %.5s / %.7s", pv, pv + PG);
	int rw = open(p, O_RDWR);
	fw_check("private mapping follows unwritten pages", rw >= 0 && pwrite(rw, "H", 1, 0) == 1 &&
		 pv[0] == 'H' && !strcmp(pv + PG, "private"), "reads %c / %.7s", pv[0], pv + PG);
	check_same("big sparse memfd", m2, &s2);
	fw_check("big memfd data", pread(m2, buf, 3, 2L << 30) == 3 && !memcmp(buf, "far", 3), "lost");
	check_same("sealed memfd", m3, &s3);
	fw_check("sealed against writes", write(m3, "x", 1) < 0 && errno == EPERM &&
		 mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m3, 0) == MAP_FAILED,
		 "it took a write");
	fw[0] = 'f';
	fw_check("future writes sealed", mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_SHARED, m4, 0) ==
		 MAP_FAILED && pread(m4, buf, 1, 0) == 1 && buf[0] == 'f',
		 "a new writable mapping was allowed, or the old one lost");
	check_same("executable memfd", m5, &s5);
	pid_t run = fork();
	if (run == 0) {
		char *args[] = { "script", NULL }, *env[] = { NULL };
		fexecve(m5, args, env);
		_exit(99);
	}
	st = fw_reap(run, 0);
	fw_check("fexecve", st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 7, "status %#x", st);
	st = fw_reap(child, 0);
	fw_check("child", st == 0, "status %#x", st);
	fw_check("mapped only, shared with the child", !strcmp(only, "child") &&
		 !strcmp(only + PG, "mapped"), "reads %s / %s", only, only + PG);
	fw_check("the child wrote through its fd", pread(m1, buf, 3, 2 * MIB) == 3 &&
		 !memcmp(buf, "kid", 3), "reads %.3s", buf);
	struct stat e;
	fw_check("empty memfd", fstat(m7, &e) == 0 && e.st_size == 0, "size %ld", (long)e.st_size);
	return fw_done();
}
