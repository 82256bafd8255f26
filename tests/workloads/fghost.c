/* fghost: deleted files as programs hold them. A sparse one (its holes
 * found again by SEEK_HOLE/SEEK_DATA); one of 3 GiB holding 4 KiB; one
 * whose two names were both deleted, held by two fds that must stay on one
 * file; one deleted under one name and still there under another; one
 * mapped shared and written through the mapping; one mapped privately
 * (writes through its fd show where the mapping did not write); one open
 * write-only and appending; one with a setuid mode and an old mtime; one
 * made with O_TMPFILE; one written by a child through a description of its
 * own and read by the parent; and a file (not deleted) whose mode the job
 * changed to read-only while holding it writable.
 * MODE "limit": a deleted file with 2 MiB of data (the test freezes it with
 * a 1 MiB limit); "otherlink": deleted here, still linked in a
 * subdirectory where jobfreeze does not look; "foreign": a file of root's
 * (the test makes it), held and deleted; "rootdir": a file in root's
 * directory, held (the test deletes it before the freeze). */
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include "fwait.h"

#define PG 4096
#define MIB (1L << 20)

static int make(const char *name, int flags)
{
	int fd = open(fw_path(name), flags | O_CREAT | O_TRUNC, 0644);

	fw_need(fd >= 0, name);
	return fd;
}

/* The data and hole map of FD up to SIZE, as text (through /proc, so the
 * job's own offset stays where it is). */
static void holes(int fd, char *out, size_t len)
{
	char p[64];
	off_t at = 0, end;
	int ro;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	ro = open(p, O_RDONLY);
	end = lseek(ro, 0, SEEK_END);
	*out = 0;
	while (at < end) {
		off_t d = lseek(ro, at, SEEK_DATA), h;
		if (d < 0)
			break;
		h = lseek(ro, d, SEEK_HOLE);
		snprintf(out + strlen(out), len - strlen(out), "%ld-%ld ", (long)d, (long)h);
		at = h;
	}
	close(ro);
}

static const char *base_of_link(int fd)
{
	static char link[4096];
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, link, sizeof(link) - 1);
	link[n > 0 ? n : 0] = 0;
	return strrchr(link, '/') ? strrchr(link, '/') + 1 : link;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	char buf[PG], map1[256], map2[256], link1[256];
	struct stat a, b;
	int st;

	fw_init(argc, argv);

	/* sparse, with holes before, between and after its data */
	int g1 = make("sparse", O_RDWR);
	fw_need(pwrite(g1, "one", 3, 64 * 1024) == 3 && pwrite(g1, "two", 3, 8 * MIB) == 3 &&
		ftruncate(g1, 10 * MIB) == 0 && lseek(g1, 100, SEEK_SET) == 100, "sparse");
	fw_need(unlink(fw_path("sparse")) == 0, "unlink sparse");
	holes(g1, map1, sizeof(map1));
	snprintf(link1, sizeof(link1), "%s", base_of_link(g1));

	/* big and sparse */
	int g2 = make("big", O_RDWR);
	fw_need(ftruncate(g2, 3L << 30) == 0 && pwrite(g2, "far", 3, 5L << 29) == 3, "big");
	fw_need(unlink(fw_path("big")) == 0 && fstat(g2, &a) == 0, "unlink big");
	long big_blocks = a.st_blocks;

	/* two names, both deleted, two fds */
	int g3 = make("twice", O_RDWR);
	fw_need(link(fw_path("twice"), fw_path("twice.2")) == 0, "link");
	int g3b = open(fw_path("twice.2"), O_RDONLY);
	fw_need(g3b >= 0 && unlink(fw_path("twice")) == 0 && unlink(fw_path("twice.2")) == 0, "twice");
	fw_need(write(g3, "shared", 6) == 6, "write twice");

	/* deleted under one name, alive under another */
	int g4 = make("kept", O_RDWR);
	fw_need(link(fw_path("kept"), fw_path("kept.other")) == 0 && unlink(fw_path("kept")) == 0,
		"kept");

	/* mapped shared and written */
	int g5 = make("shmap", O_RDWR);
	fw_need(ftruncate(g5, 2 * PG) == 0, "shmap");
	char *sm = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, MAP_SHARED, g5, 0);
	fw_need(sm != MAP_FAILED && unlink(fw_path("shmap")) == 0, "map shmap");
	strcpy(sm + PG, "through the map");

	/* mapped privately, one page written */
	int g6 = make("pvmap", O_RDWR);
	fw_need(pwrite(g6, "c", 1, 2 * PG - 1) == 1, "pvmap");
	char *pa = mmap(NULL, PG, PROT_READ, MAP_PRIVATE, g6, 0);
	char *pb = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, g6, PG);
	fw_need(pa != MAP_FAILED && pb != MAP_FAILED && unlink(fw_path("pvmap")) == 0, "map pvmap");
	pb[0] = 'p';

	/* write-only, appending */
	int g7 = make("wronly", O_WRONLY | O_APPEND);
	fw_need(write(g7, "first ", 6) == 6 && unlink(fw_path("wronly")) == 0, "wronly");
	int g7flags = fcntl(g7, F_GETFL);

	/* setuid mode, an old mtime */
	int g8 = make("attr", O_RDWR);
	struct timespec ts[2] = { { 1000, 0 }, { 123456, 789 } };
	fw_need(write(g8, "attrs", 5) == 5 && fchmod(g8, 04604) == 0 && futimens(g8, ts) == 0 &&
		unlink(fw_path("attr")) == 0 && fstat(g8, &a) == 0, "attr");
	mode_t g8mode = a.st_mode;

	/* O_TMPFILE */
	int g9 = open(fw_dir, O_TMPFILE | O_RDWR, 0600);
	fw_need(g9 >= 0 && write(g9, "tmpfile", 7) == 7, "O_TMPFILE");

	/* a child writes through a description of its own */
	int g10 = make("shared", O_RDWR);
	int g10c = open(fw_path("shared"), O_RDWR);
	fw_need(g10c >= 0 && unlink(fw_path("shared")) == 0, "shared");

	/* not deleted: made read-only while held writable */
	int h = make("readonly", O_RDWR);
	fw_need(write(h, "held", 4) == 4 && chmod(fw_path("readonly"), 0400) == 0, "readonly");

	if (!strcmp(mode, "limit")) {
		int l = make("limit", O_RDWR);
		memset(buf, 'L', sizeof(buf));
		for (int i = 0; i < 512; i++)
			fw_need(write(l, buf, PG) == PG, "limit");
		fw_need(unlink(fw_path("limit")) == 0, "unlink limit");
	} else if (!strcmp(mode, "foreign")) {
		/* root's file, in the job's own directory */
		fw_need(open(fw_path("foreign"), O_RDONLY) >= 0 && unlink(fw_path("foreign")) == 0, "foreign");
	} else if (!strcmp(mode, "rootdir")) {
		/* the job's file in root's directory, which root deletes */
		fw_need(open(fw_path("rootdir/file"), O_RDWR) >= 0, "rootdir/file");
	} else if (!strcmp(mode, "otherlink")) {
		fw_need(mkdir(fw_path("sub"), 0755) == 0, "sub");
		int l = make("elsewhere", O_RDWR);
		fw_need(link(fw_path("elsewhere"), fw_path("sub/elsewhere")) == 0 &&
			unlink(fw_path("elsewhere")) == 0 && l >= 0, "elsewhere");
	}

	pid_t child = fork();
	fw_need(child >= 0, "fork");
	if (child == 0) {
		fw_wait_go();
		_exit(pwrite(g10c, "from the child", 14, 0) == 14 ? 0 : 1);
	}
	close(g10c);

	fw_ready_wait();

	holes(g1, map2, sizeof(map2));
	fw_check("sparse: holes", !strcmp(map1, map2), "now %s, were %s", map2, map1);
	fw_check("sparse: data", pread(g1, buf, 3, 8 * MIB) == 3 && !memcmp(buf, "two", 3) &&
		 lseek(g1, 0, SEEK_CUR) == 100, "lost");
	fw_check("sparse: name", !strcmp(link1, base_of_link(g1)), "%s, was %s", base_of_link(g1),
		 link1);
	fw_check("sparse: deleted", fstat(g1, &a) == 0 && a.st_nlink == 0 && a.st_size == 10 * MIB,
		 "nlink %ld size %ld", (long)a.st_nlink, (long)a.st_size);
	fw_check("big sparse", fstat(g2, &a) == 0 && a.st_size == 3L << 30 && a.st_blocks == big_blocks &&
		 pread(g2, buf, 3, 5L << 29) == 3 && !memcmp(buf, "far", 3),
		 "size %ld blocks %ld (were %ld)", (long)a.st_size, (long)a.st_blocks, big_blocks);
	fw_check("two names, one file", fstat(g3, &a) == 0 && fstat(g3b, &b) == 0 &&
		 a.st_ino == b.st_ino && a.st_dev == b.st_dev && write(g3, "!", 1) == 1 &&
		 pread(g3b, buf, 7, 0) == 7 && !memcmp(buf, "shared!", 7), "two files now");
	fw_check("still linked elsewhere", fstat(g4, &a) == 0 && stat(fw_path("kept.other"), &b) == 0 &&
		 a.st_ino == b.st_ino && write(g4, "via fd", 6) == 6, "a copy now");
	fw_check("written through a shared map", pread(g5, buf, 15, PG) == 15 &&
		 !memcmp(buf, "through the map", 15) && pwrite(g5, "fd", 2, 0) == 2 && !memcmp(sm, "fd", 2),
		 "the map and the fd differ");
	fw_check("private map, fd writes", pwrite(g6, "a", 1, 0) == 1 && pwrite(g6, "b", 1, PG) == 1 &&
		 pa[0] == 'a' && pb[0] == 'p' && pb[PG - 1] == 'c', "reads %c %c %c", pa[0], pb[0],
		 pb[PG - 1]);
	char p7[64];
	snprintf(p7, sizeof(p7), "/proc/self/fd/%d", g7);
	int r7 = open(p7, O_RDONLY);
	fw_check("write-only, appending", fcntl(g7, F_GETFL) == g7flags && write(g7, "second", 6) == 6 &&
		 r7 >= 0 && pread(r7, buf, 12, 0) == 12 && !memcmp(buf, "first second", 12) &&
		 read(g7, buf, 1) < 0, "flags %o", fcntl(g7, F_GETFL));
	fw_check("mode and times", fstat(g8, &a) == 0 && a.st_mode == g8mode && a.st_mtim.tv_sec == 123456 &&
		 a.st_mtim.tv_nsec == 789, "mode %o mtime %ld", a.st_mode, (long)a.st_mtim.tv_sec);
	fw_check("O_TMPFILE", fstat(g9, &a) == 0 && a.st_nlink == 0 && pread(g9, buf, 7, 0) == 7 &&
		 !memcmp(buf, "tmpfile", 7), "lost");
	st = fw_reap(child, 0);
	fw_check("child", st == 0, "status %#x", st);
	fw_check("written by the child", pread(g10, buf, 14, 0) == 14 && !memcmp(buf, "from the child", 14),
		 "not seen");
	fw_check("read-only now, held writable", fstat(h, &a) == 0 && (a.st_mode & 0777) == 0400 &&
		 pwrite(h, "HELD", 4, 0) == 4, "mode %o", a.st_mode);
	return fw_done();
}
