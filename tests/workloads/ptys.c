/* ptys: a job that runs pseudo-terminals of its own, set up, then left
 * until told to stop (stop.h: a unit is a nap of 50 ms; a count on the
 * command line for a run by hand), then checked. It prints what it finds,
 * never a number that differs between runs (but the unit it stopped
 * after, on its last line):
 *   A  master and slave, the slave canonical without echo, at 9600 baud,
 *      100x30, the master in packet mode, the slave exclusive; a line and
 *      half of another typed and not read, a line printed and not read;
 *      the controlling terminal of K's session, whose foreground group is
 *      G's (^C reaches G)
 *   B  a master whose slave was never opened
 *   C  a master whose slave printed a line and closed */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>
#include "stop.h"

static int pty(int *slave, char *name)
{
	int m = posix_openpt(O_RDWR | O_NOCTTY);
	if (m < 0 || grantpt(m) < 0 || unlockpt(m) < 0) {
		perror("posix_openpt");
		exit(2);
	}
	strcpy(name, ptsname(m));
	if (slave && (*slave = open(name, O_RDWR | O_NOCTTY)) < 0) {
		perror(name);
		exit(2);
	}
	return m;
}

/* What a read gave, with its control characters shown. */
static void show(const char *what, const char *buf, ssize_t n)
{
	printf("%s: ", what);
	if (n < 0) {
		printf("%s\n", strerror(errno));
		return;
	}
	for (ssize_t i = 0; i < n; i++) {
		unsigned char c = buf[i];
		if (c >= 32 && c < 127)
			putchar(c);
		else
			printf("\\x%02x", c);
	}
	printf("\n");
}

static void on_int(int sig)
{
	(void)sig;
	static const char msg[] = "G: got SIGINT\n";
	if (write(1, msg, sizeof(msg) - 1) < 0)
		_exit(3);
	_exit(0);
}

/* K leads a session whose terminal is A; G is its foreground group. */
static void run_k(const char *name, int go, int done)
{
	char c;
	int tty, st, a;
	pid_t g;

	if (setsid() < 0)
		exit(3);
	tty = open(name, O_RDWR);	/* (no O_NOCTTY: it becomes K's terminal) */
	if (tty < 0)
		exit(4);
	g = fork();
	if (g == 0) {
		signal(SIGINT, on_int);
		setpgid(0, 0);
		for (;;)
			pause();
	}
	setpgid(g, g);
	if (tcsetpgrp(tty, g) < 0)
		exit(5);
	close(tty);
	if (write(done, "k", 1) != 1 || read(go, &c, 1) != 1)
		exit(6);
	/* after the thaw: still its session, its terminal, its foreground */
	tty = open("/dev/tty", O_RDWR);
	a = open(name, O_RDWR | O_NOCTTY);	/* (tcgetsid: ENOTTY unless it is ours) */
	printf("K: leads its session: %s; its terminal is A: %s; foreground is G: %s\n",
	       getsid(0) == getpid() ? "yes" : "no", tcgetsid(a) == getpid() ? "yes" : "no",
	       tty >= 0 && tcgetpgrp(tty) == g && tcgetsid(tty) == getpid() ? "yes" : "no");
	fflush(stdout);
	if (write(done, "k", 1) != 1)
		exit(7);
	waitpid(g, &st, 0);
	printf("K: G exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	exit(0);
}

int main(int argc, char **argv)
{
	char na[64], nb[64], nc[64], buf[256], c;
	int sa, sc, ma, mb, mc, one = 1, go[2], done[2], st;
	struct termios t, got;
	struct winsize ws = { .ws_row = 30, .ws_col = 100 }, wgot;
	struct timespec nap = { 0, 50 * 1000000 };
	long naps = 0;
	pid_t k;

	setvbuf(stdout, NULL, _IOLBF, 0);
	wl_stop_after(argc > 1 ? atol(argv[1]) : 0);
	ma = pty(&sa, na);
	if (pipe(go) < 0 || pipe(done) < 0)
		return 2;
	k = fork();
	if (k == 0)
		run_k(na, go[0], done[1]);
	if (read(done[0], &c, 1) != 1)
		return 2;
	/* (made after K: it must not hold C's slave) */
	mb = pty(NULL, nb);
	mc = pty(&sc, nc);
	/* (zeroed: the comparison below sees the padding of struct termios) */
	memset(&t, 0, sizeof(t));
	memset(&got, 0, sizeof(got));
	tcgetattr(sa, &t);
	t.c_lflag &= ~(ECHO | ECHOE | ECHOK | ECHONL);
	t.c_lflag |= ICANON | ISIG;
	t.c_cc[VERASE] = 0x08;
	cfsetspeed(&t, B9600);
	tcsetattr(sa, TCSANOW, &t);
	ioctl(ma, TIOCSWINSZ, &ws);
	ioctl(ma, TIOCPKT, &one);
	ioctl(sa, TIOCEXCL);
	/* queued both ways, and C's last words */
	if (write(ma, "typed line\nhalf", 15) != 15 || write(sa, "printed\n", 8) != 8 ||
	    write(sc, "bye\n", 4) != 4)
		return 2;
	close(sc);
	printf("ready\n");
	while (!wl_stop(naps)) {
		nanosleep(&nap, NULL);
		naps++;
	}

	printf("A: same number: %s\n", !strcmp(ptsname(ma), na) ? "yes" : "no");
	tcgetattr(sa, &got);
	printf("A: settings kept: %s, 9600 baud: %s\n",
	       !memcmp(&got, &t, sizeof(t)) ? "yes" : "no", cfgetospeed(&got) == B9600 ? "yes" : "no");
	ioctl(sa, TIOCGWINSZ, &wgot);
	printf("A: window %ux%u\n", wgot.ws_col, wgot.ws_row);
	int pkt = 0, excl = 0, lck = 1;
	ioctl(ma, TIOCGPKT, &pkt);
	ioctl(sa, TIOCGEXCL, &excl);
	ioctl(ma, TIOCGPTLCK, &lck);
	printf("A: packet mode %d, exclusive %d, locked %d\n", pkt, excl, lck);
	ioctl(sa, TIOCNXCL);	/* (K opens it again below) */
	show("A: the terminal side reads", buf, read(ma, buf, sizeof(buf)));
	show("A: the program reads", buf, read(sa, buf, sizeof(buf)));
	if (write(ma, "-end\n", 5) != 5)
		return 2;
	show("A: then", buf, read(sa, buf, sizeof(buf)));

	printf("B: same number: %s\n", !strcmp(ptsname(mb), nb) ? "yes" : "no");
	fcntl(mb, F_SETFL, O_NONBLOCK);
	show("B: the terminal side reads", buf, read(mb, buf, sizeof(buf)));
	int sb = open(nb, O_RDWR | O_NOCTTY);
	if (sb < 0 || write(sb, "hello B\n", 8) != 8)
		printf("B: cannot open or write %s by name\n", nb);
	fcntl(mb, F_SETFL, 0);
	show("B: then", buf, read(mb, buf, sizeof(buf)));

	printf("C: same number: %s\n", !strcmp(ptsname(mc), nc) ? "yes" : "no");
	show("C: the terminal side reads", buf, read(mc, buf, sizeof(buf)));
	show("C: then", buf, read(mc, buf, sizeof(buf)));

	if (write(go[1], "c", 1) != 1 || read(done[0], &c, 1) != 1)
		return 2;
	/* ^C typed on A: its foreground group, G, gets SIGINT */
	if (write(ma, "\x03", 1) != 1)
		return 2;
	waitpid(k, &st, 0);
	printf("done: K exited %d\n", WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st));
	printf("ptys: stopped after %ld naps\n", naps);
	return 0;
}
