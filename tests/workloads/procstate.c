/* procstate: the process attributes a program sets with prctl, membarrier
 * and /proc, and the states of its children, which must all be as they
 * were after a thaw. The main process is a child subreaper with
 * no_new_privs, transparent huge pages off, a membarrier registration, a
 * raised oom_score_adj and a SIGEV_THREAD timer; its children are zombies
 * (an exit status, SIGKILL, SIGTERM, SIGSEGV), one stopped by SIGTTIN, an
 * orphan it adopted, one whose child it adopts late, and one whose child
 * asked for a parent-death signal. It works for ~2.5 s, then checks each
 * and prints a deterministic report. */
#include <errno.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MB_REGISTER_PRIVATE_EXPEDITED (1 << 4)
#define MB_GET_REGISTRATIONS (1 << 9)

static atomic_int timer_runs;
static int report[2];		/* children write their findings here */
static int ask[2];		/* closed by main: the orphans answer */

static void on_timer(union sigval v)
{
	(void)v;
	atomic_fetch_add(&timer_runs, 1);
}

static void on_pdeath(int sig)
{
	char c = sig == SIGUSR1 ? 'P' : 'p';
	if (write(report[1], &c, 1) != 1)
		_exit(1);
	_exit(0);
}

static void nap_ms(long ms)
{
	struct timespec t = { ms / 1000, ms % 1000 * 1000000 };
	while (nanosleep(&t, &t) < 0 && errno == EINTR)
		;
}

static pid_t child(void (*fn)(void))
{
	pid_t p = fork();
	if (p < 0) {
		perror("fork");
		exit(1);
	}
	if (p == 0) {
		close(ask[1]);	/* only main's copy tells the orphans to answer */
		fn();
		_exit(0);
	}
	return p;
}

static void die_exit7(void) { _exit(7); }
static void die_kill(void) { raise(SIGKILL); }
static void die_term(void) { raise(SIGTERM); }
static void die_segv(void)
{
	prctl(PR_SET_DUMPABLE, 0);	/* no core file */
	raise(SIGSEGV);
}

static void stay(void)
{
	for (;;)
		pause();
}

static void own_group(void)
{
	setpgid(0, 0);
	stay();
}

/* tells, when asked (ASK closed), whether its parent is PARENT */
static pid_t parent_of_orphan;
static void orphan(void)
{
	char c;
	if (read(ask[0], &c, 1) < 0)
		_exit(1);
	/* a late orphan's parent exits just before: wait to be adopted */
	for (int i = 0; i < 200 && getppid() != parent_of_orphan; i++)
		nap_ms(5);
	c = getppid() == parent_of_orphan ? 'O' : 'o';
	if (write(report[1], &c, 1) != 1)
		_exit(1);
}

static void orphan_now(void) { child(orphan); }	/* its parent exits at once */
static void orphan_later(void)
{
	char c;
	child(orphan);
	if (read(ask[0], &c, 1) < 0)	/* exits when asked, leaving its child */
		_exit(1);
}

static void pdeath_parent(void)
{
	pid_t p = fork();
	if (p == 0) {
		close(ask[1]);
		signal(SIGUSR1, on_pdeath);
		prctl(PR_SET_PDEATHSIG, SIGUSR1);
		stay();
	}
	stay();
}

static const char *status_text(int st, char *buf, size_t len)
{
	if (WIFEXITED(st))
		snprintf(buf, len, "exited %d", WEXITSTATUS(st));
	else if (WIFSIGNALED(st))
		snprintf(buf, len, "killed by %s", strsignal(WTERMSIG(st)));
	else if (WIFSTOPPED(st))
		snprintf(buf, len, "stopped by %s", strsignal(WSTOPSIG(st)));
	else
		snprintf(buf, len, "status %#x", st);
	return buf;
}

int main(void)
{
	struct sigevent sev = { .sigev_notify = SIGEV_THREAD, .sigev_notify_function = on_timer };
	struct itimerspec its = { { 0, 20 * 1000000 }, { 0, 20 * 1000000 } };
	pid_t zombies[4], stopped, pdeath, late;
	int st, oom = 0, mb, nnp, subreaper = 0;
	timer_t tm;
	char buf[64];
	FILE *f;

	setvbuf(stdout, NULL, _IONBF, 0);
	if (pipe(report) < 0 || pipe(ask) < 0)
		return 1;
	parent_of_orphan = getpid();
	if (prctl(PR_SET_CHILD_SUBREAPER, 1) < 0 || prctl(PR_SET_THP_DISABLE, 1, 0, 0, 0) < 0 ||
	    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) {
		perror("prctl");
		return 1;
	}
	mb = syscall(SYS_membarrier, MB_REGISTER_PRIVATE_EXPEDITED, 0, 0) == 0;
	f = fopen("/proc/self/oom_score_adj", "r+");
	if (!f || fscanf(f, "%d", &oom) != 1)
		return 1;
	oom = oom + 100 > 1000 ? 1000 : oom + 100;
	rewind(f);
	fprintf(f, "%d\n", oom);
	fclose(f);
	if (timer_create(CLOCK_MONOTONIC, &sev, &tm) < 0 || timer_settime(tm, 0, &its, NULL) < 0) {
		perror("timer");
		return 1;
	}

	zombies[0] = child(die_exit7);
	zombies[1] = child(die_kill);
	zombies[2] = child(die_term);
	zombies[3] = child(die_segv);
	for (int i = 0; i < 4; i++) {
		siginfo_t si;
		if (waitid(P_PID, zombies[i], &si, WEXITED | WNOWAIT) < 0)
			return 1;
	}
	stopped = child(own_group);
	while (getpgid(stopped) != stopped)
		nap_ms(1);
	kill(stopped, SIGTTIN);
	waitid(P_PID, stopped, &(siginfo_t){ 0 }, WSTOPPED | WNOWAIT);
	waitpid(child(orphan_now), &st, 0);	/* its child is ours now */
	late = child(orphan_later);
	pdeath = child(pdeath_parent);

	for (int i = 0; i < 25; i++)
		nap_ms(100);

	prctl(PR_GET_CHILD_SUBREAPER, &subreaper);
	printf("child subreaper: %d\n", subreaper);
	printf("THP disabled: %d\n", prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0));
	nnp = prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0);
	printf("no_new_privs: %d\n", nnp);
	printf("dumpable: %d\n", prctl(PR_GET_DUMPABLE, 0, 0, 0, 0));
	mb = syscall(SYS_membarrier, MB_GET_REGISTRATIONS, 0, 0);
	printf("membarrier registrations: %s\n",
	       mb < 0 ? "unknown" : mb & MB_REGISTER_PRIVATE_EXPEDITED ? "private expedited" : "none");
	f = fopen("/proc/self/oom_score_adj", "r");
	if (!f || fscanf(f, "%d", &st) != 1)
		return 1;
	fclose(f);
	printf("oom_score_adj kept: %s\n", st == oom ? "yes" : "no");
	int before = atomic_load(&timer_runs);
	nap_ms(200);
	printf("SIGEV_THREAD timer runs on: %s\n", atomic_load(&timer_runs) > before ? "yes" : "no");

	for (int i = 0; i < 4; i++) {
		pid_t got = waitpid(zombies[i], &st, 0);
		printf("zombie %d: %s\n", i, got == zombies[i] ? status_text(st, buf, sizeof(buf)) : "lost");
	}
	printf("child: %s\n", waitpid(stopped, &st, WUNTRACED | WNOHANG) == stopped ?
	       status_text(st, buf, sizeof(buf)) : "not stopped");
	kill(stopped, SIGKILL);
	waitpid(stopped, &st, 0);

	/* the orphans answer, the late one once its parent has exited */
	close(ask[1]);
	waitpid(late, &st, 0);
	kill(pdeath, SIGKILL);
	waitpid(pdeath, &st, 0);
	int adopted = 0, signalled = 0;
	for (int i = 0; i < 3; i++) {
		char c;
		if (read(report[0], &c, 1) != 1)
			break;
		adopted += c == 'O';
		signalled += c == 'P';
	}
	printf("orphans adopted by the subreaper: %d of 2\n", adopted);
	printf("parent-death signal: %s\n", signalled ? "SIGUSR1" : "none");
	while (wait(&st) > 0)
		;
	return 0;
}
