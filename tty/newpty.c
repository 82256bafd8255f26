/* newpty.c: --new-pty: the job gets a new pseudo-terminal; a relay process
 * copies our input to it and its output to ours, until the job is gone. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "tty/newpty.h"

static void relay(int master, int slave)
{
	struct pollfd p[2] = { { .fd = master, .events = POLLIN }, { .fd = 0, .events = POLLIN } };
	char buf[4096];

	/* Our copy of the job's side would keep the pty alive forever. */
	close(slave);
	for (;;) {
		if (poll(p, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (p[0].revents) {
			ssize_t n = read(master, buf, sizeof(buf));
			if (n <= 0)	/* EIO: every fd of the job's side is closed */
				break;
			if (write_all(1, buf, n) < 0)
				break;
		}
		if (p[1].revents) {
			ssize_t n = read(0, buf, sizeof(buf));
			if (n <= 0)
				p[1].fd = -1;	/* no more input: the job may still write */
			else if (write_all(master, buf, n) < 0)
				break;
		}
	}
	_exit(0);
}

int pty_relay_start(pid_t *pid)
{
	int master = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC), slave = -1;
	char *name;

	if (master < 0 || grantpt(master) < 0 || unlockpt(master) < 0 || !(name = ptsname(master))) {
		pr_perror("cannot make a new pseudo-terminal");
		goto fail;
	}
	slave = open(name, O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (slave < 0) {
		pr_perror("cannot open the new pseudo-terminal %s", name);
		goto fail;
	}
	*pid = fork();
	if (*pid < 0) {
		pr_perror("fork");
		goto fail;
	}
	if (*pid == 0)
		relay(master, slave);
	close(master);
	return slave;
fail:
	if (master >= 0)
		close(master);
	if (slave >= 0)
		close(slave);
	return -1;
}

void pty_relay_finish(pid_t pid)
{
	int status;

	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
}
