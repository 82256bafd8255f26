/* proc.c: text parsers of /proc/PID files. They never trust the text:
 * every field is checked, so the fuzzer can feed them anything. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <sys/stat.h>
#include <string.h>
#include <sys/mman.h>
#include "ckpt/log.h"
#include "ckpt/proc.h"
#include "ckpt/util.h"

void proc_maps_free(struct proc_maps *m)
{
	for (size_t i = 0; i < m->n; i++)
		free(m->v[i].path);
	free(m->v);
	m->v = NULL;
	m->n = 0;
}

static uint32_t parse_vmflags(const char *s)
{
	static const struct { const char name[3]; uint32_t bit; } map[] = {
		{ "gd", VMF_GROWSDOWN }, { "dc", VMF_DONTFORK }, { "wf", VMF_WIPEONFORK },
		{ "hg", VMF_HUGEPAGE }, { "nh", VMF_NOHUGEPAGE }, { "dd", VMF_DONTDUMP },
		{ "lo", VMF_LOCKED }, { "io", VMF_IO }, { "pf", VMF_IO }, { "sh", VMF_SHARED },
		{ "mr", VMF_MAYREAD }, { "mw", VMF_MAYWRITE }, { "sr", VMF_SEQ_READ },
		{ "rr", VMF_RAND_READ }, { "mg", VMF_MERGEABLE }, { "lf", VMF_LOCKONFAULT },
		{ "nr", VMF_NORESERVE }, { "ht", VMF_HUGETLB }, { "dp", VMF_DROPPABLE },
		{ "gu", VMF_GUARD },
	};
	uint32_t f = 0;

	while (*s) {
		while (*s == ' ')
			s++;
		if (s[0] && s[1] && (s[2] == ' ' || s[2] == 0 || s[2] == '\n')) {
			for (size_t i = 0; i < ARRAY_SIZE(map); i++)
				if (s[0] == map[i].name[0] && s[1] == map[i].name[1])
					f |= map[i].bit;
		}
		while (*s && *s != ' ')
			s++;
	}
	return f;
}

/* One maps line: "start-end perms offset major:minor inode   path". */
static int parse_maps_line(char *line, struct proc_vma *v)
{
	char perms[5];
	int pathpos = 0;

	memset(v, 0, sizeof(*v));
	if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %4s %" SCNx64 " %x:%x %" SCNu64 " %n",
		   &v->start, &v->end, perms, &v->pgoff, &v->dev_major, &v->dev_minor,
		   &v->ino, &pathpos) < 7)
		return -1;
	if (v->end <= v->start || strlen(perms) != 4)
		return -1;
	v->prot = (perms[0] == 'r' ? PROT_READ : 0) | (perms[1] == 'w' ? PROT_WRITE : 0) |
		  (perms[2] == 'x' ? PROT_EXEC : 0);
	v->shared = perms[3] == 's';
	char *p = pathpos ? line + pathpos : NULL;
	if (p && *p) {
		size_t l = strlen(p);
		static const char del[] = " (deleted)";
		if (l > sizeof(del) - 1 && !strcmp(p + l - (sizeof(del) - 1), del)) {
			v->deleted = true;
			p[l - (sizeof(del) - 1)] = 0;
		}
		v->path = xstrdup(p);
	}
	return 0;
}

static bool is_maps_line(const char *line)
{
	/* smaps field lines are "Name:   value"; maps lines start with hex. */
	const char *p = line;
	while ((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))
		p++;
	return p != line && *p == '-';
}

int proc_parse_maps_text(char *text, struct proc_maps *m)
{
	size_t cap = 0;
	char *save = NULL;

	m->v = NULL;
	m->n = 0;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (is_maps_line(line)) {
			if (m->n == cap)
				m->v = xrealloc(m->v, (cap = cap ? cap * 2 : 64) * sizeof(*m->v));
			if (parse_maps_line(line, &m->v[m->n]) < 0) {
				proc_maps_free(m);
				errno = EINVAL;
				return -1;
			}
			if (m->n && m->v[m->n].start < m->v[m->n - 1].end) {
				free(m->v[m->n].path);
				proc_maps_free(m);
				errno = EINVAL;
				return -1;
			}
			m->n++;
		} else if (!strncmp(line, "VmFlags:", 8) && m->n) {
			m->v[m->n - 1].vmflags = parse_vmflags(line + 8);
		} else if (!strncmp(line, "Swap:", 5) && m->n) {
			unsigned long long kb;
			if (sscanf(line + 5, "%llu", &kb) == 1)
				m->v[m->n - 1].swap_kb = kb;
		}
	}
	return 0;
}

int proc_parse_maps(pid_t pid, bool smaps, struct proc_maps *m)
{
	char path[64];
	char *text;
	int ret = -1;

	snprintf(path, sizeof(path), "/proc/%d/%s", pid, smaps ? "smaps" : "maps");
	/* The kernel gives the file a page at a time, each resuming at the
	 * address where the last stopped: a process that maps or unmaps
	 * meanwhile (jobfreeze's own threads, when it reads its own) can show
	 * an area that overlaps the one before. Read again then. */
	for (int tries = 0; tries < 20 && ret < 0; tries++) {
		text = read_file(path, NULL);
		if (!text) {
			pr_perror("cannot read %s", path);
			return -1;
		}
		ret = proc_parse_maps_text(text, m);
		free(text);
	}
	if (ret < 0)
		pr_err("cannot parse %s", path);
	return ret;
}

int proc_parse_stat_text(char *text, struct proc_stat *s)
{
	/* comm may hold spaces and parentheses: fields resume after the last ')'. */
	char *p = strrchr(text, ')');
	unsigned long long f[52];
	int n = 0;

	memset(s, 0, sizeof(*s));
	if (!p || p[1] != ' ' || !p[2])
		return -1;
	s->state = p[2];
	p += 3;
	/* Fields 4..52 (1-based); f[k] holds field k. */
	for (int k = 4; k <= 52; k++) {
		char *end;
		while (*p == ' ')
			p++;
		if (!*p || *p == '\n')
			break;
		errno = 0;
		if (*p == '-')
			f[k - 1] = (unsigned long long)strtoll(p, &end, 10);
		else
			f[k - 1] = strtoull(p, &end, 10);
		if (end == p || errno)
			return -1;
		p = end;
		n = k;
	}
	if (n < 51)
		return -1;
	s->ppid = f[3];
	s->pgrp = f[4];
	s->session = f[5];
	s->tty_nr = f[6];
	s->tpgid = f[7];
	s->flags = f[8];
	s->num_threads = f[19];
	s->start_time = f[21];
	s->startcode = f[25];
	s->endcode = f[26];
	s->startstack = f[27];
	s->start_data = f[44];
	s->end_data = f[45];
	s->start_brk = f[46];
	s->arg_start = f[47];
	s->arg_end = f[48];
	s->env_start = f[49];
	s->env_end = f[50];
	s->exit_code = n >= 52 ? (int)f[51] : 0;
	return 0;
}

int proc_parse_stat(pid_t pid, struct proc_stat *s)
{
	if (proc_stat_quiet(pid, s) == 0)
		return 0;
	if (errno == EINVAL)
		pr_err("cannot parse /proc/%d/stat", pid);
	else
		pr_perror("cannot read /proc/%d/stat", pid);
	return -1;
}

static int parse_id4(const char *v, unsigned out[4])
{
	return sscanf(v, "%u %u %u %u", &out[0], &out[1], &out[2], &out[3]) == 4 ? 0 : -1;
}

int proc_parse_status_text(char *text, struct proc_status *s)
{
	char *save = NULL;
	int seen = 0;

	memset(s, 0, sizeof(*s));
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *v = strchr(line, ':');
		if (!v)
			continue;
		*v++ = 0;
		while (*v == ' ' || *v == '\t')
			v++;
		if (!strcmp(line, "Tgid")) {
			if (parse_int(v, &s->tgid) < 0)
				return -1;
			seen |= 1;
		} else if (!strcmp(line, "PPid")) {
			if (parse_int(v, &s->ppid) < 0)
				return -1;
		} else if (!strcmp(line, "NSpid")) {
			char *sv = NULL;
			for (char *t = strtok_r(v, " \t", &sv); t; t = strtok_r(NULL, " \t", &sv)) {
				if (parse_int(t, &s->nspid) < 0)
					return -1;
				s->ns_depth++;
			}
			seen |= 2;
		} else if (!strcmp(line, "NSpgid") || !strcmp(line, "NSsid")) {
			pid_t *to = line[2] == 'p' ? &s->nspgid : &s->nssid;
			char *sv = NULL;
			for (char *t = strtok_r(v, " \t", &sv); t; t = strtok_r(NULL, " \t", &sv))
				if (parse_int(t, to) < 0)
					return -1;
		} else if (!strcmp(line, "Threads")) {
			if (parse_int(v, &s->threads) < 0)
				return -1;
		} else if (!strcmp(line, "Uid")) {
			if (parse_id4(v, s->uid) < 0)
				return -1;
			seen |= 4;
		} else if (!strcmp(line, "Gid")) {
			if (parse_id4(v, s->gid) < 0)
				return -1;
		} else if (!strcmp(line, "Umask")) {
			uint64_t u;
			if (parse_u64(v, 8, &u) < 0 || u > 0777)
				return -1;
			s->umask = u;
		} else if (!strcmp(line, "State")) {
			s->state = *v;
		} else if (!strcmp(line, "TracerPid")) {
			if (parse_int(v, &s->tracer) < 0)
				return -1;
		} else if (!strcmp(line, "Kthread")) {
			s->kthread = *v == '1';
		} else if (!strcmp(line, "Seccomp")) {
			if (parse_int(v, &s->seccomp) < 0)
				return -1;
		} else if (!strcmp(line, "Seccomp_filters")) {
			if (parse_int(v, &s->seccomp_filters) < 0)
				return -1;
		}
	}
	return seen == 7 ? 0 : -1;
}

int proc_parse_status(pid_t pid, struct proc_status *s)
{
	char path[64];
	char *text;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/status", pid);
	text = read_file(path, NULL);
	if (!text)
		return -1;	/* the caller knows whether a missing process is an error */
	ret = proc_parse_status_text(text, s);
	if (ret < 0) {
		pr_err("cannot parse %s", path);
		errno = EINVAL;
	}
	free(text);
	return ret;
}

int proc_parse_fdinfo_text(char *text, struct proc_fdinfo *fi)
{
	char *save = NULL;
	bool pos = false;

	memset(fi, 0, sizeof(*fi));
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strncmp(line, "pos:", 4)) {
			char *v = line + 4;
			while (*v == ' ' || *v == '\t')
				v++;
			if (parse_u64(v, 10, &fi->pos) < 0)
				return -1;
			pos = true;
		} else if (!strncmp(line, "lock:", 5)) {
			fi->locked = true;
		} else if (!strncmp(line, "flags:", 6)) {
			char *v = line + 6;
			uint64_t f;
			while (*v == ' ' || *v == '\t')
				v++;
			if (parse_u64(v, 8, &f) < 0 || f > UINT32_MAX)
				return -1;
			fi->flags = f;
			fi->has_flags = true;
		}
	}
	return pos && fi->has_flags ? 0 : -1;
}

int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi, char **raw)
{
	char path[64];
	char *text;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/fdinfo/%d", pid, fd);
	*raw = read_file(path, NULL);
	if (!*raw) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	text = xstrdup(*raw);	/* the parser cuts its text into lines */
	ret = proc_parse_fdinfo_text(text, fi);
	if (ret < 0)
		pr_err("cannot parse %s", path);
	free(text);
	return ret;
}

int proc_stat_quiet(pid_t pid, struct proc_stat *s)
{
	char path[64];
	char *text;
	int ret;

	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	text = read_file(path, NULL);
	if (!text)
		return -1;
	ret = proc_parse_stat_text(text, s);
	free(text);
	if (ret < 0)
		errno = EINVAL;
	return ret;
}

bool proc_runs_self(pid_t pid)
{
	struct stat self, st;
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/exe", pid);
	return stat("/proc/self/exe", &self) == 0 && stat(path, &st) == 0 &&
	       self.st_dev == st.st_dev && self.st_ino == st.st_ino;
}

char proc_state_of(pid_t pid)
{
	struct proc_stat st;

	return proc_stat_quiet(pid, &st) == 0 ? st.state : '?';
}
