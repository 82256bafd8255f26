/* terminal.c: finding the terminal a job runs on and its settings at a
 * freeze; opening the one it gets at a thaw and giving it those settings. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/util.h"
#include "tty/terminal.h"

static bool is_tty_path(const char *p)
{
	return !strncmp(p, "/dev/pts/", 9) || !strncmp(p, "/dev/tty", 8) ||
	       !strcmp(p, "/dev/console");
}

int tty_describe(pid_t pid, pid_t pgid, struct tty_info *t)
{
	struct proc_stat st;

	memset(t, 0, sizeof(*t));
	/* The terminal its standard fds name, else any fd that is one. */
	for (int fd = 0; fd < 256 && !t->path; fd++) {
		char link[64], target[256];
		ssize_t n;
		snprintf(link, sizeof(link), "/proc/%d/fd/%d", pid, fd);
		n = readlink(link, target, sizeof(target) - 1);
		if (n <= 0)
			continue;
		target[n] = 0;
		if (is_tty_path(target))
			t->path = xstrdup(target);
	}
	if (!t->path)
		return 0;
	/* Its settings now: what the job set, if it is in the foreground
	 * (a stopped job's were put back by its shell; it sets its own again
	 * when continued). */
	if (proc_stat_quiet(pid, &st) == 0) {
		int fd;
		struct termios tio;
		t->foreground = st.tpgid > 0 && st.tpgid == pgid;
		fd = open(t->path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
		if (fd >= 0 && tcgetattr(fd, &tio) == 0) {
			const unsigned char *b = (const unsigned char *)&tio;
			t->termios = xmalloc(2 * sizeof(tio) + 1);
			for (size_t i = 0; i < sizeof(tio); i++)
				sprintf(t->termios + 2 * i, "%02x", b[i]);
		}
		if (fd >= 0)
			close(fd);
	}
	return 0;
}

void tty_info_free(struct tty_info *t)
{
	free(t->path);
	free(t->termios);
	memset(t, 0, sizeof(*t));
}

char *tty_self_name(void)
{
	for (int fd = 0; fd <= 2; fd++) {
		char *n = isatty(fd) ? ttyname(fd) : NULL;
		if (n)
			return xstrdup(n);
	}
	return NULL;
}

int tty_open(const char *path, bool need, const char *job)
{
	int fd;

	if (path) {
		fd = open(path, O_RDWR | O_NOCTTY | O_CLOEXEC);
		if (fd < 0) {
			pr_perror("cannot open terminal %s", path);
			return -1;
		}
		if (!isatty(fd)) {
			pr_err("%s is not a terminal", path);
			close(fd);
			return -1;
		}
		return fd;
	}
	for (int i = 0; i <= 2; i++)
		if (isatty(i))
			return fcntl(i, F_DUPFD_CLOEXEC, 3);
	fd = open("/dev/tty", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (fd >= 0)
		return fd;
	if (need)
		pr_err("job %s ran on a terminal and there is none here: run the thaw in a "
		       "terminal, or give it one with --tty PATH or --new-pty", job);
	return -1;
}

int tty_apply_termios(int fd, const char *hex)
{
	struct termios tio;
	unsigned char *b = (unsigned char *)&tio;

	if (!hex || strlen(hex) != 2 * sizeof(tio))
		return 0;	/* not recorded: the terminal keeps its settings */
	for (size_t i = 0; i < sizeof(tio); i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return 0;
		b[i] = v;
	}
	if (tcsetattr(fd, TCSADRAIN, &tio) < 0) {
		pr_perror("cannot give the terminal the job's settings");
		return -1;
	}
	return 0;
}

bool tty_we_are_foreground(int fd)
{
	pid_t fg = tcgetpgrp(fd);
	return fg > 0 && fg == getpgrp();
}
