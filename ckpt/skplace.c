/* skplace.c: where a unix socket whose file was unlinked is bound again.
 *
 * Such a socket shows the job nothing of its file but its name
 * (getsockname, a peer's getpeername): the file is gone for good. So when
 * its own place cannot take it any more (ZDTM's sk-unix01 removed the
 * directory; fifo_upon_unix_socket01 bound a relative name, put a FIFO in
 * its place and moved to /), the name is bound where the restore makes
 * room for it: a relative name in a private directory, an absolute one
 * with the directories missing on its way made for the moment. The
 * restore reaches the socket through its hidden file there until the job
 * runs, then removes the file and the directories it made. */
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/skplace.h"
#include "ckpt/util.h"

/* Makes the directories of PATH's prefix up to its last '/', from START
 * (the first one that may be missing); *TOP: the first made, if none yet */
static int make_parents(char *path, size_t start, char **top)
{
	for (char *s = strchr(path + start, '/'); s; s = strchr(s + 1, '/')) {
		if (s == path)
			continue;
		*s = '\0';
		int r = mkdir(path, 0700);
		if (r == 0 && !*top)
			*top = xstrdup(path);
		if (r < 0 && errno != EEXIST) {
			pr_perror("cannot make the directory %s to bind an unlinked socket in", path);
			*s = '/';
			return -1;
		}
		*s = '/';
	}
	return 0;
}

static bool escapes(const char *name)
{
	return !strcmp(name, "..") || !strncmp(name, "../", 3) || strstr(name, "/../") ||
	       (strlen(name) >= 3 && !strcmp(name + strlen(name) - 3, "/.."));
}

char *skplace_make(const char *name, char **cwd)
{
	char *top = NULL, *path;

	*cwd = NULL;
	if (name[0] != '/') {
		const char *tmp = getenv("TMPDIR");
		if (escapes(name)) {
			pr_err("the unlinked socket name %s leaves its directory: no place can be "
			       "made for it", name);
			return NULL;
		}
		path = xasprintf("%s/jobfreeze-sock.XXXXXX", tmp && *tmp ? tmp : "/tmp");
		if (!mkdtemp(path)) {
			pr_perror("cannot make a directory (%s) to bind an unlinked socket in", path);
			free(path);
			return NULL;
		}
		char *full = xasprintf("%s/%s", path, name);
		if (make_parents(full, strlen(path) + 1, &top) < 0) {
			free(full);
			skplace_remove(path);
			free(path);
			return NULL;
		}
		free(full);
		free(top);
		*cwd = xstrdup(path);
		return path;
	}
	/* absolute: only when its directory is missing */
	path = xstrdup(name);
	char *slash = strrchr(path, '/');
	*slash = '\0';
	struct stat st;
	bool there = slash == path || stat(path, &st) == 0;
	*slash = '/';
	if (there) {
		free(path);
		errno = EEXIST;
		return NULL;
	}
	if (make_parents(path, 1, &top) < 0) {
		if (top)
			skplace_remove(top);
		free(top);
		free(path);
		return NULL;
	}
	free(path);
	return top;
}

static int rm_dir(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP && rmdir(path) < 0)
		pr_warn("cannot remove %s, made to bind an unlinked socket in: %s", path,
			strerror(errno));
	return 0;
}

void skplace_remove(const char *top)
{
	if (top)
		nftw(top, rm_dir, 16, FTW_DEPTH | FTW_PHYS);
}
