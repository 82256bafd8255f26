/* anonfds: an event loop on epoll watching a periodic timerfd, an eventfd
 * and a signalfd (SIGUSR1 blocked and read through it). Every timer tick
 * it posts to the eventfd and sends itself SIGUSR1; it counts what epoll
 * reports, for 30 ticks of 80 ms, and prints deterministic lines. */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

int main(void)
{
	struct itimerspec its = { { 0, 80 * 1000 * 1000 }, { 0, 80 * 1000 * 1000 } };
	int ep = epoll_create1(EPOLL_CLOEXEC), ev = eventfd(5, EFD_NONBLOCK);
	int tf = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK);
	uint64_t ticks = 0, posted = 5, got_events = 0, got_signals = 0, v;
	sigset_t set;
	int sf;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sf = signalfd(-1, &set, SFD_NONBLOCK);
	if (ep < 0 || ev < 0 || tf < 0 || sf < 0 || timerfd_settime(tf, 0, &its, NULL) < 0) {
		perror("setup");
		return 1;
	}
	struct epoll_event e = { .events = EPOLLIN, .data.u64 = 1 };
	epoll_ctl(ep, EPOLL_CTL_ADD, tf, &e);
	e.data.u64 = 2;
	epoll_ctl(ep, EPOLL_CTL_ADD, ev, &e);
	e.data.u64 = 3;
	epoll_ctl(ep, EPOLL_CTL_ADD, sf, &e);
	while (ticks < 30) {
		struct epoll_event out[4];
		int n = epoll_wait(ep, out, 4, 1000);
		for (int i = 0; i < n; i++) {
			if (out[i].data.u64 == 1 && read(tf, &v, 8) == 8) {
				for (uint64_t k = 0; k < v && ticks < 30; k++) {
					ticks++;
					printf("tick %llu\n", (unsigned long long)ticks);
					uint64_t one = 1;
					if (write(ev, &one, 8) == 8)
						posted++;
					kill(getpid(), SIGUSR1);
				}
			} else if (out[i].data.u64 == 2 && read(ev, &v, 8) == 8) {
				got_events += v;
			} else if (out[i].data.u64 == 3) {
				struct signalfd_siginfo si;
				while (read(sf, &si, sizeof(si)) == sizeof(si))
					got_signals++;
			}
		}
	}
	/* drain what the last tick posted */
	if (read(ev, &v, 8) == 8)
		got_events += v;
	struct signalfd_siginfo si;
	while (read(sf, &si, sizeof(si)) == sizeof(si))
		got_signals++;
	printf("posted %llu, eventfd total %llu, signals %s\n", (unsigned long long)posted,
	       (unsigned long long)got_events, got_signals >= 1 && got_signals <= 30 ? "ok" : "lost");
	return got_events == posted ? 0 : 3;
}
