/* freeze.c: a freeze as one safe operation: the images go to a temporary
 * directory in the store, are synced, get the job's metadata and appear
 * under their id by rename; only then does the engine kill the job. A
 * process group is looked at once (ckpt/tree.h's process table): its
 * command, its owner, whether another command holds it, and the processes
 * the engine freezes all come from that one listing. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/crashpoint.h"
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/tree.h"
#include "ckpt/util.h"
#include "session/job.h"
#include "session/tmux.h"
#include "tty/terminal.h"

/* A process's command line, arguments joined by spaces. */
static char *cmdline_of(pid_t pid)
{
	char path[64], *text;
	size_t len;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", pid);
	text = read_file(path, &len);
	if (!text || !len) {
		free(text);
		snprintf(path, sizeof(path), "/proc/%d/comm", pid);
		text = read_file(path, NULL);
		if (text)
			text[strcspn(text, "\n")] = 0;
		return text ? text : xstrdup("?");
	}
	for (size_t i = 0; i + 1 < len; i++)
		if (!text[i])
			text[i] = ' ';
	return text;
}

/* Appends PID's command to *CMD, or, for a jobfreeze of a thawed job (its
 * restoring command, starter and init), the commands of the job under it. */
static void add_command(pid_t pid, char **cmd, pid_t *first, int depth)
{
	char path[96], *kids, *save = NULL, *c, *joined;

	if (!proc_runs_self(pid) || depth > 3) {
		c = cmdline_of(pid);
		joined = *cmd ? xasprintf("%s | %s", *cmd, c) : xstrdup(c);
		free(*cmd);
		free(c);
		*cmd = joined;
		if (!*first)
			*first = pid;
		return;
	}
	snprintf(path, sizeof(path), "/proc/%d/task/%d/children", pid, pid);
	kids = read_file(path, NULL);
	for (char *t = kids ? strtok_r(kids, " \n", &save) : NULL; t; t = strtok_r(NULL, " \n", &save)) {
		int child;
		if (parse_int(t, &child) == 0)
			add_command(child, cmd, first, depth + 1);
	}
	free(kids);
}

/* The top processes of the group (those whose parent is elsewhere), as
 * "a | b | c", in the order they started (the engine's order too). */
static char *group_command(const struct proc_table *procs, pid_t pgid, pid_t *first)
{
	pid_t *tops;
	size_t n = proc_table_group_tops(procs, pgid, &tops);
	char *cmd = NULL;

	*first = 0;
	for (size_t i = 0; i < n && i < 64; i++)
		add_command(tops[i], &cmd, first, 0);
	free(tops);
	return cmd;
}

struct commit {
	struct store *s;
	const struct freeze_opts *o;
	const char *tmp;
	struct job_meta *m;
	struct ckpt_stats *stats;
};

/* The bytes the images take. */
static uint64_t dir_bytes(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;
	uint64_t sum = 0;

	while (d && (de = readdir(d))) {
		struct stat st;
		/* a file an incremental snapshot links from an earlier one counts
		 * for its share: the snapshots' sizes add up to the disk used */
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode))
			sum += st.st_size / (st.st_nlink ? st.st_nlink : 1);
	}
	if (d)
		closedir(d);
	return sum;
}

/* Called by the engine with the images complete and synced, the job still
 * held and not yet tied to the engine: the metadata joins the images (with
 * it, they are complete). */
static int prepare(void *arg)
{
	struct commit *c = arg;
	int fd, ret = -1;

	c->m->memory_bytes = c->stats->pages_scanned * 4096;
	c->m->processes = c->stats->nr_procs;
	fd = open(c->tmp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (fd < 0) {
		pr_perror("cannot open %s", c->tmp);
		return -1;
	}
	c->m->image_bytes = dir_bytes(c->tmp);
	/* Written last: with it, the images are complete (store.c's sweep
	 * tells a finished freeze from a broken one by it). */
	if (meta_write(fd, c->m) < 0)
		goto out;
	if (c->s->uid != geteuid()) {
		int mfd = openat(fd, META_FILE, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
		int r = mfd < 0 ? -1 : store_own(c->s, mfd, META_FILE);
		if (mfd >= 0)
			close(mfd);
		if (r < 0)
			goto out;
	}
	if (fsync(fd) < 0) {
		pr_perror("cannot sync %s", c->tmp);
		goto out;
	}
	ret = 0;
out:
	close(fd);
	return ret;
}

/* Then, the job bound to die with the engine: the directory takes its id. */
static int commit(void *arg)
{
	struct commit *c = arg;

	crash_point("store-commit");
	if (c->o->commit)
		return c->o->commit(c->s, c->tmp, c->m, c->o->commit_arg);
	return store_commit(c->s, c->tmp, c->m);
}

static char *link_of(pid_t pid, const char *what)
{
	char path[64], buf[4096];
	ssize_t n;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, what);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n < 0)
		return xstrdup("");
	buf[n] = 0;
	return xstrdup(buf);
}

/* A GNU screen server (screen holding pty masters; its clients hold
 * none): once thawed no client could reach it. Its clients find it by
 * the pid in its socket's name, which it has only inside the pid
 * namespace of its thaw, and it opens their terminals by name, which in
 * its mount namespace name the thaw's own devpts (README.md). */
static bool screen_server(pid_t pid)
{
	char *exe = link_of(pid, "exe"), *base = strrchr(exe, '/'), path[64];
	bool screen = base && !strcmp(base + 1, "screen"), ptmx = false;
	struct dirent *de;
	DIR *d;

	free(exe);
	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = screen ? opendir(path) : NULL;
	while (d && !ptmx && (de = readdir(d))) {
		char *l = xasprintf("fd/%s", de->d_name), *target = link_of(pid, l);
		ptmx = !strcmp(target, "/dev/ptmx") || !strcmp(target, "/dev/pts/ptmx");
		free(target);
		free(l);
	}
	if (d)
		closedir(d);
	return ptmx;
}

/* The jobfreeze command that traces PID (a freeze at work, or the
 * restore of a thaw), 0 if none does. */
static pid_t holder_of(pid_t pid)
{
	struct proc_status ps;
	char *exe, *base;
	bool ours;

	if (proc_stat_quiet(pid, &(struct proc_stat){ 0 }) < 0 || proc_parse_status(pid, &ps) < 0 ||
	    ps.tracer <= 0)
		return 0;
	/* jobfreeze, jobthaw, the crash-test build: by name, as they may be
	 * other binaries than ours */
	exe = link_of(ps.tracer, "exe");
	base = strrchr(exe, '/');
	ours = proc_runs_self(ps.tracer) || (base && !strncmp(base + 1, "jobfreeze", 9));
	free(exe);
	return ours ? ps.tracer : 0;
}

/* A process of the job (*PROC) held by another jobfreeze command: that
 * command's pid, 0 if none. PID is the job's top process, or 0 for every
 * process of group PGID (in PROCS). */
static pid_t held_by_other(const struct proc_table *procs, pid_t pid, pid_t pgid, pid_t *proc)
{
	pid_t holder = 0;

	if (pid) {
		*proc = pid;
		return holder_of(pid);
	}
	for (size_t i = 0; !holder && i < procs->n; i++)
		if (procs->p[i].pgrp == pgid)
			holder = holder_of(*proc = procs->p[i].pid);
	return holder;
}

static int busy(const struct proc_table *procs, pid_t pid, pid_t pgid)
{
	pid_t proc = 0, holder = held_by_other(procs, pid, pgid, &proc);

	if (!holder)
		return 0;
	pr_err("process %d of the job is held by another jobfreeze command (process %d), which "
	       "is freezing or thawing it: not frozen; try again once that one is done",
	       proc, holder);
	return JF_BUSY;
}

/* Every process of group PGID is ours: it is a job of ours (a script's
 * group may hold its caller's processes, root's in a test harness). */
static bool group_is_ours(const struct proc_table *procs, pid_t pgid, uid_t uid)
{
	for (size_t i = 0; i < procs->n; i++)
		if (procs->p[i].pgrp == pgid && procs->p[i].uid != uid)
			return false;
	return true;
}

/* Which processes: the job (process group) PID belongs to, or the tree
 * under PID when its group is the shell's own or ours. PROCS gets the
 * process table when a group is to be looked at. */
static int choose_target(const struct freeze_opts *o, struct proc_table *procs, pid_t *pid,
			 pid_t *pgid)
{
	struct proc_status ps;
	struct proc_stat st;
	pid_t probe = o->pgid ? o->pgid : o->pid;

	*pid = 0;
	*pgid = o->pgid;
	if (probe <= 0) {
		pr_err("%d is not a process id", probe);
		return JF_USAGE;
	}
	if (probe == 1 || probe == getpid()) {
		pr_err("process %d is %s: it cannot be frozen", probe,
		       probe == 1 ? "the system's init" : "this jobfreeze command");
		return JF_NOT_PERMITTED;
	}
	if (proc_stat_quiet(probe, &st) < 0) {
		pr_err("no process %d", probe);
		return JF_NO_JOB;
	}
	if (proc_parse_status(probe, &ps) < 0)
		return JF_NO_JOB;
	if (ps.uid[0] != geteuid() && geteuid() != 0) {
		pr_err("process %d belongs to uid %u, not to you: only its owner can freeze it",
		       probe, ps.uid[0]);
		return JF_NOT_PERMITTED;
	}
	if (ps.uid[0] != geteuid() && !o->allow_other_user) {
		pr_err("process %d belongs to uid %u, not to root: freeze it as that user (its "
		       "job goes to their job store), or as root with --allow-other-user (the job "
		       "goes to that user's store too, its images theirs)", probe, ps.uid[0]);
		return JF_NOT_PERMITTED;
	}
	if (ps.kthread) {
		pr_err("process %d is a kernel thread: it cannot be frozen", probe);
		return JF_NOT_PERMITTED;
	}
	if (o->pgid) {
		if (o->pgid == getpgrp()) {
			pr_err("process group %d is this command's own: run the freeze from "
			       "elsewhere (another terminal, or the shell's `jobfreeze %%N`)", o->pgid);
			return JF_USAGE;
		}
		return proc_table_read(procs) < 0 ? JF_FAILED : 0;
	}
	if (st.pgrp != st.session && st.pgrp != getpgrp()) {
		if (proc_table_read(procs) < 0)
			return JF_FAILED;
		if (group_is_ours(procs, st.pgrp, ps.uid[0])) {
			*pgid = st.pgrp;
			return 0;
		}
	}
	*pid = o->pid;
	return 0;
}

int session_job_owner(const struct freeze_opts *o, uid_t *uid)
{
	struct proc_status ps;
	pid_t probe = o->pgid ? o->pgid : o->pid;

	/* Our own store, but for root's --allow-other-user; every refusal is
	 * choose_target's, with the store of whoever runs us. */
	*uid = geteuid();
	if (*uid == 0 && o->allow_other_user && probe > 1 &&
	    proc_stat_quiet(probe, &(struct proc_stat){ 0 }) == 0 && proc_parse_status(probe, &ps) == 0)
		*uid = ps.uid[0];
	return 0;
}

static void fill_host(struct job_meta *m)
{
	struct utsname u;
	char *boot = read_file("/proc/sys/kernel/random/boot_id", NULL);

	if (uname(&u) == 0) {
		m->host = xstrdup(u.nodename);
		m->kernel = xstrdup(u.release);
	} else {
		m->host = xstrdup("");
		m->kernel = xstrdup("");
	}
	if (boot)
		boot[strcspn(boot, "\n")] = 0;
	m->boot_id = boot ? boot : xstrdup("");
}

/* NAME is another job's (the snapshots of autosave AUTOSAVE share it). */
static int name_taken(struct store *s, const char *name, const char *autosave)
{
	struct job_meta *jobs;
	size_t n;
	bool taken = false;

	if (store_list(s, &jobs, &n))
		return JF_FAILED;
	for (size_t i = 0; i < n; i++)
		taken |= !strcmp(jobs[i].name, name) && (!autosave || strcmp(jobs[i].autosave, autosave));
	store_list_free(jobs, n);
	if (taken) {
		pr_err("a frozen job is already named '%s': choose another --name", name);
		return JF_USAGE;
	}
	return 0;
}

/* The command a client of the tmux server runs, once detached, to freeze
 * it from outside: this very freeze, of the server on its socket. */
static char *freeze_command(const struct freeze_opts *o, const char *socket)
{
	char self[4096];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	char *q, *cmd, *more;

	const char *state = getenv("XDG_STATE_HOME");
	char *st = state ? tmux_quote(state) : NULL;

	self[n > 0 ? n : 0] = 0;
	q = tmux_quote(n > 0 ? self : "jobfreeze");
	more = tmux_quote(socket);
	/* (into this command's store, whatever the client's environment) */
	cmd = xasprintf("%s%s%sexec %s freeze --tmux -S %s%s%s%s", st ? "XDG_STATE_HOME=" : "",
			st ? st : "", st ? " " : "", q, more, o->leave_running ? " -R" : "",
			o->tcp_close ? " --tcp-close" : "", o->ext_unix_close ? " --ext-unix-close" : "");
	free(st);
	free(q);
	free(more);
	if (o->name) {
		q = tmux_quote(o->name);
		more = xasprintf("%s --name %s", cmd, q);
		free(q);
		free(cmd);
		cmd = more;
	}
	return cmd;
}

/* A tmux server: found, its clients detached (or, when this command runs
 * in it, handed over to its client); then the server's tree is the job. */
static int tmux_prepare(struct freeze_opts *o, struct job_meta *m)
{
	static const char told[] = "echo '[jobfreeze: this tmux server is being frozen to disk; "
				   "jobfreeze list shows it, jobfreeze thaw brings it back]'";
	struct tmux_server ts;
	int r = tmux_find(&o->tmux_target, &ts);

	if (r)
		return r;
	if (tmux_inside(&ts)) {
		char *cmd = freeze_command(o, ts.socket);
		r = tmux_detach_clients(&ts, told, cmd) < 0 ? JF_FAILED : 0;
		free(cmd);
		o->handed_over = r == 0;
		tmux_server_free(&ts);
		return r;
	}
	if (tmux_detach_clients(&ts, told, NULL) < 0) {
		tmux_server_free(&ts);
		return JF_FAILED;
	}
	o->pid = ts.pid;
	o->pgid = 0;
	m->command = xasprintf("tmux server on %s (%s)", ts.socket, ts.summary);
	m->kind = xstrdup("tmux");
	m->socket = ts.socket;
	ts.socket = NULL;
	tmux_server_free(&ts);
	return 0;
}

static int freeze(struct store *s, struct freeze_opts *o, struct job_meta *m,
		  struct proc_table *procs)
{
	struct ckpt_stats stats = { 0 };
	struct dump_opts d = { .stats = &stats, .leave_running = o->leave_running,
			       .tcp_close = o->tcp_close, .ext_unix_close = o->ext_unix_close,
			       .allow_other_user = o->allow_other_user, .ghost_limit = o->ghost_limit,
			       .no_compress = o->no_compress, .compress_level = o->compress_level };
	struct tty_info tty;
	struct proc_stat st;
	struct commit c;
	pid_t top;
	int r;

	memset(m, 0, sizeof(*m));
	if (o->name && !store_name_ok(o->name)) {
		pr_err("'%s' cannot name a job: use letters, digits and ._-+@, not only digits",
		       o->name);
		return JF_USAGE;
	}
	if (o->name && (r = name_taken(s, o->name, o->autosave)))
		return r;
	if (o->tmux && ((r = tmux_prepare(o, m)) || o->handed_over)) {
		meta_free(m);
		return r;
	}
	if ((r = choose_target(o, procs, &d.pid, &d.pgid)) || (r = busy(procs, d.pid, d.pgid))) {
		meta_free(m);
		return r;
	}
	if (m->command) {
		top = d.pid;	/* (a tmux server: named already) */
	} else if (d.pgid) {
		char *cmd = group_command(procs, d.pgid, &top);
		if (!cmd) {
			pr_err("no process of yours is in process group %d", d.pgid);
			return JF_NO_JOB;
		}
		m->command = o->command ? xstrdup(o->command) : cmd;
		if (o->command)
			free(cmd);
	} else {
		top = d.pid;
		m->command = o->command ? xstrdup(o->command) : cmdline_of(top);
	}
	if (screen_server(top)) {
		pr_err("process %d is a GNU screen server: thawed, no screen client could reach it "
		       "again (they find it by the pid in its socket's name, and it opens their "
		       "terminals by name); freeze the jobs in its windows, or use tmux, which "
		       "'jobfreeze freeze --tmux' freezes whole", top);
		meta_free(m);
		return JF_FAILED;
	}
	m->id = xstrdup("");
	m->name = xstrdup(o->name ? o->name : "");
	m->autosave = xstrdup(o->autosave ? o->autosave : "");
	m->snapshot = o->snapshot;
	m->cwd = link_of(top, "cwd");
	fill_host(m);
	m->frozen_at = time(NULL);
	if (proc_stat_quiet(top, &st) == 0) {
		m->stopped = st.state == 'T';
		m->pgid = st.pgrp;
		m->pid = top;
		m->start_time = st.start_time;
	}
	/* (a tmux server has no terminal: those it held were its clients') */
	if (!o->tmux)
		tty_describe(top, m->pgid, &tty);
	else
		memset(&tty, 0, sizeof(tty));
	m->tty = xstrdup(tty.path ? tty.path : "");
	m->termios = xstrdup(tty.termios ? tty.termios : "");
	m->tty_foreground = tty.foreground;
	tty_info_free(&tty);

	d.dir = store_new_tmp(s);
	if (!d.dir) {
		meta_free(m);
		return JF_FAILED;
	}
	/* an incremental snapshot: its chunks that the previous one holds are
	 * linked from it (autosave.c's previous_snapshot() chooses it) */
	d.prev_dir = o->prev_dir;
	c = (struct commit){ .s = s, .o = o, .tmp = d.dir, .m = m, .stats = &stats };
	d.procs = procs;
	d.prepare = prepare;
	d.commit = commit;
	d.commit_arg = &c;
	crash_point("store-checked");
	if (ckpt_dump(&d) < 0) {
		store_drop_tmp(s, d.dir);
		free((char *)d.dir);
		meta_free(m);
		/* another freeze came first, between our look and our attach:
		 * a new look, at the group as it is now */
		if (d.pgid) {
			proc_table_free(procs);
			if (proc_table_read(procs) < 0)
				return JF_FAILED;
		}
		return busy(procs, d.pid, d.pgid) ? JF_BUSY : JF_FAILED;
	}
	free((char *)d.dir);
	return 0;
}

int session_freeze(struct store *s, struct freeze_opts *o, struct job_meta *m)
{
	struct proc_table procs = { 0 };
	int r = freeze(s, o, m, &procs);

	proc_table_free(&procs);
	return r;
}
