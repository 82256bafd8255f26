/* holders.c: one walk over /proc/PID/fd of the processes outside the job. */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/holders.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

static int walk_one(pid_t pid, holder_fn fn, void *arg)
{
	char dpath[64], fpath[320], link[4096];
	struct dirent *fe;
	DIR *fds;
	int ret = 0;

	snprintf(dpath, sizeof(dpath), "/proc/%d/fd", pid);
	fds = opendir(dpath);
	if (!fds)
		return 0;	/* gone, or another user's */
	while (ret == 0 && (fe = readdir(fds))) {
		ssize_t l;

		if (fe->d_name[0] == '.')
			continue;
		snprintf(fpath, sizeof(fpath), "%s/%s", dpath, fe->d_name);
		l = readlink(fpath, link, sizeof(link) - 1);
		if (l <= 0)
			continue;
		link[l] = 0;
		ret = fn(arg, pid, fpath, link);
	}
	closedir(fds);
	return ret;
}

int holders_walk(const pid_t *job, size_t n, holder_fn fn, void *arg)
{
	struct dirent *pe;
	DIR *proc = opendir("/proc");
	int ret = 0;

	if (!proc) {
		pr_perror("cannot list /proc");
		return -1;
	}
	while (ret == 0 && (pe = readdir(proc))) {
		int pid;
		bool ours = false;

		if (parse_int(pe->d_name, &pid) < 0 || pid == getpid())
			continue;
		for (size_t i = 0; i < n && !ours; i++)
			ours = job[i] == pid;
		if (!ours)
			ret = walk_one(pid, fn, arg);
	}
	closedir(proc);
	return ret;
}
