/* locker: holds an flock() write lock, a POSIX read lock on bytes 10-19
 * and an OFD write lock from byte 100 to the end of lock.dat (in its
 * working directory), and every 100 ms forks a checker, another process
 * with its own open file, which reports what it finds held and by whom.
 * 20 rounds; the output is deterministic while the locks are held. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/file.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *type_name(int t)
{
	return t == F_RDLCK ? "read" : t == F_WRLCK ? "write" : t == F_UNLCK ? "none" : "?";
}

static void check(int round, pid_t holder)
{
	int fd = open("lock.dat", O_RDWR);
	struct flock p = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 12, .l_len = 1 };
	struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 5000, .l_len = 1 };
	struct flock w = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 15, .l_len = 1 };

	if (fd < 0 || fcntl(fd, F_GETLK, &p) < 0 || fcntl(fd, F_OFD_GETLK, &o) < 0 ||
	    fcntl(fd, F_GETLK, &w) < 0) {
		perror("checker");
		_exit(1);
	}
	int fl = flock(fd, LOCK_SH | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	printf("round %d: flock %s; bytes 10-19: %s lock %s; a reader %s; byte 5000: %s lock\n",
	       round, fl ? "held" : "free", type_name(p.l_type),
	       p.l_type != F_UNLCK && p.l_pid == holder ? "of the holder" : "of nobody",
	       w.l_type == F_UNLCK ? "may share them" : "is kept out", type_name(o.l_type));
	_exit(0);
}

int main(void)
{
	int a = open("lock.dat", O_RDWR | O_CREAT | O_TRUNC, 0600);
	int b = open("lock.dat", O_RDONLY), c = open("lock.dat", O_RDWR);
	struct flock p = { .l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 10, .l_len = 10 };
	struct flock o = { .l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 100, .l_len = 0 };

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (a < 0 || b < 0 || c < 0 || flock(a, LOCK_EX) < 0 || fcntl(b, F_SETLK, &p) < 0 ||
	    fcntl(c, F_OFD_SETLK, &o) < 0) {
		perror("locking lock.dat");
		return 1;
	}
	for (int round = 1; round <= 20; round++) {
		usleep(100000);
		pid_t pid = fork();
		if (pid == 0)
			check(round, getppid());
		int st;
		if (pid < 0 || waitpid(pid, &st, 0) != pid || st)
			return 1;
	}
	unlink("lock.dat");
	return 0;
}
