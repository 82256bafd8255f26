/* uxstreams TOKEN: unix stream and seqpacket sockets with names. A
 * listener at a relative path (its file chmod'ed) with two connections it
 * accepts only after 2.5 s, in the order they came; a listener whose file was unlinked,
 * with a connection waiting; an abstract listener with an accepted
 * connection from a client bound to a name of its own; a seqpacket pair
 * with messages waiting. Prints
 * every name each end sees, the accept order and what it read. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static socklen_t addr(struct sockaddr_un *a, const char *name)
{
	memset(a, 0, sizeof(*a));
	a->sun_family = AF_UNIX;
	if (name[0] == '@') {
		memcpy(a->sun_path + 1, name + 1, strlen(name) - 1);
		return sizeof(sa_family_t) + strlen(name);
	}
	strcpy(a->sun_path, name);
	return sizeof(sa_family_t) + strlen(name) + 1;
}

static int sock(int type, const char *bound)
{
	struct sockaddr_un a;
	int s = socket(AF_UNIX, type, 0);

	if (s < 0 || (bound && (unlink(bound), bind(s, (struct sockaddr *)&a, addr(&a, bound)) < 0))) {
		perror(bound ? bound : "socket");
		exit(1);
	}
	return s;
}

static int dial(int type, const char *bound, const char *to)
{
	struct sockaddr_un a;
	int s = sock(type, bound);

	if (connect(s, (struct sockaddr *)&a, addr(&a, to)) < 0) {
		perror(to);
		exit(1);
	}
	return s;
}

static void names(const char *what, int s)
{
	struct sockaddr_un a;
	socklen_t l;
	char me[128], peer[128];

	for (int k = 0; k < 2; k++) {
		char *out = k ? peer : me;
		l = sizeof(a);
		memset(&a, 0, sizeof(a));
		if ((k ? getpeername(s, (struct sockaddr *)&a, &l) : getsockname(s, (struct sockaddr *)&a, &l)) < 0)
			snprintf(out, 128, "(none)");
		else if (l <= sizeof(sa_family_t))
			snprintf(out, 128, "(unnamed)");
		else if (!a.sun_path[0])
			snprintf(out, 128, "@...%s", strrchr(a.sun_path + 1, '-') ?: "");
		else
			snprintf(out, 128, "%s", a.sun_path);
	}
	printf("%s: is %s, peer %s\n", what, me, peer);
}

static void say(int s, const char *msg)
{
	if (write(s, msg, strlen(msg)) < 0)
		perror("write");
}

static void hear(const char *what, int s)
{
	char buf[128];
	ssize_t n;

	while ((n = recv(s, buf, sizeof(buf), MSG_DONTWAIT)) > 0)
		printf("%s: '%.*s'\n", what, (int)n, buf);
	printf("%s: then %s\n", what, n == 0 ? "the end" : "nothing more for now");
}

int main(int argc, char **argv)
{
	char l3n[64], c3n[64];

	struct stat st;
	int l1, l2, l3, p[2], w1, w2, w3, c3, a3, ag;

	setvbuf(stdout, NULL, _IOLBF, 0);
	l1 = sock(SOCK_STREAM, "l1.sock");
	chmod("l1.sock", 0640);
	listen(l1, 8);
	w1 = dial(SOCK_STREAM, NULL, "l1.sock");
	w2 = dial(SOCK_STREAM, "w2.sock", "l1.sock");
	l2 = sock(SOCK_SEQPACKET, "l2.sock");
	listen(l2, 4);
	w3 = dial(SOCK_SEQPACKET, NULL, "l2.sock");
	unlink("l2.sock");
	snprintf(l3n, sizeof(l3n), "@uxstreams-%s-l3", argc > 1 ? argv[1] : "0");
	snprintf(c3n, sizeof(c3n), "@uxstreams-%s-c3", argc > 1 ? argv[1] : "0");
	l3 = sock(SOCK_STREAM, l3n);
	listen(l3, 4);
	c3 = dial(SOCK_STREAM, c3n, l3n);
	a3 = accept(l3, NULL, NULL);
	say(c3, "to the abstract one");
	socketpair(AF_UNIX, SOCK_SEQPACKET, 0, p);
	say(p[0], "packet one");
	say(p[0], "packet two");

	usleep(2500000);	/* (a second after the latest freeze point) */

	int x1 = accept(l1, NULL, NULL), x2 = accept(l1, NULL, NULL), x3 = accept(l2, NULL, NULL);
	names("l1", l1);
	names("first accepted", x1);
	names("second accepted", x2);
	names("w2", w2);
	names("on the unlinked listener", x3);
	names("abstract accepted", a3);
	names("abstract client", c3);
	names("pair", p[1]);
	say(w1, "first");
	hear("first accepted", x1);
	hear("abstract accepted", a3);
	hear("pair", p[1]);
	say(w3, "through the unlinked one");
	hear("on the unlinked listener", x3);
	int there = stat("l1.sock", &st) == 0;
	printf("l1.sock: %s, mode %o; l2.sock: %s\n", there ? "there" : "gone",
	       there ? st.st_mode & 0777 : 0, access("l2.sock", F_OK) == 0 ? "there" : "gone");
	ag = dial(SOCK_STREAM, NULL, "l1.sock");
	int x4 = accept(l1, NULL, NULL);
	say(ag, "a new one");
	hear("new connection", x4);
	unlink("l1.sock");
	unlink("w2.sock");
	return 0;
}
