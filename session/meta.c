/* meta.c: the job's metadata file, one "key=value" line per field (values
 * escaped), and its JSON form. Text, so that a person can read it. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "session/meta.h"

/* Backslash escapes for newline and backslash: one field per line. */
static void put_str(FILE *f, const char *key, const char *v)
{
	fprintf(f, "%s=", key);
	for (const char *p = v ? v : ""; *p; p++) {
		if (*p == '\n')
			fputs("\\n", f);
		else if (*p == '\\')
			fputs("\\\\", f);
		else
			fputc(*p, f);
	}
	fputc('\n', f);
}

static char *unescape(const char *s)
{
	char *out = xmalloc(strlen(s) + 1), *o = out;

	for (; *s; s++) {
		if (*s == '\\' && s[1]) {
			s++;
			*o++ = *s == 'n' ? '\n' : *s;
		} else {
			*o++ = *s;
		}
	}
	*o = 0;
	return out;
}

int meta_write(int dirfd, const struct job_meta *m)
{
	char *text = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&text, &len);
	int fd, ret = -1;

	if (!f) {
		pr_perror("open_memstream");
		return -1;
	}
	fprintf(f, "format=1\n");
	put_str(f, "name", m->name);
	put_str(f, "command", m->command);
	put_str(f, "cwd", m->cwd);
	put_str(f, "tty", m->tty);
	put_str(f, "host", m->host);
	put_str(f, "kernel", m->kernel);
	put_str(f, "boot_id", m->boot_id);
	fprintf(f, "frozen_at=%" PRId64 "\nmemory_bytes=%" PRIu64 "\nimage_bytes=%" PRIu64
		   "\nprocesses=%u\nstopped=%d\ntty_foreground=%d\npgid=%d\npid=%d\n"
		   "start_time=%" PRIu64 "\n",
		m->frozen_at, m->memory_bytes, m->image_bytes, m->processes, m->stopped,
		m->tty_foreground, m->pgid, m->pid, m->start_time);
	put_str(f, "termios", m->termios);
	put_str(f, "kind", m->kind);
	put_str(f, "socket", m->socket);
	if (m->autosave && *m->autosave) {
		put_str(f, "autosave", m->autosave);
		fprintf(f, "snapshot=%u\n", m->snapshot);
	}
	if (fclose(f) != 0) {
		pr_perror("writing the job's metadata");
		free(text);
		return -1;
	}
	fd = openat(dirfd, META_FILE, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		pr_perror("cannot create the job's metadata file %s", META_FILE);
		goto out;
	}
	if (write_synced(fd, text, len) < 0) {
		pr_perror("cannot write the job's metadata file %s", META_FILE);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(text);
	return ret;
}

static int set_field(struct job_meta *m, const char *key, const char *val)
{
	struct { const char *key; char **field; } strs[] = {
		{ "id", &m->id }, { "name", &m->name }, { "command", &m->command },
		{ "cwd", &m->cwd }, { "tty", &m->tty }, { "host", &m->host },
		{ "kernel", &m->kernel }, { "boot_id", &m->boot_id }, { "termios", &m->termios },
		{ "kind", &m->kind }, { "socket", &m->socket }, { "autosave", &m->autosave },
	};
	uint64_t v;
	int i;

	for (size_t k = 0; k < ARRAY_SIZE(strs); k++)
		if (!strcmp(key, strs[k].key)) {
			free(*strs[k].field);
			*strs[k].field = unescape(val);
			return 0;
		}
	if (!strcmp(key, "frozen_at"))
		return parse_u64(val, 10, &v) < 0 ? -1 : (m->frozen_at = (int64_t)v, 0);
	if (!strcmp(key, "memory_bytes"))
		return parse_u64(val, 10, &m->memory_bytes);
	if (!strcmp(key, "image_bytes"))
		return parse_u64(val, 10, &m->image_bytes);
	if (!strcmp(key, "start_time"))
		return parse_u64(val, 10, &m->start_time);
	if (parse_int(val, &i) < 0)
		return 0;	/* a field of a newer version: ignored */
	if (!strcmp(key, "processes"))
		m->processes = i;
	else if (!strcmp(key, "stopped"))
		m->stopped = i;
	else if (!strcmp(key, "tty_foreground"))
		m->tty_foreground = i;
	else if (!strcmp(key, "pgid"))
		m->pgid = i;
	else if (!strcmp(key, "pid"))
		m->pid = i;
	else if (!strcmp(key, "snapshot") && i >= 0)
		m->snapshot = i;
	return 0;
}

int meta_read(int dirfd, struct job_meta *m)
{
	char *text = read_file_at(dirfd, META_FILE, NULL), *save = NULL;

	memset(m, 0, sizeof(*m));
	if (!text) {
		pr_perror("cannot read the job's metadata file %s", META_FILE);
		return -1;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *eq = strchr(line, '=');
		if (!eq)
			continue;
		*eq = 0;
		if (set_field(m, line, eq + 1) < 0) {
			pr_err("the job's metadata file %s has a bad %s", META_FILE, line);
			free(text);
			meta_free(m);
			return -1;
		}
	}
	free(text);
	/* Every string is set, so that readers need no NULL checks. */
	char **strs[] = { &m->id, &m->name, &m->command, &m->cwd, &m->tty, &m->host,
			  &m->kernel, &m->boot_id, &m->termios, &m->kind, &m->socket, &m->autosave, &m->dir };
	for (size_t k = 0; k < ARRAY_SIZE(strs); k++)
		if (!*strs[k])
			*strs[k] = xstrdup("");
	return 0;
}

void meta_free(struct job_meta *m)
{
	free(m->id);
	free(m->name);
	free(m->command);
	free(m->cwd);
	free(m->tty);
	free(m->host);
	free(m->kernel);
	free(m->boot_id);
	free(m->termios);
	free(m->kind);
	free(m->socket);
	free(m->autosave);
	free(m->dir);
	memset(m, 0, sizeof(*m));
}

void json_str(FILE *f, const char *key, const char *v, bool comma)
{
	fprintf(f, "\"%s\":\"", key);
	for (const unsigned char *p = (const unsigned char *)(v ? v : ""); *p; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(f, "\\%c", *p);
		else if (*p < 0x20)
			fprintf(f, "\\u%04x", *p);
		else
			fputc(*p, f);
	}
	fprintf(f, "\"%s", comma ? "," : "");
}

void meta_print_json_open(FILE *f, const struct job_meta *m)
{
	fputc('{', f);
	json_str(f, "id", m->id, true);
	json_str(f, "name", m->name, true);
	json_str(f, "command", m->command, true);
	json_str(f, "cwd", m->cwd, true);
	json_str(f, "tty", m->tty, true);
	fprintf(f, "\"had_tty\":%s,", *m->tty ? "true" : "false");
	json_str(f, "host", m->host, true);
	json_str(f, "kernel", m->kernel, true);
	json_str(f, "boot_id", m->boot_id, true);
	fprintf(f, "\"frozen_at\":%" PRId64 ",\"memory_bytes\":%" PRIu64 ",\"image_bytes\":%" PRIu64
		   ",\"processes\":%u,\"state\":\"%s\",\"pgid\":%d,",
		m->frozen_at, m->memory_bytes, m->image_bytes, m->processes,
		m->stopped ? "stopped" : "running", m->pgid);
	json_str(f, "kind", m->kind && *m->kind ? m->kind : "job", true);
	json_str(f, "socket", m->socket, true);
	if (m->autosave && *m->autosave) {
		json_str(f, "autosave", m->autosave, true);
		fprintf(f, "\"snapshot\":%u,", m->snapshot);
	}
	json_str(f, "dir", m->dir, false);
}

void meta_print_json(FILE *f, const struct job_meta *m)
{
	meta_print_json_open(f, m);
	fputc('}', f);
}

const char *meta_size(uint64_t bytes, char buf[32])
{
	if (bytes < 10 * 1024 * 1024)
		snprintf(buf, 32, "%.1f MiB", bytes / 1048576.0);
	else
		snprintf(buf, 32, "%" PRIu64 " MiB", (bytes + 524288) / 1048576);
	return buf;
}
