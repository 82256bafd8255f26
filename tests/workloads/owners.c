/* owners: what a program sees of file owners and of its own groups, before
 * and after it is frozen. It asks every call that reports an owner (stat,
 * lstat, fstat, fstatat with a directory fd and with AT_EMPTY_PATH, statx)
 * about files of root and of other groups, its own directory, a symlink,
 * and paths that must fail (ENOENT, EACCES), and getgroups; then waits
 * about 1.5 s of its own time and asks again. Both rounds are printed; a
 * thawed job must print what an uninterrupted run prints. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static void show(const char *what, int r, const struct stat *st)
{
	if (r < 0)
		printf("  %s: %s\n", what, strerror(errno));
	else
		printf("  %s: uid %u gid %u mode %o\n", what, st->st_uid, st->st_gid, st->st_mode);
}

static void round_of_calls(int n, int root_file, int usr)
{
	struct stat st;
	struct statx sx;
	gid_t groups[256];
	int r;

	printf("round %d\n", n);
	r = stat("/usr/bin", &st);
	show("stat /usr/bin", r, &st);
	r = lstat("/bin", &st);
	show("lstat /bin", r, &st);
	r = fstat(root_file, &st);
	show("fstat /usr/lib/os-release", r, &st);
	r = fstatat(usr, "bin", &st, 0);
	show("fstatat usr, bin", r, &st);
	r = fstatat(usr, "", &st, AT_EMPTY_PATH);
	show("fstatat usr, AT_EMPTY_PATH", r, &st);
	r = fstatat(AT_FDCWD, ".", &st, 0);
	show("fstatat its own directory", r, &st);
	r = statx(AT_FDCWD, "/etc/shadow", 0, STATX_UID | STATX_GID | STATX_MODE, &sx);
	if (r < 0)
		printf("  statx /etc/shadow: %s\n", strerror(errno));
	else
		printf("  statx /etc/shadow: uid %u gid %u mode %o\n", sx.stx_uid, sx.stx_gid, sx.stx_mode);
	r = stat("/nonexistent/owners-test", &st);
	show("stat of nothing", r, &st);
	r = stat("/root/.profile", &st);
	show("stat under /root", r, &st);
	r = getgroups(0, NULL);
	printf("  getgroups count: %d\n", r);
	r = getgroups(256, groups);
	printf("  groups:");
	for (int i = 0; i < r; i++)
		printf(" %u", groups[i]);
	printf("\n");
	fflush(stdout);
}

int main(void)
{
	struct timespec t0, t, nap = { 0, 20 * 1000 * 1000 };
	/* (not /etc/passwd: adding a user replaces it, and a job holding
	 * the old one, deleted and root's, could not be frozen) */
	int root_file = open("/usr/lib/os-release", O_RDONLY | O_CLOEXEC);
	int usr = open("/usr", O_RDONLY | O_DIRECTORY | O_CLOEXEC);

	if (root_file < 0 || usr < 0) {
		perror("owners: open");
		return 2;
	}
	round_of_calls(1, root_file, usr);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	do {
		nanosleep(&nap, NULL);
		clock_gettime(CLOCK_MONOTONIC, &t);
	} while ((t.tv_sec - t0.tv_sec) * 1000 + (t.tv_nsec - t0.tv_nsec) / 1000000 < 1500);
	round_of_calls(2, root_file, usr);
	return 0;
}
