/* rctx.c: what the object files of a restore share, below all of them: the
 * scratch area in the process being rebuilt (where injected calls find
 * their arguments), a free range of its address space, and passing an fd
 * from init into it, a task cloned from it. restore.c gives the order and
 * calls the object files; they call only this file back, never restore.c.
 *
 * The scratch area (SCRATCH_SIZE bytes) is used by offset:
 *   0..1023     the arguments of one injected call (each object file)
 *   1024..1199  fd_recv's msghdr, iovec, byte and cmsg
 *   2048..      restore.c's fork_child: a child's cwd, program path, argv
 *   8064..8191  inject.c's code of a single call (INJECT_ONE_AT)
 *   8192..      inject_batch's code and results (INJECT_BATCH_AT; at most
 *               INJECT_BATCH_MAX calls: below 32768)
 *   32768..     cpu.c's probe of the CPU (its code; its answers at 40960)
 *   top 512     task.c's AMX code (top 128); the syscall instruction every
 *               injected call runs (top 192); restore.c's injected clone
 *               points the new task's stack there (never used: the task
 *               stops at once) */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include "ckpt/log.h"
#include "ckpt/ns.h"
#include "ckpt/proc.h"
#include "ckpt/ptrace.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

#define SCRATCH_SIZE 65536
#define SCRATCH_SYSCALL (SCRATCH_SIZE - 192)
static const unsigned char syscall_insn[] = { 0x0f, 0x05 };
#define GAP_FLOOR 0x10000000ULL
#define GAP_CEIL  0x7ff000000000ULL

uint64_t scratch_put(struct restore_ctx *r, size_t off, const void *buf, size_t len)
{
	if (off + len > r->in.scratch_size) {
		pr_err("internal: %zu bytes do not fit the scratch area", len);
		return 0;
	}
	if (remote_write(r->job, r->in.scratch + off, buf, len) < 0)
		return 0;
	return r->in.scratch + off;
}

static int cmp_range(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	return x->start < y->start ? -1 : x->start > y->start;
}

uint64_t find_gap_near(struct restore_ctx *r, uint64_t size, const struct range *cur,
		       size_t nr_cur, uint64_t near)
{
	size_t n = r->img->n_vmas + nr_cur, k = 0;
	struct range *all = xcalloc(n, sizeof(*all));
	uint64_t at = GAP_FLOOR, found = 0, best = UINT64_MAX;

	near &= ~4095ULL;
	for (size_t i = 0; i < r->img->n_vmas; i++)
		all[k++] = (struct range){ r->img->vmas[i]->start, r->img->vmas[i]->end };
	for (size_t i = 0; i < nr_cur; i++)
		all[k++] = cur[i];
	if (n)	/* (qsort wants an array, even of nothing) */
		qsort(all, n, sizeof(*all), cmp_range);
	for (size_t i = 0; i <= n; i++) {
		uint64_t next = i < n ? all[i].start : GAP_CEIL;
		/* one page of slack on each side keeps areas from merging */
		if (next > at + size + 2 * 4096) {
			uint64_t lo = at + 4096, hi = next - size - 4096;
			uint64_t pos = near < lo ? lo : near > hi ? hi : near;
			uint64_t dist = pos > near ? pos - near : near - pos;
			if (dist < best) {
				best = dist;
				found = pos;
			}
			if (near <= hi)
				break;	/* the gaps further up are further away */
		}
		if (i < n && all[i].end > at)
			at = all[i].end;
	}
	free(all);
	return found;
}

uint64_t find_gap(struct restore_ctx *r, uint64_t size, const struct range *cur, size_t nr_cur)
{
	return find_gap_near(r, size, cur, nr_cur, 0);
}

int scratch_setup(struct restore_ctx *r, const struct proc_maps *m)
{
	struct range *cur = xcalloc(m->n, sizeof(*cur));
	uint64_t at;
	long ret;

	for (size_t i = 0; i < m->n; i++)
		cur[i] = (struct range){ m->v[i].start, m->v[i].end };
	at = find_gap(r, SCRATCH_SIZE, cur, m->n);
	free(cur);
	if (!at) {
		pr_err("no free address range for scratch memory in the new process");
		return -1;
	}
	/* Executable too: a few instructions may have to run there (task.c). */
	ret = INJECT(&r->in, SYS_mmap, at, SCRATCH_SIZE, PROT_READ | PROT_WRITE | PROT_EXEC,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
	if (ret != (long)at) {
		pr_err("cannot map scratch memory at %#lx: %s", (unsigned long)at,
		       ret < 0 ? strerror(-ret) : "placed elsewhere");
		return -1;
	}
	r->in.scratch = at;
	r->in.scratch_size = SCRATCH_SIZE;
	r->in.scratch_exec = true;
	/* From now on system calls run from the scratch area's own syscall
	 * instruction, whatever becomes of the vDSO or the code that held
	 * the one used so far. */
	if (!scratch_put(r, SCRATCH_SYSCALL, syscall_insn, sizeof(syscall_insn)))
		return -1;
	r->in.syscall_ip = at + SCRATCH_SYSCALL;
	return 0;
}

int fd_send(int sock, int fd)
{
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);

	memset(cbuf, 0, sizeof(cbuf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	if (sendmsg(sock, &mh, 0) != 1) {
		pr_perror("cannot pass an fd to the new process");
		return -1;
	}
	return 0;
}

long fd_recv(struct restore_ctx *r, int keep_at)
{
	/* Layout in the scratch area: msghdr, iovec, one data byte, cmsg. */
	const size_t mh_off = 1024, iov_off = 1088, byte_off = 1104, cm_off = 1120;
	char cbuf[CMSG_SPACE(sizeof(int))];
	uint64_t base = r->in.scratch;
	struct iovec iov = { (void *)(base + byte_off), 1 };
	struct msghdr mh = { .msg_iov = (void *)(base + iov_off), .msg_iovlen = 1,
			     .msg_control = (void *)(base + cm_off), .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd;
	long ret;

	if (!scratch_put(r, mh_off, &mh, sizeof(mh)) || !scratch_put(r, iov_off, &iov, sizeof(iov)))
		return -EFAULT;
	/* not close-on-exec: the process execs its program after this;
	 * files_finish sets the flag where the image has it */
	ret = INJECT(&r->in, SYS_recvmsg, keep_at, base + mh_off, 0);
	if (ret != 1)
		return ret < 0 ? ret : -EIO;
	if (remote_read(r->job, base + cm_off, cbuf, sizeof(cbuf)) < 0)
		return -EFAULT;
	mh.msg_control = cbuf;
	cm = CMSG_FIRSTHDR(&mh);
	if (!cm || cm->cmsg_type != SCM_RIGHTS)
		return -EIO;
	memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

int task_clone(struct restore_ctx *p, uint64_t flags, pid_t pid, const char *what,
	       struct inject *in)
{
	struct user_regs_struct base;
	int status;
	long ret;

	if (ns_set_next_pid(pid) < 0)
		return -1;
	ret = INJECT(&p->in, SYS_clone, flags, p->in.scratch + p->in.scratch_size - 512, 0, 0, 0);
	if (ret != pid) {
		pr_err("cannot make %s %d of process %d: %s", what, pid, p->job,
		       ret < 0 ? strerror(-ret) : "it got another pid");
		return -1;
	}
	if (ptrace_wait_stop(pid, &status) < 0 || ptrace_get_regs(pid, &base) < 0)
		return -1;
	inject_init(in, pid, p->in.syscall_ip, &base);
	in->scratch = p->in.scratch;
	in->scratch_size = p->in.scratch_size;
	in->scratch_exec = p->in.scratch_exec;
	return 0;
}
