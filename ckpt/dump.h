/* dump.h: the state of one dump, shared by the object files (mem.c,
 * files.c, pipe.c, ...) that fill the process image, and their entry
 * points, one section per file; dump.c calls them in order. A new object
 * file gets its section here (ARCHITECTURE.md, "Adding a kind of file
 * descriptor"). */
#pragma once
#include <stdbool.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/user.h>
#include "ckpt/ckpt.h"
#include "ckpt/fileid.h"
#include "ckpt/image.h"
#include "ckpt/inject.h"
#include "ckpt/proc.h"

/* One thread of the job while it is held. */
struct dump_thread {
	pid_t tid;                        /* as the dumping side sees it */
	struct user_regs_struct regs;     /* as it was stopped */
	uint64_t sigmask;                 /* its blocked mask, restored on release */
	bool mask_changed;
	struct inject in;                 /* calls injected into this thread */
};

/* What the processes of one dump share: buffers kept from one process to
 * the next (dump.c makes it, mem_dump_done frees it). */
struct dump_shared {
	struct fileid_cache fileids;      /* programs and libraries the job maps */
	unsigned char *page_buf;          /* mem.c: a batch of pages, and the parent's */
	size_t kept_bytes;                /* mem.c: pages kept for children (kept_pages) */
};

struct dump_ctx {
	const struct dump_opts *o;
	struct dump_shared *shared;
	struct ckpt_stats *stats;
	pid_t pid;                        /* as the dumping side sees it */
	struct proc_status status;
	bool was_stopped;                 /* stopped by job control (^Z) when found */
	bool zombie;                      /* exited, its parent (in the job) not told yet */
	int exit_status;                  /* a zombie's wait status */
	struct proc_stat stat;
	struct proc_maps maps;            /* parsed before any scratch memory exists */
	struct inject in;                 /* calls injected into the leader (thr[0]) */
	struct dump_thread *thr;          /* every seized thread, the leader first */
	size_t nr_thr;
	bool itimers_disarmed;
	struct itimerval itimers[3];      /* what the disarmed timers held */
	struct image_dir *dir;            /* shared by every process of the job */
	Process *img;
	struct dump_ctx *parent;          /* its parent, when in the job (dumped before it) */
	unsigned nr_descendants;          /* processes of the job below it */
	struct kept_pages *kept;          /* mem.c: its stored pages, while processes
					   * below it are still to be compared with them */
};

/* The object files, one kernel object each. */

/* mem.c */
int mem_dump_vmas(struct dump_ctx *c);
int mem_dump_pages(struct dump_ctx *c);
/* frees what mem.c kept of the process, and of the whole dump */
void mem_dump_free(struct dump_ctx *c);
void mem_dump_done(struct dump_shared *s);
/* vdso.c: finds a syscall instruction in the task's [vdso] and records its checksum */
int vdso_dump(struct dump_ctx *c, uint64_t *syscall_ip);
/* signals.c: process-wide, then per thread (IN runs in that thread) */
int signals_dump(struct dump_ctx *c);
int thread_signals_dump(struct inject *in, Thread *t);
int itimers_disarm(struct dump_ctx *c);
void itimers_rearm(struct dump_ctx *c);
/* files.c */
int files_dump(struct dump_ctx *c);
/* Gives the same desc_id to fds of the job that share one open file
 * description (inherited across fork: one offset). */
int files_share(struct dump_ctx *ctx, size_t n);
/* The data queued in the job's pipes and FIFOs, one record each, for the
 * inventory. */
struct pipe_list {
	PipeData **p;
	size_t n;
};
PipeData *pipe_list_add(struct pipe_list *l, uint64_t id, uint64_t fifo_dev);
PipeData *pipe_list_find(const struct pipe_list *l, uint64_t id, uint64_t fifo_dev);
void pipe_list_free(struct pipe_list *l);
/* pipe.c: records fd FD of the process as one end of pipe INO */
int pipe_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino);
/* refuses pipes whose other end some process outside the job holds */
int pipes_check_outside(struct dump_ctx *ctx, size_t n);
/* once every process is read: copies the data queued in each pipe of the
 * job (without taking it out) and records it in OUT */
int pipes_dump_data(struct dump_ctx *ctx, size_t n, struct pipe_list *out);
/* fifo.c: records fd FD of the process, which is the FIFO LINK (stat ST) */
int fifo_dump(struct dump_ctx *c, int fd, Fd *f, const struct stat *st, const char *link);
/* once every process is read: a FIFO some process outside the job holds
 * too keeps its data in the kernel (marked fifo_shared); the data of the
 * others is copied and recorded in OUT */
int fifos_dump_data(struct dump_ctx *ctx, size_t n, struct pipe_list *out);
/* anonfd.c: the Fd kind of an anon inode link ("anon_inode:[eventfd]"), or
 * -1; and keeping its fdinfo text INFO as its state (F takes it over) */
int anonfd_kind(const char *link);
int anonfd_dump(struct dump_ctx *c, Fd *f, int kind, char *info);
/* unixsk.c: records socket INO behind fd FD (a unix socket, with what
 * waits in it); refuses other families naming their addresses */
int sock_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino);
/* inetsk.c: a TCP or UDP socket S (a copy of F's), refused when connected
 * unless the options let it go */
int inet_dump(struct dump_ctx *c, int s, Fd *f, int family);
/* refuses unix sockets connected to a socket outside the job */
int unixsk_check_peers(struct dump_ctx *ctx, size_t n);
/* locks.c: the file locks held through F, from its fdinfo text INFO */
int locks_dump(struct dump_ctx *c, Fd *f, const char *info);
/* ptimers.c: the process's POSIX timers, with the time they have left */
int ptimers_dump(struct dump_ctx *c);
/* inotify.c: the watches of inotify fd F (from its fdinfo INFO); their
 * paths, looked for among those the whole job uses */
int inotify_dump(struct dump_ctx *c, Fd *f, const char *info);
int inotify_resolve(struct dump_ctx *ctx, size_t n);
/* sysvshm.c: V maps the SysV shared memory segment of PV (refused if it
 * would not outlive the job) */
int sysvshm_classify(struct dump_ctx *c, const struct proc_vma *pv, Vma *v);
/* shmem.c: stores the contents V shows of its shared memory object */
int shmem_dump(struct dump_ctx *c, const Vma *v);
/* task.c: rseq, robust list, tid address, AMX permission, personality,
 * umask, rlimits, comm */
int task_dump(struct dump_ctx *c);
int thread_task_dump(struct inject *in, Thread *t, pid_t pid);
/* mm.c: code/data/brk/stack/args/env boundaries and the auxv */
int mm_dump(struct dump_ctx *c);
