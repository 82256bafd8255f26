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

/* What the processes of one dump share (dump.c makes and frees it). */
struct dump_shared {
	struct fileid_cache fileids;      /* programs and libraries the job maps */
	size_t kept_bytes;                /* mem.c: pages kept for children (kept_pages) */
	struct image_dir *prev;           /* an earlier snapshot (dump_opts.prev_dir), or NULL */
};

struct dump_ctx {
	const struct dump_opts *o;
	struct dump_shared *shared;
	struct ckpt_stats *stats;
	pid_t pid;                        /* as the dumping side sees it */
	struct proc_status status;
	bool was_stopped;                 /* stopped by job control (^Z) when found */
	int stop_signo;                   /* the signal that stopped it (SIGTSTP...) */
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
	struct ghost_set *ghosts;         /* the job's files with no name (ghost.c) */
	Process *img;
	int *held;                        /* per img->inflight[i]: our copy of that file */
	struct dump_ctx *parent;          /* its parent, when in the job (dumped before it) */
	unsigned nr_descendants;          /* processes of the job below it */
	struct kept_pages *kept;          /* mem.c: its stored pages, while processes
					   * below it are still to be compared with them */
	/* its pages' dump, by one of two threads (dump.c: under its lock) */
	enum { MEM_WAITING, MEM_BUSY, MEM_DONE } mem_state;
	unsigned mem_kids_busy;           /* children whose pages are being dumped */
	bool mem_made_base;               /* it decided its parent's base (mem.c) */
};

/* The object files, one kernel object each. */

/* mem.c */
int mem_dump_vmas(struct dump_ctx *c);
/* C's pages, read with *BUF (a thread's buffer, made at first use and
 * freed by mem_page_buf_free). Two threads may dump processes at once:
 * one may start once mem_dump_ready says so, and is ended by
 * mem_dump_finished; both under the caller's lock. */
int mem_dump_pages(struct dump_ctx *c, unsigned char **buf);
/* whether C's parent is done, and its base decided or no other child of
 * it at work (the first to start decides it) */
bool mem_dump_ready(const struct dump_ctx *c);
void mem_dump_started(struct dump_ctx *c);
void mem_dump_finished(struct dump_ctx *c);
void mem_page_buf_free(unsigned char **buf);
/* frees what mem.c kept of the process */
void mem_dump_free(struct dump_ctx *c);
/* vdso.c: records the job's [vdso] (its bytes and functions) and a thaw's
 * copy of another vDSO found in it; then brings every thread stopped
 * inside that code out of it, one instruction at a time (with the
 * per-thread injection contexts ready) */
int vdso_dump(struct dump_ctx *c);
int vdso_step_out(struct dump_ctx *c);
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
/* Processes that share their parent's fd table (CLONE_FILES); refused
 * when it is another's */
int files_tables(struct dump_ctx *ctx, size_t n);
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
 * -1; and keeping its fdinfo text INFO as its state (F takes it over);
 * FDS: the process's NR fds (where an epoll set's files may be now) */
int anonfd_kind(const char *link);
int anonfd_dump(struct dump_ctx *c, Fd *f, int kind, char *info, const int *fds, size_t nr);
/* unixsk.c: records socket INO behind fd FD (a unix socket, with what
 * waits in it); refuses other families naming their addresses */
int sock_dump(struct dump_ctx *c, int fd, Fd *f, uint64_t ino);
/* inetsk.c: a TCP or UDP socket S (a copy of F's), refused when connected
 * unless the options let it go */
int inet_dump(struct dump_ctx *c, int s, Fd *f, int family);
/* socks.c: the job's sockets against each other (peers, listeners,
 * senders), refusing those connected outside the job; what waits in them */
int unixsk_check_peers(struct dump_ctx *ctx, size_t n);
/* once the images are synced, before the kill: the job's TCP connections
 * end with a reset (no TIME_WAIT holding their ports against the thaw) */
void socks_abort(struct dump_ctx *ctx, size_t n);
/* procfd.c: F (fd FD, /proc link LINK, fdinfo INFO) is a /proc file, a
 * namespace or a pidfd (0), refused (-1), or none of these (1); once every
 * process is read, which process of the job each names */
int procfd_dump(struct dump_ctx *c, int fd, Fd *f, const char *link, const char *info);
int procfds_resolve(struct dump_ctx *ctx, size_t n);
/* fown.c: the owner and signal of the SIGIO of each of the process's fds
 * (injected, all in one go); refused when the owner is not part of the
 * job */
int fowns_dump(struct dump_ctx *c);
int fowns_check(struct dump_ctx *ctx, size_t n);
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
/* ghost.c: the job's files with no name on disk (deleted files,
 * directories and symlinks, memfds, shared anonymous memory), one object
 * per inode for the whole job. Before any process is read: which of them
 * an fd or a shared mapping holds (LIMIT: the most data one may put in the
 * image, 0: the default). */
struct ghost_set *ghosts_prescan(struct dump_ctx *ctx, size_t n, uint64_t limit);
uint64_t ghost_id_of(unsigned major, unsigned minor, uint64_t ino);
/* F (fd FD, ST, its /proc link LINK) names the object; 1: LINK still has
 * another name, now in F->path, and is an ordinary file after all */
int ghost_add_fd(struct dump_ctx *c, Fd *f, int fd, const struct stat *st, char *link);
/* the process works in the deleted directory PATH (ST) */
int ghost_add_cwd(struct dump_ctx *c, const struct stat *st, const char *path);
/* V maps the object of PV (true), or is only its contents (false) */
bool ghost_add_map(struct dump_ctx *c, const struct proc_vma *pv, Vma *v);
/* once every process is read: the data of each object into the image */
int ghosts_dump_data(struct dump_ctx *ctx, size_t n, struct ghost_set *s);
/* the records for the inventory (owned by S) */
FilesGhost **ghosts_records(struct ghost_set *s, size_t *n);
void ghosts_free(struct ghost_set *s);
/* aio.c: V is the ring of an AIO context (PV): kept as the job left it */
int aio_dump(struct dump_ctx *c, const struct proc_vma *pv, Vma *v);
/* pty.c: a terminal fd: a pty's master, a slave, /dev/tty, or another
 * terminal (the job's, which the thaw's terminal replaces); ST its stat */
int pty_fd_dump(struct dump_ctx *c, int fd, Fd *f, const struct stat *st);
/* The job's own pseudo-terminals, one record each, for the inventory. */
struct pty_list {
	PtysPair **p;
	size_t n;
};
/* once every process is read: the ptys whose master the job holds (their
 * slaves told from the job's terminal), their state and queued bytes */
int ptys_dump(struct dump_ctx *ctx, size_t n, struct pty_list *out);
void pty_list_free(struct pty_list *l);
/* the controlling terminal of process C, in its inventory entry */
void pty_ctty_entry(const struct pty_list *l, const struct dump_ctx *c, ProcEntry *pe);
/* task.c: rseq, robust list, tid address, AMX permission, personality,
 * umask, rlimits, comm */
int task_dump(struct dump_ctx *c);
int thread_task_dump(struct inject *in, Thread *t, pid_t pid);
/* mm.c: code/data/brk/stack/args/env boundaries and the auxv */
int mm_dump(struct dump_ctx *c);
