/* fproc: files of /proc held open. Its own /proc/self/stat (read part way:
 * its offset), its /proc/PID directory, a live child's status, the mounts
 * of a child that has ended and been collected, /proc/meminfo, and its own
 * namespaces (/proc/self/ns/...). After the thaw each names the same
 * process by the same pid: its own namespaces are the thawed job's own,
 * as /proc/self/ns shows them. MODE "outside": also the stat of its
 * parent, which is not part of the job (refused); "ns": also the user
 * namespace of a child that made its own and ended (refused). */
#include <sched.h>
#include <signal.h>
#include <sys/wait.h>
#include "fwait.h"

static int pid_in(int fd)
{
	char buf[256];
	ssize_t n = pread(fd, buf, sizeof(buf) - 1, 0);
	int pid = -1;

	if (n > 0) {
		buf[n] = 0;
		char *p = strstr(buf, "Pid:");
		sscanf(p ? p + 4 : buf, "%d", &pid);
	}
	return pid;
}

static void link_of(int fd, char *buf, size_t len)
{
	char p[64];
	ssize_t n;

	snprintf(p, sizeof(p), "/proc/self/fd/%d", fd);
	n = readlink(p, buf, len - 1);
	buf[n > 0 ? n : 0] = 0;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 2 ? argv[2] : "";
	char path[64], buf[256], now[256];
	int st;

	fw_init(argc, argv);
	int self = open("/proc/self/stat", O_RDONLY);
	fw_need(self >= 0 && read(self, buf, 5) == 5, "stat");
	int dir = open("/proc/self", O_RDONLY | O_DIRECTORY);
	int mem = open("/proc/meminfo", O_RDONLY);

	pid_t live = fork();
	fw_need(live >= 0, "fork");
	if (live == 0) {
		fw_wait_go();
		pause();
		_exit(0);
	}
	snprintf(path, sizeof(path), "/proc/%d/status", live);
	int lfd = open(path, O_RDONLY);

	int hold[2];
	fw_need(pipe(hold) == 0, "pipe");
	pid_t gone = fork();
	fw_need(gone >= 0, "fork");
	if (gone == 0) {
		close(hold[1]);
		_exit(read(hold[0], buf, 1) == 0 ? 0 : 1);
	}
	close(hold[0]);
	snprintf(path, sizeof(path), "/proc/%d/mountinfo", gone);
	int dfd = open(path, O_RDONLY);
	close(hold[1]);
	fw_need(waitpid(gone, &st, 0) == gone, "waitpid");
	int derr = read(dfd, buf, 1) < 0 ? errno : 0;

	static const char *const kinds[] = { "net", "pid", "mnt", "user", "uts", "ipc" };
	int ns[6];
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i]);
		ns[i] = open(path, O_RDONLY);
		fw_need(ns[i] >= 0, path);
	}

	if (!strcmp(mode, "outside")) {
		snprintf(path, sizeof(path), "/proc/%d/stat", getppid());
		fw_need(open(path, O_RDONLY) >= 0, path);
	} else if (!strcmp(mode, "ns")) {
		int p[2];
		fw_need(pipe(p) == 0, "pipe");
		pid_t c = fork();
		if (c == 0) {
			fw_need(unshare(CLONE_NEWUSER) == 0, "unshare");
			_exit(write(p[1], "x", 1) == 1 ? 0 : 1);
		}
		fw_need(read(p[0], buf, 1) == 1, "read");
		snprintf(path, sizeof(path), "/proc/%d/ns/user", c);
		fw_need(open(path, O_RDONLY) >= 0, path);
		fw_need(waitpid(c, &st, 0) == c, "waitpid");
	}
	fw_need(dir >= 0 && mem >= 0 && lfd >= 0 && dfd >= 0, "opens");

	fw_ready_wait();

	int pid = -1;
	fw_check("own stat", lseek(self, 0, SEEK_CUR) == 5 && pread(self, buf, sizeof(buf), 0) > 0 &&
		 sscanf(buf, "%d", &pid) == 1 && pid == getpid(), "names %d", pid);
	int comm = openat(dir, "comm", O_RDONLY);
	fw_check("own /proc directory", comm >= 0 && openat(dir, "status", O_RDONLY) >= 0 &&
		 pid_in(openat(dir, "status", O_RDONLY)) == getpid(), "does not name it");
	fw_check("meminfo", pread(mem, buf, 8, 0) == 8 && !memcmp(buf, "MemTotal", 8), "reads %.8s", buf);
	fw_check("a child's status", pid_in(lfd) == live, "names %d", pid_in(lfd));
	errno = 0;
	fw_check("an ended child's mounts", fcntl(dfd, F_GETFD) >= 0 &&
		 (read(dfd, buf, 1) < 0 ? errno : 0) == derr, "read gives %d, gave %d", errno, derr);
	for (int i = 0; i < 6; i++) {
		snprintf(path, sizeof(path), "/proc/self/ns/%s", kinds[i]);
		ssize_t n = readlink(path, buf, sizeof(buf) - 1);
		buf[n > 0 ? n : 0] = 0;
		link_of(ns[i], now, sizeof(now));
		char name[32];
		snprintf(name, sizeof(name), "own %s namespace", kinds[i]);
		fw_check(name, !strcmp(buf, now), "holds %s, is in %s", now, buf);
	}
	kill(live, SIGTERM);
	fw_check("the child ends", waitpid(live, &st, 0) == live && WIFSIGNALED(st), "status %#x", st);
	return fw_done();
}
