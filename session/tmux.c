/* tmux.c: a tmux server, with every pane's processes, as one job. The
 * server is asked through its own command line (tmux -S PATH ...): its
 * pid, socket and sessions, and its clients, which are outside the job
 * (each is a process on a terminal of the user's): they are told and
 * detached before the freeze, so that none is cut off half-way. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/util.h"
#include "session/store.h"
#include "session/tmux.h"

#define OUT_MAX (256 * 1024)

/* Runs `tmux [-L|-S] ARGS...`, its output (and errors) in *OUT; returns
 * its exit status, -1 if it could not run. */
static int run(const struct tmux_target *t, const char *const *args, char **out)
{
	const char *argv[16];
	int p[2], n = 0, status;
	size_t len = 0;
	pid_t pid;

	argv[n++] = "tmux";
	if (t->path) {
		argv[n++] = "-S";
		argv[n++] = t->path;
	} else if (t->name) {
		argv[n++] = "-L";
		argv[n++] = t->name;
	}
	for (int i = 0; args[i] && n < 15; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	*out = xmalloc(OUT_MAX + 1);
	**out = 0;
	if (pipe2(p, O_CLOEXEC) < 0) {
		pr_perror("pipe");
		return -1;
	}
	pid = fork();
	if (pid < 0) {
		pr_perror("fork");
		close(p[0]);
		close(p[1]);
		return -1;
	}
	if (pid == 0) {
		int null = open("/dev/null", O_RDONLY);
		if (null < 0 || dup2(null, 0) < 0 || dup2(p[1], 1) < 0 || dup2(p[1], 2) < 0)
			_exit(127);
		execvp("tmux", (char *const *)argv);
		_exit(127);
	}
	close(p[1]);
	for (;;) {
		ssize_t r = read(p[0], *out + len, OUT_MAX - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		len += r;
	}
	(*out)[len] = 0;
	close(p[0]);
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return -1;
	if (WIFEXITED(status) && WEXITSTATUS(status) == 127 && !len) {
		pr_err("cannot run tmux: is it installed?");
		return -1;
	}
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* The socket of the server this command runs in, from $TMUX ("path,pid,n"). */
static char *socket_from_env(void)
{
	const char *v = getenv("TMUX");
	char *s;

	if (!v || !*v)
		return NULL;
	s = xstrdup(v);
	s[strcspn(s, ",")] = 0;
	return s;
}

/* Whether PID has a unix socket bound to PATH open (the listener of a
 * tmux server): its fds' inodes against the net namespace's unix table. */
static bool listens_at(pid_t pid, const char *path)
{
	char p[64], link[64], *table, *save = NULL;
	struct dirent *de;
	bool found = false;
	DIR *d;

	snprintf(p, sizeof(p), "/proc/%d/net/unix", pid);
	table = read_file(p, NULL);
	snprintf(p, sizeof(p), "/proc/%d/fd", pid);
	d = table ? opendir(p) : NULL;
	while (d && !found && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		unsigned long long ino;
		if (n <= 0)
			continue;
		link[n] = 0;
		if (sscanf(link, "socket:[%llu]", &ino) != 1)
			continue;
		/* lines: "Num RefCount Protocol Flags Type St Inode Path" */
		char *copy = xstrdup(table);
		for (char *l = strtok_r(copy, "\n", &save); l && !found; l = strtok_r(NULL, "\n", &save)) {
			unsigned long long i;
			int at = 0;
			if (sscanf(l, "%*s %*s %*s %*s %*s %*s %llu %n", &i, &at) == 1 && i == ino && at &&
			    !strcmp(l + at, path))
				found = true;
		}
		free(copy);
	}
	if (d)
		closedir(d);
	free(table);
	return found;
}

/* The server's pid as we see it: PID is what it sees, the same unless it
 * runs in a pid namespace of its own (a thawed server); the process of
 * ours that listens at SOCKET with that last NSpid. 0 if none. */
static pid_t host_pid(pid_t pid, const char *socket)
{
	struct proc_status st;
	struct dirent *de;
	pid_t found = 0;
	DIR *proc;

	if (proc_parse_status(pid, &st) == 0 && st.ns_depth == 1 && listens_at(pid, socket))
		return pid;
	proc = opendir("/proc");
	while (proc && !found && (de = readdir(proc))) {
		int p;
		if (parse_int(de->d_name, &p) < 0 || p == pid)
			continue;
		if (proc_stat_quiet(p, &(struct proc_stat){ 0 }) < 0 ||
		    proc_parse_status(p, &st) < 0 || st.nspid != pid || st.uid[1] != geteuid())
			continue;
		if (listens_at(p, socket))
			found = p;
	}
	if (proc)
		closedir(proc);
	return found;
}

int tmux_find(const struct tmux_target *t, struct tmux_server *s)
{
	/* (':' cannot be in a session's name; the socket's path, last, may
	 * hold any: a tab, shown as '_' outside UTF-8 locales, would not do) */
	static const char *const ls[] = { "list-sessions", "-F",
		"#{pid}:#{session_windows}:#{session_name}:#{socket_path}", NULL };
	struct tmux_target own = *t;
	char *env = NULL, *out, *save = NULL;
	int r, sessions = 0, windows = 0, ret = JF_NO_JOB;
	char *names = xstrdup("");

	memset(s, 0, sizeof(*s));
	if (!t->name && !t->path)
		own.path = env = socket_from_env();
	r = run(&own, ls, &out);
	if (r != 0) {
		out[strcspn(out, "\n")] = 0;
		if (r > 0)
			pr_err("no tmux server to freeze%s%s: %s", own.path ? " on " : "",
			       own.path ? own.path : own.name ? own.name : "", *out ? out : "tmux failed");
		ret = r < 0 ? JF_FAILED : JF_NO_JOB;
		goto out;
	}
	for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *f[4], *n;
		int i = 0, w = 0;
		for (f[0] = line; i < 3 && (n = strchr(f[i], ':')); i++) {
			*n = 0;
			f[i + 1] = n + 1;
		}
		if (i < 3)
			continue;
		if (!s->pid) {
			parse_int(f[0], &s->pid);
			s->socket = xstrdup(f[3]);
		}
		parse_int(f[1], &w);
		windows += w;
		n = xasprintf("%s%s%s", names, sessions ? ", " : "", f[2]);
		free(names);
		names = n;
		sessions++;
	}
	if (!s->pid) {
		pr_err("tmux gave no server pid: is it older than 2.0?");
		ret = JF_FAILED;
		goto out;
	}
	/* (a server thawed before tells its pid in its own namespace) */
	s->pid = host_pid(s->pid, s->socket);
	if (s->pid <= 0) {
		pr_err("cannot find the tmux server of %s among the processes", s->socket);
		ret = JF_FAILED;
		goto out;
	}
	s->summary = xasprintf("%d session%s: %s; %d window%s", sessions, sessions == 1 ? "" : "s",
			       names, windows, windows == 1 ? "" : "s");
	ret = 0;
out:
	free(names);
	free(out);
	free(env);
	return ret;
}

void tmux_server_free(struct tmux_server *s)
{
	free(s->socket);
	free(s->summary);
	memset(s, 0, sizeof(*s));
}

bool tmux_inside(const struct tmux_server *s)
{
	pid_t p = getpid();

	for (int depth = 0; p > 1 && depth < 256; depth++) {
		struct proc_stat st;
		if (p == s->pid)
			return true;
		if (proc_stat_quiet(p, &st) < 0)
			return false;
		p = st.ppid;
	}
	return false;
}

char *tmux_quote(const char *word)
{
	size_t n = 3;
	char *q, *o;

	for (const char *c = word; *c; c++)
		n += *c == '\'' ? 4 : 1;
	q = o = xmalloc(n);
	*o++ = '\'';
	for (const char *c = word; *c; c++) {
		if (*c == '\'') {
			memcpy(o, "'\\''", 4);
			o += 4;
		} else
			*o++ = *c;
	}
	*o++ = '\'';
	*o = 0;
	return q;
}

/* Whether PID has a terminal open (a client's: the server's own are
 * pty masters, /dev/ptmx). */
static bool holds_terminal(pid_t pid)
{
	char path[64], link[4096];
	struct dirent *de;
	bool held = false;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/fd", pid);
	d = opendir(path);
	while (d && !held && (de = readdir(d))) {
		ssize_t n = readlinkat(dirfd(d), de->d_name, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = 0;
		/* (a master opened through a devpts's own ptmx, as a thawed
		 * server's are, is named /dev/pts/ptmx) */
		held = (!strncmp(link, "/dev/pts/", 9) && strcmp(link, "/dev/pts/ptmx")) ||
		       !strncmp(link, "/dev/tty", 8);
	}
	if (d)
		closedir(d);
	return held;
}

/* The clients attached now, one name per line in *OUT. */
static int clients(const struct tmux_target *t, char **out)
{
	static const char *const lc[] = { "list-clients", "-F", "#{client_name}", NULL };

	if (run(t, lc, out) != 0) {
		pr_err("cannot list the clients of the tmux server: %s", *out);
		return -1;
	}
	return 0;
}

int tmux_detach_clients(const struct tmux_server *s, const char *message, const char *ours)
{
	struct tmux_target t = { .path = s->socket };
	char *out = NULL, *mine = NULL, *save = NULL;
	int ret = -1;

	if (ours) {
		/* the client of the session of the pane we run in */
		static const char *const dm[] = { "display-message", "-p", "#{client_name}", NULL };
		if (run(&t, dm, &mine) != 0 || !*mine) {
			pr_err("this command runs inside the tmux server, which no client shows: run "
			       "'jobfreeze freeze --tmux -S %s' from outside it", s->socket);
			goto out;
		}
		mine[strcspn(mine, "\n")] = 0;
	}
	if (clients(&t, &out) < 0)
		goto out;
	if (mine && !strstr(out, mine)) {
		pr_err("the tmux client %s is gone: run 'jobfreeze freeze --tmux -S %s' from "
		       "outside the server", mine, s->socket);
		goto out;
	}
	for (char *c = strtok_r(out, "\n", &save); c; c = strtok_r(NULL, "\n", &save)) {
		bool me = mine && !strcmp(c, mine);
		const char *dc[] = { "detach-client", "-t", c, "-E", me ? ours : message, NULL };
		char *o;
		/* (a client that left meanwhile is no error) */
		run(&t, dc, &o);
		free(o);
	}
	if (ours) {
		ret = 0;	/* our client freezes the server once it is out */
		goto out;
	}
	/* until the server has seen every client go and let their
	 * terminals go (5 s at most) */
	for (int i = 0; i < 100; i++) {
		struct timespec ms50 = { 0, 50 * 1000000 };
		free(out);
		if (clients(&t, &out) < 0)
			goto out;
		if (!*out && !holds_terminal(s->pid)) {
			ret = 0;
			goto out;
		}
		nanosleep(&ms50, NULL);
	}
	out[strcspn(out, "\n")] = 0;
	pr_err("the tmux client %s does not detach from the server on %s: not frozen",
	       *out ? out : "(gone, its terminal still held)", s->socket);
out:
	free(out);
	free(mine);
	return ret;
}
