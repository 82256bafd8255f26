/* owners.c: file owners and groups as the job saw them. The system calls
 * that report owners (stat, lstat, fstat, newfstatat, statx, getgroups)
 * are handed by a seccomp filter to the job's init. Init, with the job's
 * own permissions (it has dropped its capabilities), opens the object the
 * call names just as the job would (its cwd, its dirfd, its fd), and a
 * small server outside the user namespace stats it, where the ids are the
 * real ones; the result is written into the job's buffer. Whatever cannot
 * be handled so (a bad address, an unknown flag, the server gone) is let
 * through to the kernel, which answers as it always did. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include "ckpt/log.h"
#include "ckpt/owners.h"
#include "ckpt/proc.h"
#include "ckpt/util.h"

#define MAX_GROUPS 1024
#define MAX_LISTENERS 64

/* REQ_OWNER: the owner of the object sent along; REQ_DIR: the owners of
 * every entry of the directory sent along; REQ_GROUPS: our groups. */
enum { REQ_OWNER = 1, REQ_DIR, REQ_GROUPS };

#define MAX_DIR_ENTRIES 2048

struct request {
	uint32_t kind;
};

struct owner {
	uint64_t dev, ino;
	int64_t ctime_s, ctime_ns;
	uint32_t uid, gid;
};

struct reply {
	int32_t err;            /* errno of the server's call, or 0 */
	uint32_t n;             /* REQ_GROUPS, REQ_DIR: how many */
	union {
		struct owner owner;
		struct owner entries[MAX_DIR_ENTRIES];
		gid_t groups[MAX_GROUPS];
	} u;
};

static void owner_of(const struct stat *st, struct owner *o)
{
	*o = (struct owner){ st->st_dev, st->st_ino, st->st_ctim.tv_sec, st->st_ctim.tv_nsec,
			     st->st_uid, st->st_gid };
}

/* ---- the server, outside ---- */

static int recv_request(int s, struct request *rq, int *fd)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { rq, sizeof(*rq) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	ssize_t n;

	*fd = -1;
	do
		n = recvmsg(s, &mh, MSG_CMSG_CLOEXEC);
	while (n < 0 && errno == EINTR);
	if (n != sizeof(*rq))
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_RIGHTS)
		memcpy(fd, CMSG_DATA(cm), sizeof(int));
	return 0;
}

/* The owners of the entries of the directory behind the O_PATH fd FD,
 * listed with our permissions (the job's). */
static int dir_owners(int fd, struct reply *rp)
{
	char path[64];
	struct dirent *de;
	struct stat st;
	DIR *d;
	int dfd;

	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	dfd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return -1;
	d = fdopendir(dfd);
	if (!d) {
		close(dfd);
		return -1;
	}
	while (rp->n < MAX_DIR_ENTRIES && (de = readdir(d)))
		if (fstatat(dfd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0)
			owner_of(&st, &rp->u.entries[rp->n++]);
	closedir(d);
	return 0;
}

static void serve_stats(int s)
{
	static struct reply rp;

	for (;;) {
		struct request rq;
		size_t len = offsetof(struct reply, u);
		struct stat st;
		int fd, r = -1;

		if (recv_request(s, &rq, &fd) < 0)
			return;
		memset(&rp, 0, sizeof(rp));
		errno = EBADF;
		if (rq.kind == REQ_GROUPS) {
			r = getgroups(MAX_GROUPS, rp.u.groups);
			if (r >= 0) {
				rp.n = r;
				len += r * sizeof(gid_t);
			}
		} else if (rq.kind == REQ_OWNER && fd >= 0) {
			r = fstatat(fd, "", &st, AT_EMPTY_PATH);
			owner_of(&st, &rp.u.owner);
			len += sizeof(rp.u.owner);
		} else if (rq.kind == REQ_DIR && fd >= 0) {
			r = dir_owners(fd, &rp);
			len += rp.n * sizeof(rp.u.entries[0]);
		}
		rp.err = r < 0 ? errno : 0;
		if (fd >= 0)
			close(fd);
		if (send(s, &rp, len, MSG_NOSIGNAL) < 0)
			return;
	}
}

int owners_server_start(int *sock)
{
	int sp[2], st;
	pid_t child;

	*sock = -1;
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) < 0) {
		pr_perror("cannot make the socket of the owners' server");
		return -1;
	}
	child = fork();
	if (child < 0) {
		pr_perror("cannot start the owners' server");
		close(sp[0]);
		close(sp[1]);
		return -1;
	}
	if (child == 0) {
		/* Twice forked: nobody has to collect it; in a session of its
		 * own, ignoring the terminal's signals, holding nothing of the
		 * caller's: it lives exactly as long as the job's init. */
		if (fork() != 0)
			_exit(0);
		setsid();
		for (int sig = 1; sig < NSIG; sig++)
			if (sig != SIGKILL && sig != SIGSTOP && sig != SIGSEGV && sig != SIGBUS)
				signal(sig, SIG_IGN);
		if (dup2(sp[1], 3) < 0 || chdir("/") < 0)
			_exit(1);
		syscall(SYS_close_range, 4, ~0U, 0);
		int null = open("/dev/null", O_RDWR | O_CLOEXEC);
		if (null >= 0) {
			dup2(null, 0);
			dup2(null, 1);
			dup2(null, 2);
		}
		prctl(PR_SET_NAME, "jobfreeze-ids");
		serve_stats(3);
		_exit(0);
	}
	close(sp[1]);
	while (waitpid(child, &st, 0) < 0 && errno == EINTR)
		;
	*sock = sp[0];
	return 0;
}

/* ---- the filter, in each top process of the job ---- */

#define NOTIFY_IF(nr) \
	BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (nr), 0, 1), \
	BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF)

int owners_filter_install(int ctl)
{
	struct sock_filter code[] = {
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
		BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
		NOTIFY_IF(SYS_stat), NOTIFY_IF(SYS_lstat), NOTIFY_IF(SYS_fstat),
		NOTIFY_IF(SYS_newfstatat), NOTIFY_IF(SYS_statx), NOTIFY_IF(SYS_getgroups),
		BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
	};
	struct sock_fprog prog = { ARRAY_SIZE(code), code };
	char byte = 0, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm = CMSG_FIRSTHDR(&mh);
	int lfd;

	lfd = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
	if (lfd < 0) {
		pr_perror("cannot install the filter that keeps file owners exact");
		return -1;
	}
	memset(cbuf, 0, sizeof(cbuf));
	cm->cmsg_level = SOL_SOCKET;
	cm->cmsg_type = SCM_RIGHTS;
	cm->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(cm), &lfd, sizeof(int));
	if (sendmsg(ctl, &mh, MSG_NOSIGNAL) != 1) {
		pr_perror("cannot hand the owners filter to the job's init");
		close(lfd);
		return -1;
	}
	close(lfd);
	return 0;
}

/* ---- init: handling the calls ---- */

struct call {
	pid_t tid;              /* the caller, as init sees it */
	struct seccomp_notif_resp *resp;
};

/* The path at ADDR in the caller's memory, read a page at a time (a path
 * may end just before an unmapped page). */
static int read_path(pid_t tid, uint64_t addr, char *buf, size_t size)
{
	size_t got = 0;

	while (got < size) {
		size_t chunk = 4096 - ((addr + got) & 4095);
		if (chunk > size - got)
			chunk = size - got;
		struct iovec l = { buf + got, chunk }, r = { (void *)(addr + got), chunk };
		if (process_vm_readv(tid, &l, 1, &r, 1, 0) != (ssize_t)chunk)
			return -1;
		if (memchr(buf + got, 0, chunk))
			return 0;
		got += chunk;
	}
	return -1;	/* longer than PATH_MAX: the kernel says ENAMETOOLONG */
}

/* PATH, which starts with /proc/self or /proc/thread-self, as the caller
 * TID means it: the same under /proc/TGID or /proc/TGID/task/TID. */
static int caller_proc(pid_t tid, const char *path, char *out, size_t size)
{
	bool thread = !strncmp(path, "/proc/thread-self", 17);
	const char *rest = path + (thread ? 17 : 10);
	struct proc_status st;

	if (*rest && *rest != '/')
		return -1;	/* /proc/selfish: an ordinary path */
	if (proc_parse_status(tid, &st) < 0)
		return -1;
	if (thread)
		snprintf(out, size, "/proc/%d/task/%d%s", st.tgid, tid, rest);
	else
		snprintf(out, size, "/proc/%d%s", st.tgid, rest);
	return 0;
}

/* What a call named: an O_PATH fd on the object, and the directory its
 * path was looked up from with the path (kept to find its parent). */
struct object {
	int o, base;            /* base: the caller's dirfd, or AT_FDCWD */
	char path[4096];
};

static void object_close(struct object *ob)
{
	if (ob->o >= 0)
		close(ob->o);
}

/* Finds what DIRFD and PATH name for the caller, as the call itself would:
 * through /proc/TID/cwd or /proc/TID/fd/DIRFD, links to the caller's own
 * directories, in one lookup. 0, or -1 with errno as the call would fail,
 * or -2 when the kernel had better answer itself. */
static int resolve(struct call *c, int dirfd, uint64_t path_addr, int flags, struct object *ob)
{
	char full[4096 + 64];
	int e;

	ob->o = -1;
	ob->base = dirfd;
	if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE))
		return -2;
	if (read_path(c->tid, path_addr, ob->path, sizeof(ob->path)) < 0)
		return -2;
	if (!ob->path[0] && !(flags & AT_EMPTY_PATH))
		return -2;
	if (!strncmp(ob->path, "/proc/self", 10) || !strncmp(ob->path, "/proc/thread-self", 17)) {
		/* the caller's own, not init's */
		if (caller_proc(c->tid, ob->path, full, sizeof(full)) < 0)
			return -2;
	} else if (ob->path[0] == '/')
		snprintf(full, sizeof(full), "%s", ob->path);
	else if (dirfd == AT_FDCWD)
		snprintf(full, sizeof(full), "/proc/%d/cwd/%s", c->tid, ob->path);
	else if (dirfd >= 0)
		snprintf(full, sizeof(full), "/proc/%d/fd/%d/%s", c->tid, dirfd, ob->path);
	else
		return -2;	/* EBADF */
	if (strlen(full) >= 4096)
		return -2;	/* the kernel knows best about very long paths */
	if (!ob->path[0])
		full[strlen(full) - 1] = 0;	/* the directory or fd itself */
	/* (an empty path names the fd itself: O_NOFOLLOW there would open the
	 * /proc link, not what it leads to, which is never followed further) */
	ob->o = open(full, O_PATH | O_CLOEXEC |
		     (flags & AT_SYMLINK_NOFOLLOW && ob->path[0] ? O_NOFOLLOW : 0));
	e = errno;
	if (ob->o >= 0)
		return 0;
	/* a dirfd the caller does not have: EBADF, the kernel's to say */
	if (dirfd >= 0 && ob->path[0] != '/' && e == ENOENT) {
		char fdp[64];
		snprintf(fdp, sizeof(fdp), "/proc/%d/fd/%d", c->tid, dirfd);
		if (access(fdp, F_OK) < 0)
			return -2;
	}
	errno = e;
	return e == ENOENT || e == ENOTDIR || e == EACCES || e == ELOOP || e == ENAMETOOLONG ? -1 : -2;
}

/* The directory OB's path ends in (its last component's), O_PATH; -1 if
 * OB was not named by a path. */
static int object_parent(const struct call *c, int dirfd, const struct object *ob)
{
	char dir[4096 + 64];
	const char *slash;

	if (!ob->path[0])
		return -1;
	slash = strrchr(ob->path, '/');
	if (slash == ob->path)
		return open("/", O_PATH | O_DIRECTORY | O_CLOEXEC);
	if (slash && ob->path[0] == '/')
		snprintf(dir, sizeof(dir), "%.*s", (int)(slash - ob->path), ob->path);
	else if (dirfd == AT_FDCWD)
		snprintf(dir, sizeof(dir), "/proc/%d/cwd/%.*s", c->tid,
			 slash ? (int)(slash - ob->path) : 0, ob->path);
	else
		snprintf(dir, sizeof(dir), "/proc/%d/fd/%d/%.*s", c->tid, dirfd,
			 slash ? (int)(slash - ob->path) : 0, ob->path);
	return open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
}

/* Asks the server; the reply in RP. */
static int ask(int server, const struct request *rq, int fd, struct reply *rp)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { (void *)rq, sizeof(*rq) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	ssize_t n;

	if (fd >= 0) {
		struct cmsghdr *cm;
		memset(cbuf, 0, sizeof(cbuf));
		mh.msg_control = cbuf;
		mh.msg_controllen = sizeof(cbuf);
		cm = CMSG_FIRSTHDR(&mh);
		cm->cmsg_level = SOL_SOCKET;
		cm->cmsg_type = SCM_RIGHTS;
		cm->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(cm), &fd, sizeof(int));
	}
	if (sendmsg(server, &mh, MSG_NOSIGNAL) != sizeof(*rq))
		return -1;
	do
		n = recv(server, rp, sizeof(*rp), 0);
	while (n < 0 && errno == EINTR);
	return n >= (ssize_t)offsetof(struct reply, u) ? 0 : -1;
}

static int put(struct call *c, uint64_t addr, const void *buf, size_t len)
{
	struct iovec l = { (void *)buf, len }, r = { (void *)addr, len };

	return process_vm_writev(c->tid, &l, 1, &r, 1, 0) == (ssize_t)len ? 0 : -1;
}

/* The ids the kernel shows inside the namespace for an owner it cannot map. */
static uint32_t overflow_uid = 65534, overflow_gid = 65534;

/* Real owners of the inodes of other users lately stat'ed, by device and
 * inode, valid while their ctime (which chown changes) is the same. */
#define OWNER_CACHE 65536
static struct owner owner_cache[OWNER_CACHE];
static uint64_t last_dir_dev, last_dir_ino;	/* the directory listed last */

static struct owner *cache_slot(uint64_t dev, uint64_t ino)
{
	return &owner_cache[(ino * 0x9e3779b97f4a7c15ULL ^ dev) % OWNER_CACHE];
}

static const struct owner *cache_find(const struct owner *key)
{
	const struct owner *e = cache_slot(key->dev, key->ino);

	return e->ino == key->ino && e->dev == key->dev && e->ctime_s == key->ctime_s &&
	       e->ctime_ns == key->ctime_ns && e->ino ? e : NULL;
}

/* One trip for a whole directory: find, tar, ls and du stat its entries
 * one after the other. */
static void list_directory(int server, const struct call *c, const struct object *ob)
{
	static struct reply rp;
	struct request rq = { .kind = REQ_DIR };
	int parent = ob ? object_parent(c, ob->base, ob) : -1;
	struct stat st;

	if (parent < 0)
		return;
	if (fstat(parent, &st) == 0 && !(st.st_dev == last_dir_dev && st.st_ino == last_dir_ino)) {
		last_dir_dev = st.st_dev;
		last_dir_ino = st.st_ino;
		if (ask(server, &rq, parent, &rp) == 0 && !rp.err)
			for (uint32_t i = 0; i < rp.n && i < MAX_DIR_ENTRIES; i++)
				*cache_slot(rp.u.entries[i].dev, rp.u.entries[i].ino) = rp.u.entries[i];
	}
	close(parent);
}

/* Puts the real owner of the object O (named as OB says, or by an fd) into
 * *UID and *GID where the kernel showed the overflow ids. KEY: its device,
 * inode and ctime, when known. */
static int real_owner(int server, const struct call *c, int o, const struct object *ob,
		      const struct owner *key, uint32_t *uid, uint32_t *gid)
{
	static struct reply rp;
	struct request rq = { .kind = REQ_OWNER };
	const struct owner *e;

	if (*uid != overflow_uid && *gid != overflow_gid)
		return 0;
	if (key && !(e = cache_find(key))) {
		list_directory(server, c, ob);
		e = cache_find(key);
	}
	if (key && e) {
		*uid = e->uid;
		*gid = e->gid;
		return 0;
	}
	if (ask(server, &rq, o, &rp) < 0 || rp.err)
		return -1;
	*uid = rp.u.owner.uid;
	*gid = rp.u.owner.gid;
	if (key)
		*cache_slot(key->dev, key->ino) = rp.u.owner;
	return 0;
}

/* Init makes the call itself on the object the job named, with the job's
 * permissions: everything is right but owners the namespace cannot map,
 * which the server gives. */
static void answer_stat(struct call *c, int server, int nr, const __u64 *a)
{
	struct object ob = { .o = -1, .base = AT_FDCWD };
	uint64_t buf;
	int r = -1, flags = 0;

	switch (nr) {
	case SYS_fstat: {
		char fdp[64];
		snprintf(fdp, sizeof(fdp), "/proc/%d/fd/%d", c->tid, (int)a[0]);
		ob.o = open(fdp, O_PATH | O_CLOEXEC);
		if (ob.o < 0)
			return;	/* EBADF and the like: the kernel's to say */
		ob.path[0] = 0;
		buf = a[1];
		break;
	}
	case SYS_stat:
	case SYS_lstat:
		r = resolve(c, AT_FDCWD, a[0], nr == SYS_lstat ? AT_SYMLINK_NOFOLLOW : 0, &ob);
		buf = a[1];
		break;
	case SYS_newfstatat:
		r = resolve(c, (int)a[0], a[1], (int)a[3], &ob);
		buf = a[2];
		break;
	default:	/* statx */
		r = resolve(c, (int)a[0], a[1], (int)a[2], &ob);
		flags = a[2] & (AT_STATX_SYNC_TYPE | AT_NO_AUTOMOUNT);
		buf = a[4];
		break;
	}
	if (r == -2)
		return;
	if (ob.o < 0) {
		c->resp->error = -errno;
		c->resp->flags = 0;
		return;
	}
	r = -1;
	if (nr == SYS_statx) {
		struct statx sx;
		if (statx(ob.o, "", AT_EMPTY_PATH | flags, (unsigned)a[3], &sx) < 0) {
			c->resp->error = -errno;
			c->resp->flags = 0;
			goto out;
		}
		struct owner key = { (uint64_t)makedev(sx.stx_dev_major, sx.stx_dev_minor), sx.stx_ino,
				     sx.stx_ctime.tv_sec, sx.stx_ctime.tv_nsec, 0, 0 };
		bool known = (sx.stx_mask & (STATX_INO | STATX_CTIME)) == (STATX_INO | STATX_CTIME);
		r = real_owner(server, c, ob.o, &ob, known ? &key : NULL, &sx.stx_uid, &sx.stx_gid);
		if (r == 0)
			r = put(c, buf, &sx, sizeof(sx));
	} else {
		struct stat st;
		if (fstatat(ob.o, "", &st, AT_EMPTY_PATH) < 0) {
			c->resp->error = -errno;
			c->resp->flags = 0;
			goto out;
		}
		struct owner key;
		uint32_t uid = st.st_uid, gid = st.st_gid;
		owner_of(&st, &key);
		r = real_owner(server, c, ob.o, nr == SYS_fstat ? NULL : &ob, &key, &uid, &gid);
		st.st_uid = uid;
		st.st_gid = gid;
		if (r == 0)
			r = put(c, buf, &st, sizeof(st));
	}
	if (r == 0)
		c->resp->flags = 0;	/* else a bad buffer: EFAULT from the kernel */
out:
	object_close(&ob);
}

static void answer_groups(struct call *c, int server, const __u64 *a)
{
	static struct reply rp;
	struct request rq = { .kind = REQ_GROUPS };
	int size = (int)a[0];

	if (ask(server, &rq, -1, &rp) < 0 || rp.err || size < 0)
		return;
	if (size && (uint32_t)size < rp.n) {
		c->resp->error = -EINVAL;
	} else if (size) {
		if (put(c, a[1], rp.u.groups, rp.n * sizeof(gid_t)) < 0)
			return;
		c->resp->val = rp.n;
	} else {
		c->resp->val = rp.n;
	}
	c->resp->flags = 0;
}

static void answer(int lfd, int server, struct seccomp_notif *rq, struct seccomp_notif_resp *resp)
{
	struct call c = { .tid = rq->pid, .resp = resp };

	memset(resp, 0, sizeof(*resp));
	resp->id = rq->id;
	resp->flags = SECCOMP_USER_NOTIF_FLAG_CONTINUE;	/* unless answered below */
	if (server >= 0) {
		if (rq->data.nr == SYS_getgroups)
			answer_groups(&c, server, rq->data.args);
		else
			answer_stat(&c, server, rq->data.nr, rq->data.args);
	}
	/* (ENOENT: the caller was interrupted meanwhile, and will ask again) */
	ioctl(lfd, SECCOMP_IOCTL_NOTIF_SEND, resp);
}

static int recv_listener(int ctl)
{
	char byte, cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { &byte, 1 };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *cm;
	int fd = -1;

	if (recvmsg(ctl, &mh, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) != 1)
		return -1;
	cm = CMSG_FIRSTHDR(&mh);
	if (cm && cm->cmsg_type == SCM_RIGHTS)
		memcpy(&fd, CMSG_DATA(cm), sizeof(int));
	return fd;
}

/* Init keeps no capability: the objects it opens for the job are found
 * with the job's own permissions (a directory it may not search stays
 * closed to it). Same-user access to the job needs none. */
static void drop_capabilities(void)
{
	struct __user_cap_header_struct h = { _LINUX_CAPABILITY_VERSION_3, 0 };
	struct __user_cap_data_struct d[2];

	memset(d, 0, sizeof(d));
	if (syscall(SYS_capset, &h, d) < 0)
		pr_warn("cannot drop init's capabilities: %s", strerror(errno));
}

void owners_serve(int ctl, int server, int (*wait_children)(void *arg), void *arg)
{
	struct pollfd pf[2 + MAX_LISTENERS];
	struct seccomp_notif_sizes sz = { 0 };
	struct seccomp_notif *rq;
	struct seccomp_notif_resp *resp;
	size_t nl = 0;
	sigset_t chld;
	int sfd;

	sigemptyset(&chld);
	sigaddset(&chld, SIGCHLD);
	sigprocmask(SIG_BLOCK, &chld, NULL);
	sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
	if (syscall(SYS_seccomp, SECCOMP_GET_NOTIF_SIZES, 0, &sz) < 0)
		sz = (struct seccomp_notif_sizes){ sizeof(*rq), sizeof(*resp), 0 };
	rq = xcalloc(1, sz.seccomp_notif > sizeof(*rq) ? sz.seccomp_notif : sizeof(*rq));
	resp = xcalloc(1, sz.seccomp_notif_resp > sizeof(*resp) ? sz.seccomp_notif_resp : sizeof(*resp));
	for (int k = 0; k < 2; k++) {
		char *v = read_file(k ? "/proc/sys/kernel/overflowgid" : "/proc/sys/kernel/overflowuid",
				    NULL);
		if (v)
			*(k ? &overflow_gid : &overflow_uid) = strtoul(v, NULL, 10);
		free(v);
	}
	drop_capabilities();
	pf[0] = (struct pollfd){ .fd = sfd, .events = POLLIN };
	pf[1] = (struct pollfd){ .fd = ctl, .events = POLLIN };
	bool changed = true;	/* children may have changed before SIGCHLD was blocked */
	for (;;) {
		if (changed && wait_children(arg))
			break;
		changed = false;
		if (sfd < 0) {	/* no signalfd: a blocking wait, and no owners */
			changed = true;
			sigprocmask(SIG_UNBLOCK, &chld, NULL);
			pause();
			continue;
		}
		if (poll(pf, 2 + nl, -1) < 0 && errno != EINTR)
			break;
		if (pf[0].revents) {
			struct signalfd_siginfo si;
			while (read(sfd, &si, sizeof(si)) == sizeof(si))
				;
			changed = true;
		}
		if (pf[1].revents & POLLIN) {
			int lfd;
			while ((lfd = recv_listener(ctl)) >= 0) {
				if (nl == MAX_LISTENERS) {
					close(lfd);	/* its calls fail with ENOSYS: too many top processes */
					continue;
				}
				pf[2 + nl++] = (struct pollfd){ .fd = lfd, .events = POLLIN };
			}
		}
		if (pf[1].revents & (POLLHUP | POLLERR))
			pf[1].fd = -1;
		for (size_t i = 0; i < nl; i++) {
			if (pf[2 + i].revents & POLLIN) {
				memset(rq, 0, sz.seccomp_notif);
				if (ioctl(pf[2 + i].fd, SECCOMP_IOCTL_NOTIF_RECV, rq) == 0)
					answer(pf[2 + i].fd, server, rq, resp);
			} else if (pf[2 + i].revents & (POLLHUP | POLLERR)) {
				/* every process of that filter has exited */
				close(pf[2 + i].fd);
				pf[2 + i] = pf[2 + --nl];
				i--;
			}
		}
	}
	for (size_t i = 0; i < nl; i++)
		close(pf[2 + i].fd);
	free(rq);
	free(resp);
	if (sfd >= 0)
		close(sfd);
}

/* ---- the dump: our own filter in a thawed job ---- */

bool owners_filter_is_ours(pid_t pid, int nr_filters)
{
	struct proc_status st, me;
	pid_t p = pid;

	if (nr_filters != 1 || proc_parse_status(pid, &me) < 0 || me.ns_depth < 2)
		return false;
	/* Up the parents to the init of its pid namespace: a thaw's init is
	 * jobfreeze itself. */
	for (int hops = 0; hops < 4096 && p > 1; hops++) {
		if (proc_parse_status(p, &st) < 0)
			return false;
		if (st.ns_depth == me.ns_depth && st.nspid == 1) {
			char path[64], exe[4096];
			ssize_t n;
			snprintf(path, sizeof(path), "/proc/%d/exe", p);
			n = readlink(path, exe, sizeof(exe) - 1);
			if (n <= 0)
				return false;
			exe[n] = 0;
			const char *base = strrchr(exe, '/');
			return base && !strncmp(base + 1, "jobfreeze", 9);
		}
		p = st.ppid;
	}
	return false;
}
