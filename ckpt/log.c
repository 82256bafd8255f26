/* log.c: where engine messages go (stderr or a -o log file) and how many.
 * Each message is one write(2) so that forked helpers do not interleave lines. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/log.h"

static int log_level = LOG_WARN;
static int log_fd = 2;
static const char *log_prefix;

void log_set_level(int level) { log_level = level; }
int log_get_level(void) { return log_level; }
void log_set_fd(int fd) { log_fd = fd; }
int log_get_fd(void) { return log_fd; }
void log_set_prefix(const char *prefix) { log_prefix = prefix; }

void log_vmsg(int level, const char *fmt, va_list ap)
{
	char buf[4096];
	int n = 0, e = errno;

	if (level > log_level)
		return;
	n = snprintf(buf, sizeof(buf), "jobfreeze%s%s: ", log_prefix ? " " : "",
		     log_prefix ? log_prefix : "");
	if (n < 0)
		n = 0;
	int m = vsnprintf(buf + n, sizeof(buf) - n, fmt, ap);
	if (m > 0)
		n += m;
	if (n > (int)sizeof(buf) - 1) {
		n = sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* A failed log write has nowhere to be reported. */
	if (write(log_fd, buf, n) < 0)
		(void)0;
	errno = e;
}

void log_msg(int level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log_vmsg(level, fmt, ap);
	va_end(ap);
}
