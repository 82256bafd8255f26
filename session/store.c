/* store.c: the job store's directory: opening it safely, listing, finding,
 * committing a new job by rename, locking and removing one. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/crashpoint.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/util.h"
#include "session/store.h"

#define TMP_PREFIX ".new-"
#define DEL_PREFIX ".del-"
#define THAW_PREFIX ".thawing-"
#define RECV_PREFIX ".rcv-"	/* a job coming in from another machine (send.c) */
#define ID_FILE ".last-id"
#define AUTOSAVE_PREFIX ".autosave-"	/* an autosave's record (autosave.c): its id is taken */

static char *store_path(struct store *s)
{
	const char *state = getenv("XDG_STATE_HOME"), *home = getenv("HOME");

	/* Another user's: their environment is not ours to know; their home
	 * from the password database, the XDG default under it. */
	if (s->uid != geteuid()) {
		struct passwd *pw = getpwuid(s->uid);
		if (!pw || !pw->pw_dir || pw->pw_dir[0] != '/') {
			pr_err("uid %u has no home directory in the password database: there is no "
			       "job store to put its job in", s->uid);
			return NULL;
		}
		s->gid = pw->pw_gid;
		return xasprintf("%s/.local/state/jobfreeze", pw->pw_dir);
	}
	if (state && state[0] == '/')
		return xasprintf("%s/jobfreeze", state);
	if (!home || home[0] != '/') {
		pr_err("neither XDG_STATE_HOME nor HOME is set: cannot find the job store");
		return NULL;
	}
	return xasprintf("%s/.local/state/jobfreeze", home);
}

/* mkdir -p, each made directory 0700 (those of the XDG spec included). */
static int make_dirs(const char *path)
{
	char *p = xstrdup(path);

	for (char *s = strchr(p + 1, '/');; s = strchr(s + 1, '/')) {
		if (s)
			*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST) {
			pr_perror("cannot create directory %s", p);
			free(p);
			return -1;
		}
		if (!s)
			break;
		*s = '/';
	}
	free(p);
	return 0;
}

/* A listing of the store from its start (a dup of its fd would share the
 * position where the last listing ended). */
static DIR *open_listing(struct store *s)
{
	int fd = openat(s->fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;

	if (!d) {
		pr_perror("cannot list the job store %s", s->path);
		if (fd >= 0)
			close(fd);
	}
	return d;
}

/* Deletes DIR (a job's images: a flat directory) under the store. */
static int remove_dir(struct store *s, const char *name)
{
	int fd = openat(s->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct dirent *de;
	DIR *d;
	int ret = 0;

	if (fd < 0) {
		if (errno == ENOENT)
			return 0;
		/* a symlink planted as a job: the link goes, never what it names */
		if ((errno == ELOOP || errno == ENOTDIR) && unlinkat(s->fd, name, 0) == 0)
			return 0;
		pr_perror("cannot open %s/%s", s->path, name);
		return -1;
	}
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -1;
	}
	while ((de = readdir(d)))
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..") &&
		    unlinkat(dirfd(d), de->d_name, 0) < 0 && errno != ENOENT) {
			pr_perror("cannot delete %s/%s/%s", s->path, name, de->d_name);
			ret = -1;
		}
	closedir(d);
	if (unlinkat(s->fd, name, AT_REMOVEDIR) < 0 && errno != ENOENT) {
		pr_perror("cannot delete %s/%s", s->path, name);
		ret = -1;
	}
	return ret;
}

/* Does the job M describes still run (its top process, same start)? */
bool store_job_runs(const struct job_meta *m)
{
	struct proc_stat st;

	return m->pid > 0 && proc_stat_quiet(m->pid, &st) == 0 && st.state != 'Z' &&
	       st.start_time == m->start_time;
}

/* A freeze that died in its commit: its images are complete once their
 * metadata is there. If the job died with the freeze, they are all that is
 * left of it and become a job; if it runs on, they go. */
static bool rescue_freeze(struct store *s, const char *name)
{
	int fd = openat(s->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct job_meta m;
	bool kept = false;

	if (fd < 0)
		return false;
	/* (no metadata: it died before its commit, nothing to say) */
	if (faccessat(fd, META_FILE, F_OK, 0) == 0 && meta_read(fd, &m) == 0) {
		if (!store_job_runs(&m) && store_commit(s, name, &m) == 0) {
			pr_err("a freeze was interrupted after its job had ended: its images "
			       "are kept as job %s", m.id);
			kept = true;
		}
		meta_free(&m);
	}
	close(fd);
	return kept;
}

static void sweep_thaws(struct store *s);

/* Whether the entry NAME is locked: rm and thaw hold the lock of the job
 * they rename to ".del-" or ".thawing-" until they are done with it. (The
 * lock taken to see is dropped at once; nobody else locks such entries.) */
static bool entry_locked(struct store *s, const char *name)
{
	int fd = openat(s->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	bool locked = false;

	if (fd < 0)
		return false;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0)
		flock(fd, LOCK_UN);
	else
		locked = errno == EWOULDBLOCK;
	close(fd);
	return locked;
}

/* Whether process PID, that made the store's entry NAME (".new-PID-...")
 * or renamed a job to it (".del-", ".thawing-"), is still at work: the
 * entry is locked, or PID runs (not a zombie) and started before NAME last
 * changed (its ctime: a rename sets it; what a command at work does in
 * NAME only moves it on). pid_max is often 32768: on a busy machine the pid
 * of a command that died is soon another process's, which would keep its
 * leftovers forever. The clocks compared are not exact (a file's times
 * come from a clock that lags by up to a tick; the real-time clock can be
 * stepped), so only a process that started well after NAME changed is
 * taken for another one. Without a readable /proc, the pid alone says. */
#define REUSE_SLACK_NS 2000000000LL

static bool maker_runs(struct store *s, const char *name, int pid)
{
	struct proc_stat st;
	struct statx sx;
	struct timespec real, boot;

	if (entry_locked(s, name))
		return true;
	if (proc_stat_quiet(pid, &st) < 0)
		return kill(pid, 0) == 0 || errno != ESRCH;
	if (st.state == 'Z' || st.state == 'X')
		return false;
	if (statx(s->fd, name, AT_SYMLINK_NOFOLLOW, STATX_CTIME, &sx) < 0 ||
	    !(sx.stx_mask & STATX_CTIME) || clock_gettime(CLOCK_REALTIME, &real) < 0 ||
	    clock_gettime(CLOCK_BOOTTIME, &boot) < 0)
		return true;
	/* both since boot, in ns; the start time is truncated to a tick */
	int64_t changed = (int64_t)sx.stx_ctime.tv_sec * 1000000000 + sx.stx_ctime.tv_nsec -
			  ((int64_t)real.tv_sec * 1000000000 + real.tv_nsec) +
			  ((int64_t)boot.tv_sec * 1000000000 + boot.tv_nsec);
	int64_t started = (int64_t)st.start_time * (1000000000 / sysconf(_SC_CLK_TCK));
	return started <= changed + REUSE_SLACK_NS;
}

static void sweep(struct store *s)
{
	DIR *d = open_listing(s);
	struct dirent *de;

	if (!d)
		return;
	while ((de = readdir(d))) {
		int pid;
		char buf[32];
		if (strncmp(de->d_name, TMP_PREFIX, 5) && strncmp(de->d_name, DEL_PREFIX, 5) &&
		    strncmp(de->d_name, RECV_PREFIX, 5))
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(de->d_name + 5, "-"), de->d_name + 5);
		if (parse_int(buf, &pid) == 0 && maker_runs(s, de->d_name, pid))
			continue;	/* its command is still at work */
		if (!strncmp(de->d_name, TMP_PREFIX, 5) && rescue_freeze(s, de->d_name))
			continue;
		remove_dir(s, de->d_name);
	}
	closedir(d);
	sweep_thaws(s);
}

/* A thaw that died before its job ran left ".thawing-PID-ID": the job is
 * still frozen, under its id again. */
static void sweep_thaws(struct store *s)
{
	DIR *d = open_listing(s);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		const char *p = de->d_name + strlen(THAW_PREFIX), *id;
		char buf[32];
		int pid;
		if (strncmp(de->d_name, THAW_PREFIX, strlen(THAW_PREFIX)))
			continue;
		snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, "-"), p);
		id = strchr(p, '-');
		if (!id || parse_int(buf, &pid) < 0 || maker_runs(s, de->d_name, pid))
			continue;
		if (renameat2(s->fd, de->d_name, s->fd, id + 1, RENAME_NOREPLACE) == 0)
			continue;
		if (errno == EEXIST)
			pr_err("the images of an interrupted thaw of job %s are in %s/%s, but there is "
			       "a job %s too: 'jobfreeze rm %s' deletes both", id + 1, s->path,
			       de->d_name, id + 1, id + 1);
		else
			pr_perror("cannot put the images of an interrupted thaw back as job %s; "
				  "they are in %s/%s", id + 1, s->path, de->d_name);
	}
	if (d)
		closedir(d);
}

/* Root acting in user UID's home: as that user (effective ids and no
 * groups of root's), so that what is made is theirs and a symlink they
 * planted leads nowhere they could not go themselves. */
static gid_t root_groups[256];
static int nr_root_groups;

static int become(uid_t uid, gid_t gid)
{
	nr_root_groups = getgroups(256, root_groups);
	if (nr_root_groups < 0 || setgroups(0, NULL) < 0 || setegid(gid) < 0 || seteuid(uid) < 0) {
		pr_perror("cannot act as uid %u to open its job store", uid);
		return -1;
	}
	return 0;
}

static void become_root(void)
{
	if (seteuid(0) < 0 || setegid(0) < 0 || setgroups(nr_root_groups, root_groups) < 0)
		pr_perror("cannot become root again after opening another user's job store");
}

static int open_dir(struct store *s)
{
	if (make_dirs(s->path) < 0)
		return -1;
	s->fd = open(s->path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (s->fd < 0) {
		pr_perror("cannot open the job store %s%s", s->path,
			  errno == ELOOP || errno == ENOTDIR ? " (it must be a directory, not a symlink)" : "");
		return -1;
	}
	return 0;
}

int store_open(struct store *s)
{
	return store_open_user(s, geteuid());
}

int store_open_user(struct store *s, uid_t uid)
{
	bool other = uid != geteuid();
	struct stat st;
	int r;

	s->fd = -1;
	s->uid = uid;
	s->gid = getegid();
	s->path = store_path(s);
	if (!s->path)
		goto fail;
	if (other && geteuid() != 0) {
		pr_err("only root can open the job store of uid %u", uid);
		goto fail;
	}
	if (other && become(s->uid, s->gid) < 0)
		goto fail;
	r = open_dir(s);
	if (other)
		become_root();
	if (r < 0) {
		if (other)
			pr_err("uid %u's job store %s cannot be made as that user (is its home "
			       "there?): freeze the job as that user", uid, s->path);
		goto fail;
	}
	if (fstat(s->fd, &st) < 0) {
		pr_perror("cannot stat the job store %s", s->path);
		goto fail;
	}
	if (st.st_uid != s->uid) {
		pr_err("the job store %s belongs to uid %u, not to uid %u: refusing it (someone "
		       "else could read or change the jobs in it)", s->path, st.st_uid, s->uid);
		goto fail;
	}
	/* Someone else may have put anything in it: not ours to trust. */
	if (st.st_mode & 022) {
		pr_err("the job store %s can be written by others (mode %04o): refusing it; check "
		       "what is in it, then 'chmod 700 %s'", s->path, st.st_mode & 07777, s->path);
		goto fail;
	}
	/* Images hold the jobs' memory: nobody else may even list them. */
	if ((st.st_mode & 077) && fchmod(s->fd, 0700) < 0) {
		pr_perror("the job store %s is open to others and cannot be made 0700", s->path);
		goto fail;
	}
	sweep(s);
	return 0;
fail:
	store_close(s);
	return JF_FAILED;
}

int store_own(struct store *s, int fd, const char *what)
{
	if (s->uid == geteuid() || fchown(fd, s->uid, s->gid) == 0)
		return 0;
	pr_perror("cannot give %s to uid %u", what, s->uid);
	return -1;
}

int store_open_job(struct store *s, const char *name)
{
	int fd = openat(s->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	struct stat st;

	if (fd < 0) {
		int e = errno;
		if (e == ENOENT)
			return -1;
		if ((e == ELOOP || e == ENOTDIR) && fstatat(s->fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISLNK(st.st_mode))
			pr_err("job directory %s/%s is a symlink, not a directory: refusing it; "
			       "'jobfreeze rm %s' deletes the link", s->path, name, name);
		else
			pr_perror("cannot open job directory %s/%s", s->path, name);
		errno = EPERM;
		return -1;
	}
	if (fstat(fd, &st) < 0) {
		pr_perror("cannot stat job directory %s/%s", s->path, name);
	} else if (st.st_uid != s->uid) {
		pr_err("job directory %s/%s belongs to uid %u, not to uid %u: refusing it; "
		       "'jobfreeze rm %s' deletes it", s->path, name, st.st_uid, s->uid, name);
	} else if (st.st_mode & 022) {
		pr_err("job directory %s/%s can be written by others (mode %04o): refusing it; "
		       "'jobfreeze rm %s' deletes it", s->path, name, st.st_mode & 07777, name);
	} else {
		return fd;
	}
	close(fd);
	errno = EPERM;
	return -1;
}

void store_close(struct store *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	free(s->path);
	s->path = NULL;
}

static bool is_id(const char *name)
{
	int v;
	return parse_int(name, &v) == 0 && v > 0 && name[0] != '0';
}

static int cmp_meta(const void *a, const void *b)
{
	const struct job_meta *x = a, *y = b;
	int ix = atoi(x->id), iy = atoi(y->id);

	if (x->frozen_at != y->frozen_at)
		return x->frozen_at < y->frozen_at ? -1 : 1;
	return ix < iy ? -1 : ix > iy;
}

int store_list(struct store *s, struct job_meta **jobs, size_t *n)
{
	DIR *d = open_listing(s);
	struct dirent *de;
	size_t cap = 0;

	*jobs = NULL;
	*n = 0;
	if (!d)
		return JF_FAILED;
	while ((de = readdir(d))) {
		struct job_meta m;
		int fd;
		if (!is_id(de->d_name))
			continue;
		fd = store_open_job(s, de->d_name);
		if (fd < 0)
			continue;	/* refused (reported), or thawed or removed meanwhile */
		if (meta_read(fd, &m) == 0) {
			free(m.dir);
			m.dir = xasprintf("%s/%s", s->path, de->d_name);
			free(m.id);
			m.id = xstrdup(de->d_name);
			if (*n == cap)
				*jobs = xrealloc(*jobs, (cap = cap * 2 + 8) * sizeof(**jobs));
			(*jobs)[(*n)++] = m;
		} else {
			pr_err("job directory %s/%s is damaged; 'jobfreeze rm %s' deletes it",
			       s->path, de->d_name, de->d_name);
		}
		close(fd);
	}
	closedir(d);
	if (*n)
		if (*n)	/* (qsort wants an array, even of nothing) */
			qsort(*jobs, *n, sizeof(**jobs), cmp_meta);
	return 0;
}

void store_list_free(struct job_meta *jobs, size_t n)
{
	for (size_t i = 0; i < n; i++)
		meta_free(&jobs[i]);
	free(jobs);
}

/* The command PID and job id of an entry ".thawing-PID-ID" or
 * ".del-PID-ID" (a thaw or a removal at work); NULL for others. */
static const char *at_work(const char *name, int *pid, bool *thawing)
{
	const char *p, *id;
	char buf[32];

	*thawing = !strncmp(name, THAW_PREFIX, strlen(THAW_PREFIX));
	if (*thawing)
		p = name + strlen(THAW_PREFIX);
	else if (!strncmp(name, DEL_PREFIX, strlen(DEL_PREFIX)))
		p = name + strlen(DEL_PREFIX);
	else
		return NULL;
	id = strchr(p, '-');
	snprintf(buf, sizeof(buf), "%.*s", (int)strcspn(p, "-"), p);
	if (!id || parse_int(buf, pid) < 0)
		return NULL;
	return id + 1;
}

/* Is entry NAME (at work on job ID) the job KEY (its id, or its name)? */
static bool entry_is(struct store *s, const char *name, const char *id, const char *key)
{
	struct job_meta m;
	bool is = !strcmp(id, key);
	int fd;

	if (is || is_id(key))
		return is;
	fd = openat(s->fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (faccessat(fd, META_FILE, F_OK, 0) == 0 && meta_read(fd, &m) == 0) {
		is = !strcmp(m.name, key);
		meta_free(&m);
	}
	close(fd);
	return is;
}

/* KEY is not in the listing: another command may have it in its hands
 * (thawing or removing it): say so, busy, rather than "no such job". */
static int not_found(struct store *s, const char *key)
{
	DIR *d = open_listing(s);
	struct dirent *de;
	int ret = JF_NO_JOB;

	while (d && ret == JF_NO_JOB && (de = readdir(d))) {
		bool thawing;
		int pid;
		const char *id = at_work(de->d_name, &pid, &thawing);
		if (!id || (kill(pid, 0) < 0 && errno == ESRCH) || !entry_is(s, de->d_name, id, key))
			continue;
		if (thawing)
			pr_err("job %s is being thawed by another jobfreeze command (process %d): "
			       "it is not frozen any more once that one succeeds", key, pid);
		else
			pr_err("job %s is being removed (or was just thawed) by another jobfreeze "
			       "command (process %d)", key, pid);
		ret = JF_BUSY;
	}
	if (d)
		closedir(d);
	if (ret == JF_NO_JOB)
		pr_err("no frozen job '%s'; 'jobfreeze list' shows them", key);
	return ret;
}

/* The job KEY names among JOBS: a job by its id; an autosave (its id or
 * name) by its newest snapshot, "ID@K" by its snapshot K; a job by its
 * name. -1 if none. */
static int pick(const struct job_meta *jobs, size_t n, const char *key)
{
	const char *at = strchr(key, '@');
	size_t base = at ? (size_t)(at - key) : strlen(key);
	int k = 0, found = -1;

	if (at && (parse_int(at + 1, &k) < 0 || k <= 0))
		return -1;
	for (size_t i = 0; i < n && !at; i++)
		if (!strcmp(jobs[i].id, key))
			return i;
	for (size_t i = 0; i < n; i++) {
		const struct job_meta *j = &jobs[i];
		if (!*j->autosave || ((strlen(j->autosave) != base || strncmp(j->autosave, key, base)) &&
				      (strlen(j->name) != base || strncmp(j->name, key, base))))
			continue;
		if (at ? j->snapshot == (uint32_t)k : found < 0 || j->snapshot > jobs[found].snapshot)
			found = i;
	}
	for (size_t i = 0; i < n && found < 0 && !at; i++)
		if (*jobs[i].name && !strcmp(jobs[i].name, key))
			found = i;
	return found;
}

int store_find(struct store *s, const char *key, struct job_meta *m)
{
	struct job_meta *jobs;
	size_t n;
	int found;

	if (store_list(s, &jobs, &n))
		return JF_FAILED;
	found = pick(jobs, n, key);
	if (found >= 0) {
		*m = jobs[found];
		memset(&jobs[found], 0, sizeof(jobs[found]));
	}
	store_list_free(jobs, n);
	if (found < 0)
		return not_found(s, key);
	return 0;
}

bool store_name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > 64 || is_id(name) || name[0] == '.' || name[0] == '-')
		return false;
	for (const char *p = name; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || strchr("._-+@", *p)))
			return false;
	return true;
}

char *store_new_tmp(struct store *s)
{
	return store_new_dir(s, false);
}

char *store_new_dir(struct store *s, bool receive)
{
	char *path = xasprintf("%s/%s%d-XXXXXX", s->path, receive ? RECV_PREFIX : TMP_PREFIX,
			       (int)getpid());

	/* (in another user's store, the engine gives it to them with the
	 * images: it takes only a directory of its caller's) */
	if (!mkdtemp(path)) {
		pr_perror("cannot create a directory in the job store %s", s->path);
		free(path);
		return NULL;
	}
	return path;
}

void store_drop_tmp(struct store *s, const char *tmp)
{
	const char *base = strrchr(tmp, '/');
	remove_dir(s, base ? base + 1 : tmp);
}

/* The next id, from a counter file under an exclusive lock: ids are never
 * reused, even after the newest job was thawed. */
static int next_id(struct store *s, int *id)
{
	char buf[32] = "";
	int fd = openat(s->fd, ID_FILE, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	int last = 0, n;

	if (fd < 0 || flock(fd, LOCK_EX) < 0) {
		pr_perror("cannot open the id counter %s/%s", s->path, ID_FILE);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (store_own(s, fd, ID_FILE) < 0) {
		close(fd);
		return -1;
	}
	n = pread(fd, buf, sizeof(buf) - 1, 0);
	if (n > 0) {
		buf[strcspn(buf, "\n")] = 0;
		if (parse_int(buf, &last) < 0)
			last = 0;
	}
	/* A damaged counter must not hand out an id in use. */
	for (*id = last + 1;; (*id)++) {
		char name[16];
		char rec[32];
		snprintf(name, sizeof(name), "%d", *id);
		snprintf(rec, sizeof(rec), AUTOSAVE_PREFIX "%d", *id);
		if (faccessat(s->fd, name, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
		    faccessat(s->fd, rec, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
			break;
	}
	n = snprintf(buf, sizeof(buf), "%d\n", *id);
	if (ftruncate(fd, 0) < 0 || pwrite_all(fd, buf, n, 0) < 0) {
		pr_perror("cannot update the id counter %s/%s", s->path, ID_FILE);
		close(fd);
		return -1;
	}
	/* The lock goes with the close: whoever comes next reads our id. */
	close(fd);
	return 0;
}

char *store_new_id(struct store *s)
{
	int id;

	if (next_id(s, &id) < 0)
		return NULL;
	return xasprintf("%d", id);
}

int store_commit(struct store *s, const char *tmp, struct job_meta *m)
{
	const char *base = strrchr(tmp, '/') ? strrchr(tmp, '/') + 1 : tmp;
	char name[16];
	int id;

	if (next_id(s, &id) < 0)
		return -1;
	snprintf(name, sizeof(name), "%d", id);
	/* renameat2 NOREPLACE: an id taken meanwhile is never overwritten. */
	if (renameat2(s->fd, base, s->fd, name, RENAME_NOREPLACE) < 0) {
		pr_perror("cannot move the images %s into the job store as %s", tmp, name);
		return -1;
	}
	if (fsync(s->fd) < 0) {
		pr_perror("cannot sync the job store %s", s->path);
		renameat(s->fd, name, s->fd, base);
		return -1;
	}
	free(m->id);
	m->id = xstrdup(name);
	free(m->dir);
	m->dir = xasprintf("%s/%s", s->path, name);
	return 0;
}

int store_lock(struct store *s, const char *id)
{
	int fd = store_open_job(s, id);

	if (fd < 0) {
		/* gone since it was listed: taken by another command? */
		if (errno == ENOENT)
			return -not_found(s, id);
		return -JF_FAILED;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		int e = errno;
		close(fd);
		if (e == EWOULDBLOCK) {
			pr_err("job %s is being thawed or removed by another jobfreeze command", id);
			return -JF_BUSY;
		}
		errno = e;
		pr_perror("cannot lock job %s", id);
		return -JF_FAILED;
	}
	/* Thawed or removed between our listing and the lock? */
	if (faccessat(fd, META_FILE, F_OK, 0) < 0) {
		close(fd);
		pr_err("job %s was just thawed or removed by another command", id);
		return -JF_NO_JOB;
	}
	return fd;
}

int store_remove(struct store *s, const char *id)
{
	char *del = xasprintf(DEL_PREFIX "%d-%s", (int)getpid(), id);
	int ret = 0;

	/* Gone from the listing at once; a crash midway leaves a .del- entry
	 * that the next command sweeps away. */
	if (renameat(s->fd, id, s->fd, del) < 0) {
		pr_perror("cannot remove job %s from %s", id, s->path);
		free(del);
		return JF_FAILED;
	}
	if (fsync(s->fd) < 0)
		pr_perror("cannot sync the job store %s", s->path);
	crash_point("rm-renamed");
	if (remove_dir(s, del) < 0)
		ret = JF_FAILED;
	free(del);
	return ret;
}

char *store_set_aside(struct store *s, const char *id)
{
	char *del = xasprintf(DEL_PREFIX "%d-%s", (int)getpid(), id);

	if (renameat(s->fd, id, s->fd, del) < 0) {
		pr_perror("cannot remove job %s from %s", id, s->path);
		free(del);
		return NULL;
	}
	return del;
}

void store_put_back(struct store *s, const char *aside, const char *id)
{
	if (renameat2(s->fd, aside, s->fd, id, RENAME_NOREPLACE) < 0)
		pr_perror("cannot put job %s back in %s (its images are in %s)", id, s->path, aside);
}

/* Job directory ID cannot be listed or thawed (a symlink, refused, no or
 * bad metadata), but rm deletes it. */
static bool damaged(struct store *s, const char *id)
{
	struct job_meta m;
	struct stat st;
	bool ok;
	int fd;

	if (!is_id(id) || fstatat(s->fd, id, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return false;
	if (!S_ISDIR(st.st_mode) || st.st_uid != s->uid || (st.st_mode & 022))
		return true;
	fd = openat(s->fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	ok = faccessat(fd, META_FILE, F_OK, 0) == 0 && meta_read(fd, &m) == 0;
	if (ok)
		meta_free(&m);
	close(fd);
	return !ok;
}

/* What dead commands left of job ID that the sweep could not put back
 * (a thaw's images while the job was there again). */
static void drop_leftovers(struct store *s, const char *id)
{
	DIR *d = open_listing(s);
	struct dirent *de;

	while (d && (de = readdir(d))) {
		bool thawing;
		int pid;
		const char *of = at_work(de->d_name, &pid, &thawing);
		if (of && !strcmp(of, id) && kill(pid, 0) < 0 && errno == ESRCH)
			remove_dir(s, de->d_name);
	}
	if (d)
		closedir(d);
}

int store_rm(struct store *s, const char *key, char **what)
{
	struct job_meta m;
	int r, lock;

	*what = NULL;
	if (damaged(s, key)) {
		/* nothing thaws it: no lock to take (a symlink has none) */
		r = store_remove(s, key);
		if (!r)
			*what = xasprintf("%s: (a damaged job directory)", key);
		drop_leftovers(s, key);
		return r;
	}
	r = store_find(s, key, &m);
	if (r)
		return r;
	lock = store_lock(s, m.id);
	if (lock >= 0)
		crash_point("rm-locked");
	r = lock < 0 ? -lock : store_remove(s, m.id);
	if (lock >= 0)
		close(lock);
	if (!r) {
		*what = xasprintf("%s: %s", m.id, m.command);
		drop_leftovers(s, m.id);
	}
	meta_free(&m);
	return r;
}

/* A thaw's names for job ID's directory while it is at work: being read
 * (.thawing-PID-ID), used up by a job that runs again (.del-PID-ID). */
static char *thaw_name(const char *prefix, const char *id)
{
	return xasprintf("%s%d-%s", prefix, (int)getpid(), id);
}

char *store_thaw_path(struct store *s, const char *id, bool used)
{
	char *name = thaw_name(used ? DEL_PREFIX : THAW_PREFIX, id);
	char *path = xasprintf("%s/%s", s->path, name);

	free(name);
	return path;
}

int store_thaw_begin(struct store *s, const char *id)
{
	char *name = thaw_name(THAW_PREFIX, id);
	int ret = 0;

	/* Out of the listing while it is read: nobody else takes it. */
	if (renameat(s->fd, id, s->fd, name) < 0 || fsync(s->fd) < 0) {
		pr_perror("cannot set job %s aside for its thaw in %s", id, s->path);
		ret = -1;
	}
	free(name);
	return ret;
}

void store_thaw_undo(struct store *s, const char *id)
{
	for (int used = 0; used <= 1; used++) {
		char *name = thaw_name(used ? DEL_PREFIX : THAW_PREFIX, id);
		if (renameat2(s->fd, name, s->fd, id, RENAME_NOREPLACE) == 0)
			fsync(s->fd);
		else if (errno != ENOENT)
			pr_perror("cannot put job %s back in %s (its images are in %s)", id, s->path, name);
		free(name);
	}
}

void store_thaw_done(struct store *s, const char *id)
{
	char *name = thaw_name(DEL_PREFIX, id);

	if (remove_dir(s, name) < 0)
		pr_err("job %s runs again, but its images could not all be deleted from %s/%s",
		       id, s->path, name);
	free(name);
}
