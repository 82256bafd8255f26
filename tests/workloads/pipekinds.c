/* pipekinds: every kind of pipe end, to be frozen while it waits. It makes
 * pipes and FIFOs of each kind (blocking, O_NONBLOCK, packet mode O_DIRECT,
 * two open file descriptions of one end with different flags, enlarged to
 * 1 MiB and full, empty, FIFOs opened read-only, write-only, read-write,
 * a pair opened both ways, one unlinked, one whose reader left), fills
 * them to known levels, notes every fd's F_GETFL, waits about 4 s of its
 * own time (the test freezes it within 1.2 s; a loaded machine may take
 * seconds more to get there), then prints each fd's flags (and whether
 * they changed), each pipe's capacity, and reads everything back, checking
 * every byte and packet. A forked child shares one description: after the wait the
 * parent makes it non-blocking and the child must see it. */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct end {
	const char *name;
	int fd;
	int flags0;
};

static struct end ends[32];
static int nr_ends;
static unsigned long errors;

static void die(const char *what)
{
	fprintf(stderr, "pipekinds: %s: %s\n", what, strerror(errno));
	exit(2);
}

static int add(const char *name, int fd)
{
	if (fd < 0)
		die(name);
	ends[nr_ends++] = (struct end){ name, fd, 0 };
	return fd;
}

static unsigned char pat(int stream, size_t i)
{
	return (unsigned char)(stream * 31 + i * 7 + (i >> 8));
}

static void put(int fd, int stream, size_t len, size_t chunk)
{
	unsigned char buf[4096];
	size_t off = 0;

	while (off < len) {
		size_t n = len - off < chunk ? len - off : chunk;
		for (size_t i = 0; i < n; i++)
			buf[i] = pat(stream, off + i);
		ssize_t w = write(fd, buf, n);
		if (w != (ssize_t)n)
			die("write");
		off += n;
	}
}

/* Fills a non-blocking write end until the pipe is full; the byte count. */
static size_t fill(int fd, int stream)
{
	unsigned char buf[4096];
	size_t off = 0;

	for (;;) {
		for (size_t i = 0; i < sizeof(buf); i++)
			buf[i] = pat(stream, off + i);
		ssize_t w = write(fd, buf, sizeof(buf));
		if (w < 0 && errno == EAGAIN)
			return off;
		if (w <= 0)
			die("fill");
		off += w;
	}
}

/* Reads everything queued in FD (made non-blocking for it) and checks it
 * against STREAM; prints the count. */
static void drain(const char *name, int fd, int stream, size_t expect)
{
	int fl = fcntl(fd, F_GETFL);
	unsigned char buf[8192];
	size_t off = 0, bad = 0;

	fcntl(fd, F_SETFL, fl | O_NONBLOCK);
	for (;;) {
		ssize_t n = read(fd, buf, sizeof(buf));
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			bad += buf[i] != pat(stream, off + i);
		off += n;
	}
	fcntl(fd, F_SETFL, fl);
	printf("%s: %zu bytes queued%s\n", name, off, bad ? ", DAMAGED" : "");
	if (bad || off != expect) {
		printf("%s: expected %zu intact bytes\n", name, expect);
		errors++;
	}
}

static int reopen(int fd, int flags)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	return open(path, flags);
}

static void wait_own_time(double secs)
{
	struct timespec t0, t, nap = { 0, 20 * 1000 * 1000 };

	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) + (t.tv_nsec - t0.tv_nsec) / 1e9 < secs);
}

int main(void)
{
	int a[2], b[2], c[2], d[2], e[2], f[2], sync[2];
	size_t b_full, e_full;

	umask(022);
	for (const char **n = (const char *[]){ "k.fifo", "rw.fifo", "p1.fifo", "p2.fifo",
						"u.fifo", "w.fifo", NULL }; *n; n++) {
		unlink(*n);
		if (mkfifo(*n, 0600) < 0)
			die(*n);
	}
	/* pipes */
	if (pipe(a) < 0 || pipe2(b, O_NONBLOCK) < 0 || pipe2(c, O_DIRECT) < 0 || pipe(d) < 0 ||
	    pipe(e) < 0 || pipe(f) < 0 || pipe(sync) < 0)
		die("pipe");
	add("blocking read end", a[0]);
	add("blocking write end", a[1]);
	put(a[1], 1, 100, 100);				/* a partial page */
	add("non-blocking read end", b[0]);
	add("non-blocking write end", b[1]);
	b_full = fill(b[1], 2);				/* full */
	add("packet read end", c[0]);
	add("packet write end", c[1]);
	put(c[1], 3, 10, 10);
	put(c[1], 3, 300, 300);
	put(c[1], 3, 4000, 4000);
	add("read end, first description", d[0]);
	int d2 = add("read end, second description (O_NONBLOCK)", reopen(d[0], O_RDONLY));
	fcntl(d2, F_SETFL, O_NONBLOCK);
	add("write end of the twice-read pipe", d[1]);
	put(d[1], 4, 5000, 4096);
	if (fcntl(e[1], F_SETPIPE_SZ, 1 << 20) < 0)
		die("F_SETPIPE_SZ");
	add("1 MiB pipe read end", e[0]);
	add("1 MiB pipe write end", e[1]);
	fcntl(e[1], F_SETFL, O_NONBLOCK);
	e_full = fill(e[1], 5);
	fcntl(e[1], F_SETFL, 0);
	add("empty pipe read end", f[0]);
	add("empty pipe write end", f[1]);
	/* FIFOs */
	int kr = add("FIFO read-only", open("k.fifo", O_RDONLY | O_NONBLOCK));
	fcntl(kr, F_SETFL, 0);
	int kw = add("FIFO write-only", open("k.fifo", O_WRONLY));
	put(kw, 6, 3000, 4096);
	int rw = add("FIFO read-write", open("rw.fifo", O_RDWR));
	put(rw, 7, 200, 200);
	int p1r = add("FIFO pair, first read", open("p1.fifo", O_RDONLY | O_NONBLOCK));
	int p2r = add("FIFO pair, second read", open("p2.fifo", O_RDONLY | O_NONBLOCK));
	int p1w = add("FIFO pair, first write", open("p1.fifo", O_WRONLY));
	int p2w = add("FIFO pair, second write", open("p2.fifo", O_WRONLY | O_NONBLOCK));
	put(p1w, 8, 1234, 4096);
	put(p2w, 9, 4321, 4096);
	int u = add("FIFO unlinked, read-write", open("u.fifo", O_RDWR));
	put(u, 10, 700, 700);
	unlink("u.fifo");
	int wr = open("w.fifo", O_RDONLY | O_NONBLOCK);
	int ww = add("FIFO write-only, its reader gone", open("w.fifo", O_WRONLY));
	put(ww, 11, 50, 50);
	close(wr);
	for (int i = 0; i < nr_ends; i++)
		ends[i].flags0 = fcntl(ends[i].fd, F_GETFL);

	/* the child shares the blocking read end's description */
	pid_t child = fork();
	if (child < 0)
		die("fork");
	if (child == 0) {
		char x;
		close(sync[1]);
		if (read(sync[0], &x, 1) != 1)
			_exit(3);
		_exit(fcntl(a[0], F_GETFL) & O_NONBLOCK ? 0 : 1);
	}
	close(sync[0]);

	wait_own_time(4);

	for (int i = 0; i < nr_ends; i++) {
		int now = fcntl(ends[i].fd, F_GETFL);
		printf("%s: flags %#o%s\n", ends[i].name, now,
		       now == ends[i].flags0 ? "" : " CHANGED");
		errors += now != ends[i].flags0;
	}
	printf("capacities: %d %d %d %d %d %d, FIFO %d\n", fcntl(a[0], F_GETPIPE_SZ),
	       fcntl(b[0], F_GETPIPE_SZ), fcntl(c[0], F_GETPIPE_SZ), fcntl(d[0], F_GETPIPE_SZ),
	       fcntl(e[0], F_GETPIPE_SZ), fcntl(f[0], F_GETPIPE_SZ), fcntl(kr, F_GETPIPE_SZ));
	drain("partial page", a[0], 1, 100);
	drain("full pipe", b[0], 2, b_full);
	for (int k = 0; k < 4; k++) {
		unsigned char buf[8192];
		int fl = fcntl(c[0], F_GETFL);
		fcntl(c[0], F_SETFL, fl | O_NONBLOCK);
		ssize_t n = read(c[0], buf, sizeof(buf));
		fcntl(c[0], F_SETFL, fl);
		printf("packet %d: %zd bytes\n", k, n);
	}
	drain("second description", d2, 4, 5000);
	drain("1 MiB pipe", e[0], 5, e_full);
	drain("empty pipe", f[0], 0, 0);
	drain("FIFO", kr, 6, 3000);
	drain("FIFO read-write", rw, 7, 200);
	drain("FIFO pair, first", p1r, 8, 1234);
	drain("FIFO pair, second", p2r, 9, 4321);
	drain("FIFO unlinked", u, 10, 700);
	int q = -1;
	ioctl(ww, FIONREAD, &q);
	printf("FIFO whose reader left: %d bytes queued\n", q);
	errors += q != 50;

	/* the description shared with the child */
	fcntl(a[0], F_SETFL, O_NONBLOCK);
	if (write(sync[1], "x", 1) != 1)
		die("write to the child");
	int st;
	if (waitpid(child, &st, 0) != child)
		die("waitpid");
	printf("child sees the shared description: %s\n",
	       WIFEXITED(st) && WEXITSTATUS(st) == 0 ? "yes" : "NO");
	errors += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	for (const char **n = (const char *[]){ "k.fifo", "rw.fifo", "p1.fifo", "p2.fifo",
						"w.fifo", NULL }; *n; n++)
		unlink(*n);
	printf("%lu errors\n", errors);
	return errors ? 1 : 0;
}
