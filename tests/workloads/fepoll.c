/* fepoll: epoll sets as the kernel keys them, by file and fd number. One
 * watches a pipe under a number the process has since closed (the pipe
 * lives on, dup'ed to another number) and the same pipe under that other
 * number too; one watches two pipes under one number, the first put
 * there and replaced by the second. After the thaw every entry reports
 * its own pipe with its own data. MODE "elsewhere": a set also watches a
 * pipe that only a child holds now, which is refused. */
#include <sys/epoll.h>
#include <sys/wait.h>
#include "fwait.h"

/* The data of the entries reported ready, as a bit mask. */
static unsigned ready(int ep)
{
	struct epoll_event ev[16];
	unsigned mask = 0;
	int n = epoll_wait(ep, ev, 16, 0);

	for (int i = 0; i < n; i++)
		mask |= 1u << ev[i].data.u64;
	return mask;
}

static void watch(int ep, int fd, int data)
{
	struct epoll_event ev = { .events = EPOLLIN, .data.u64 = data };

	fw_need(epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0, "epoll_ctl");
}

int main(int argc, char **argv)
{
	int a[2], b[2], c[2], d[2], st;
	char byte;

	fw_init(argc, argv);
	fw_need(pipe(a) == 0 && pipe(b) == 0 && pipe(c) == 0 && pipe(d) == 0, "pipes");
	int ep1 = epoll_create1(0), ep2 = epoll_create1(0);
	fw_need(ep1 >= 0 && ep2 >= 0, "epoll_create1");

	/* a's read end watched as 40 and 41; 40 closed */
	fw_need(dup2(a[0], 40) == 40 && dup2(a[0], 41) == 41, "dup a");
	watch(ep1, 40, 0);
	watch(ep1, 41, 1);
	close(40);
	close(a[0]);

	/* 50 was b's read end, then c's: both entries stay */
	fw_need(dup2(b[0], 50) == 50, "dup b");
	watch(ep2, 50, 2);
	fw_need(dup2(c[0], 50) == 50, "dup c");
	watch(ep2, 50, 3);
	/* (b's read end lives on as b[0]) */

	pid_t child = -1;
	if (argc > 2 && !strcmp(argv[2], "elsewhere")) {
		watch(ep2, d[0], 4);
		child = fork();
		fw_need(child >= 0, "fork");
		if (child == 0) {
			fw_wait_go();
			_exit(0);
		}
		close(d[0]);
	}

	fw_ready_wait();

	fw_check("nothing ready yet", ready(ep1) == 0 && ready(ep2) == 0, "spurious events");
	fw_need(write(a[1], "a", 1) == 1, "write a");
	fw_check("one pipe, two numbers", ready(ep1) == 3, "ready %#x", ready(ep1));
	fw_need(read(41, &byte, 1) == 1, "read a");
	fw_need(write(b[1], "b", 1) == 1, "write b");
	fw_check("first file on a number", ready(ep2) == 4, "ready %#x", ready(ep2));
	fw_need(read(b[0], &byte, 1) == 1 && write(c[1], "c", 1) == 1, "c");
	fw_check("second file on that number", ready(ep2) == 8, "ready %#x", ready(ep2));
	if (child > 0) {
		st = fw_reap(child, 0);
		fw_check("child", st == 0, "status %#x", st);
	}
	return fw_done();
}
