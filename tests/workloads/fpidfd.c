/* fpidfd: pidfds as GLib, systemd and asyncio hold them. Of a child from
 * pidfd_open (non-blocking) and of one from clone3(CLONE_PIDFD), of
 * itself, two of a child that ended and was collected (one pidfs inode),
 * one shared with a child across fork; and a pidfd in an epoll set. After
 * the thaw: the same pids in fdinfo, signals through them, waitid on them,
 * pidfd_getfd, the ended child's pidfds still its own and still ended;
 * a pidfd of one of its threads (PIDFD_THREAD) still that thread's.
 * MODE "outside": also a pidfd of its parent, outside the job (refused). */
#include <linux/sched.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "fwait.h"

static int pidfd_open(pid_t pid, unsigned flags)
{
	return (int)syscall(SYS_pidfd_open, pid, flags);
}

static int send_sig(int pidfd, int sig)
{
	return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
}

/* "Pid:" of its fdinfo, and its flags */
static void info(int fd, int *pid, int *flags)
{
	char path[64], line[128];
	FILE *f;

	*pid = *flags = -2;
	snprintf(path, sizeof(path), "/proc/self/fdinfo/%d", fd);
	f = fopen(path, "r");
	while (f && fgets(line, sizeof(line), f)) {
		sscanf(line, "Pid: %d", pid);
		sscanf(line, "flags: %o", flags);
	}
	if (f)
		fclose(f);
}

static bool same_info(int fd, int pid, int flags)
{
	int p, fl;

	info(fd, &p, &fl);
	return p == pid && fl == flags;
}

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL
#endif

static pid_t thread_tid;

static void *sleeper(void *arg)
{
	__atomic_store_n(&thread_tid, gettid(), __ATOMIC_SEQ_CST);
	for (;;)
		pause();
	return arg;
}

static pid_t waiting_child(void)
{
	pid_t c = fork();

	fw_need(c >= 0, "fork");
	if (c == 0) {
		fw_wait_go();
		pause();
		_exit(0);
	}
	return c;
}

int main(int argc, char **argv)
{
	int p[2], st, pid;
	char byte;

	fw_init(argc, argv);
	fw_need(pipe(p) == 0, "pipe");

	pid_t a = waiting_child();
	int pa = pidfd_open(a, O_NONBLOCK);
	fw_need(pa >= 0, "pidfd_open");

	/* clone3 with CLONE_PIDFD: the child does only plain system calls */
	int pb = -1;
	struct clone_args ca = { .flags = CLONE_PIDFD, .pidfd = (uintptr_t)&pb, .exit_signal = SIGCHLD };
	long b = syscall(SYS_clone3, &ca, sizeof(ca));
	fw_need(b >= 0, "clone3");
	if (b == 0) {
		struct timespec ts = { 0, 20 * 1000 * 1000 };
		while (access(fw_path("go"), F_OK) < 0)
			nanosleep(&ts, NULL);
		syscall(SYS_exit_group, 5);
	}

	int self = pidfd_open(getpid(), 0);
	pid_t gone = fork();
	if (gone == 0)
		_exit(3);
	int pg1 = pidfd_open(gone, 0), pg2 = pidfd_open(gone, 0);
	fw_need(self >= 0 && pg1 >= 0 && pg2 >= 0 && waitpid(gone, &st, 0) == gone, "pidfds");

	/* a child holding a's pidfd and p's read end */
	pid_t d = fork();
	fw_need(d >= 0, "fork");
	if (d == 0) {
		fw_wait_go();
		_exit(send_sig(pa, 0) == 0 ? 0 : 1);
	}
	int pd = pidfd_open(d, 0);

	/* a pidfd of a thread, not of the process */
	pthread_t th;
	fw_need(pthread_create(&th, NULL, sleeper, NULL) == 0, "pthread_create");
	while (!__atomic_load_n(&thread_tid, __ATOMIC_SEQ_CST))
		usleep(1000);
	int pt = pidfd_open(thread_tid, PIDFD_THREAD);
	fw_need(pt >= 0, "pidfd_open(thread, PIDFD_THREAD)");

	int ep = epoll_create1(0);
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = 7 };
	fw_need(ep >= 0 && epoll_ctl(ep, EPOLL_CTL_ADD, pb, &ev) == 0, "epoll");

	if (argc > 2 && !strcmp(argv[2], "outside"))
		fw_need(pidfd_open(getppid(), 0) >= 0, "pidfd_open(parent)");

	int fa, fb, fself, fg, ft;
	info(pt, &pid, &ft);
	info(pa, &pid, &fa);
	info(pb, &pid, &fb);
	info(self, &pid, &fself);
	info(pg1, &pid, &fg);
	struct stat g1, g2;
	fw_need(fstat(pg1, &g1) == 0 && fstat(pg2, &g2) == 0, "fstat");
	bool one_inode = g1.st_ino == g2.st_ino;

	fw_ready_wait();

	fw_check("pidfd of a child", same_info(pa, a, fa), "another process or flags");
	fw_check("CLONE_PIDFD", same_info(pb, b, fb), "another process or flags");
	fw_check("own pidfd", same_info(self, getpid(), fself) && send_sig(self, 0) == 0, "not itself");
	fw_check("pidfd of a thread", same_info(pt, thread_tid, ft) && (ft & PIDFD_THREAD) &&
		 send_sig(pt, 0) == 0, "another task or flags %o", ft);
	fw_check("ended child", same_info(pg1, -1, fg) && same_info(pg2, -1, fg) &&
		 send_sig(pg1, 0) < 0 && errno == ESRCH, "not ended");
	fw_check("ended child, one process", fstat(pg1, &g1) == 0 && fstat(pg2, &g2) == 0 &&
		 (g1.st_ino == g2.st_ino) == one_inode, "two now");
	siginfo_t si = { 0 };
	fw_check("pidfd shared with a child", waitid(P_PIDFD, pd, &si, WEXITED) == 0 && si.si_code == CLD_EXITED &&
		 si.si_status == 0, "its child exited %d", si.si_status);
	int n = epoll_wait(ep, &ev, 1, 5000);
	fw_check("pidfd in epoll", n == 1 && ev.data.u64 == 7, "epoll said %d", n);
	memset(&si, 0, sizeof(si));
	fw_check("waitid(P_PIDFD)", waitid(P_PIDFD, pb, &si, WEXITED) == 0 && si.si_pid == b &&
		 si.si_status == 5, "got %d, status %d", si.si_pid, si.si_status);
	fw_check("pidfd_getfd", write(p[1], "g", 1) == 1 &&
		 (n = (int)syscall(SYS_pidfd_getfd, pa, p[0], 0)) >= 0 && read(n, &byte, 1) == 1 && byte == 'g',
		 "%s", strerror(errno));
	st = send_sig(pa, SIGTERM) == 0 ? fw_reap(a, 0) : -1;
	fw_check("signal through it", st != -1 && WIFSIGNALED(st) && WTERMSIG(st) == SIGTERM,
		 "status %#x", st);
	return fw_done();
}
