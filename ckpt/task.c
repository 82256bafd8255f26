/* task.c: per-process and per-thread attributes set up by the C library or
 * the program itself: rseq, robust futex list, clear-child-tid address, AMX
 * permission, personality, umask, resource limits and the thread name. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <asm/prctl.h>
#include "ckpt/cpu.h"
#include "ckpt/dump.h"
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#ifndef PTRACE_GET_RSEQ_CONFIGURATION
#define PTRACE_GET_RSEQ_CONFIGURATION 0x420f
#endif
#define XFEATURE_XTILEDATA 18
/* linux/membarrier.h, Linux 6.3 (Debian 12's headers are older) */
#define MEMBARRIER_GET_REGISTRATIONS (1 << 9)
/* the registration commands GET_REGISTRATIONS reports, in its bits */
#define MEMBARRIER_REGISTER_MASK ((1 << 2) | (1 << 4) | (1 << 6) | (1 << 8))

struct rseq_config {
	uint64_t rseq_abi_pointer;
	uint32_t rseq_abi_size;
	uint32_t signature;
	uint32_t flags;
	uint32_t pad;
};

static char *read_trimmed(const char *path)
{
	char *s = read_file(path, NULL);
	if (s)
		s[strcspn(s, "\n")] = 0;
	else
		pr_perror("cannot read %s", path);
	return s;
}

/* The number after NAME in /proc's status text at PATH. */
static int status_value(const char *path, const char *name, uint64_t *v)
{
	char *s = read_file(path, NULL), *p;
	int ret = -1;

	if (!s) {
		pr_perror("cannot read %s", path);
		return -1;
	}
	p = strstr(s, name);
	if (p && sscanf(p + strlen(name), "%" SCNu64, v) == 1)
		ret = 0;
	else
		pr_err("%s has no '%s' line this version understands", path, name);
	free(s);
	return ret;
}

int thread_task_dump(struct inject *in, Thread *t, pid_t pid)
{
	struct rseq_config rc = { 0 };
	struct { uint64_t tid_address; int32_t pdeath_sig; } out = { 0 };
	/* both asked in one round trip into the task */
	struct inject_call calls[2] = {
		{ SYS_prctl, { PR_GET_TID_ADDRESS, in->scratch } },
		{ SYS_prctl, { PR_GET_PDEATHSIG, in->scratch + 8 } },
	};
	long ret[2];
	char path[96];
	uint64_t v;

	if (ptrace(PTRACE_GET_RSEQ_CONFIGURATION, in->tid, sizeof(rc), &rc) == sizeof(rc) &&
	    rc.rseq_abi_pointer) {
		t->has_rseq_ptr = t->has_rseq_len = t->has_rseq_sig = 1;
		t->rseq_ptr = rc.rseq_abi_pointer;
		t->rseq_len = rc.rseq_abi_size;
		t->rseq_sig = rc.signature;
	}
	{
		uint64_t head = 0;
		size_t len = 0;
		if (syscall(SYS_get_robust_list, in->tid, &head, &len) < 0) {
			pr_perror("cannot read the robust futex list of task %d", in->tid);
			return -1;
		}
		t->robust_head = head;
		t->robust_len = len;
	}
	if (inject_batch(in, calls, 2, ret) < 0 ||
	    remote_read(in->tid, in->scratch, &out, sizeof(out)) < 0) {
		pr_err("cannot read the clear-child-tid address and parent-death signal of task %d",
		       in->tid);
		return -1;
	}
	if (ret[0] < 0) {
		pr_err("cannot read the clear-child-tid address of task %d: %s", in->tid,
		       strerror(-ret[0]));
		return -1;
	}
	if (ret[1] < 0) {
		pr_err("cannot read the parent-death signal of task %d: %s", in->tid,
		       strerror(-ret[1]));
		return -1;
	}
	t->tid_address = out.tid_address;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/comm", pid, in->tid);
	if (!(t->comm = read_trimmed(path)))
		return -1;
	t->has_pdeath_sig = t->has_no_new_privs = 1;
	t->pdeath_sig = out.pdeath_sig;
	snprintf(path, sizeof(path), "/proc/%d/task/%d/status", pid, in->tid);
	if (status_value(path, "NoNewPrivs:", &v) < 0)
		return -1;
	t->no_new_privs = v;
	return 0;
}

/* Limit RES as the process reads it itself: root without CAP_SYS_RESOURCE
 * may not read another user's limits from outside (--allow-other-user). */
static int own_rlimit(struct dump_ctx *c, int res, struct rlimit *rl)
{
	long ret = INJECT(&c->in, SYS_prlimit64, 0, res, 0, c->in.scratch);

	if (ret < 0) {
		errno = -ret;
		return -1;
	}
	return remote_read(c->pid, c->in.scratch, rl, sizeof(*rl));
}

/* What only the process can tell of itself, asked in one round trip into
 * it (one each cost more than the calls): each call's answer in RET[i],
 * what it wrote in OUT. */
enum { Q_XCOMP_PERM, Q_SUBREAPER, Q_THP_DISABLE, Q_DUMPABLE, Q_MEMBARRIER, NR_Q };
struct task_answers {
	uint64_t xcomp_perm;
	int32_t subreaper;
};

static int ask_task(struct dump_ctx *c, long *ret, struct task_answers *out)
{
	uint64_t at = c->in.scratch;
	struct inject_call calls[NR_Q] = {
		[Q_XCOMP_PERM] = { SYS_arch_prctl, { ARCH_GET_XCOMP_PERM, at } },
		[Q_SUBREAPER] = { SYS_prctl, { PR_GET_CHILD_SUBREAPER, at + 8 } },
		[Q_THP_DISABLE] = { SYS_prctl, { PR_GET_THP_DISABLE } },
		[Q_DUMPABLE] = { SYS_prctl, { PR_GET_DUMPABLE } },
		[Q_MEMBARRIER] = { SYS_membarrier, { MEMBARRIER_GET_REGISTRATIONS } },
	};

	memset(out, 0, sizeof(*out));
	if (inject_batch(&c->in, calls, NR_Q, ret) < 0 ||
	    remote_read(c->pid, at, out, sizeof(*out)) < 0) {
		pr_err("cannot read the settings of process %d (prctl)", c->pid);
		return -1;
	}
	return 0;
}

/* A prctl's answer RET, -1 (said) on failure. */
static long prctl_got(struct dump_ctx *c, long ret, const char *name)
{
	if (ret < 0)
		pr_err("cannot read %s of process %d: %s", name, c->pid, strerror(-ret));
	return ret;
}

/* What the process set with prctl, membarrier and /proc/PID/oom_score_adj. */
static int dump_prctl_state(struct dump_ctx *c, const long *got, const struct task_answers *out)
{
	Process *img = c->img;
	char path[64], *s;
	int v = 0;
	long ret;

	if (got[Q_SUBREAPER] < 0) {
		pr_err("cannot read whether process %d is a child subreaper: %s", c->pid,
		       strerror(-got[Q_SUBREAPER]));
		return -1;
	}
	img->has_child_subreaper = 1;
	img->child_subreaper = !!out->subreaper;
	if ((ret = prctl_got(c, got[Q_THP_DISABLE], "PR_GET_THP_DISABLE")) < 0)
		return -1;
	img->has_thp_disable = 1;
	img->thp_disable = !!ret;
	if ((ret = prctl_got(c, got[Q_DUMPABLE], "PR_GET_DUMPABLE")) < 0)
		return -1;
	img->has_dumpable = 1;
	img->dumpable = ret;
	/* (kernels before 6.3 cannot tell: none recorded) */
	if (got[Q_MEMBARRIER] > 0) {
		img->has_membarrier = 1;
		img->membarrier = got[Q_MEMBARRIER];
	}
	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", c->pid);
	if (!(s = read_trimmed(path)))
		return -1;
	if (parse_int(s, &v) < 0) {
		pr_err("cannot parse %s: '%s'", path, s);
		free(s);
		return -1;
	}
	free(s);
	img->has_oom_score_adj = 1;
	img->oom_score_adj = v;
	return 0;
}

int task_dump(struct dump_ctx *c)
{
	Process *img = c->img;
	struct task_answers out;
	long got[NR_Q];
	uint64_t v;
	char path[64];
	char *s;

	if (ask_task(c, got, &out) < 0)
		return -1;
	/* (kernels without dynamic xstate: nothing to ask for) */
	img->xcomp_perm = got[Q_XCOMP_PERM] < 0 ? 0 : out.xcomp_perm;

	snprintf(path, sizeof(path), "/proc/%d/personality", c->pid);
	if (!(s = read_trimmed(path)))
		return -1;
	if (parse_u64(s, 16, &v) < 0) {
		pr_err("cannot parse %s: '%s'", path, s);
		free(s);
		return -1;
	}
	free(s);
	img->personality = v;
	img->umask = c->status.umask;

	if (dump_prctl_state(c, got, &out) < 0)
		return -1;
	img->rlimits = xcalloc(RLIM_NLIMITS, sizeof(Rlimit *));
	for (int res = 0; res < RLIM_NLIMITS; res++) {
		struct rlimit rl;
		if (prlimit(c->pid, res, NULL, &rl) < 0 && (errno != EPERM || own_rlimit(c, res, &rl) < 0)) {
			pr_perror("cannot read resource limit %d of process %d", res, c->pid);
			return -1;
		}
		Rlimit *l = xmalloc(sizeof(*l));
		rlimit__init(l);
		l->resource = res;
		l->cur = rl.rlim_cur;
		l->max = rl.rlim_max;
		img->rlimits[img->n_rlimits++] = l;
	}
	return 0;
}

/* Personality, umask and every resource limit: one batch of injected
 * calls (a round trip into the process costs more than the calls). */
static int restore_limits(struct restore_ctx *r)
{
	const Process *img = r->img;
	size_t n = img->n_rlimits, k = 0;
	struct rlimit *rl = xcalloc(n + 1, sizeof(*rl));
	struct inject_call *c = xcalloc(n + 2, sizeof(*c));
	long *ret = xcalloc(n + 2, sizeof(*ret));
	const size_t at = 4096;	/* the limits, in the scratch area */
	int rc = -1;

	c[k++] = (struct inject_call){ SYS_personality, { img->personality } };
	c[k++] = (struct inject_call){ SYS_umask, { img->umask } };
	for (size_t i = 0; i < n; i++) {
		const Rlimit *l = img->rlimits[i];
		struct rlimit now;

		rl[i] = (struct rlimit){ l->cur, l->max };
		if (prlimit(r->job, l->resource, NULL, &now) == 0 && rl[i].rlim_max > now.rlim_max) {
			/* Raising a hard limit needs privileges we do not have. */
			pr_warn("resource limit %u: hard limit %llu cannot be raised back from %llu",
				l->resource, (unsigned long long)rl[i].rlim_max,
				(unsigned long long)now.rlim_max);
			rl[i].rlim_max = now.rlim_max;
			if (rl[i].rlim_cur > rl[i].rlim_max)
				rl[i].rlim_cur = rl[i].rlim_max;
		}
		c[k++] = (struct inject_call){ SYS_prlimit64,
			{ 0, l->resource, r->in.scratch + at + i * sizeof(*rl), 0 } };
	}
	if ((n && !scratch_put(r, at, rl, n * sizeof(*rl))) || inject_batch(&r->in, c, k, ret) < 0)
		goto out;
	if (ret[0] < 0) {
		pr_err("cannot restore personality %#x: %s", img->personality, strerror(-ret[0]));
		goto out;
	}
	for (size_t i = 0; i < n; i++)
		if (ret[2 + i] < 0) {
			pr_err("cannot restore resource limit %u: %s", img->rlimits[i]->resource,
			       strerror(-ret[2 + i]));
			goto out;
		}
	rc = 0;
out:
	free(rl);
	free(c);
	free(ret);
	return rc;
}

/* The kernel grows a task's FPU buffer for AMX tile data only when the task
 * first touches tile data (a trapped instruction), and refuses an xstate
 * carrying tile data before that. So the new task loads a tile
 * configuration, zeroes a tile and releases them again, then stops in a
 * syscall, all from the scratch area; the real tiles come with the xstate. */
static int amx_first_use(struct restore_ctx *r, struct inject *in)
{
	static const unsigned char code[] = {
		0xc4, 0xe2, 0x78, 0x49, 0x07,	/* ldtilecfg (%rdi) */
		0xc4, 0xe2, 0x7b, 0x49, 0xc0,	/* tilezero %tmm0 */
		0xc4, 0xe2, 0x78, 0x49, 0xc0,	/* tilerelease */
		0x0f, 0x05,			/* syscall */
	};
	unsigned char cfg[64] = { 1 };		/* palette 1 */
	size_t code_off = r->in.scratch_size - 128, cfg_off = r->in.scratch_size - 64;
	uint64_t at, cfg_at;
	long ret;

	cfg[16] = 64;	/* tile 0: 64 bytes per row */
	cfg[48] = 16;	/* 16 rows */
	at = scratch_put(r, code_off, code, sizeof(code));
	cfg_at = scratch_put(r, cfg_off, cfg, sizeof(cfg));
	ret = at && cfg_at ? inject_syscall_at(in, at, SYS_getpid, cfg_at, 0, 0, 0, 0, 0) : -EFAULT;
	if (ret < 0) {
		pr_err("cannot prepare the job's AMX state: %s", strerror(-ret));
		return -1;
	}
	return 0;
}

/* XSTATE_BV, the features present in a saved xstate (XSAVE header). */
static uint64_t xstate_features(const Thread *t)
{
	uint64_t bv = 0;

	if (t->xstate.len >= 520)
		memcpy(&bv, t->xstate.data + 512, sizeof(bv));
	return bv;
}

/* oom_score_adj through /proc from init; an ordinary user may raise it,
 * and lower it only as far as the system let the restoring process go. */
static int restore_oom_score_adj(struct restore_ctx *r)
{
	char path[64], val[16];
	int fd, n;

	snprintf(path, sizeof(path), "/proc/%d/oom_score_adj", r->job);
	n = snprintf(val, sizeof(val), "%d", r->img->oom_score_adj);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0 || write(fd, val, n) != n) {
		if (errno == EACCES || errno == EPERM)
			pr_warn("process %d had oom_score_adj %d, lower than this user may set: it "
				"keeps the restoring process's", r->img->pid, r->img->oom_score_adj);
		else
			pr_perror("cannot give process %d its oom_score_adj %d again", r->img->pid,
				  r->img->oom_score_adj);
		if (fd >= 0)
			close(fd);
		return errno == EACCES || errno == EPERM ? 0 : -1;
	}
	close(fd);
	return 0;
}

/* What the process had set with prctl and membarrier. */
static int restore_prctl_state(struct restore_ctx *r)
{
	const Process *img = r->img;
	long ret = 0;
	const char *what = NULL;

	if (img->child_subreaper &&
	    (ret = INJECT(&r->in, SYS_prctl, PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)) < 0)
		what = "become a child subreaper";
	else if (img->thp_disable &&
		 (ret = INJECT(&r->in, SYS_prctl, PR_SET_THP_DISABLE, 1, 0, 0, 0)) < 0)
		what = "disable transparent huge pages (PR_SET_THP_DISABLE)";
	for (int bit = 0; !what && bit < 32; bit++) {
		unsigned cmd = 1u << bit;
		if (!(img->membarrier & cmd & MEMBARRIER_REGISTER_MASK))
			continue;
		ret = INJECT(&r->in, SYS_membarrier, cmd, 0, 0);
		if (ret < 0)
			what = "register for membarrier() again";
	}
	if (what) {
		pr_err("process %d cannot %s: %s", img->pid, what, strerror(-ret));
		return -1;
	}
	return img->has_oom_score_adj ? restore_oom_score_adj(r) : 0;
}

int task_restore(struct restore_ctx *r)
{
	Process *img = r->img;
	long ret;

	/* (without AMX here, the thaw was told to go on without it: cpu.c) */
	if ((img->xcomp_perm & (1ULL << XFEATURE_XTILEDATA)) && cpu_has_amx(r->cpu)) {
		ret = INJECT(&r->in, SYS_arch_prctl, ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA);
		if (ret < 0) {
			pr_err("cannot give the job back its AMX permission: %s", strerror(-ret));
			return -1;
		}
	}
	/* prctl state before the limits: a lowered limit must not stand in its way */
	if (restore_prctl_state(r) < 0)
		return -1;
	return restore_limits(r);
}

int task_finish(struct restore_ctx *r)
{
	long ret;

	/* last: it hands the process's /proc files to root */
	if (!r->img->has_dumpable || r->img->dumpable == 1)
		return 0;
	ret = INJECT(&r->in, SYS_prctl, PR_SET_DUMPABLE, 0, 0, 0, 0);
	if (ret < 0) {
		pr_err("process %d cannot be made not dumpable again: %s", r->img->pid,
		       strerror(-ret));
		return -1;
	}
	return 0;
}

int thread_task_restore(struct restore_ctx *r, struct inject *in, const Thread *t)
{
	const char *what[6];
	struct inject_call c[6];
	long ret[6];
	size_t n = 0;

	if ((r->img->xcomp_perm & (1ULL << XFEATURE_XTILEDATA)) && cpu_has_amx(r->cpu) &&
	    (xstate_features(t) & (1ULL << XFEATURE_XTILEDATA)) && amx_first_use(r, in) < 0)
		return -1;
	/* in one batch */
	if (t->has_rseq_ptr) {
		what[n] = "register its rseq area";
		c[n++] = (struct inject_call){ SYS_rseq, { t->rseq_ptr, t->rseq_len, 0, t->rseq_sig } };
	}
	if (t->robust_head) {
		what[n] = "restore its robust futex list";
		c[n++] = (struct inject_call){ SYS_set_robust_list, { t->robust_head, t->robust_len } };
	}
	/* (a top process was started with SIGKILL, for the restore's time) */
	what[n] = "give it its parent-death signal";
	c[n++] = (struct inject_call){ SYS_prctl, { PR_SET_PDEATHSIG, t->pdeath_sig } };
	if (t->no_new_privs) {
		what[n] = "set its no_new_privs again";
		c[n++] = (struct inject_call){ SYS_prctl, { PR_SET_NO_NEW_PRIVS, 1 } };
	}
	/* set_tid_address(0) is harmless; it returns the tid, never fails. */
	what[n] = "set its clear-child-tid address";
	c[n++] = (struct inject_call){ SYS_set_tid_address, { t->tid_address } };
	if (t->comm) {
		char comm[16] = { 0 };
		strncpy(comm, t->comm, sizeof(comm) - 1);
		uint64_t p = scratch_put(r, 64, comm, sizeof(comm));
		if (!p)
			return -1;
		what[n] = NULL;	/* a name is not worth failing for */
		c[n++] = (struct inject_call){ SYS_prctl, { PR_SET_NAME, p } };
	}
	if (inject_batch(in, c, n, ret) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (ret[i] >= 0)
			continue;
		if (!what[i]) {
			pr_warn("cannot restore the name '%s' of thread %d", t->comm, t->tid);
			continue;
		}
		pr_err("thread %d: cannot %s: %s", t->tid, what[i], strerror(-ret[i]));
		return -1;
	}
	return 0;
}
