/* clock.c: clock continuity across a freeze. A thawed job's monotonic and
 * boot-time clocks go on from the values they had when it was frozen: the
 * time spent on disk does not pass for the job (so a relative sleep and an
 * absolute deadline both end after the time they still had to run). */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "ckpt/clock.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

#define NSEC 1000000000LL

/* Offsets of PID's time namespace; zero where the file does not exist. */
static int read_offsets(pid_t pid, int64_t *mono, int64_t *boot)
{
	char path[64], *text, *save = NULL;

	*mono = *boot = 0;
	if (pid)
		snprintf(path, sizeof(path), "/proc/%d/timens_offsets", pid);
	else
		snprintf(path, sizeof(path), "/proc/self/timens_offsets");
	text = read_file(path, NULL);
	if (!text) {
		if (errno == ENOENT)
			return 0;	/* kernel without time namespaces */
		pr_perror("cannot read %s", path);
		return -1;
	}
	for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char name[32];
		long long s, ns;
		if (sscanf(l, "%31s %lld %lld", name, &s, &ns) != 3)
			continue;
		if (!strcmp(name, "monotonic") || !strcmp(name, "1"))
			*mono = s * NSEC + ns;
		else if (!strcmp(name, "boottime") || !strcmp(name, "7"))
			*boot = s * NSEC + ns;
	}
	free(text);
	return 0;
}

static int64_t clock_ns(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (int64_t)ts.tv_sec * NSEC + ts.tv_nsec;
}

int job_clocks(pid_t pid, int64_t *mono, int64_t *boot)
{
	int64_t my_m, my_b, job_m, job_b;

	if (read_offsets(0, &my_m, &my_b) < 0 || read_offsets(pid, &job_m, &job_b) < 0)
		return -1;
	*mono = clock_ns(CLOCK_MONOTONIC) - my_m + job_m;
	*boot = clock_ns(CLOCK_BOOTTIME) - my_b + job_b;
	return 0;
}

static void split(int64_t v, long long *s, long long *ns)
{
	*s = v / NSEC;
	*ns = v % NSEC;
	if (*ns < 0) {
		*ns += NSEC;
		*s -= 1;
	}
}

int timens_set_clocks(int64_t mono, int64_t boot)
{
	int64_t my_m, my_b;
	long long ms, mns, bs, bns;
	char buf[128];
	int fd, n;

	if (read_offsets(0, &my_m, &my_b) < 0)
		return -1;
	/* New offsets are relative to the host clocks, not to ours. */
	split(mono - (clock_ns(CLOCK_MONOTONIC) - my_m), &ms, &mns);
	split(boot - (clock_ns(CLOCK_BOOTTIME) - my_b), &bs, &bns);
	n = snprintf(buf, sizeof(buf), "monotonic %lld %lld\nboottime %lld %lld\n", ms, mns, bs, bns);
	fd = open("/proc/self/timens_offsets", O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open /proc/self/timens_offsets");
		return -1;
	}
	if (write(fd, buf, n) != n) {
		pr_perror("cannot set the job's clocks (/proc/self/timens_offsets: %.*s)", n - 1, buf);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}
