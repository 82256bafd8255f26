/* ptydata.c: a pty's settings (termios2), and the bytes waiting in it, both ways: the job's
 * output the terminal side has not read (the master's queue) and the input
 * the job has not read (the slave's). A tty cannot be peeked: they are
 * read out and queued again, through the other end, with the slave's
 * settings changed meanwhile so that nothing is converted, echoed or taken
 * for a signal a second time. The kernel moves what is written to one end
 * into the other's queue from a work queue, so each put waits until the
 * queue shows it (poll() runs that work when nothing is readable yet). */
#include <errno.h>
#include <poll.h>
#include <sched.h>
#include <string.h>
#include <sys/ioctl.h>
#include <asm/termbits.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/pty.h"
#include "ckpt/util.h"

#define QUEUE_MAX (64 * 1024)          /* far above what a pty queues (4 KiB + 8 KiB) */
#define SETTLE_NS (2000LL * 1000000)  /* a work queue that has not run by then is stuck */

int pty_get_termios(int m, struct pty_termios *t, const char *what)
{
	_Static_assert(sizeof(struct pty_termios) == sizeof(struct termios2), "termios2 layout");
	if (ioctl(m, TCGETS2, t) < 0) {
		pr_perror("cannot read the settings of %s", what);
		return -1;
	}
	return 0;
}

int pty_set_termios(int m, const struct pty_termios *t, const char *what)
{
	if (ioctl(m, TCSETS2, t) < 0) {
		pr_perror("cannot set the settings of %s", what);
		return -1;
	}
	return 0;
}

static int inq(int fd, const char *what)
{
	int n = 0;

	if (ioctl(fd, FIONREAD, &n) < 0) {
		pr_perror("cannot see how much waits in %s", what);
		return -1;
	}
	return n;
}

/* Until FD shows at least WANT bytes readable; false after SETTLE_NS. */
static bool settle(int fd, int want)
{
	int64_t end = now_ns() + SETTLE_NS;

	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n = 0;

		if (ioctl(fd, FIONREAD, &n) == 0 && n >= want)
			return true;
		if (now_ns() > end)
			return false;
		poll(&p, 1, 0);
		sched_yield();
	}
}

int pty_take_output(int m, bool packet, char **buf, size_t *len, const char *what)
{
	int n = inq(m, what);
	size_t got = 0;
	char *b;

	*buf = NULL;
	*len = 0;
	if (n < 0)
		return n;
	if (n > QUEUE_MAX) {
		pr_err("%s holds %d bytes of output, more than a pty can", what, n);
		return -1;
	}
	b = xmalloc(QUEUE_MAX + 1);
	/* Until nothing is readable: FIONREAD counts only what reached the
	 * read queue, and what the job wrote last may still wait for the
	 * kernel's work queue (a busy machine delays it); poll() on an empty
	 * queue runs that work, so an empty poll means nothing is on its way.
	 * (In packet mode every read starts with a status byte: 0 before
	 * data.) */
	for (;;) {
		struct pollfd p = { .fd = m, .events = POLLIN };
		char tmp[QUEUE_MAX + 1];
		ssize_t r;

		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			break;
		r = read(m, tmp, QUEUE_MAX - got + (packet ? 1 : 0));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		if (packet) {
			if (tmp[0] != 0)
				continue;	/* a status change, not data */
			memcpy(b + got, tmp + 1, r - 1);
			got += r - 1;
		} else {
			memcpy(b + got, tmp, r);
			got += r;
		}
		if (got >= QUEUE_MAX) {
			pr_err("%s holds more output than a pty can", what);
			free(b);
			return -1;
		}
	}
	if (got < (size_t)n) {
		pr_err("could copy only %zu of the %d bytes of output waiting in %s", got, n, what);
		free(b);
		return -1;
	}
	if (!got) {
		free(b);
		return 0;
	}
	*buf = b;
	*len = got;
	return 0;
}

int pty_take_input(int m, int s, const struct pty_termios *t, char **buf, size_t *len,
		   const char *what)
{
	struct pty_termios raw = *t;
	char *b = xmalloc(QUEUE_MAX);
	size_t got = 0;
	int ret = -1;

	*buf = NULL;
	*len = 0;
	/* Out of canonical mode the line being typed is readable too. */
	raw.c_lflag &= ~ICANON;
	raw.c_cc[VMIN] = 0;
	raw.c_cc[VTIME] = 0;
	if (pty_set_termios(m, &raw, what) < 0)
		goto out;
	while (got < QUEUE_MAX) {
		ssize_t r = read(s, b + got, QUEUE_MAX - got);
		struct pollfd p = { .fd = s, .events = POLLIN };

		if (r > 0) {
			got += r;
			continue;
		}
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && errno != EAGAIN && errno != EIO) {
			pr_perror("cannot copy the input waiting in %s", what);
			goto back;
		}
		/* empty: unless the kernel still had bytes on their way */
		if (poll(&p, 1, 0) != 1 || !(p.revents & POLLIN))
			break;
	}
	ret = 0;
back:
	if (pty_set_termios(m, t, what) < 0)
		ret = -1;
out:
	if (ret == 0 && got) {
		*buf = b;
		*len = got;
	} else
		free(b);
	return ret;
}

static int write_nb(int fd, const char *buf, size_t len, const char *what)
{
	while (len) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EAGAIN) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };
			if (poll(&p, 1, 2000) == 1)
				continue;
		}
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			pr_perror("cannot queue %zu bytes again in %s", len, what);
			return -1;
		}
		buf += w;
		len -= w;
	}
	return 0;
}

int pty_put_output(int m, int s, const struct pty_termios *t, const char *buf, size_t len,
		   const char *what)
{
	struct pty_termios plain = *t;
	int before, ret = -1;

	if (!len)
		return 0;
	before = inq(m, what);
	if (before < 0)
		return -1;
	/* What the slave wrote was converted already (\n to \r\n...). */
	plain.c_oflag &= ~OPOST;
	if (pty_set_termios(m, &plain, what) < 0)
		return -1;
	if (write_nb(s, buf, len, what) == 0) {
		if (settle(m, before + (int)len))
			ret = 0;
		else
			pr_err("%s did not take its %zu bytes of output back", what, len);
	}
	if (pty_set_termios(m, t, what) < 0)
		ret = -1;
	return ret;
}

/* In canonical mode the end of file key (^D) ends a line without a
 * character of its own: the queue holds a NUL there, which a read does
 * not count or return. What a canonical reader is to find again: the
 * bytes of BUF (its NULs the end of file key again, in *OUT), where its
 * complete lines end (*LINES) and how many bytes those count (*COUNT). */
static void canonical(const struct pty_termios *t, const char *buf, size_t len, char *out,
		      size_t *lines, int *count)
{
	int marks = 0;

	*lines = 0;
	*count = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = buf[i];
		out[i] = c || !t->c_cc[VEOF] ? c : t->c_cc[VEOF];
		marks += !c;
		if (c == '\n' || !c || c == t->c_cc[VEOL] || c == t->c_cc[VEOL2]) {
			*lines = i + 1;
			*count = i + 1 - marks;
		}
	}
}

int pty_put_input(int m, int s, const struct pty_termios *t, const char *in, size_t len,
		  const char *what)
{
	struct pty_termios quiet = *t;
	bool canon = t->c_lflag & ICANON;
	char *buf = xmalloc(len ? len : 1);
	size_t lines = len;
	int before, count = len, ret = -1;

	if (!len) {
		ret = 0;
		goto out;
	}
	if (canon)
		canonical(t, in, len, buf, &lines, &count);
	else
		memcpy(buf, in, len);
	before = inq(s, what);
	if (before < 0)
		goto out;
	/* Typed once, echoed once, taken for ^C once: now only queued. (The
	 * canonical mode stays: the line being typed stays one. IXON stays:
	 * a ^S queued cannot be one that stopped output, and a change of it
	 * would be told to a master in packet mode.) */
	quiet.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL | ECHOCTL | ECHOPRT | ECHOKE | ISIG |
			   IEXTEN | FLUSHO | PENDIN);
	quiet.c_iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IUCLC | PARMRK | INPCK);
	if (pty_set_termios(m, &quiet, what) < 0)
		goto out;
	if (write_nb(m, buf, lines, what) < 0)
		goto back;
	if (lines && !settle(s, before + count)) {
		pr_err("%s did not take its %zu bytes of input back", what, lines);
		goto back;
	}
	if (lines < len) {
		struct pollfd p = { .fd = s, .events = POLLIN };
		/* A line being typed is not readable, so no count shows it
		 * arrive: with nothing else readable, poll() itself hands it
		 * over; behind complete lines, it gets a moment. */
		if (write_nb(m, buf + lines, len - lines, what) < 0)
			goto back;
		poll(&p, 1, 0);
		if (before + count) {
			struct timespec ms = { 0, 20 * 1000000 };
			nanosleep(&ms, NULL);
		}
	}
	ret = 0;
back:
	if (pty_set_termios(m, t, what) < 0)
		ret = -1;
out:
	free(buf);
	return ret;
}
