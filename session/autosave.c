/* autosave.c: periodic snapshots of a running job. `freeze --every` takes
 * the first snapshot itself, then forks the autosaver: a process of its own
 * session (the terminal may close), working in the store, holding the
 * autosave's record (".autosave-ID") locked for as long as it runs. Each
 * snapshot is a job of the store like a `freeze -R` (its metadata names the
 * autosave and its number), written in a temporary directory, complete and
 * synced before it is committed; the oldest beyond the number kept leave
 * the listing in the same commit (set aside, deleted once the commit is
 * synced), so that a failed snapshot (a full disk) leaves the previous ones
 * as they were and a crash at any moment leaves complete snapshots only.
 * When the job ends, its snapshots are of no use: the autosaver deletes
 * them and ends; after a crash of the machine they are what is left. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "session/autosave.h"

#define RECORD_PREFIX ".autosave-"
#define RECORD_SIZE 1024	/* rewritten in place, whole: never read torn */
#define LOG_FILE "autosave.log"

void autosave_free(struct autosave *a)
{
	free(a->id);
	free(a->name);
	free(a->error);
	memset(a, 0, sizeof(*a));
}

void autosave_list_free(struct autosave *a, size_t n)
{
	for (size_t i = 0; i < n; i++)
		autosave_free(&a[i]);
	free(a);
}

/* ---- the record ---------------------------------------------------------- */

static int record_write(int fd, const struct autosave *a)
{
	char buf[RECORD_SIZE];
	int n;

	memset(buf, '\n', sizeof(buf));
	n = snprintf(buf, sizeof(buf),
		     "format=1\npid=%d\nevery=%u\nkeep=%u\njob_pid=%d\njob_start=%" PRIu64
		     "\npgid=%d\nnext_at=%" PRId64 "\nname=%.64s\nerror=%.600s\n",
		     a->pid, a->every, a->keep, a->job_pid, a->job_start, a->pgid, a->next_at,
		     a->name ? a->name : "", a->error ? a->error : "");
	if (n < 0 || n >= (int)sizeof(buf))
		n = sizeof(buf) - 1;
	buf[n] = '\n';
	if (pwrite_all(fd, buf, sizeof(buf), 0) < 0) {
		pr_perror("cannot write the record of autosave %s", a->id);
		return -1;
	}
	return 0;
}

/* Reads record ID (FD open on it) into A, with whether its autosaver runs. */
static int record_read(int fd, const char *id, struct autosave *a)
{
	char buf[RECORD_SIZE + 1], *save = NULL;
	ssize_t len = pread(fd, buf, RECORD_SIZE, 0);
	uint64_t v;

	memset(a, 0, sizeof(*a));
	if (len < 0)
		return -1;
	buf[len] = 0;
	a->id = xstrdup(id);
	for (char *l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(l, '=');
		int i = 0;
		if (!eq)
			continue;
		*eq++ = 0;
		if (!strcmp(l, "name") && !a->name)
			a->name = xstrdup(eq);
		else if (!strcmp(l, "error") && !a->error)
			a->error = xstrdup(eq);
		else if (!strcmp(l, "job_start") && parse_u64(eq, 10, &v) == 0)
			a->job_start = v;
		else if (!strcmp(l, "next_at") && parse_u64(eq, 10, &v) == 0)
			a->next_at = v;
		else if (parse_int(eq, &i) < 0 || i < 0)
			continue;
		else if (!strcmp(l, "pid"))
			a->pid = i;
		else if (!strcmp(l, "every"))
			a->every = i;
		else if (!strcmp(l, "keep"))
			a->keep = i;
		else if (!strcmp(l, "job_pid"))
			a->job_pid = i;
		else if (!strcmp(l, "pgid"))
			a->pgid = i;
	}
	if (!a->name)
		a->name = xstrdup("");
	if (!a->error)
		a->error = xstrdup("");
	/* its autosaver holds the lock for as long as it runs */
	if (flock(fd, LOCK_SH | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else
		a->running = errno == EWOULDBLOCK;
	return 0;
}

static int record_open(struct store *s, const char *id, int flags)
{
	char name[64];

	snprintf(name, sizeof(name), RECORD_PREFIX "%s", id);
	return openat(s->fd, name, flags | O_CLOEXEC | O_NOFOLLOW, 0600);
}

static void record_unlink(struct store *s, const char *id)
{
	char name[64];

	snprintf(name, sizeof(name), RECORD_PREFIX "%s", id);
	if (unlinkat(s->fd, name, 0) < 0 && errno != ENOENT)
		pr_perror("cannot delete %s/%s", s->path, name);
}

int autosave_list(struct store *s, struct autosave **out, size_t *n)
{
	int fd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;
	size_t cap = 0;

	*out = NULL;
	*n = 0;
	if (!d) {
		pr_perror("cannot list the job store %s", s->path);
		if (fd >= 0)
			close(fd);
		return JF_FAILED;
	}
	while ((de = readdir(d))) {
		const char *id = de->d_name + strlen(RECORD_PREFIX);
		struct autosave a;
		int rfd, v;
		if (strncmp(de->d_name, RECORD_PREFIX, strlen(RECORD_PREFIX)) || parse_int(id, &v) < 0)
			continue;
		rfd = record_open(s, id, O_RDONLY);
		if (rfd < 0)
			continue;
		if (record_read(rfd, id, &a) == 0) {
			if (*n == cap)
				*out = xrealloc(*out, (cap = cap * 2 + 4) * sizeof(**out));
			(*out)[(*n)++] = a;
		}
		close(rfd);
	}
	closedir(d);
	return 0;
}

int autosave_find(struct store *s, const char *key, struct autosave *a)
{
	struct autosave *all;
	size_t n;
	int found = -1;

	if (autosave_list(s, &all, &n))
		return -1;
	for (size_t i = 0; i < n && found < 0; i++)
		if (!strcmp(all[i].id, key) || (*all[i].name && !strcmp(all[i].name, key)))
			found = i;
	if (found >= 0) {
		*a = all[found];
		memset(&all[found], 0, sizeof(all[found]));
	}
	autosave_list_free(all, n);
	return found >= 0 ? 0 : -1;
}

/* ---- its snapshots ---------------------------------------------------------- */

static int by_number(const void *x, const void *y)
{
	const struct job_meta *a = x, *b = y;

	return a->snapshot < b->snapshot ? -1 : a->snapshot > b->snapshot;
}

/* The snapshots of autosave ID, oldest first. */
static int snapshots(struct store *s, const char *id, struct job_meta **out, size_t *n)
{
	struct job_meta *jobs;
	size_t all, k = 0;

	if (store_list(s, &jobs, &all))
		return -1;
	for (size_t i = 0; i < all; i++) {
		if (!strcmp(jobs[i].autosave, id))
			jobs[k++] = jobs[i];
		else
			meta_free(&jobs[i]);
	}
	if (k)	/* (jobs is NULL when the store is empty) */
		qsort(jobs, k, sizeof(*jobs), by_number);
	*out = jobs;
	*n = k;
	return 0;
}

/* The previous snapshot among SNAPS (oldest first): the directory an
 * incremental dump writes only the changes since (job.h prev_dir); NULL
 * for the first. */
static char *previous_snapshot(const struct job_meta *snaps, size_t n)
{
	return n ? xstrdup(snaps[n - 1].dir) : NULL;
}

/* Deletes the snapshots of autosave ID but EXCEPT (a job id, or NULL);
 * how many went. One a thaw or an rm holds stays. */
static int remove_snapshots(struct store *s, const char *id, const char *except)
{
	struct job_meta *snaps;
	size_t n;
	int gone = 0;

	if (snapshots(s, id, &snaps, &n) < 0)
		return 0;
	for (size_t i = 0; i < n; i++) {
		int lock;
		if (except && !strcmp(snaps[i].id, except))
			continue;
		lock = store_lock(s, snaps[i].id);
		if (lock < 0)
			continue;
		if (store_remove(s, snaps[i].id) == 0)
			gone++;
		close(lock);
	}
	store_list_free(snaps, n);
	return gone;
}

/* ---- the autosaver ------------------------------------------------------ */

struct saver {
	struct store *s;
	struct freeze_opts base;  /* the job, and the options of its freeze */
	struct autosave a;
	int record;               /* the record, locked */
	uint32_t number;          /* the next snapshot's */
	/* the oldest snapshots beyond the number kept (chosen before the job
	 * is held), then, at the commit, set aside, with their locks */
	char *old[64];
	int nr_old;
	char *aside[64], *aside_id[64];
	int aside_lock[64], nr_aside;
};

static void say(const char *id, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void say(const char *id, const char *fmt, ...)
{
	char when[32], *text;
	time_t t = time(NULL);
	struct tm tm;
	va_list ap;

	localtime_r(&t, &tm);
	strftime(when, sizeof(when), "%Y-%m-%d %H:%M:%S", &tm);
	va_start(ap, fmt);
	if (vasprintf(&text, fmt, ap) < 0)
		text = NULL;
	va_end(ap);
	dprintf(log_get_fd(), "%s autosave %s: %s\n", when, id, text ? text : fmt);
	free(text);
}

/* The commit of a snapshot (freeze.c calls it with the images complete and
 * synced): the oldest snapshots beyond the number kept leave the listing,
 * the new one comes in, one sync for both renames; on a failure the old
 * ones come back. */
static int commit_snapshot(struct store *s, const char *tmp, struct job_meta *m, void *arg)
{
	struct saver *sv = arg;

	sv->nr_aside = 0;
	for (int i = 0; i < sv->nr_old; i++) {
		/* (one removed meanwhile is no error) */
		int lock = faccessat(s->fd, sv->old[i], F_OK, AT_SYMLINK_NOFOLLOW) < 0 ? -1 :
			   store_lock(s, sv->old[i]);
		char *aside = lock >= 0 ? store_set_aside(s, sv->old[i]) : NULL;
		if (!aside) {
			if (lock >= 0)
				close(lock);
			continue;	/* a thaw or an rm has it: it stays */
		}
		sv->aside[sv->nr_aside] = aside;
		sv->aside_id[sv->nr_aside] = xstrdup(sv->old[i]);
		sv->aside_lock[sv->nr_aside++] = lock;
	}
	if (store_commit(s, tmp, m) == 0)
		return 0;
	for (int i = 0; i < sv->nr_aside; i++) {
		store_put_back(s, sv->aside[i], sv->aside_id[i]);
		free(sv->aside[i]);
		sv->aside[i] = NULL;
	}
	return -1;
}

/* The snapshots set aside by a commit: deleted once it is synced (or back
 * already if it failed). */
static void drop_aside(struct saver *sv)
{
	for (int i = 0; i < sv->nr_aside; i++) {
		if (sv->aside[i])
			store_drop_tmp(sv->s, sv->aside[i]);
		close(sv->aside_lock[i]);
		free(sv->aside[i]);
		free(sv->aside_id[i]);
	}
	sv->nr_aside = 0;
	for (int i = 0; i < sv->nr_old; i++)
		free(sv->old[i]);
	sv->nr_old = 0;
}

/* The snapshots now: the previous one (returned), and the oldest that the
 * next commit removes (sv->old). */
static char *plan(struct saver *sv)
{
	struct job_meta *snaps;
	size_t n, excess;
	char *prev;

	if (snapshots(sv->s, sv->a.id, &snaps, &n) < 0)
		return NULL;
	excess = n + 1 > sv->a.keep ? n + 1 - sv->a.keep : 0;
	for (size_t i = 0; i < excess && sv->nr_old < 64; i++)
		sv->old[sv->nr_old++] = xstrdup(snaps[i].id);
	prev = previous_snapshot(snaps, n);
	store_list_free(snaps, n);
	return prev;
}

/* One snapshot; its messages go to the log, the first error to the record. */
static int snapshot(struct saver *sv, struct job_meta *m)
{
	struct freeze_opts f = sv->base;
	int out = log_get_fd(), cap = memfd_create("autosave-messages", MFD_CLOEXEC);
	char *prev = plan(sv), *text = NULL;
	size_t len = 0;
	int r;

	f.leave_running = true;
	f.autosave = sv->a.id;
	f.snapshot = sv->number;
	f.prev_dir = prev;
	f.commit = commit_snapshot;
	f.commit_arg = sv;
	if (cap >= 0)
		log_set_fd(cap);
	r = session_freeze(sv->s, &f, m);
	drop_aside(sv);
	log_set_fd(out);
	free(prev);
	if (cap >= 0) {
		off_t end = lseek(cap, 0, SEEK_END);
		if (end > 0) {
			text = xmalloc(end + 1);
			len = pread(cap, text, end, 0) == end ? (size_t)end : 0;
			text[len] = 0;
			if (write(out, text, len) < 0)
				(void)0;
		}
		close(cap);
	}
	free(sv->a.error);
	sv->a.error = NULL;
	if (r) {
		/* the first error line, without its "jobfreeze: error: " */
		const char *e = text ? strstr(text, "error: ") : NULL;
		e = e ? e + 7 : "the snapshot failed (see " LOG_FILE ")";
		sv->a.error = xasprintf("%.*s", (int)strcspn(e, "\n"), e);
	} else {
		sv->number++;
	}
	if (!sv->a.error)
		sv->a.error = xstrdup("");
	free(text);
	return r;
}

/* Does the job still run: its top process (same start), or, for a process
 * group, any process of it? */
static bool job_runs(const struct autosave *a)
{
	struct job_meta m = { .pid = a->job_pid, .start_time = a->job_start };

	return store_job_runs(&m) || (a->pgid > 0 && kill(-a->pgid, 0) == 0);
}

static void job_ended(struct saver *sv)
{
	int n = remove_snapshots(sv->s, sv->a.id, NULL);

	say(sv->a.id, "the job (process %d) ended: its snapshots are of no use any more; %d "
		      "deleted, autosave over", sv->a.job_pid, n);
	record_unlink(sv->s, sv->a.id);
}

static int64_t mono_ms(void)
{
	return now_ns() / 1000000;
}

/* The autosaver's life: a snapshot every period until the job ends or it
 * is told to stop (SIGTERM, SIGINT: between snapshots, never during one). */
static void serve(struct saver *sv)
{
	sigset_t set;
	int sfd;
	int64_t next = mono_ms() + (int64_t)sv->a.every * 1000;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	sfd = signalfd(-1, &set, SFD_CLOEXEC);
	if (sfd < 0)
		pr_perror("autosave %s: signalfd", sv->a.id);
	for (;;) {
		int64_t now = mono_ms();
		struct pollfd p = { .fd = sfd, .events = POLLIN };
		if (!job_runs(&sv->a)) {
			job_ended(sv);
			return;
		}
		if (now >= next) {
			struct job_meta m;
			if (snapshot(sv, &m) == 0) {
				say(sv->a.id, "snapshot %u is job %s (%" PRIu64 " bytes)", m.snapshot,
				    m.id, m.image_bytes);
				meta_free(&m);
			} else if (!job_runs(&sv->a)) {
				continue;
			} else {
				say(sv->a.id, "snapshot %u failed, the previous ones are kept: %s",
				    sv->number, sv->a.error);
			}
			now = mono_ms();
			next = now + (int64_t)sv->a.every * 1000;
			sv->a.next_at = time(NULL) + sv->a.every;
			record_write(sv->record, &sv->a);
		}
		/* the job's end is looked for every second; a task a failed
		 * snapshot could not let go (blocked in vfork()) every 20 ms:
		 * once unblocked, it stops, and must not stay so */
		int64_t wait = next - now < 1000 ? next - now : 1000;
		if (ckpt_let_go_pending() > 0 && wait > 20)
			wait = 20;
		if (poll(&p, sfd >= 0 ? 1 : 0, wait) > 0) {
			say(sv->a.id, "stopped on request; its snapshots are kept");
			sv->a.pid = 0;
			record_write(sv->record, &sv->a);
			return;
		}
	}
}

/* The forked autosaver: a session of its own, its output to the store's
 * log, its working directory the store (which it keeps busy anyway), no
 * descriptor of its caller's but the store and the record. */
static void become_autosaver(struct saver *sv, int ready)
{
	int null = open("/dev/null", O_RDWR | O_CLOEXEC);
	int log = openat(sv->s->fd, LOG_FILE, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int keep_log = log_get_fd() != 2 ? log_get_fd() : -1;

	setsid();
	log_set_prefix(xasprintf("autosave %s", sv->a.id));
	signal(SIGHUP, SIG_IGN);
	signal(SIGPIPE, SIG_IGN);
	if (null >= 0)
		dup2(null, 0);
	if (log >= 0) {
		dup2(log, 1);
		dup2(log, 2);
	} else if (null >= 0) {
		dup2(null, 1);
		dup2(null, 2);
	}
	if (fchdir(sv->s->fd) < 0)
		(void)0;
	for (int fd = 3; fd < 1024; fd++)
		if (fd != sv->s->fd && fd != sv->record && fd != ready && fd != keep_log)
			close(fd);
	sv->a.pid = getpid();
	record_write(sv->record, &sv->a);
	say(sv->a.id, "autosaver %d: a snapshot of process %d every %u s, the newest %u kept",
	    sv->a.pid, sv->a.job_pid, sv->a.every, sv->a.keep);
	if (write(ready, "", 1) < 0)
		(void)0;
	close(ready);
	serve(sv);
	close(sv->record);
	_exit(0);
}

int autosave_start(struct store *s, struct freeze_opts *o, unsigned every, unsigned keep,
		   struct job_meta *m)
{
	struct saver sv = { .s = s, .base = *o, .number = 1, .record = -1 };
	int pipefd[2], r;
	char c;
	pid_t pid;

	sv.a.id = store_new_id(s);
	if (!sv.a.id)
		return JF_FAILED;
	sv.a.every = every;
	sv.a.keep = keep;
	sv.a.pid = getpid();
	sv.a.pgid = o->pgid;
	sv.a.name = xstrdup(o->name ? o->name : "");
	sv.a.error = xstrdup("");
	sv.record = record_open(s, sv.a.id, O_RDWR | O_CREAT | O_EXCL);
	if (sv.record < 0 || flock(sv.record, LOCK_EX) < 0 ||
	    store_own(s, sv.record, "an autosave's record") < 0 || record_write(sv.record, &sv.a) < 0) {
		if (sv.record < 0)
			pr_perror("cannot create the record of autosave %s in %s", sv.a.id, s->path);
		r = JF_FAILED;
		goto fail;
	}
	/* the first snapshot here, its failure this command's */
	r = snapshot(&sv, m);
	if (r)
		goto fail;
	sv.a.job_pid = m->pid;
	sv.a.job_start = m->start_time;
	sv.a.pgid = o->pgid ? m->pgid : 0;
	sv.a.next_at = time(NULL) + every;
	if (pipe2(pipefd, O_CLOEXEC) < 0) {
		pr_perror("pipe");
		goto fail_snap;
	}
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		pr_perror("cannot start the autosaver of job %s", m->id);
		close(pipefd[0]);
		close(pipefd[1]);
		goto fail_snap;
	}
	if (pid == 0) {
		close(pipefd[0]);
		become_autosaver(&sv, pipefd[1]);
	}
	close(pipefd[1]);
	r = read(pipefd[0], &c, 1);
	close(pipefd[0]);
	close(sv.record);
	if (r != 1) {
		pr_err("the autosaver of autosave %s (process %d) did not start; see %s/%s",
		       sv.a.id, pid, s->path, LOG_FILE);
		autosave_free(&sv.a);
		return JF_FAILED;
	}
	autosave_free(&sv.a);
	return 0;
fail_snap:
	remove_snapshots(s, sv.a.id, NULL);
	meta_free(m);
	r = JF_FAILED;
fail:
	if (sv.record >= 0) {
		record_unlink(s, sv.a.id);
		close(sv.record);
	}
	autosave_free(&sv.a);
	return r;
}

/* ---- stopping, removing -------------------------------------------------- */

int autosave_stop(struct store *s, const char *id)
{
	int fd = record_open(s, id, O_RDONLY);
	struct autosave a;

	if (fd < 0 || record_read(fd, id, &a) < 0) {
		pr_perror("cannot read the record of autosave %s", id);
		if (fd >= 0)
			close(fd);
		return JF_FAILED;
	}
	if (a.running && a.pid > 0 && kill(a.pid, SIGTERM) < 0 && errno != ESRCH) {
		pr_perror("cannot stop the autosaver of autosave %s (process %d)", id, a.pid);
		autosave_free(&a);
		close(fd);
		return JF_FAILED;
	}
	/* it ends once between two snapshots */
	for (int i = 0; a.running && i < 600; i++) {
		if (flock(fd, LOCK_SH | LOCK_NB) == 0) {
			a.running = false;
			flock(fd, LOCK_UN);
			break;
		}
		usleep(50 * 1000);
	}
	close(fd);
	if (a.running) {
		pr_err("the autosaver of autosave %s (process %d) did not stop in 30 s", id, a.pid);
		autosave_free(&a);
		return JF_BUSY;
	}
	autosave_free(&a);
	return 0;
}

int autosave_remove(struct store *s, const char *id, char **what)
{
	int r = autosave_stop(s, id), n;

	*what = NULL;
	if (r)
		return r;
	n = remove_snapshots(s, id, NULL);
	record_unlink(s, id);
	*what = xasprintf("%s: autosave, %d snapshot%s", id, n, n == 1 ? "" : "s");
	return 0;
}

void autosave_thawed(struct store *s, const struct job_meta *m)
{
	int n = remove_snapshots(s, m->autosave, m->id);
	int fd = record_open(s, m->autosave, O_RDONLY);
	struct autosave a;

	/* the record goes with the last snapshot, but for a running autosaver's */
	if (fd >= 0 && record_read(fd, m->autosave, &a) == 0) {
		if (!a.running)
			record_unlink(s, m->autosave);
		autosave_free(&a);
	}
	if (fd >= 0)
		close(fd);
	if (n)
		fprintf(stderr, "jobfreeze: the %d older snapshot%s of autosave %s %s deleted: the "
				"job runs again\n", n, n == 1 ? "" : "s", m->autosave, n == 1 ? "was" : "were");
}
