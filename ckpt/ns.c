/* ns.c: user, pid, time and mount namespaces for a thaw. Choosing PIDs needs
 * CAP_CHECKPOINT_RESTORE over the pid namespace: an ordinary user has it in
 * a pid namespace owned by a user namespace they created. */
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <linux/sched.h>
#include "ckpt/clock.h"
#include "ckpt/hardening.h"
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/util.h"

static int write_proc_self(const char *file, const char *text)
{
	char path[64];
	int fd, n = strlen(text);

	snprintf(path, sizeof(path), "/proc/self/%s", file);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, text, n) != n) {
		pr_perror("cannot write '%s' to %s", text, path);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* After an EPERM in making the namespaces: when AppArmor's restriction of
 * user namespaces is why, says so and what to do, and returns true. */
static bool explain_apparmor(const char *what)
{
	char *label = hardening_aa_label();
	char *advice = hardening_aa_advice(hardening_aa_userns(), label);

	bool explained = advice != NULL;

	if (explained)
		pr_err("%s: %s", what, advice);
	free(advice);
	free(label);
	return explained;
}

int ns_enter_user(void)
{
	uid_t uid = geteuid();
	gid_t gid = getegid();
	char map[64];

	if (unshare(CLONE_NEWUSER) < 0) {
		if (errno == EPERM || errno == ENOSPC) {
			if (!explain_apparmor("cannot create a user namespace"))
				pr_err("cannot create a user namespace (%s): this system restricts "
				       "them for ordinary users; see 'jobfreeze check'", strerror(errno));
		} else {
			pr_perror("cannot create a user namespace");
		}
		return -1;
	}
	snprintf(map, sizeof(map), "%u %u 1", uid, uid);
	if (write_proc_self("uid_map", map) < 0)
		return -1;
	/* An unprivileged gid_map requires setgroups to be denied first. */
	if (write_proc_self("setgroups", "deny") < 0)
		return -1;
	snprintf(map, sizeof(map), "%u %u 1", gid, gid);
	return write_proc_self("gid_map", map);
}

int ns_unshare_job(int64_t mono, int64_t boot)
{
	if (unshare(CLONE_NEWPID | CLONE_NEWTIME) < 0) {
		/* (AppArmor may let the user namespace be made, without the
		 * capabilities in it that this needs) */
		if (errno != EPERM || !explain_apparmor("cannot create the pid and time namespaces "
							"for the job"))
			pr_perror("cannot create the pid and time namespaces for the job");
		return -1;
	}
	/* Only before the first process enters the time namespace. */
	return timens_set_clocks(mono, boot);
}

int ns_mount_proc(void)
{
	if (unshare(CLONE_NEWNS) < 0) {
		pr_perror("cannot create a mount namespace for the job");
		return -1;
	}
	/* (source and type are ignored for a propagation change; named, so
	 * that checkers such as valgrind see valid strings) */
	if (mount("none", "/", "none", MS_REC | MS_PRIVATE, NULL) < 0) {
		pr_perror("cannot make the job's mounts private");
		return -1;
	}
	if (mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) {
		pr_perror("cannot mount /proc for the job's pid namespace");
		return -1;
	}
	return 0;
}

int ns_mount_devpts(void)
{
	/* A devpts of the thaw's own, where the job's ptys get their numbers
	 * back; /dev/ptmx finds it at /dev/pts (its "pts" neighbour). (Its
	 * ptys belong to the user: no group of theirs is known in here.) */
	if (mount("devpts", "/dev/pts", "devpts", MS_NOSUID | MS_NOEXEC,
		  "newinstance,ptmxmode=0666,mode=0620") < 0) {
		pr_perror("cannot mount a devpts instance of the job's own on /dev/pts");
		return -1;
	}
	return 0;
}

int ns_set_next_pid(pid_t pid)
{
	char buf[32];
	int fd, n = snprintf(buf, sizeof(buf), "%d", pid - 1);

	fd = open("/proc/sys/kernel/ns_last_pid", O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, buf, n) != n) {
		pr_perror("cannot choose pid %d (/proc/sys/kernel/ns_last_pid)", pid);
		if (fd >= 0)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

/* Without clone3 (valgrind does not know it), the pid namespace's own
 * ns_last_pid: nothing else forks in it, so the next fork gets PID. */
static pid_t fork_after_last_pid(pid_t pid)
{
	pid_t child;

	if (ns_set_next_pid(pid) < 0)
		return -1;
	child = fork();
	if (child < 0)
		pr_perror("fork");
	else if (child > 0 && child != pid) {
		pr_err("pid %d is already taken in the job's namespace (got %d)", pid, child);
		kill(child, SIGKILL);
		return -1;
	}
	return child;
}

pid_t clone_with_pid(pid_t pid)
{
	struct clone_args args;
	pid_t tid = pid;
	long ret;

	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uint64_t)&tid;
	args.set_tid_size = 1;
	ret = syscall(SYS_clone3, &args, sizeof(args));
	if (ret < 0 && errno == ENOSYS)
		return fork_after_last_pid(pid);
	if (ret < 0) {
		if (errno == EEXIST)
			pr_err("pid %d is already taken in the job's namespace", pid);
		else
			pr_perror("cannot create the job's process with pid %d (clone3)", pid);
		return -1;
	}
	return ret;
}
