/* statbench: the cost of stat(2) as a program sees it: N stats of each
 * path given, then a walk stat'ing every entry under the first directory
 * given with -w; prints microseconds per call. bench/owners.sh runs it
 * natively and in a thawed job (where owners.c answers those calls). */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static long walk(int dfd, int depth)
{
	DIR *d = fdopendir(dfd);
	struct dirent *de;
	struct stat st;
	long n = 0;

	if (!d)
		return 0;
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		n++;
		if (S_ISDIR(st.st_mode) && depth < 16) {
			int sub = openat(dfd, de->d_name, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
			if (sub >= 0)
				n += walk(sub, depth + 1);
		}
	}
	closedir(d);
	return n;
}

int main(int argc, char **argv)
{
	struct stat st;
	int n = 20000;

	for (int k = 1; k < argc; k++) {
		if (!strcmp(argv[k], "-w") && k + 1 < argc) {
			int dfd = open(argv[++k], O_RDONLY | O_DIRECTORY);
			double t0 = now();
			long c = walk(dfd, 0);
			printf("walk %s: %ld entries, %.1f us per entry\n", argv[k], c,
			       (now() - t0) / (c ? c : 1) * 1e6);
			continue;
		}
		double t0 = now();
		for (int i = 0; i < n; i++)
			stat(argv[k], &st);
		printf("stat %s (uid %u): %.1f us per call\n", argv[k], st.st_uid, (now() - t0) / n * 1e6);
	}
	return 0;
}
