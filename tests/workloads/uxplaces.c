/* uxplaces: unix datagram sockets whose files were unlinked and whose
 * places are gone. One bound to the relative name "r.sock", a FIFO made in
 * its place afterwards (held open), the job then moved to "/"; one bound
 * to DIR/dg/a.sock, its directory removed. Each has a peer connected to
 * it. A second after the latest freeze point each prints the names both
 * ends see (DIR for the job's first directory), sends a datagram through
 * each pair and through the FIFO, and says whether dg is still gone. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static char dir[4096];

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* a datagram socket bound to NAME, or (PEER) connected to it */
static int at(const char *name, int peer)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int s = socket(AF_UNIX, SOCK_DGRAM, 0);

	snprintf(a.sun_path, sizeof(a.sun_path), "%s", name);
	if (s < 0 || (peer ? connect : bind)(s, (struct sockaddr *)&a, sizeof(a)) < 0)
		die(name);
	return s;
}

/* a socket's name, with the job's first directory said as DIR */
static void say_name(const char *who, int s, int peer)
{
	struct sockaddr_un a;
	socklen_t la = sizeof(a);
	size_t n = strlen(dir);

	memset(&a, 0, sizeof(a));
	if ((peer ? getpeername(s, (struct sockaddr *)&a, &la) : getsockname(s, (struct sockaddr *)&a, &la)) < 0)
		die(who);
	if (!strncmp(a.sun_path, dir, n))
		printf("%s: DIR%s\n", who, a.sun_path + n);
	else
		printf("%s: %s\n", who, a.sun_path);
}

static void through(const char *what, int from, int to)
{
	char buf[64] = "";
	ssize_t n;

	if (write(from, what, strlen(what)) < 0)
		die(what);
	n = read(to, buf, sizeof(buf) - 1);
	printf("%s: %s\n", what, n > 0 ? buf : "nothing");
}

int main(void)
{
	char path[4200];
	struct stat st;
	int r, rp, a, ap, fifo;

	if (!getcwd(dir, sizeof(dir)))
		die("getcwd");
	if (mkdir("dg", 0700) < 0)
		die("dg");
	snprintf(path, sizeof(path), "%s/dg/a.sock", dir);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path)) {
		puts("the job's directory is too long for a socket name here");
		return 77;
	}
	unlink("r.sock");
	r = at("r.sock", 0);
	rp = at("r.sock", 1);
	a = at(path, 0);
	ap = at(path, 1);
	if (unlink("r.sock") < 0 || mkfifo("r.sock", 0600) < 0 || (fifo = open("r.sock", O_RDWR)) < 0)
		die("the FIFO in r.sock's place");
	if (unlink(path) < 0 || rmdir("dg") < 0)
		die("dg/a.sock");
	if (chdir("/") < 0)
		die("/");

	usleep(2500000);	/* (a second after the latest freeze point) */

	say_name("r", r, 0);
	say_name("r's peer sees", rp, 1);
	say_name("a", a, 0);
	say_name("a's peer sees", ap, 1);
	through("to r", rp, r);
	through("to a", ap, a);
	through("the FIFO", fifo, fifo);
	snprintf(path, sizeof(path), "%s/dg", dir);
	printf("dg: %s\n", stat(path, &st) == 0 ? "there" : errno == ENOENT ? "gone" : "?");
	snprintf(path, sizeof(path), "%s/r.sock", dir);
	printf("r.sock: %s\n", stat(path, &st) == 0 && S_ISFIFO(st.st_mode) ? "a FIFO" : "not a FIFO");
	unlink(path);
	return 0;
}
