/* send.c: a stored job moved to another machine, over the user's own ssh
 * (keys, config, agent; no server of ours): `jobfreeze send ID HOST` runs
 * `ssh HOST jobfreeze receive` and the two ends speak a small protocol on
 * ssh's channel.
 *
 *   sender                                receiver
 *   JOBFREEZE-SEND 1
 *   FILE name size, bytes, SUM crc32c     (inventory.img, proc-*.img)
 *   CHECK ignore-cpu                  ->  whether it can thaw them there
 *                                     <-  W warning / R reason..., OK or NO
 *   FILE ... (the rest: pages, data, job.meta)
 *   END                               ->  synced, job.meta last, renamed in
 *                                     <-  STORED id   (or FAILED why, any time)
 *
 * Nothing is lost when the transfer breaks: the sender holds the job's
 * lock throughout and deletes it only after STORED, which the receiver
 * says once every file, and then the directory, is synced and the job has
 * its id there. The receiver writes into a ".rcv-" directory of its store,
 * which the store sweeps away if the receiver dies, and job.meta (what
 * makes a job of a directory) last. A crash between STORED and the
 * sender's delete leaves the job in both stores, never in neither. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/crc32c.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "session/check.h"
#include "session/send.h"

#define HELLO "JOBFREEZE-SEND 1"
#define LINE_MAX_LEN 8192
#define COPY_CHUNK (1 << 20)

/* A buffered reader of the channel: lines, and bytes of a file. */
struct chan {
	int fd;
	size_t at, len;
	char buf[65536];
};

/* Something buffered to take: 0, or -1 at the end or on an error (errno
 * 0 for the end). */
static int chan_fill(struct chan *c)
{
	while (c->at == c->len) {
		ssize_t r = read(c->fd, c->buf, sizeof(c->buf));
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			if (r == 0)
				errno = 0;
			return -1;
		}
		c->at = 0;
		c->len = r;
	}
	return 0;
}

/* The next line, without its newline, into LINE; -1 as chan_fill. */
static int chan_line(struct chan *c, char *line, size_t max)
{
	size_t n = 0;

	for (;;) {
		if (chan_fill(c) < 0)
			return -1;
		char ch = c->buf[c->at++];
		if (ch == '\n')
			break;
		if (n + 1 < max)
			line[n++] = ch;
	}
	line[n] = 0;
	return 0;
}

/* The next N bytes into fd OUT (-1: skipped); *CRC over them. */
static int chan_copy(struct chan *c, int out, uint64_t n, uint32_t *crc)
{
	*crc = 0;
	while (n) {
		if (chan_fill(c) < 0)
			return -1;
		size_t k = c->len - c->at < n ? c->len - c->at : n;
		*crc = crc32c(*crc, c->buf + c->at, k);
		if (out >= 0 && write_all(out, c->buf + c->at, k) < 0)
			return -1;
		c->at += k;
		n -= k;
	}
	return 0;
}

static int say(int fd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int say(int fd, const char *fmt, ...)
{
	char line[LINE_MAX_LEN];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		return -1;
	if (n > (int)sizeof(line) - 2)
		n = sizeof(line) - 2;
	for (int i = 0; i < n; i++)
		if (line[i] == '\n')
			line[i] = ' ';
	line[n++] = '\n';
	return write_all(fd, line, n);
}

/* ---- the sending end ---- */

/* Image files first (what the other side checks), then the others. */
static bool is_metadata(const char *name)
{
	return !strcmp(name, "inventory.img") || !strncmp(name, "proc-", 5);
}

static int list_files(int dirfd, char ***names, size_t *n)
{
	int fd = openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	struct dirent *de;

	*names = NULL;
	*n = 0;
	if (!d) {
		pr_perror("cannot list the job's images");
		if (fd >= 0)
			close(fd);
		return -1;
	}
	while ((de = readdir(d))) {
		struct stat st;
		if (de->d_name[0] == '.' || fstatat(dirfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		*names = xrealloc(*names, (*n + 1) * sizeof(**names));
		(*names)[(*n)++] = xstrdup(de->d_name);
	}
	closedir(d);
	return 0;
}

static int send_file(int dirfd, const char *name, int out)
{
	int fd = openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	char *buf = NULL;
	struct stat st;
	uint32_t crc = 0;
	uint64_t left;
	int ret = -1;

	if (fd < 0 || fstat(fd, &st) < 0) {
		pr_perror("cannot read the job's image file %s", name);
		goto out;
	}
	if (say(out, "FILE %s %llu", name, (unsigned long long)st.st_size) < 0)
		goto out;
	buf = xmalloc(COPY_CHUNK);
	for (left = st.st_size; left;) {
		ssize_t r = read(fd, buf, left < COPY_CHUNK ? left : COPY_CHUNK);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			pr_perror("cannot read the job's image file %s", name);
			goto out;
		}
		crc = crc32c(crc, buf, r);
		if (write_all(out, buf, r) < 0)
			goto out;
		left -= r;
	}
	ret = say(out, "SUM %08x", crc);
out:
	free(buf);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ssh DEST REMOTE receive, through sh (the ssh command may have options);
 * its stdin and stdout are our pipes, its stderr ours. */
static pid_t start_ssh(const struct send_opts *o, int *to, int *from)
{
	const char *ssh = o->ssh ? o->ssh : getenv("JOBFREEZE_SSH");
	char *script, *remote = xasprintf("%s receive", o->remote ? o->remote : "jobfreeze");
	int in[2], out[2];
	pid_t pid;

	if (!ssh || !*ssh)
		ssh = "ssh";
	script = xasprintf("exec %s \"$@\"", ssh);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0) {
		pr_perror("pipe");
		pid = -1;
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
	} else if (pid == 0) {
		if (dup2(in[0], 0) < 0 || dup2(out[1], 1) < 0)
			_exit(127);
		execl("/bin/sh", "sh", "-c", script, "sh", "--", o->dest, remote, (char *)NULL);
		pr_perror("cannot run /bin/sh for ssh");
		_exit(127);
	}
	close(in[0]);
	close(out[1]);
	*to = in[1];
	*from = out[0];
out:
	free(script);
	free(remote);
	return pid;
}

/* What the receiver said when it gave up (FAILED ...), if it did. */
static void report_failure(struct chan *c, const char *dest, const char *id)
{
	char line[LINE_MAX_LEN];

	while (chan_line(c, line, sizeof(line)) == 0)
		if (!strncmp(line, "FAILED ", 7)) {
			pr_err("%s: %s", dest, line + 7);
			break;
		}
	pr_err("the transfer to %s did not finish: job %s stays here, and nothing of it is "
	       "left there", dest, id);
}

/* The receiver's answer to CHECK: 0 it can thaw it, 1 not (reasons said). */
static int read_verdict(struct chan *c, const struct send_opts *o, const struct job_meta *m)
{
	char line[LINE_MAX_LEN];
	bool refused = false;

	while (chan_line(c, line, sizeof(line)) == 0) {
		if (!strcmp(line, "OK") || !strcmp(line, "NO"))
			return !strcmp(line, "NO");
		if (!strncmp(line, "R ", 2)) {
			if (!refused)
				pr_err("%s cannot thaw job %s (%s):", o->dest, m->id, m->command);
			refused = true;
			pr_err("%s: %s", o->dest, line + 2);
		} else if (!strncmp(line, "W ", 2)) {
			pr_warn("%s: %s", o->dest, line + 2);
		} else if (!strncmp(line, "FAILED ", 7)) {
			pr_err("%s: %s", o->dest, line + 7);
			return -1;
		}
	}
	pr_err("%s did not answer whether it can thaw job %s (is jobfreeze installed there? see "
	       "--remote)", o->dest, m->id);
	return -1;
}

static int transfer(int dirfd, struct chan *c, int to, const struct send_opts *o,
		    const struct job_meta *m, char **remote_id)
{
	char line[LINE_MAX_LEN], **names;
	size_t n;
	int ret = JF_FAILED, v;

	if (list_files(dirfd, &names, &n) < 0)
		return JF_FAILED;
	if (say(to, HELLO) < 0)
		goto broke;
	for (size_t i = 0; i < n; i++)
		if (is_metadata(names[i]) && send_file(dirfd, names[i], to) < 0)
			goto broke;
	if (say(to, "CHECK %d", o->ignore_cpu_features) < 0)
		goto broke;
	v = read_verdict(c, o, m);
	if (v) {
		if (v > 0)
			pr_err("job %s was not sent; it stays here", m->id);
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (!is_metadata(names[i]) && send_file(dirfd, names[i], to) < 0)
			goto broke;
	if (say(to, "END") < 0 || chan_line(c, line, sizeof(line)) < 0 ||
	    strncmp(line, "STORED ", 7)) {
		if (!strncmp(line, "FAILED ", 7))
			pr_err("%s: %s", o->dest, line + 7);
		goto broke;
	}
	*remote_id = xstrdup(line + 7);
	ret = 0;
	goto out;
broke:
	report_failure(c, o->dest, m->id);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	return ret;
}

int session_send(struct store *s, const struct send_opts *o, char **remote_id)
{
	struct chan c = { .fd = -1 };
	struct job_meta m;
	struct sigaction ign = { .sa_handler = SIG_IGN }, old;
	int lock, to = -1, ret, status;
	pid_t ssh;

	*remote_id = NULL;
	ret = store_find(s, o->key, &m);
	if (ret)
		return ret;
	/* held until the job is stored there: no thaw or rm meanwhile */
	lock = store_lock(s, m.id);
	if (lock < 0) {
		meta_free(&m);
		return -lock;
	}
	/* a receiver that went away is a write error, not our death */
	sigaction(SIGPIPE, &ign, &old);
	ssh = start_ssh(o, &to, &c.fd);
	ret = ssh < 0 ? JF_FAILED : transfer(lock, &c, to, o, &m, remote_id);
	if (to >= 0)
		close(to);
	if (c.fd >= 0)
		close(c.fd);
	while (ssh > 0 && waitpid(ssh, &status, 0) < 0 && errno == EINTR)
		;
	sigaction(SIGPIPE, &old, NULL);
	if (!ret && !o->keep && store_remove(s, m.id) != 0)
		pr_err("job %s is stored on %s as job %s, but could not be removed here", m.id,
		       o->dest, *remote_id);
	close(lock);
	meta_free(&m);
	return ret;
}

/* ---- the receiving end ---- */

static bool name_ok(const char *name)
{
	size_t len = strlen(name);

	if (!len || len > 128 || name[0] == '.')
		return false;
	for (const char *p = name; *p; p++)
		if (!(('a' <= *p && *p <= 'z') || ('A' <= *p && *p <= 'Z') ||
		      ('0' <= *p && *p <= '9') || strchr("._-", *p)))
			return false;
	return true;
}

struct incoming {
	struct store *s;
	struct chan c;
	int out;
	char *tmp;             /* the directory it goes into */
	int dirfd;
	char *meta;            /* job.meta, written last */
	size_t meta_len;
};

/* One FILE: into the directory, synced, checked against its SUM. */
static int receive_file(struct incoming *in, const char *line)
{
	char name[256], sum[64];
	unsigned long long size;
	uint32_t crc;
	uint64_t usum;
	int fd = -1, ret = -1;
	bool meta;

	if (sscanf(line, "FILE %255s %llu", name, &size) != 2 || !name_ok(name)) {
		say(in->out, "FAILED protocol error: a bad file line");
		return -1;
	}
	meta = !strcmp(name, "job.meta");
	if (meta) {
		if (size > (1 << 20) || in->meta) {
			say(in->out, "FAILED protocol error: a bad job.meta");
			return -1;
		}
		in->meta = xmalloc(size + 1);
		in->meta_len = size;
		fd = memfd_create("job.meta", MFD_CLOEXEC);
	} else {
		fd = openat(in->dirfd, name, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	}
	if (fd < 0) {
		say(in->out, "FAILED cannot create %s in %s: %s", name, in->tmp, strerror(errno));
		return -1;
	}
	if (chan_copy(&in->c, fd, size, &crc) < 0) {
		if (errno)
			say(in->out, "FAILED cannot write %s in %s: %s", name, in->tmp, strerror(errno));
		else
			pr_err("the transfer broke in the middle of %s: nothing was stored", name);
		goto out;
	}
	if (chan_line(&in->c, sum, sizeof(sum)) < 0 || strncmp(sum, "SUM ", 4) ||
	    parse_u64(sum + 4, 16, &usum) < 0 || usum != crc) {
		say(in->out, "FAILED %s arrived damaged (checksum)", name);
		goto out;
	}
	if (meta) {
		if (pread(fd, in->meta, size, 0) != (ssize_t)size) {
			say(in->out, "FAILED cannot keep job.meta: %s", strerror(errno));
			goto out;
		}
		in->meta[size] = 0;
	} else if (fsync(fd) < 0) {
		say(in->out, "FAILED cannot sync %s in %s: %s", name, in->tmp, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

static int receive_check(struct incoming *in, const char *line)
{
	struct thaw_verdict v;
	int ignore = 0;

	if (sscanf(line, "CHECK %d", &ignore) != 1) {
		say(in->out, "FAILED protocol error: a bad check line");
		return -1;
	}
	session_check_images(in->tmp, ignore, &v);
	for (size_t i = 0; i < v.n_warnings; i++)
		say(in->out, "W %s", v.warnings[i]);
	for (size_t i = 0; i < v.n_reasons; i++)
		say(in->out, "R %s", v.reasons[i]);
	if (v.status != 0 && !v.n_reasons)
		say(in->out, "R the job's images cannot be read here");
	say(in->out, v.status == 0 ? "OK" : "NO");
	thaw_verdict_free(&v);
	return v.status == 0 ? 0 : -1;
}

/* Names are unique in a store: whether M's is taken here (or is not a
 * name here). */
static bool name_taken(struct incoming *in, const struct job_meta *m)
{
	struct job_meta *jobs;
	size_t n;
	bool taken = !store_name_ok(m->name);

	if (store_list(in->s, &jobs, &n) == 0) {
		for (size_t i = 0; i < n; i++)
			taken |= !strcmp(jobs[i].name, m->name);
		store_list_free(jobs, n);
	}
	return taken;
}

/* What job.meta says that is not true here, taken off (the file written
 * again): a name taken here (said on stderr), and the autosave a snapshot
 * belongs to, which runs (or ran) on the other machine; here the snapshot
 * is a job of its own, that a thaw without an id finds. */
static int settle_meta(struct incoming *in, struct job_meta *m)
{
	bool changed = false;

	if (*m->name && name_taken(in, m)) {
		pr_warn("a job here is named '%s' already: the job sent comes without a name",
			m->name);
		free(m->name);
		m->name = xstrdup("");
		changed = true;
	}
	if (*m->autosave || m->snapshot) {
		free(m->autosave);
		m->autosave = xstrdup("");
		m->snapshot = 0;
		changed = true;
	}
	if (!changed)
		return 0;
	if (unlinkat(in->dirfd, META_FILE, 0) < 0 || meta_write(in->dirfd, m) < 0 ||
	    fsync(in->dirfd) < 0) {
		say(in->out, "FAILED cannot write job.meta in %s again", in->tmp);
		return -1;
	}
	return 0;
}

/* END: job.meta last, the directory synced, then its id. */
static int receive_end(struct incoming *in)
{
	struct job_meta m;
	int fd;

	if (!in->meta) {
		say(in->out, "FAILED protocol error: no job.meta");
		return -1;
	}
	fd = openat(in->dirfd, META_FILE, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd < 0 || write_synced(fd, in->meta, in->meta_len) < 0 || fsync(in->dirfd) < 0) {
		say(in->out, "FAILED cannot write job.meta in %s: %s", in->tmp, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	if (meta_read(in->dirfd, &m) < 0) {
		say(in->out, "FAILED the job's metadata is damaged");
		return -1;
	}
	if (settle_meta(in, &m) < 0) {
		meta_free(&m);
		return -1;
	}
	if (store_commit(in->s, in->tmp, &m) < 0) {
		say(in->out, "FAILED cannot move the job into the store %s", in->s->path);
		meta_free(&m);
		return -1;
	}
	say(in->out, "STORED %s", m.id);
	meta_free(&m);
	return 0;
}

int session_receive(struct store *s, int infd, int out)
{
	struct incoming in = { .s = s, .c = { .fd = infd }, .out = out, .dirfd = -1 };
	char line[LINE_MAX_LEN];
	bool checked = false;
	int ret = JF_FAILED;

	if (chan_line(&in.c, line, sizeof(line)) < 0 || strcmp(line, HELLO)) {
		say(out, "FAILED this jobfreeze speaks %s", HELLO);
		return JF_USAGE;
	}
	in.tmp = store_new_dir(s, true);
	if (!in.tmp) {
		say(out, "FAILED cannot make a directory in the job store %s", s->path);
		return JF_FAILED;
	}
	in.dirfd = open(in.tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (in.dirfd < 0) {
		say(out, "FAILED cannot open %s: %s", in.tmp, strerror(errno));
		goto out;
	}
	for (;;) {
		if (chan_line(&in.c, line, sizeof(line)) < 0) {
			pr_err("the sender went away before the end: nothing was stored");
			goto out;
		}
		if (!strncmp(line, "FILE ", 5)) {
			if (receive_file(&in, line) < 0)
				goto out;
		} else if (!strncmp(line, "CHECK ", 6) && !checked) {
			checked = true;
			if (receive_check(&in, line) < 0)
				goto out;
		} else if (!strcmp(line, "END") && checked) {
			if (receive_end(&in) == 0)
				ret = 0;
			break;
		} else {
			say(out, "FAILED protocol error: '%.40s'", line);
			goto out;
		}
	}
out:
	if (in.dirfd >= 0)
		close(in.dirfd);
	if (ret)
		store_drop_tmp(s, in.tmp);
	free(in.tmp);
	free(in.meta);
	return ret;
}
