/* tree.c: the processes of a job: a process and all its descendants, found
 * through /proc/PID/task/TID/children, parents listed before children. */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

/* Appends the children of every thread of PID to the list. */
static int add_children(pid_t pid, pid_t **pids, size_t *n, size_t *cap)
{
	char path[64];
	struct dirent *de;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%d/task", pid);
	d = opendir(path);
	if (!d) {
		if (errno == ENOENT)
			return 0;	/* it has just ended; its parent's check will say */
		pr_perror("cannot list the threads of process %d", pid);
		return -1;
	}
	while ((de = readdir(d))) {
		char cpath[96], *text, *save = NULL;
		int tid;

		if (de->d_name[0] == '.' || parse_int(de->d_name, &tid) < 0)
			continue;
		snprintf(cpath, sizeof(cpath), "/proc/%d/task/%d/children", pid, tid);
		text = read_file(cpath, NULL);
		if (!text)
			continue;	/* the thread ended meanwhile */
		for (char *t = strtok_r(text, " \n", &save); t; t = strtok_r(NULL, " \n", &save)) {
			int child;
			if (parse_int(t, &child) < 0)
				continue;
			if (*n == *cap)
				*pids = xrealloc(*pids, (*cap = *cap * 2 + 8) * sizeof(pid_t));
			(*pids)[(*n)++] = child;
		}
		free(text);
	}
	closedir(d);
	return 0;
}

int tree_collect(pid_t root, pid_t **pids, size_t *n)
{
	size_t cap = 8;

	*pids = xmalloc(cap * sizeof(pid_t));
	(*pids)[0] = root;
	*n = 1;
	for (size_t i = 0; i < *n; i++) {
		if (*n > 4096) {
			pr_err("process %d has more than 4096 descendants: too many to freeze", root);
			goto fail;
		}
		if (add_children((*pids)[i], pids, n, &cap) < 0)
			goto fail;
	}
	return 0;
fail:
	free(*pids);
	*pids = NULL;
	return -1;
}
