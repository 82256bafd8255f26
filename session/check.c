/* check.c: whether this machine can thaw a job's images. The engine's own
 * check (ckpt_check: files, vDSO, kernel, CPU), whose messages are caught
 * and kept one sentence each, and the kernel features every thaw needs
 * (features.c's probes). */
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/features.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "session/check.h"

static void add(char ***list, size_t *n, const char *s, size_t len)
{
	*list = xrealloc(*list, (*n + 1) * sizeof(**list));
	(*list)[*n] = xmalloc(len + 1);
	memcpy((*list)[*n], s, len);
	(*list)[(*n)++][len] = 0;
}

/* The engine's messages in TEXT: errors are reasons, warnings warnings. */
static void sort_messages(const char *text, struct thaw_verdict *v)
{
	for (const char *line = text; *line;) {
		size_t len = strcspn(line, "\n");
		const char *e = memmem(line, len, ": error: ", 9), *w = memmem(line, len, ": warning: ", 11);
		if (e)
			add(&v->reasons, &v->n_reasons, e + 9, len - (e + 9 - line));
		else if (w)
			add(&v->warnings, &v->n_warnings, w + 11, len - (w + 11 - line));
		line += len + (line[len] == '\n');
	}
}

static void kernel_features(struct thaw_verdict *v)
{
	struct feature_report rep;

	if (features_probe_all(&rep) < 0)
		return;
	for (size_t i = 0; i < rep.n; i++) {
		const struct feature_result *f = &rep.f[i];
		char *s;
		if (f->ok || !(f->needed_for & FEATURE_THAW))
			continue;
		s = xasprintf("this system lacks %s (%s): %s", f->name, f->detail, f->cost);
		add(&v->reasons, &v->n_reasons, s, strlen(s));
		free(s);
	}
}

void session_check_images(const char *dir, bool ignore_cpu, struct thaw_verdict *v)
{
	struct restore_opts o = { .dir = dir, .ignore_cpu_features = ignore_cpu, .tty_fd = -1 };
	int fd = memfd_create("jobfreeze-check", MFD_CLOEXEC), old = log_get_fd();
	char *text = NULL;
	size_t len = 0;

	memset(v, 0, sizeof(*v));
	if (fd >= 0)
		log_set_fd(fd);
	v->status = ckpt_check(&o);
	if (fd >= 0) {
		char path[64];
		log_set_fd(old);
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		text = read_file(path, &len);
		close(fd);
	}
	if (text)
		sort_messages(text, v);
	free(text);
	if (v->status >= 0)
		kernel_features(v);
	if (v->status == 0 && v->n_reasons)
		v->status = 1;
}

void thaw_verdict_free(struct thaw_verdict *v)
{
	for (size_t i = 0; i < v->n_reasons; i++)
		free(v->reasons[i]);
	for (size_t i = 0; i < v->n_warnings; i++)
		free(v->warnings[i]);
	free(v->reasons);
	free(v->warnings);
	memset(v, 0, sizeof(*v));
}
