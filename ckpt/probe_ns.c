/* probe_ns.c: the probes of the namespaces a thaw makes (user, time, pid
 * with set_tid), and of the capability that would spare them. One forked
 * child makes a user namespace mapping its own uid and gid, then (inside
 * it) a time namespace and a pid namespace whose init creates a process
 * with a chosen PID through clone3 set_tid. Results come back in a shared
 * anonymous page; each of the three probes reports its part. */
#include <errno.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <sys/capability.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "ckpt/log.h"
#include "ckpt/probe.h"
#include "ckpt/util.h"

/* Constants and structures newer than the Debian 12 (6.1) headers, or kept
 * local so that newer headers cannot clash with them. */
#ifndef CAP_CHECKPOINT_RESTORE
#define CAP_CHECKPOINT_RESTORE 40
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif

/* clone3(2) arguments up to set_tid_size (CLONE_ARGS_SIZE_VER1, Linux 5.5). */
struct jf_clone_args {
	uint64_t flags;
	uint64_t pidfd;
	uint64_t child_tid;
	uint64_t parent_tid;
	uint64_t exit_signal;
	uint64_t stack;
	uint64_t stack_size;
	uint64_t tls;
	uint64_t set_tid;
	uint64_t set_tid_size;
};

#define PROBE_SET_TID	500
#define TIMENS_OFFSET_S	10

enum ns_step {
	STEP_NOT_RUN = 0,
	STEP_OK,
	STEP_SKIPPED,		/* the user namespace is unusable */
	STEP_UNSHARE_USER,
	STEP_SETGROUPS,
	STEP_UID_MAP,
	STEP_GID_MAP,
	STEP_UNSHARE_TIME,
	STEP_TIMENS_OFFSETS,
	STEP_TIMENS_FORK,
	STEP_TIMENS_CHILD,	/* the child in the time namespace failed */
	STEP_TIMENS_CLOCK,	/* the offset is not visible */
	STEP_UNSHARE_PID,
	STEP_PIDNS_FORK,
	STEP_PIDNS_INIT,	/* the first child is not PID 1 */
	STEP_CLONE3,
	STEP_SET_TID,		/* the new process got another PID */
	STEP_PIDNS_CHILD,	/* the process made by clone3 failed */
};

static const char *step_name(int step)
{
	switch (step) {
	case STEP_UNSHARE_USER:	  return "unshare(CLONE_NEWUSER)";
	case STEP_SETGROUPS:	  return "write /proc/self/setgroups";
	case STEP_UID_MAP:	  return "write /proc/self/uid_map";
	case STEP_GID_MAP:	  return "write /proc/self/gid_map";
	case STEP_UNSHARE_TIME:	  return "unshare(CLONE_NEWTIME)";
	case STEP_TIMENS_OFFSETS: return "write /proc/self/timens_offsets";
	case STEP_TIMENS_FORK:	  return "fork into the time namespace";
	case STEP_TIMENS_CHILD:	  return "clock_gettime in the time namespace";
	case STEP_UNSHARE_PID:	  return "unshare(CLONE_NEWPID)";
	case STEP_PIDNS_FORK:	  return "fork into the pid namespace";
	case STEP_CLONE3:	  return "clone3 with set_tid";
	case STEP_PIDNS_CHILD:	  return "the set_tid child";
	default:		  return "probe";
	}
}

struct ns_shared {
	int user_step, user_err;
	uid_t uid;
	gid_t gid;
	bool in_userns;		/* the time/pid probes ran in the new user ns */

	int time_step, time_err;
	int64_t time_child_ns;	/* CLOCK_MONOTONIC seen in the time namespace */
	int64_t time_delta_ns;	/* minus the one outside */

	int pid_step, pid_err;
	int pid1;		/* getpid() of the namespace's first process */
	int pid_made;		/* clone3's answer, in the namespace */
	int pid_seen;		/* getpid() in the set_tid child */

	/* set by the parent: the child could not be made */
	const char *failed;	/* "mmap", "fork" */
	int failed_err;
};

static void ns_fail(int *step, int *err, int which)
{
	*step = which;
	*err = errno;
}

static void ns_probe_user(struct ns_shared *sh)
{
	char map[64];

	sh->uid = geteuid();
	sh->gid = getegid();
	if (unshare(CLONE_NEWUSER) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_UNSHARE_USER);
		return;
	}
	/* From here on we are in the new namespace, mapped or not. */
	sh->in_userns = true;
	if (probe_write_file("/proc/self/setgroups", "deny") < 0 && errno != ENOENT) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_SETGROUPS);
		return;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)sh->uid, (unsigned)sh->uid);
	if (probe_write_file("/proc/self/uid_map", map) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_UID_MAP);
		return;
	}
	snprintf(map, sizeof(map), "%u %u 1\n", (unsigned)sh->gid, (unsigned)sh->gid);
	if (probe_write_file("/proc/self/gid_map", map) < 0) {
		ns_fail(&sh->user_step, &sh->user_err, STEP_GID_MAP);
		return;
	}
	sh->user_step = STEP_OK;
}

static void ns_probe_time(struct ns_shared *sh)
{
	char offsets[64];
	int64_t before;
	pid_t pid, self = getpid();
	int status;

	before = now_ns();
	if (unshare(CLONE_NEWTIME) < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_UNSHARE_TIME);
		return;
	}
	snprintf(offsets, sizeof(offsets), "monotonic %d 0\nboottime %d 0\n",
		 TIMENS_OFFSET_S, TIMENS_OFFSET_S);
	if (probe_write_file("/proc/self/timens_offsets", offsets) < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_OFFSETS);
		return;
	}
	pid = fork();
	if (pid < 0) {
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_FORK);
		return;
	}
	if (pid == 0) {
		probe_child_guard(self);
		sh->time_child_ns = now_ns();
		_exit(sh->time_child_ns < 0 ? 1 : 0);
	}
	if (probe_wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;
		ns_fail(&sh->time_step, &sh->time_err, STEP_TIMENS_CHILD);
		return;
	}
	sh->time_delta_ns = sh->time_child_ns - before;
	/* The child ran after `before`, so the delta is the offset plus a
	 * little; allow a slow machine a few seconds. */
	if (sh->time_delta_ns < (int64_t)TIMENS_OFFSET_S * 1000000000 ||
	    sh->time_delta_ns > (int64_t)(TIMENS_OFFSET_S + 5) * 1000000000) {
		sh->time_step = STEP_TIMENS_CLOCK;
		return;
	}
	sh->time_step = STEP_OK;
}

/* Runs as PID 1 of the new pid namespace. */
static int ns_pid1(struct ns_shared *sh)
{
	struct jf_clone_args args;
	pid_t tid = PROBE_SET_TID, pid, self;
	int status;

	self = (pid_t)syscall(SYS_getpid);
	sh->pid1 = self;
	if (self != 1) {
		sh->pid_step = STEP_PIDNS_INIT;
		return 1;
	}
	memset(&args, 0, sizeof(args));
	args.exit_signal = SIGCHLD;
	args.set_tid = (uintptr_t)&tid;
	args.set_tid_size = 1;
	pid = (pid_t)syscall(SYS_clone3, &args, sizeof(args));
	if (pid < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_CLONE3);
		return 1;
	}
	if (pid == 0) {
		/* No PDEATHSIG needed: when PID 1 dies, the namespace goes. */
		sh->pid_seen = (int)syscall(SYS_getpid);
		_exit(0);
	}
	sh->pid_made = pid;
	if (probe_wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0 ||
	    !WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		errno = ECHILD;
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_PIDNS_CHILD);
		return 1;
	}
	if (pid != PROBE_SET_TID || sh->pid_seen != PROBE_SET_TID) {
		sh->pid_step = STEP_SET_TID;
		return 1;
	}
	sh->pid_step = STEP_OK;
	return 0;
}

static void ns_probe_pid(struct ns_shared *sh)
{
	pid_t pid;
	int status;

	if (unshare(CLONE_NEWPID) < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_UNSHARE_PID);
		return;
	}
	pid = fork();
	if (pid < 0) {
		ns_fail(&sh->pid_step, &sh->pid_err, STEP_PIDNS_FORK);
		return;
	}
	if (pid == 0) {
		probe_child_guard(0);
		_exit(ns_pid1(sh));
	}
	/* The child records its own steps; one that never got to record any
	 * is reported by the caller as a dead probe. */
	if (probe_wait_child(pid, &status, 0, CHILD_TIMEOUT_MS) != 0)
		pr_warn("features: the pid namespace probe %d had to be killed", pid);
}

/* Body of the forked namespace child. */
static int ns_child(struct ns_shared *sh)
{
	ns_probe_user(sh);
	if (sh->user_step != STEP_OK && sh->in_userns) {
		/* Stuck in an unmapped namespace: nothing more is meaningful. */
		sh->time_step = sh->pid_step = STEP_SKIPPED;
		return 0;
	}
	ns_probe_time(sh);
	ns_probe_pid(sh);
	return 0;
}

static void report_userns(struct feature_result *r, const struct ns_shared *sh)
{
	long clone_knob = -1, max_ns = -1, aa = -1;
	bool has_clone = probe_read_long("/proc/sys/kernel/unprivileged_userns_clone", &clone_knob) == 0;
	bool has_max = probe_read_long("/proc/sys/user/max_user_namespaces", &max_ns) == 0;
	bool has_aa = probe_read_long("/proc/sys/kernel/apparmor_restrict_unprivileged_userns", &aa) == 0;

	if (sh->user_step == STEP_OK) {
		r->ok = true;
		probe_detail(r, "uid %u and gid %u mapped to themselves",
			   (unsigned)sh->uid, (unsigned)sh->gid);
	} else if (sh->user_step == STEP_NOT_RUN) {
		probe_detail(r, "the probe process died before reporting");
	} else {
		probe_detail(r, "%s: %s (%s)", step_name(sh->user_step),
			   probe_errname(sh->user_err), strerror(sh->user_err));
	}
	if (has_max)
		probe_add_detail(r, "; max_user_namespaces %ld%s", max_ns,
			   max_ns == 0 ? " (disabled)" : "");
	if (has_clone)
		probe_add_detail(r, "; unprivileged_userns_clone %ld%s", clone_knob,
			   clone_knob == 0 ? " (disabled: sysctl kernel.unprivileged_userns_clone=1)" : "");
	if (has_aa)
		probe_add_detail(r, "; apparmor_restrict_unprivileged_userns %ld%s", aa,
			   aa ? " (restricted: install jobfreeze's AppArmor profile)" : "");
}

static void report_timens(struct feature_result *r, const struct ns_shared *sh)
{
	const char *where = sh->in_userns ? "" : " (outside a user namespace)";

	switch (sh->time_step) {
	case STEP_OK:
		r->ok = true;
		probe_detail(r, "CLONE_NEWTIME with timens_offsets \"monotonic %d 0\": the "
			   "clock inside ran %.3f s ahead", TIMENS_OFFSET_S,
			   sh->time_delta_ns / 1e9);
		break;
	case STEP_NOT_RUN:
		probe_detail(r, "the probe process died before reporting");
		break;
	case STEP_SKIPPED:
		probe_detail(r, "not tested: needs a working user namespace");
		break;
	case STEP_TIMENS_CLOCK:
		probe_detail(r, "offset of %d s written but the clock inside differs by %.3f s",
			   TIMENS_OFFSET_S, sh->time_delta_ns / 1e9);
		break;
	default:
		probe_detail(r, "%s: %s (%s)%s%s", step_name(sh->time_step),
			   probe_errname(sh->time_err), strerror(sh->time_err), where,
			   sh->time_step == STEP_UNSHARE_TIME && sh->time_err == EINVAL ?
			   ": kernel without CONFIG_TIME_NS (5.6+)" : "");
		break;
	}
}

static void report_pidns(struct feature_result *r, const struct ns_shared *sh)
{
	const char *where = sh->in_userns ? "" : " (outside a user namespace)";

	switch (sh->pid_step) {
	case STEP_OK:
		r->ok = true;
		probe_detail(r, "new pid namespace%s: clone3 set_tid=%d from PID 1 gave "
			   "getpid() == %d", sh->in_userns ? " in the user namespace" : "",
			   PROBE_SET_TID, sh->pid_seen);
		break;
	case STEP_NOT_RUN:
		probe_detail(r, "the probe process died before reporting");
		break;
	case STEP_SKIPPED:
		probe_detail(r, "not tested: needs a working user namespace");
		break;
	case STEP_PIDNS_INIT:
		probe_detail(r, "the first process of the new pid namespace is PID %d, not 1",
			   sh->pid1);
		break;
	case STEP_SET_TID:
		probe_detail(r, "clone3 set_tid=%d made PID %d (it sees itself as %d)",
			   PROBE_SET_TID, sh->pid_made, sh->pid_seen);
		break;
	case STEP_CLONE3:
		probe_detail(r, "%s: %s (%s)%s%s", step_name(sh->pid_step),
			   probe_errname(sh->pid_err), strerror(sh->pid_err), where,
			   sh->pid_err == ENOSYS ? ": kernel older than 5.3" :
			   sh->pid_err == E2BIG || sh->pid_err == EINVAL ?
			   ": kernel without set_tid (5.5+)" : "");
		break;
	default:
		probe_detail(r, "%s: %s (%s)%s", step_name(sh->pid_step),
			   probe_errname(sh->pid_err), strerror(sh->pid_err), where);
		break;
	}
}

/* Runs the namespace child once; its findings, a copy (never NULL). */
static struct ns_shared *ns_run(void)
{
	struct ns_shared found = { 0 }, *sh, *res;
	pid_t pid, self = getpid();
	int status;

	sh = mmap(NULL, sizeof(*sh), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (sh == MAP_FAILED) {
		found.failed = "mmap";
		found.failed_err = errno;
		goto copy;
	}
	memset(sh, 0, sizeof(*sh));
	pid = fork();
	if (pid < 0) {
		found.failed = "fork";
		found.failed_err = errno;
		goto out;
	}
	if (pid == 0) {
		probe_child_guard(self);
		_exit(ns_child(sh));
	}
	if (probe_wait_child(pid, &status, 0, 3 * CHILD_TIMEOUT_MS) < 0)
		pr_warn("features: the namespace probe child %d was not reaped", pid);
	found = *sh;
out:
	if (munmap(sh, sizeof(*sh)) < 0)
		pr_perror("features: munmap");
copy:
	/* (allocated only now: nothing on the heap for the children to leak) */
	res = xmalloc(sizeof(*res));
	*res = found;
	return res;
}

/* The namespace child's findings, run by the first probe that asks; NULL,
 * R saying why, when it could not run. */
static const struct ns_shared *ns_get(struct probe_env *env, struct feature_result *r,
				      bool say_why)
{
	if (!env->ns)
		env->ns = ns_run();
	if (!env->ns->failed)
		return env->ns;
	if (say_why)
		probe_detail(r, "%s: %s (%s)", env->ns->failed, probe_errname(env->ns->failed_err),
			     strerror(env->ns->failed_err));
	else
		probe_detail(r, "not tested");
	return NULL;
}

void probe_userns(struct probe_env *env, struct feature_result *r)
{
	const struct ns_shared *sh = ns_get(env, r, true);

	if (sh)
		report_userns(r, sh);
}

void probe_pidns(struct probe_env *env, struct feature_result *r)
{
	const struct ns_shared *sh = ns_get(env, r, false);

	if (sh)
		report_pidns(r, sh);
}

void probe_timens(struct probe_env *env, struct feature_result *r)
{
	const struct ns_shared *sh = ns_get(env, r, false);

	if (sh)
		report_timens(r, sh);
}

void probe_ns_end(struct probe_env *env)
{
	free(env->ns);
	env->ns = NULL;
}

/* CAP_CHECKPOINT_RESTORE would let a thaw restore in the current
 * namespaces instead of new ones. */
void probe_cap(struct probe_env *env, struct feature_result *r)
{
	struct feature_report *rep = env->rep;
	cap_flag_value_t eff = CAP_CLEAR, perm = CAP_CLEAR, admin = CAP_CLEAR;
	long last_cap = -1;
	cap_t caps;

	if (probe_read_long("/proc/sys/kernel/cap_last_cap", &last_cap) == 0 &&
	    last_cap < CAP_CHECKPOINT_RESTORE) {
		probe_detail(r, "kernel has no CAP_CHECKPOINT_RESTORE (cap_last_cap %ld; 5.9+)",
			   last_cap);
		return;
	}
	caps = cap_get_proc();
	if (!caps) {
		int e = errno;
		probe_detail(r, "cap_get_proc: %s (%s)", probe_errname(e), strerror(e));
		return;
	}
	if (cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_EFFECTIVE, &eff) < 0 ||
	    cap_get_flag(caps, CAP_CHECKPOINT_RESTORE, CAP_PERMITTED, &perm) < 0 ||
	    cap_get_flag(caps, CAP_SYS_ADMIN, CAP_EFFECTIVE, &admin) < 0) {
		int e = errno;
		probe_detail(r, "cap_get_flag: %s (%s)", probe_errname(e), strerror(e));
		cap_free(caps);
		return;
	}
	if (cap_free(caps) < 0)
		pr_perror("features: cap_free");
	rep->has_cap_cr = eff == CAP_SET || admin == CAP_SET;
	r->ok = rep->has_cap_cr;
	if (eff == CAP_SET)
		probe_detail(r, "held: a thaw could also restore in the current namespaces");
	else if (admin == CAP_SET)
		probe_detail(r, "CAP_SYS_ADMIN held (it covers it): a thaw could also restore "
			   "in the current namespaces");
	else if (perm == CAP_SET)
		probe_detail(r, "permitted but not effective");
	else
		probe_detail(r, "not held (setcap cap_checkpoint_restore+ep on the binary would give it)");
}
