/* fwait.h: how the workloads of tests/t-files.sh run. Each is started as
 * `WORKLOAD DIR [MODE]`: it sets up what it holds (files in DIR, its
 * control directory), makes DIR/ready, waits until DIR/go appears, then
 * checks that what it holds is as it was and behaves as before, printing
 * one line per check ("name: ok", or "name: FAIL ..."). The test makes
 * "go" while the job is frozen; the uninterrupted run it is compared with
 * finds it there from the start. It exits 0 when every check passed. */
#pragma once
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static const char *fw_dir;	/* the control directory, absolute */
static int fw_failed;

/* DIR/NAME, in a static buffer of 8 (enough for one call's arguments). */
static inline const char *fw_path(const char *name)
{
	static char buf[8][4096];
	static int next;
	char *p = buf[next++ % 8];

	snprintf(p, 4096, "%s/%s", fw_dir, name);
	return p;
}

static inline void fw_init(int argc, char **argv)
{
	if (argc < 2 || argv[1][0] != '/') {
		fprintf(stderr, "usage: %s /CONTROL-DIR [MODE]\n", argv[0]);
		exit(2);
	}
	fw_dir = argv[1];
	setvbuf(stdout, NULL, _IOLBF, 0);
}

/* Everything is held: tell the test, and wait for "go". */
static inline void fw_ready_wait(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };
	int fd = open(fw_path("ready"), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

	if (fd >= 0)
		close(fd);
	while (access(fw_path("go"), F_OK) < 0)
		nanosleep(&ts, NULL);
}

/* Only after fw_ready_wait: whether "go" is there already (a child that
 * waits on its own). */
static inline void fw_wait_go(void)
{
	struct timespec ts = { 0, 20 * 1000 * 1000 };

	while (access(fw_path("go"), F_OK) < 0)
		nanosleep(&ts, NULL);
}

__attribute__((format(printf, 3, 4)))
static inline void fw_check(const char *name, bool ok, const char *fmt, ...)
{
	va_list ap;

	if (ok) {
		printf("%s: ok\n", name);
		return;
	}
	fw_failed++;
	printf("%s: FAIL ", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

/* Dies with a message when setting up fails: not a check. */
static inline void fw_need(bool ok, const char *what)
{
	if (!ok) {
		fprintf(stderr, "setup: %s: %s\n", what, strerror(errno));
		exit(3);
	}
}

/* PID waited for: its wait status, or -1 if waitpid failed. (Taken before
 * fw_check, whose arguments C evaluates in no set order: a status passed
 * beside the waitpid that fills it may be printed as it was before.) */
static inline int fw_reap(pid_t pid, int flags)
{
	int st;

	return waitpid(pid, &st, flags) == pid ? st : -1;
}

static inline int fw_done(void)
{
	return fw_failed ? 1 : 0;
}
