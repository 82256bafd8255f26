/* bigmem.c: benchmark job that fills MIB MiB with pseudo-random non-zero
 * words, creates READYFILE, then idles in a loop until killed. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static uint64_t next(uint64_t *s)
{
	/* xorshift64: never yields 0 from a non-zero state */
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

int main(int argc, char **argv)
{
	uint64_t state = 0x2545F4914F6CDD1DULL, *w;
	volatile uint64_t ticks = 0;
	size_t len, n;
	long mib;
	int fd;

	if (argc != 3 || (mib = strtol(argv[1], NULL, 10)) <= 0) {
		fprintf(stderr, "usage: bigmem MIB READYFILE\n");
		return 2;
	}
	len = (size_t)mib << 20;
	n = len / sizeof(*w);
	w = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (w == MAP_FAILED) {
		perror("bigmem: mmap");
		return 1;
	}
	for (size_t i = 0; i < n; i++)
		w[i] = next(&state);
	fd = open(argv[2], O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
	if (fd < 0) {
		perror("bigmem: ready file");
		return 1;
	}
	if (close(fd) < 0) {
		perror("bigmem: close");
		return 1;
	}
	for (;;) {
		struct timespec ts = { 0, 100 * 1000 * 1000 };

		nanosleep(&ts, NULL);
		ticks++;
		w[ticks % n] = next(&state);
	}
}
