/* ptimer: POSIX timers. A periodic 50 ms CLOCK_MONOTONIC timer signals
 * the process (SIGUSR1, with a sigval the handler checks), a periodic
 * 100 ms timer signals a worker thread directly (SIGEV_THREAD_ID), and a
 * one-shot CLOCK_BOOTTIME timer fires once after 1.2 s. The timers are
 * used by their ids all along. Prints a deterministic report. */
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t ticks, bad_value, oneshot_at;
static timer_t tick_timer, worker_timer, oneshot;

static void on_tick(int sig __attribute__((unused)), siginfo_t *si, void *uc __attribute__((unused)))
{
	if (si->si_value.sival_int != 4242)
		bad_value = 1;
	/* (periods a busy machine let pass before the signal was taken count:
	 * the ticks follow the clock, not the scheduler) */
	ticks += 1 + si->si_overrun;
}

static void on_oneshot(int sig __attribute__((unused)), siginfo_t *si __attribute__((unused)),
		       void *uc __attribute__((unused)))
{
	oneshot_at = ticks ? ticks : 1;
}

static volatile pid_t worker_tid;

static void *worker(void *arg)
{
	sigset_t set;
	int got = 0;

	worker_tid = (pid_t)syscall(SYS_gettid);

	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	while (got < 20) {
		siginfo_t si;
		if (sigwaitinfo(&set, &si) == SIGUSR2 && si.si_code == SI_TIMER)
			got++;
	}
	*(int *)arg = got;
	return NULL;
}

static int make(timer_t *t, clockid_t clock, struct sigevent *sev, long first_ms, long every_ms)
{
	struct itimerspec its = { { every_ms / 1000, every_ms % 1000 * 1000000 },
				  { first_ms / 1000, first_ms % 1000 * 1000000 } };
	return timer_create(clock, sev, t) || timer_settime(*t, 0, &its, NULL);
}

int main(void)
{
	struct sigaction sa = { .sa_sigaction = on_tick, .sa_flags = SA_SIGINFO | SA_RESTART };
	struct sigevent sev;
	sigset_t set;
	pthread_t th;
	int worker_got = 0;

	setvbuf(stdout, NULL, _IOLBF, 0);
	sigaction(SIGUSR1, &sa, NULL);
	sa.sa_sigaction = on_oneshot;
	sigaction(SIGALRM, &sa, NULL);
	sigemptyset(&set);
	sigaddset(&set, SIGUSR2);
	pthread_sigmask(SIG_BLOCK, &set, NULL);	/* the worker inherits it and waits for it */
	pthread_create(&th, NULL, worker, &worker_got);

	memset(&sev, 0, sizeof(sev));
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGUSR1;
	sev.sigev_value.sival_int = 4242;
	if (make(&tick_timer, CLOCK_MONOTONIC, &sev, 50, 50))
		return 1;
	sev.sigev_notify = SIGEV_THREAD_ID;
	sev.sigev_signo = SIGUSR2;
	while (!worker_tid)
		sched_yield();
	sev._sigev_un._tid = worker_tid;
	if (make(&worker_timer, CLOCK_MONOTONIC, &sev, 100, 100))
		return 1;
	sev.sigev_notify = SIGEV_SIGNAL;
	sev.sigev_signo = SIGALRM;
	if (make(&oneshot, CLOCK_BOOTTIME, &sev, 1200, 0))
		return 1;
	int printed = 0;
	while (ticks < 50) {
		pause();
		while (ticks / 10 > printed && printed < 5) {
			struct itimerspec cur;
			printed++;
			printf("%d ticks; tick timer %s\n", printed * 10,
			       timer_gettime(tick_timer, &cur) == 0 && cur.it_interval.tv_nsec == 50000000
			       ? "still every 50 ms" : "lost");
		}
	}
	pthread_join(th, NULL);
	printf("sigval %s; worker thread got %d timer signals; one-shot fired %s\n",
	       bad_value ? "wrong" : "right", worker_got,
	       oneshot_at >= 21 && oneshot_at <= 27 ? "after about 24 ticks" : "at the wrong time");
	return 0;
}
