/* epshare: a parent and its child share one epoll set (inherited across
 * fork) and take turns, passing a token through pipes. On its turn each
 * waits on the set, prints the data of the event it gets, which the other
 * one set with EPOLL_CTL_MOD on its previous turn (so the two must share
 * the same set), sets its own, and posts the eventfd for the next turn. */
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/wait.h>
#include <unistd.h>

#define TURNS 24

static void play(int ep, int ev, int tok_in, int tok_out, int first, const char *who)
{
	for (int turn = first; turn <= TURNS; turn += 2) {
		struct epoll_event e;
		uint64_t v;
		char t;

		if (turn > 1 && read(tok_in, &t, 1) != 1)
			_exit(1);
		if (epoll_wait(ep, &e, 1, 5000) != 1 || read(ev, &v, 8) != 8)
			_exit(2);
		printf("turn %2d, %s: the set says %llu\n", turn, who, (unsigned long long)e.data.u64);
		e.events = EPOLLIN;
		e.data.u64 = turn * 10 + (who[0] == 'c');
		if (epoll_ctl(ep, EPOLL_CTL_MOD, ev, &e) < 0 || write(ev, &(uint64_t){ 1 }, 8) != 8)
			_exit(3);
		usleep(80000);
		if (write(tok_out, "t", 1) != 1)
			_exit(4);
	}
}

int main(void)
{
	int ep = epoll_create1(0), ev = eventfd(1, 0), to_child[2], to_parent[2], st;
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 7 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (ep < 0 || ev < 0 || pipe(to_child) < 0 || pipe(to_parent) < 0 ||
	    epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e) < 0)
		return 1;
	pid_t pid = fork();
	if (pid == 0) {
		play(ep, ev, to_child[0], to_parent[1], 2, "child");
		_exit(0);
	}
	play(ep, ev, to_parent[0], to_child[1], 1, "parent");
	if (waitpid(pid, &st, 0) != pid)
		return 1;
	printf("child exited %d\n", WEXITSTATUS(st));
	return 0;
}
