/* sleeper: a job that spends its time sleeping, and checks its clocks.
 *
 * Each iteration sleeps 50-99 ms one of three ways: nanosleep (resumed with
 * the remaining time if interrupted), usleep, or clock_nanosleep on an
 * absolute CLOCK_MONOTONIC deadline. Around each sleep it reads
 * CLOCK_MONOTONIC and CLOCK_BOOTTIME and prints "ok" if both advanced by at
 * least the requested time and by less than 2 s, else "JUMP <ms>". A thaw
 * keeps the job's clocks continuous (the time spent frozen does not count),
 * so even a freeze of several seconds must print "ok" everywhere.
 * Exits 1 if any iteration saw a jump.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define ITERS 40
#define LIMIT_NS (2000LL * 1000 * 1000)

static int64_t now(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static const char *check(int64_t elapsed, int64_t req, char *buf, size_t len)
{
	if (elapsed >= req && elapsed < LIMIT_NS)
		return "ok";
	snprintf(buf, len, "JUMP %lld", (long long)(elapsed / 1000000));
	return buf;
}

int main(void)
{
	static const char *const how[] = { "nanosleep", "usleep", "abstime" };
	int jumps = 0;

	printf("sleeper: %d iterations\n", ITERS);
	for (int i = 0; i < ITERS; i++) {
		int ms = 50 + (i * 37) % 50;
		int64_t req = (int64_t)ms * 1000000;
		int64_t m0 = now(CLOCK_MONOTONIC), b0 = now(CLOCK_BOOTTIME);
		int64_t m1, b1;
		char mbuf[32], bbuf[32];
		const char *mres, *bres;

		switch (i % 3) {
		case 0: {
			struct timespec ts = { 0, req }, rem;

			while (nanosleep(&ts, &rem) && errno == EINTR)
				ts = rem;
			break;
		}
		case 1:
			usleep((useconds_t)ms * 1000);
			break;
		case 2: {
			int64_t d = m0 + req;
			struct timespec ts = { d / 1000000000, d % 1000000000 };

			while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
				;
			break;
		}
		}
		m1 = now(CLOCK_MONOTONIC);
		b1 = now(CLOCK_BOOTTIME);
		mres = check(m1 - m0, req, mbuf, sizeof(mbuf));
		bres = check(b1 - b0, req, bbuf, sizeof(bbuf));
		jumps += mres[0] != 'o' || bres[0] != 'o';
		printf("iter %2d: %-9s %2d ms: monotonic %s, boottime %s\n",
		       i, how[i % 3], ms, mres, bres);
	}
	printf("sleeper: %s\n", jumps ? "clock jumped" : "done");
	return jumps ? 1 : 0;
}
