/* pipestream: a verifiable byte stream through pipes, for freezing at any
 * moment. `gen` writes RECORDS 16-byte records (an index and a keyed hash
 * of it) in chunks of changing sizes; `relay` copies stdin to stdout in
 * reads and writes of other sizes; `check` verifies every record and
 * prints their number and a digest of the whole stream, so that a gap, a
 * duplicate or a damaged byte anywhere shows, and an uninterrupted run
 * prints the same line. The stream goes through phases (by record index,
 * so both ends agree on them): the reader slow, so that the pipes fill and
 * the writer blocks in write(); the writer slow, so that the reader blocks
 * in read(); both fast. The slow phases take time, not CPU: the run lasts
 * about as long on any machine.
 *
 *   pipestream gen|relay|check [-n RECORDS] [-p PIPE_BYTES] [-s SEED] [-z] [-d US]
 *   -p  F_SETPIPE_SZ on the pipe this stage writes (gen, relay) or reads (check)
 *   -z  no slow phases (as fast as it goes)
 *   -d  relay: sleep US microseconds after each chunk (a slow copy of any
 *       stream, e.g. tar's, sized by time) */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define REC 16
#define PHASE_RECORDS 65536	/* 1 MiB of stream per phase */
#define CHUNK_MAX (3 * 4096 + 123)
#define NAP_US 1500

enum { PHASE_READER_SLOW, PHASE_WRITER_SLOW, PHASE_FAST, NR_PHASES };

static uint64_t mix(uint64_t x)
{
	x ^= 0x9e3779b97f4a7c15ULL;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

static uint32_t rnd(uint64_t *s)
{
	*s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
	return *s >> 33;
}

static int fast;
static long relay_delay_us;

static int phase_of(uint64_t record)
{
	return (record / PHASE_RECORDS) % NR_PHASES;
}

static void nap(int phase, int slow_in)
{
	struct timespec t = { 0, NAP_US * 1000L };

	if (fast || phase != slow_in)
		return;
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static void die(const char *what)
{
	fprintf(stderr, "pipestream: %s: %s\n", what, strerror(errno));
	exit(2);
}

static void write_full(const char *buf, size_t len)
{
	while (len) {
		ssize_t n = write(1, buf, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			die("write");
		buf += n;
		len -= n;
	}
}

static void gen(uint64_t records, uint64_t seed)
{
	static char buf[CHUNK_MAX + REC];
	uint64_t next = 0, s = seed;
	size_t have = 0;

	while (next < records || have) {
		size_t want = 1 + rnd(&s) % CHUNK_MAX;
		while (have < want && next < records) {
			uint64_t rec[2] = { next, mix(next ^ seed) };
			memcpy(buf + have, rec, REC);
			have += REC;
			next++;
		}
		size_t len = have < want ? have : want;
		write_full(buf, len);
		memmove(buf, buf + len, have - len);
		have -= len;
		nap(phase_of(next), PHASE_WRITER_SLOW);
	}
}

static void relay(uint64_t seed)
{
	static char buf[CHUNK_MAX];
	uint64_t s = seed ^ 0x5555, bytes = 0;

	for (;;) {
		ssize_t n = read(0, buf, 1 + rnd(&s) % CHUNK_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			return;
		write_full(buf, n);
		bytes += n;
		if (relay_delay_us) {
			struct timespec t = { relay_delay_us / 1000000, relay_delay_us % 1000000 * 1000 };
			while (nanosleep(&t, &t) < 0 && errno == EINTR)
				;
		}
	}
}

static int check(uint64_t seed)
{
	static char buf[CHUNK_MAX + REC];
	uint64_t expect = 0, s = seed ^ 0xaaaa, digest = 14695981039346656037ULL;
	uint64_t gaps = 0, dups = 0, bad = 0;
	size_t have = 0;

	for (;;) {
		ssize_t n = read(0, buf + have, 1 + rnd(&s) % CHUNK_MAX);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			die("read");
		if (n == 0)
			break;
		for (ssize_t i = 0; i < n; i++)
			digest = (digest ^ (unsigned char)buf[have + i]) * 1099511628211ULL;
		have += n;
		size_t k = 0;
		for (; k + REC <= have; k += REC) {
			uint64_t rec[2];
			memcpy(rec, buf + k, REC);
			if (rec[1] != mix(rec[0] ^ seed)) {
				if (!bad++)
					fprintf(stderr, "pipestream: damaged record after record %" PRIu64 "\n",
						expect);
				expect++;
				continue;
			}
			if (rec[0] > expect) {
				if (!gaps++)
					fprintf(stderr, "pipestream: gap of %" PRIu64 " records (%" PRIu64
						" bytes) at record %" PRIu64 "\n", rec[0] - expect,
						(rec[0] - expect) * REC, expect);
			} else if (rec[0] < expect) {
				if (!dups++)
					fprintf(stderr, "pipestream: record %" PRIu64 " again at record %"
						PRIu64 "\n", rec[0], expect);
			}
			expect = rec[0] + 1;
		}
		memmove(buf, buf + k, have - k);
		have -= k;
		nap(phase_of(expect), PHASE_READER_SLOW);
	}
	printf("records %" PRIu64 " digest %016" PRIx64 " gaps %" PRIu64 " duplicates %" PRIu64
	       " damaged %" PRIu64 " trailing %zu\n", expect, digest, gaps, dups, bad, have);
	return gaps || dups || bad || have;
}

int main(int argc, char **argv)
{
	uint64_t records = 4 * PHASE_RECORDS * NR_PHASES, seed = 1;
	long pipe_bytes = 0;
	int opt;

	if (argc < 2) {
		fprintf(stderr, "usage: pipestream gen|relay|check [-n RECORDS] [-p BYTES] [-s SEED] [-z] [-d US]\n");
		return 2;
	}
	optind = 2;
	while ((opt = getopt(argc, argv, "n:p:s:zd:")) != -1) {
		switch (opt) {
		case 'n': records = strtoull(optarg, NULL, 0); break;
		case 'p': pipe_bytes = strtol(optarg, NULL, 0); break;
		case 's': seed = strtoull(optarg, NULL, 0); break;
		case 'z': fast = 1; break;
		case 'd': relay_delay_us = strtol(optarg, NULL, 0); break;
		default: return 2;
		}
	}
	if (pipe_bytes) {
		int fd = strcmp(argv[1], "check") ? 1 : 0;
		if (fcntl(fd, F_SETPIPE_SZ, pipe_bytes) < 0)
			die("F_SETPIPE_SZ");
	}
	if (!strcmp(argv[1], "gen"))
		gen(records, seed);
	else if (!strcmp(argv[1], "relay"))
		relay(seed);
	else if (!strcmp(argv[1], "check"))
		return check(seed);
	else
		return 2;
	return 0;
}
