/* restore.h: the state of one restore inside the namespace's init, shared
 * by the object files that rebuild the job, and their entry points, one
 * section per file; restore.c calls them in order, and they call only
 * rctx.c back. A new object file gets its section here (ARCHITECTURE.md,
 * "Adding a kind of file descriptor"). */
#pragma once
#include <stdbool.h>
#include "ckpt/ckpt.h"
#include "ckpt/image.h"
#include "ckpt/inject.h"

/* The pipes and FIFOs of the job, made once in init and shared by all its
 * processes; each open file description of the job is opened again from
 * them (pipe_reopen). */
struct pipe_table {
	struct job_pipe {
		uint64_t id;      /* a pipe's inode at dump time; a FIFO's st_ino */
		uint64_t dev;     /* 0 for a pipe; a FIFO's st_dev */
		int end[2];       /* init's own read and write ends; a FIFO: end[0]
				   * open for both, end[1] -1 */
		bool given[2];    /* a pipe's end[i] is one of the job's descriptions */
	} *p;
	size_t n;
};

/* Shared memory objects of the job (memfds in init), shared by its VMAs. */
struct shm_table {
	struct job_shm {
		uint64_t id;
		int fd;
		uint64_t size;
	} *s;
	size_t n;
};

/* The unix sockets of the job (init's fds), by their inode at dump time. */
struct sock_table {
	struct job_sock {
		uint64_t ino;
		int fd;
		bool configured;  /* buffer sizes and shutdown applied */
	} *s;
	size_t n;
};

struct restore_ctx {
	const struct restore_opts *o;
	struct ckpt_stats *stats;
	struct image_dir *dir;            /* shared by every process of the job */
	Inventory *inv;
	Process *img;
	pid_t job;                        /* the job's pid, as init sees it */
	struct inject in;                 /* calls injected into the main thread */
	struct inject *thr_in;            /* per img->threads[i], i >= 1 */
	int pages_fd;
	int *fd_src;                      /* per img->fds[i]: the init fd it comes from */
	bool *epoll_given;                /* per img->fds[i]: an epoll set built by a parent */
	bool *has_pages;
	struct pipe_table *pipes;         /* shared by the whole job */
	struct shm_table *shm;            /* shared by the whole job */
	struct sock_table *socks;         /* shared by the whole job */
	int sock;                         /* init's end of the restore socket */
	int keep_at;                      /* the process's end, at this fd number */
	/* forked from this process, whose memory it shares, without exec
	 * (cow.c); NULL: started by exec of its program */
	struct restore_ctx *parent;
};

/* rctx.c: what every object file below may use (restore.c gives the
 * order; the object files never call it back). */
/* Maps the scratch area in a gap of the dumped layout and of the task's
 * current mappings M. */
struct proc_maps;
int scratch_setup(struct restore_ctx *r, const struct proc_maps *m);
/* Writes BUF to the scratch area in the job and returns its address there. */
uint64_t scratch_put(struct restore_ctx *r, size_t off, const void *buf, size_t len);
struct range {
	uint64_t start, end;
};
/* An address range of SIZE bytes free in the dumped layout, the task's
 * current mappings (cur) and the extra ranges; 0 if none. */
uint64_t find_gap(struct restore_ctx *r, uint64_t size, const struct range *cur, size_t nr_cur);
/* Passing an fd from init (SOCK) into the process (an injected recvmsg on
 * its fd KEEP_AT): returns its number there, or -errno. */
int fd_send(int sock, int fd);
long fd_recv(struct restore_ctx *r, int keep_at);

/* The object files, one kernel object each; restore.c calls them in order. */

/* mem.c: checks the layout and maps it (a process forked from its parent
 * gets its layout from cow_restore_layout instead) */
int mem_restore_layout(struct restore_ctx *r);
int mem_restore_pages(struct restore_ctx *r);
int mem_restore_protections(struct restore_ctx *r);
/* the file the process has open to map areas of it (consecutive areas of
 * one file share it) */
struct mem_file {
	const char *path;
	int mode;
	long fd;                          /* in the process; -1: none */
};
/* the protection area V is mapped with: writable while its pages go in */
uint32_t mem_map_prot(const Vma *v, bool has_pages);
/* maps START..END of area img->vmas[I] as the job had it there */
int mem_map_part(struct restore_ctx *r, size_t i, uint64_t start, uint64_t end, struct mem_file *f);
void mem_file_close(struct restore_ctx *r, struct mem_file *f);
/* The bytes R holds at ADDR (last, or when FORK_TIME when it forked its
 * children: its base page there, if any), from the image: 1 with them in
 * BUF (a page), 0 if none is stored (zero, or the file's), -1 on error */
int mem_stored_page(struct restore_ctx *r, uint64_t addr, bool fork_time, unsigned char *buf);
/* cow.c: a process forked from its rebuilt parent (r->parent) keeps what it
 * shared with it, drops the rest, maps its own areas (its pages come after,
 * mem_restore_pages); and undoes the parent's state it inherited and did
 * not have: signal actions, rseq, alternate stack */
int cow_restore_layout(struct restore_ctx *r);
int cow_forget_parent(struct restore_ctx *r);
/* once its children are forked, a process with a base (what it held when
 * it forked them) gets its own pages back there */
int cow_finish_base(struct restore_ctx *r);
/* vdso.c: moves the task's vdso areas to their dumped addresses */
int vdso_restore(struct restore_ctx *r);
/* signals.c */
int signals_restore(struct restore_ctx *r);
int thread_signals_restore(struct restore_ctx *r, struct inject *in, const Thread *t);
int pending_restore(struct restore_ctx *r);
int thread_pending_restore(struct restore_ctx *r, struct inject *in, const Thread *t);
/* files.c: before the job exists, opens what its fds will be (in init);
 * fds sharing a description with one of the PREV processes prepared
 * before get a duplicate of that one */
int files_prepare(struct restore_ctx *r, struct restore_ctx *prev, size_t nr_prev);
/* in the forked job, before exec: puts them at their numbers, and KEEP at
 * the number KEEP_AT (kept open across exec) */
int files_install(struct restore_ctx *r, int keep, int keep_at);
/* in a process forked by injection: everything but the fd at KEEP_AT
 * closed, then its fds received through that socket from SOCK (init's
 * end) */
int files_receive(struct restore_ctx *r, int sock, int keep_at);
/* the highest fd number the job uses */
int files_max_fd(const Process *img);
/* after exec, injected: close-on-exec flags */
int files_finish(struct restore_ctx *r);
/* all files the image names are still the ones recorded */
int files_check(struct restore_ctx *r);

/* task.c */
int task_restore(struct restore_ctx *r);
int thread_task_restore(struct restore_ctx *r, struct inject *in, const Thread *t);
/* mm.c */
int mm_restore(struct restore_ctx *r);

/* anonfd.c: an init fd of an eventfd, signalfd or timerfd made again;
 * the epoll sets, made inside the process once its fds are in place */
int anonfd_open(const Fd *f);
int epoll_restore(struct restore_ctx *r);
/* the epoll sets process PROCS[I] built, given as they are to the later
 * processes that share them (fork): they get them instead of building */
int epoll_share(struct restore_ctx *procs, size_t n, size_t i);

/* shmem.c: the fd number, in the process, of shared memory object ID,
 * big enough for END bytes (to be closed once mapped) */
long shmem_fd_in_process(struct restore_ctx *r, uint64_t id, uint64_t end);
void shm_table_close(struct shm_table *t);

/* pipe.c: an init fd, a description of its own, on the end of the job's
 * pipe F names (made, with its queued data, the first time it is asked for) */
int pipe_open(struct restore_ctx *r, const Fd *f);
void pipe_table_close(struct pipe_table *t);
struct job_pipe *pipe_table_find(struct pipe_table *t, uint64_t id, uint64_t dev);
struct job_pipe *pipe_table_add(struct pipe_table *t, uint64_t id, uint64_t dev, int fd0, int fd1);
/* A new open file description on the pipe or FIFO behind ANY, with F's
 * access mode and flags (WHAT names it in messages) */
int pipe_reopen(int any, const Fd *f, const char *what);
/* fifo.c: an init fd, a description of its own, on the FIFO F names (made
 * again if unlinked, its queued data put back, the first time) */
int fifo_open(struct restore_ctx *r, const Fd *f);

/* unixsk.c: an init fd on the unix socket F names (made with its peer
 * and their queued data the first time either is asked for) */
int unixsk_open(struct restore_ctx *r, const Fd *f);
void sock_table_close(struct sock_table *t);
/* inetsk.c: an init fd for F's TCP/UDP socket: bound and listening again,
 * or reset */
int inet_open(struct restore_ctx *r, const Fd *f);

/* locks.c: the process takes its file locks again (injected) */
int locks_restore(struct restore_ctx *r);

/* ptimers.c: the POSIX timers made again, with their ids (once the
 * threads they may signal exist) */
int ptimers_restore(struct restore_ctx *r);

/* inotify.c: an init fd of F's inotify instance, watching again */
int inotify_open(const Fd *f);

/* sysvshm.c: the segment of img->vmas[I] attached again at its address
 * (the address, or -errno) */
long sysvshm_attach(struct restore_ctx *r, size_t i);

/* vdso.c: the address of a syscall instruction in PID's [vdso] and the vdso's checksum */
int vdso_locate(pid_t pid, const struct proc_maps *m, uint64_t *syscall_ip, uint32_t *crc);
