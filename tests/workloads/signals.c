/* signals: a job whose state is mostly in the kernel's signal machinery.
 *
 *  - SIGUSR2 (blocked) made pending on the shared queue with kill(getpid()),
 *    SIGRTMIN twice on the thread's own queue with rt_tgsigqueueinfo and a
 *    value, SIGRTMIN+1 on the shared queue with sigqueue and a value; they
 *    stay pending for the whole run and are unblocked near the end, where
 *    the handlers log the order, si_code, value and sender;
 *  - an ITIMER_REAL periodic timer (100 ms) whose SIGALRM handler counts
 *    ticks; the main loop waits for 25 ticks, in turn with sigsuspend, by
 *    spinning, and by spinning with SIGALRM blocked and left pending for a
 *    while, and prints every tick (so output does not depend on timing;
 *    only the timer has to keep running after a thaw);
 *  - a SIGUSR1 handler with SA_ONSTACK that checks it runs on the
 *    sigaltstack, raised every fifth tick and once more at the end;
 *  - finally abort(): the exit status is 134 whether or not the job was
 *    frozen on the way (RLIMIT_CORE is set to 0, no core file is written).
 */
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define TICKS 25

static char altstack[64 * 1024] __attribute__((aligned(16)));
static volatile sig_atomic_t usr1_runs, usr1_offstack, alrm_ticks;

struct logged {
	int signo, code, value;
	pid_t pid;
	uid_t uid;
};
static struct logged logbuf[8];
static volatile sig_atomic_t nlogged;

static void on_usr1(int sig, siginfo_t *si, void *uc)
{
	char here;
	stack_t ss;

	(void)sig, (void)si, (void)uc;
	usr1_runs++;
	if (&here < altstack || &here >= altstack + sizeof(altstack))
		usr1_offstack++;
	else if (sigaltstack(NULL, &ss) || !(ss.ss_flags & SS_ONSTACK))
		usr1_offstack++;
}

static void on_alrm(int sig)
{
	(void)sig;
	alrm_ticks++;
}

static void on_pending(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (nlogged < (int)(sizeof(logbuf) / sizeof(logbuf[0]))) {
		struct logged *l = &logbuf[nlogged];

		l->signo = sig;
		l->code = si->si_code;
		l->value = si->si_code == SI_QUEUE ? si->si_value.sival_int : -1;
		l->pid = si->si_pid;
		l->uid = si->si_uid;
		nlogged++;
	}
}

static void handle(int sig, void (*fn)(int, siginfo_t *, void *), int flags)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = fn;
	sa.sa_flags = SA_SIGINFO | flags;
	sigemptyset(&sa.sa_mask);
	if (sigaction(sig, &sa, NULL)) {
		perror("sigaction");
		exit(1);
	}
}

static const char *signame(int sig)
{
	static char buf[16];

	if (sig == SIGUSR2)
		return "SIGUSR2";
	if (sig >= SIGRTMIN) {
		snprintf(buf, sizeof(buf), "SIGRTMIN+%d", sig - SIGRTMIN);
		return buf;
	}
	snprintf(buf, sizeof(buf), "sig%d", sig);
	return buf;
}

static const char *codename(int code)
{
	switch (code) {
	case SI_USER: return "SI_USER";
	case SI_QUEUE: return "SI_QUEUE";
	case SI_TKILL: return "SI_TKILL";
	default: return "other";
	}
}

static void queue_to_thread(int sig, int value)
{
	siginfo_t si;

	memset(&si, 0, sizeof(si));
	si.si_signo = sig;
	si.si_code = SI_QUEUE;
	si.si_pid = getpid();
	si.si_uid = getuid();
	si.si_value.sival_int = value;
	if (syscall(SYS_rt_tgsigqueueinfo, getpid(), gettid(), sig, &si)) {
		perror("rt_tgsigqueueinfo");
		exit(1);
	}
}

static uint64_t spin_state = 88172645463325252ULL;

static void spin(void)
{
	for (int i = 0; i < 10000; i++) {
		spin_state ^= spin_state << 13;
		spin_state ^= spin_state >> 7;
		spin_state ^= spin_state << 17;
	}
}

static int64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void raise_usr1(const char *why)
{
	int before = usr1_runs;

	raise(SIGUSR1);
	printf("%s: raise(SIGUSR1) %s, handler runs %d, off the altstack %d\n", why,
	       usr1_runs == before + 1 ? "handled" : "NOT HANDLED",
	       (int)usr1_runs, (int)usr1_offstack);
}

int main(void)
{
	struct rlimit nocore = { 0, 0 };
	stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
	struct sigaction sa;
	sigset_t held, alrm, waitmask, pend;
	struct itimerval it = { { 0, 100000 }, { 0, 100000 } };
	int seen = 0;

	setrlimit(RLIMIT_CORE, &nocore);
	if (sigaltstack(&ss, NULL)) {
		perror("sigaltstack");
		return 1;
	}
	handle(SIGUSR1, on_usr1, SA_ONSTACK | SA_RESTART);
	handle(SIGUSR2, on_pending, 0);
	handle(SIGRTMIN, on_pending, 0);
	handle(SIGRTMIN + 1, on_pending, 0);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alrm;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGALRM, &sa, NULL);

	sigemptyset(&held);
	sigaddset(&held, SIGUSR2);
	sigaddset(&held, SIGRTMIN);
	sigaddset(&held, SIGRTMIN + 1);
	sigprocmask(SIG_BLOCK, &held, NULL);

	kill(getpid(), SIGUSR2);		/* shared queue, SI_USER */
	queue_to_thread(SIGRTMIN, 111);		/* thread queue, SI_QUEUE */
	queue_to_thread(SIGRTMIN, 222);
	sigqueue(getpid(), SIGRTMIN + 1, (union sigval){ .sival_int = 333 });

	sigpending(&pend);
	printf("signals: pending USR2=%d RTMIN=%d RTMIN+1=%d\n",
	       sigismember(&pend, SIGUSR2), sigismember(&pend, SIGRTMIN),
	       sigismember(&pend, SIGRTMIN + 1));

	/* SIGALRM is blocked except inside sigsuspend and while spinning */
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);
	sigprocmask(SIG_BLOCK, NULL, &waitmask);
	sigdelset(&waitmask, SIGALRM);

	if (setitimer(ITIMER_REAL, &it, NULL)) {
		perror("setitimer");
		return 1;
	}
	while (seen < TICKS) {
		switch (seen % 3) {
		case 0:
			while (alrm_ticks == seen)
				sigsuspend(&waitmask);
			break;
		case 1:
			sigprocmask(SIG_UNBLOCK, &alrm, NULL);
			while (alrm_ticks == seen)
				spin();
			sigprocmask(SIG_BLOCK, &alrm, NULL);
			break;
		case 2:
			/* leave the expired timer's SIGALRM pending (blocked) for
			 * 40 ms: meanwhile the kernel has not re-armed the timer
			 * (it does so when the signal is dequeued), so a freeze
			 * here sees it_value 0 with a 100 ms it_interval */
			do {
				spin();
				sigpending(&pend);
			} while (!sigismember(&pend, SIGALRM));
			{
				int64_t until = now_ns() + 40 * 1000000;

				while (now_ns() < until)
					spin();
			}
			sigprocmask(SIG_UNBLOCK, &alrm, NULL);
			sigprocmask(SIG_BLOCK, &alrm, NULL);
			while (alrm_ticks == seen)
				sigsuspend(&waitmask);
			break;
		}
		while (seen < alrm_ticks && seen < TICKS) {
			seen++;
			printf("tick %2d\n", seen);
			if (seen % 5 == 0)
				raise_usr1("tick");
		}
	}
	memset(&it, 0, sizeof(it));
	setitimer(ITIMER_REAL, &it, NULL);

	sigpending(&pend);
	printf("signals: still pending USR2=%d RTMIN=%d RTMIN+1=%d\n",
	       sigismember(&pend, SIGUSR2), sigismember(&pend, SIGRTMIN),
	       sigismember(&pend, SIGRTMIN + 1));
	sigprocmask(SIG_UNBLOCK, &held, NULL);
	printf("signals: %d delivered after unblocking\n", (int)nlogged);
	for (int i = 0; i < nlogged; i++)
		printf("  %d: %s %s value=%d from %s, uid %s\n", i,
		       signame(logbuf[i].signo), codename(logbuf[i].code),
		       logbuf[i].value,
		       logbuf[i].pid == getpid() ? "self" : "ELSEWHERE",
		       logbuf[i].uid == getuid() ? "same" : "DIFFERENT");
	raise_usr1("end");
	printf("signals: aborting\n");
	fflush(stdout);
	abort();
}
