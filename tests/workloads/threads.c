/* threads: 8 pthreads passing a token round a ring under one mutex and one
 * condition variable, each with its own thread-local state, some sleeping,
 * one with its own signal stack and a blocked signal pending on its own
 * queue. Usage: threads [ROUNDS]   (default 6000)
 *
 * The job is sized by time, not work: every thread sleeps 2 ms every 50
 * rounds while the token waits for it, 2 s at least in all (6000 rounds)
 * however fast the machine.
 *
 * Output is deterministic: the token visits the threads in order, each
 * visit folds the thread's thread-local counter into a shared checksum,
 * and the main thread joins them all and prints per-thread results.
 */
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define NTHREADS 8

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t turn = PTHREAD_COND_INITIALIZER;
static int token, rounds = 6000;
static uint64_t checksum = 1469598103934665603ULL;
static __thread uint64_t mine;			/* TLS, via fs_base */
static uint64_t result[NTHREADS];
static pid_t tids[NTHREADS];
static int tid_stable[NTHREADS];
static volatile sig_atomic_t usr1_seen;

static void on_usr1(int sig)
{
	(void)sig;
	usr1_seen++;
}

static void *worker(void *arg)
{
	int me = (int)(intptr_t)arg;
	struct timespec nap = { 0, 2 * 1000 * 1000 };

	tids[me] = (pid_t)syscall(SYS_gettid);
	mine = (uint64_t)me * 0x9e3779b97f4a7c15ULL;
	if (me == 3) {
		/* this thread alone: SIGUSR1 blocked and pending on its queue */
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_BLOCK, &s, NULL);
		pthread_kill(pthread_self(), SIGUSR1);
	}
	for (int r = 0; r < rounds; r++) {
		pthread_mutex_lock(&lock);
		while (token % NTHREADS != me)
			pthread_cond_wait(&turn, &lock);
		mine = mine * 6364136223846793005ULL + 1442695040888963407ULL;
		checksum = (checksum ^ mine) * 1099511628211ULL;
		token++;
		pthread_cond_broadcast(&turn);
		pthread_mutex_unlock(&lock);
		if (r % 50 == me)
			nanosleep(&nap, NULL);
	}
	/* the kernel tid and glibc's cached one must still agree */
	tid_stable[me] = tids[me] == (pid_t)syscall(SYS_gettid);
	if (me == 3) {
		sigset_t s;
		sigemptyset(&s);
		sigaddset(&s, SIGUSR1);
		pthread_sigmask(SIG_UNBLOCK, &s, NULL);
	}
	result[me] = mine;
	return NULL;
}

int main(int argc, char **argv)
{
	pthread_t th[NTHREADS];

	if (argc > 1)
		rounds = atoi(argv[1]);
	signal(SIGUSR1, on_usr1);
	for (int i = 0; i < NTHREADS; i++)
		if (pthread_create(&th[i], NULL, worker, (void *)(intptr_t)i)) {
			fprintf(stderr, "pthread_create failed\n");
			return 1;
		}
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(th[i], NULL);
	printf("threads: %d rounds of %d threads\n", rounds, NTHREADS);
	for (int i = 0; i < NTHREADS; i++)
		printf("thread %d: tls=%016llx tid stable=%d\n", i, (unsigned long long)result[i],
		       tid_stable[i]);
	printf("checksum %016llx, token %d, usr1 %d\n", (unsigned long long)checksum, token,
	       (int)usr1_seen);
	return 0;
}
