/* probe.c: what the probes of `jobfreeze check` share: saying what a probe
 * saw, small file helpers, and children that cannot outlive the run. */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include "ckpt/log.h"
#include "ckpt/probe.h"
#include "ckpt/util.h"

const char *probe_errname(int e)
{
	const char *n = strerrorname_np(e);
	return n ? n : "E?";
}

void probe_detail(struct feature_result *r, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(r->detail, sizeof(r->detail), fmt, ap);
	va_end(ap);
}

void probe_add_detail(struct feature_result *r, const char *fmt, ...)
{
	size_t n = strlen(r->detail);
	va_list ap;

	if (n >= sizeof(r->detail) - 1)
		return;
	va_start(ap, fmt);
	vsnprintf(r->detail + n, sizeof(r->detail) - n, fmt, ap);
	va_end(ap);
}

/* Reads a sysctl-like file holding one integer. 0, or -1 with errno
 * (ENOENT when the knob does not exist on this kernel). */
int probe_read_long(const char *path, long *out)
{
	_cleanup_free_ char *s = read_file(path, NULL);
	char *end;

	if (!s)
		return -1;
	errno = 0;
	*out = strtol(s, &end, 10);
	if (errno || end == s || (*end && *end != '\n')) {
		errno = EINVAL;
		return -1;
	}
	return 0;
}

int probe_write_file(const char *path, const char *s)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	if (write_all(fd, s, strlen(s)) < 0) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return close(fd);
}

/* Waits for our child pid (waitpid flags plus WNOHANG) for up to timeout_ms.
 * A child that is still there then is SIGKILLed and reaped. Returns 0 with
 * *status set, 1 when the child had to be killed, -1 on a waitpid error. */
int probe_wait_child(pid_t pid, int *status, int flags, int timeout_ms)
{
	int64_t deadline = now_ns() + (int64_t)timeout_ms * 1000000;
	long nap_ns = 20000;

	for (;;) {
		pid_t r = waitpid(pid, status, flags | WNOHANG);
		if (r == pid)
			return 0;
		if (r < 0 && errno != EINTR) {
			pr_perror("features: waitpid(%d)", pid);
			return -1;
		}
		if (now_ns() > deadline)
			break;
		struct timespec ts = { 0, nap_ns };
		nanosleep(&ts, NULL);	/* EINTR only shortens the nap */
		if (nap_ns < 5000000)
			nap_ns *= 2;
	}
	pr_warn("features: probe child %d did not answer in %d ms, killing it",
		pid, timeout_ms);
	if (kill(pid, SIGKILL) < 0)
		pr_perror("features: kill(%d)", pid);
	while (waitpid(pid, status, __WALL) < 0) {
		if (errno != EINTR) {
			pr_perror("features: waitpid(%d)", pid);
			return -1;
		}
	}
	return 1;
}

/* In a forked probe child: die with the parent, so a killed `check` never
 * leaves probes behind. parent is the forker's PID, or 0 when it is not
 * visible (the child is PID 1 of a new pid namespace). */
void probe_child_guard(pid_t parent)
{
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0)
		_exit(125);
	if (getppid() != parent)
		_exit(125);	/* the parent died before the prctl */
}

const char *probe_exit_desc(int status, char *buf, size_t len)
{
	if (WIFEXITED(status))
		snprintf(buf, len, "exit %d", WEXITSTATUS(status));
	else if (WIFSIGNALED(status))
		snprintf(buf, len, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(buf, len, "status 0x%x", status);
	return buf;
}
