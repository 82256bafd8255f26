/* ffdt: processes that share one fd table (clone(CLONE_FILES) without
 * CLONE_THREAD): a child and a grandchild share the parent's, another
 * child has a table of its own. After the thaw an fd one of them opens is
 * there for the others, one closed is gone for them all, and the child
 * with its own table is not touched. MODE "cousins": the child stops
 * sharing (unshare), so that the grandchild shares the parent's table and
 * not its own parent's, which is refused. */
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include "fwait.h"

#define STACK (64 * 1024)
static int sync_pipe[2], back_pipe[2], spawned[2];

static pid_t spawn(int (*fn)(void *), int flags, void *arg)
{
	char *stack = malloc(STACK);
	pid_t pid;

	fw_need(stack != NULL, "malloc");
	pid = clone(fn, stack + STACK, flags | SIGCHLD, arg);
	fw_need(pid > 0, "clone");
	return pid;
}

/* opens fd 60 once told, closes fd 61 */
static int grandchild(void *arg)
{
	char c;

	(void)arg;
	fw_wait_go();
	if (read(sync_pipe[0], &c, 1) != 1)
		return 1;
	int fd = open(fw_path("opened"), O_RDONLY | O_CREAT, 0644);
	if (fd < 0 || dup2(fd, 60) != 60 || close(61) < 0)
		return 2;
	return write(back_pipe[1], "g", 1) == 1 ? 0 : 3;
}

static int own_table(void *arg)
{
	(void)arg;
	fw_wait_go();
	return fcntl(61, F_GETFD) >= 0 ? 0 : 1;	/* its own copy of 61 */
}

static int child(void *arg)
{
	int st, ok = 0;
	pid_t g = spawn(grandchild, CLONE_FILES, NULL);
	pid_t o = spawn(own_table, 0, NULL);

	/* the child stops sharing: the grandchild shares with the parent */
	if (arg && unshare(CLONE_FILES) < 0)
		return 9;
	/* (before the grandchild may close 61: the parent is ready, and tells
	 * it to, only once both are there) */
	if (write(spawned[1], "s", 1) != 1)
		return 10;
	ok |= waitpid(g, &st, 0) != g || st != 0;
	ok |= waitpid(o, &st, 0) != o || st != 0;
	return ok;
}

int main(int argc, char **argv)
{
	char c;
	int st;

	fw_init(argc, argv);
	fw_need(pipe(sync_pipe) == 0 && pipe(back_pipe) == 0 && pipe(spawned) == 0, "pipes");
	int fd = open(fw_path("held"), O_RDWR | O_CREAT, 0644);
	fw_need(fd >= 0 && dup2(fd, 61) == 61, "held");
	bool cousins = argc > 2 && !strcmp(argv[2], "cousins");
	pid_t ch = spawn(child, CLONE_FILES, cousins ? (void *)1 : NULL);
	fw_need(read(spawned[0], &c, 1) == 1, "spawned");

	fw_ready_wait();

	fw_need(write(sync_pipe[1], "s", 1) == 1 && read(back_pipe[0], &c, 1) == 1, "sync");
	fw_check("an fd another opened", fcntl(60, F_GETFD) >= 0, "not there");
	fw_check("an fd another closed", fcntl(61, F_GETFD) < 0 && errno == EBADF, "still there");
	st = fw_reap(ch, __WALL);
	fw_check("children", st == 0, "status %#x", st);
	return fw_done();
}
