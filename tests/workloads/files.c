/* files: a job whose state includes open regular files.
 *
 * Usage: files INPUT LOG TMPDIR
 *
 * Over 40 steps (about 3 s, 70 ms sleeps) it
 *  - reads INPUT through its fd offset, a larger chunk every step, now and
 *    then skipping ahead with lseek(SEEK_CUR), printing what it read;
 *  - appends a line per step to LOG, opened O_APPEND (truncated at start);
 *  - keeps a temp file created in TMPDIR and unlinked at once: each step
 *    checks the bytes at the fd's current offset, appends a record, reads
 *    the whole file back and compares it with a copy in memory, then leaves
 *    the offset in the middle; at step 20 it shrinks it with ftruncate.
 * At the end it reads LOG back and counts TMPDIR's entries (0 expected: the
 * deleted file must stay deleted). Output depends only on INPUT.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define STEPS 40
#define GHOST_MAX (64 * 1024)

static uint64_t fnv(const void *p, size_t n)
{
	const unsigned char *b = p;
	uint64_t h = 0xcbf29ce484222325ULL;

	for (size_t i = 0; i < n; i++) {
		h ^= b[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

static void die(const char *what)
{
	printf("files: %s: %s\n", what, strerror(errno));
	exit(1);
}

static void nap(long ms)
{
	struct timespec ts = { 0, ms * 1000000 }, rem;

	while (nanosleep(&ts, &rem) && errno == EINTR)
		ts = rem;
}

static void writeall(int fd, const void *buf, size_t n, const char *what)
{
	const char *p = buf;

	while (n) {
		ssize_t w = write(fd, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			die(what);
		}
		p += w;
		n -= (size_t)w;
	}
}

static ssize_t readall(int fd, void *buf, size_t n)
{
	size_t got = 0;

	while (got < n) {
		ssize_t r = read(fd, (char *)buf + got, n - got);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		got += (size_t)r;
	}
	return (ssize_t)got;
}

static unsigned char ghost_copy[GHOST_MAX], ghost_read[GHOST_MAX];

int main(int argc, char **argv)
{
	char tmpl[4096], line[256], buf[4096];
	size_t glen = 0;
	int in, lg, gh;

	if (argc != 4) {
		fprintf(stderr, "usage: files INPUT LOG TMPDIR\n");
		return 2;
	}
	in = open(argv[1], O_RDONLY);
	if (in < 0)
		die("open input");
	lg = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
	if (lg < 0)
		die("open log");
	snprintf(tmpl, sizeof(tmpl), "%s/jf-files-XXXXXX", argv[3]);
	gh = mkstemp(tmpl);
	if (gh < 0)
		die("mkstemp");
	for (glen = 0; glen < 3000; glen++)
		ghost_copy[glen] = (unsigned char)('a' + glen % 26);
	writeall(gh, ghost_copy, glen, "write temp file");
	if (unlink(tmpl))
		die("unlink temp file");
	lseek(gh, 1234, SEEK_SET);
	printf("files: %d steps\n", STEPS);

	for (int k = 1; k <= STEPS; k++) {
		size_t want = 64 + 29 * (size_t)k;
		ssize_t n;
		off_t pos;
		char first[17];
		int len;

		/* input, through the fd offset */
		if (k % 7 == 0)
			lseek(in, 100, SEEK_CUR);
		n = readall(in, buf, want);
		if (n < 0)
			die("read input");
		memset(first, 0, sizeof(first));
		for (int i = 0; i < 16 && i < n; i++)
			first[i] = buf[i] == '\n' ? '|' : buf[i];
		printf("step %2d: input %4zd bytes fnv=%016llx \"%s\"\n", k, n,
		       (unsigned long long)fnv(buf, (size_t)n), first);

		/* log, O_APPEND */
		len = snprintf(line, sizeof(line), "log step %d read %zd\n", k, n);
		writeall(lg, line, (size_t)len, "write log");

		/* the deleted temp file */
		pos = lseek(gh, 0, SEEK_CUR);
		n = readall(gh, ghost_read, 8);
		if (n < 0)
			die("read temp file");
		printf("step %2d: temp at %5lld: %s", k, (long long)pos,
		       n == 8 && (size_t)pos + 8 <= glen &&
		       !memcmp(ghost_read, ghost_copy + pos, 8) ? "same" : "DIFFERENT");
		if (k == 20) {
			if (ftruncate(gh, 2000))
				die("ftruncate");
			glen = 2000;
		}
		lseek(gh, 0, SEEK_END);
		len = snprintf(line, sizeof(line), "[record %d %.*s]", k, k,
			       "=========================================");
		writeall(gh, line, (size_t)len, "write temp file");
		memcpy(ghost_copy + glen, line, (size_t)len);
		glen += (size_t)len;
		lseek(gh, 0, SEEK_SET);
		n = readall(gh, ghost_read, sizeof(ghost_read));
		printf(", %zd bytes %s, fnv=%016llx\n", n,
		       n == (ssize_t)glen && !memcmp(ghost_read, ghost_copy, glen) ?
		       "as written" : "CHANGED",
		       (unsigned long long)fnv(ghost_read, n > 0 ? (size_t)n : 0));
		lseek(gh, (off_t)(glen / 2 + (size_t)k), SEEK_SET);
		nap(70);
	}
	close(lg);

	lg = open(argv[2], O_RDONLY);
	if (lg < 0)
		die("reopen log");
	{
		ssize_t n = readall(lg, buf, sizeof(buf));
		int lines = 0;

		for (ssize_t i = 0; i < n; i++)
			lines += buf[i] == '\n';
		printf("files: log has %zd bytes, %d lines, fnv=%016llx\n", n,
		       lines, (unsigned long long)fnv(buf, n > 0 ? (size_t)n : 0));
	}
	{
		DIR *d = opendir(argv[3]);
		struct dirent *de;
		int entries = 0;

		if (!d)
			die("opendir");
		while ((de = readdir(d)))
			if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
				entries++;
		closedir(d);
		printf("files: temp dir has %d entries\n", entries);
	}
	printf("files: done\n");
	return 0;
}
