/* ffown: input told by signal. A pipe whose read end is O_ASYNC, owned by
 * the process, signalling SIGRTMIN+1 (F_SETSIG, so with the fd in
 * si_fd); a socketpair end owned by the process group a child made. After
 * the thaw the owners, signals and flags are as they were, and writing
 * into each brings its signal, naming its fd. MODE "outside": a pipe owned
 * by the parent of the job (refused). */
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include "fwait.h"

static volatile sig_atomic_t got_fd = -1, got_sig, got_code;

static void on_io(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	got_sig = sig;
	got_fd = si->si_fd;
	got_code = si->si_code;
}

static bool wait_signal(int sig, int fd)
{
	struct timespec ts = { 0, 10 * 1000 * 1000 };

	for (int i = 0; i < 500 && got_sig != sig; i++)
		nanosleep(&ts, NULL);
	bool ok = got_sig == sig && got_fd == fd && got_code == POLL_IN;
	got_sig = 0;
	got_fd = -1;
	return ok;
}

int main(int argc, char **argv)
{
	struct sigaction sa = { .sa_sigaction = on_io, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct f_owner_ex own, own2;
	int p[2], s[2];

	fw_init(argc, argv);
	fw_need(sigaction(SIGRTMIN + 1, &sa, NULL) == 0 && sigaction(SIGIO, &sa, NULL) == 0, "sigaction");
	fw_need(pipe(p) == 0 && socketpair(AF_UNIX, SOCK_STREAM, 0, s) == 0, "pipe");
	fw_need(fcntl(p[0], F_SETOWN, getpid()) == 0 && fcntl(p[0], F_SETSIG, SIGRTMIN + 1) == 0 &&
		fcntl(p[0], F_SETFL, fcntl(p[0], F_GETFL) | O_ASYNC | O_NONBLOCK) == 0, "pipe owner");
	/* a child in a group of its own hears the socket's SIGIO */
	int ready[2];
	fw_need(pipe(ready) == 0, "pipe");
	pid_t child = fork();
	fw_need(child >= 0, "fork");
	if (child == 0) {
		struct timespec ts = { 0, 10 * 1000 * 1000 };
		fw_need(setpgid(0, 0) == 0 && write(ready[1], "r", 1) == 1, "child group");
		fw_wait_go();
		for (int i = 0; i < 500 && got_sig != SIGIO; i++)
			nanosleep(&ts, NULL);
		_exit(got_sig == SIGIO ? 0 : 1);
	}
	char c;
	fw_need(read(ready[0], &c, 1) == 1, "child ready");
	own = (struct f_owner_ex){ F_OWNER_PGRP, child };
	fw_need(fcntl(s[0], F_SETOWN_EX, &own) == 0 &&
		fcntl(s[0], F_SETFL, fcntl(s[0], F_GETFL) | O_ASYNC) == 0, "socket owner");
	if (argc > 2 && !strcmp(argv[2], "outside")) {
		int q[2];
		fw_need(pipe(q) == 0 && fcntl(q[0], F_SETOWN, getppid()) == 0, "owner outside");
	}
	int pflags = fcntl(p[0], F_GETFL), sflags = fcntl(s[0], F_GETFL);

	fw_ready_wait();

	fw_check("pipe: owner, signal, flags", fcntl(p[0], F_GETOWN) == getpid() &&
		 fcntl(p[0], F_GETSIG) == SIGRTMIN + 1 && fcntl(p[0], F_GETFL) == pflags,
		 "owner %d signal %d flags %o", fcntl(p[0], F_GETOWN), fcntl(p[0], F_GETSIG),
		 fcntl(p[0], F_GETFL));
	fw_check("socket: owner, flags", fcntl(s[0], F_GETOWN_EX, &own2) == 0 && own2.type == F_OWNER_PGRP &&
		 own2.pid == child && fcntl(s[0], F_GETFL) == sflags, "owner %d:%d flags %o", own2.type,
		 own2.pid, fcntl(s[0], F_GETFL));
	fw_need(write(p[1], "x", 1) == 1, "write pipe");
	fw_check("pipe: its signal, naming its fd", wait_signal(SIGRTMIN + 1, p[0]), "signal %d fd %d",
		 got_sig, got_fd);
	fw_need(write(s[1], "y", 1) == 1, "write socket");
	int st = fw_reap(child, 0);
	fw_check("socket: SIGIO to the child's group", st == 0, "status %#x", st);
	return fw_done();
}
