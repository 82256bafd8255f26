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
		const FilesGhost *g;  /* its record, or NULL (an image from before them) */
		bool given;           /* a memfd: its own description went to the job */
	} *s;
	size_t n;
};

/* The sockets of the job (init's fds), by their inode at dump time, all
 * made before any process's fds are opened (socks.c). */
struct sock_table {
	struct job_sock {
		uint64_t ino;
		int fd;
		const Fd *f;      /* its first fd in the images */
		int partner;      /* a stand-in for a peer that had closed: sends
				   * what was queued, then closes (-1: none) */
		char *via;        /* a unix socket whose file was unlinked: where
				   * it can be reached until the job runs */
		char *place;      /* the directory made to bind it in (skplace.c), or NULL */
		bool connected;   /* connected to its peer as it was made */
		bool closed;      /* a TCP connection come back closed (restore --tcp-close) */
		bool configured;  /* options and shutdown applied */
	} *s;
	size_t n;
	struct restore_ctx *procs;        /* the job's processes (files in flight) */
	size_t nr_procs;
};

/* The job's own pseudo-terminals (pty.c), made in init. */
struct pty_table {
	struct job_pty {
		const PtysPair *p;
		int master;       /* init's master, -1 once hung up */
		int slave;        /* init's slave while the pty is set up, or -1 */
	} *t;
	size_t n;
};

struct pf_reader;

struct restore_ctx {
	const struct restore_opts *o;
	struct ckpt_stats *stats;
	struct image_dir *dir;            /* shared by every process of the job */
	Inventory *inv;
	Process *img;
	pid_t job;                        /* the job's pid, as init sees it */
	struct inject in;                 /* calls injected into the main thread */
	struct inject *thr_in;            /* per img->threads[i], i >= 1 */
	struct pf_reader *pages;
	int *fd_src;                      /* per img->fds[i]: the init fd it comes from */
	bool *epoll_given;                /* per img->fds[i]: an epoll set built by a parent */
	int *inflight_fd;                 /* per img->inflight[i]: init's fd (passedfd.c) */
	bool *has_pages;
	struct pipe_table *pipes;         /* shared by the whole job */
	struct shm_table *shm;            /* shared by the whole job */
	struct sock_table *socks;         /* shared by the whole job */
	struct pty_table *ptys;           /* shared by the whole job */
	struct cpu_view *cpu;             /* cpu.c: the CPU as the new process sees it */
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
/* The same, as close to NEAR as there is room. */
uint64_t find_gap_near(struct restore_ctx *r, uint64_t size, const struct range *cur,
		       size_t nr_cur, uint64_t near);
/* Passing an fd from init (SOCK) into the process (an injected recvmsg on
 * its fd KEEP_AT): returns its number there, or -errno. */
int fd_send(int sock, int fd);
long fd_recv(struct restore_ctx *r, int keep_at);
/* A task made by an injected clone() in P's main thread, with the pid or
 * tid PID (through ns_last_pid). It stops before running anything (the
 * job's clones and forks are traced); IN is then ready to inject into it,
 * with P's scratch area, which a thread shares and a fork has a copy of.
 * WHAT names it in messages. */
int task_clone(struct restore_ctx *p, uint64_t flags, pid_t pid, const char *what,
	       struct inject *in);

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
/* vdso.c: the task's vDSO areas back at their dumped addresses; under
 * another kernel (another vDSO), this kernel's elsewhere and the job's
 * functions at their old addresses leading to it */
int vdso_restore(struct restore_ctx *r);
/* whether this kernel's vDSO can stand in for the job's (every function
 * the job's had); -1 after reporting each reason */
int vdso_check(const struct restore_ctx *r);
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
/* a process made with CLONE_FILES from its parent: its fds are there */
void files_shared_table(struct restore_ctx *r);
/* the highest fd number the job uses */
int files_max_fd(const Process *img);
/* into the process's working directory (a deleted one made again): by
 * itself before exec, or INJECTED */
int files_chdir(struct restore_ctx *r, bool injected);
/* after exec, injected: close-on-exec flags */
int files_finish(struct restore_ctx *r);
/* all files the image names are still the ones recorded */
int files_check(struct restore_ctx *r);

/* cpu.c: the CPU as the new process sees it (r->cpu), checked against
 * what the job needs of it (every reason reported) */
int cpu_restore_check(struct restore_ctx *r);

/* task.c */
int task_restore(struct restore_ctx *r);
/* once the whole job is built: what must come last (PR_SET_DUMPABLE 0) */
int task_finish(struct restore_ctx *r);
int thread_task_restore(struct restore_ctx *r, struct inject *in, const Thread *t);
/* mm.c */
int mm_restore(struct restore_ctx *r);

/* anonfd.c: an init fd of an eventfd, signalfd or timerfd made again;
 * the epoll sets, made inside the process once its fds are in place */
int anonfd_open(const Fd *f);
int epoll_restore(struct restore_ctx *r);
/* the entries of the process's epoll sets on fd number TFD added again
 * (its file was put there later than the sets were made) */
int epoll_watch_again(struct restore_ctx *r, int tfd);
/* the epoll sets process PROCS[I] built, given as they are to the later
 * processes that share them (fork): they get them instead of building */
int epoll_share(struct restore_ctx *procs, size_t n, size_t i);

/* shmem.c: the fd number, in the process, of shared memory object ID,
 * big enough for END bytes (to be closed once mapped), writable or not */
long shmem_fd_in_process(struct restore_ctx *r, uint64_t id, uint64_t end, bool writable);
/* the object ID in init, made the first time (NULL, reported, on failure) */
struct job_shm *shm_get(struct restore_ctx *r, uint64_t id);
/* once every process has mapped them: the memfds' last seals */
int shmem_finish(struct restore_ctx *r);
void shm_table_close(struct shm_table *t);

/* ghost.c: files with no name (deleted files, directories, symlinks,
 * memfds, shared anonymous memory): the record of object ID; the object
 * made again (an fd in init, or -1); its last seals once mapped */
const FilesGhost *ghost_find(const Inventory *inv, uint64_t id);
int ghost_make(struct restore_ctx *r, const FilesGhost *g);
int ghost_seal(const FilesGhost *g, int fd);

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

/* socks.c: every socket of the N processes made in init, before their
 * fds are opened; once they are, their queues filled again, then their
 * options and shutdown */
int socks_prepare(struct sock_table *t, struct restore_ctx *procs, size_t n);
int socks_finish(struct sock_table *t, struct image_dir *dir);
/* an init fd on the socket F names, unix or TCP/UDP */
int unixsk_open(struct restore_ctx *r, const Fd *f);
int inet_open(struct restore_ctx *r, const Fd *f);
void sock_table_close(struct sock_table *t);

/* procfd.c: an init fd for F, a /proc file, a namespace or a pidfd (a
 * stand-in if it names a process, until procfds_restore: once every
 * process exists, they are opened and given to their processes) */
int procfd_open(const Fd *f);
int procfds_restore(struct restore_ctx *procs, size_t n);

/* fown.c: owners, signals and O_ASYNC, set again by the processes (once
 * every process exists) */
int fowns_restore(struct restore_ctx *procs, size_t n);

/* pty.c: in init, before any fd is prepared: the job's ptys with their
 * numbers (a devpts of the job's own mounted on /dev/pts), settings and
 * queued bytes; after: their last modes (exclusive, lock, hung up) */
int pty_table_build(struct pty_table *t, const Inventory *inv);
int pty_table_finish(struct pty_table *t);
void pty_table_close(struct pty_table *t);
/* an init fd for F, a master, slave or /dev/tty of one of the job's ptys */
int pty_open(struct restore_ctx *r, const Fd *f);
/* in process R, injected: pty IDX becomes its controlling terminal (R leads
 * its session), or it leaves the one it has; its /dev/tty fds opened again */
int pty_make_ctty(struct restore_ctx *r, uint32_t idx);
int pty_drop_ctty(struct restore_ctx *r);
int pty_reopen_tty(struct restore_ctx *r);
/* once the groups exist: each pty's foreground group */
int pty_set_foregrounds(struct restore_ctx *procs, size_t n);

/* locks.c: the process takes its file locks again (injected) */
int locks_restore(struct restore_ctx *r);

/* ptimers.c: the POSIX timers made again, with their ids (once the
 * threads they may signal exist) */
int ptimers_restore(struct restore_ctx *r);

/* inotify.c: an init fd of F's inotify instance, watching again */
int inotify_open(const Fd *f);

/* aio.c: the process's AIO contexts made again at their addresses, with
 * the events they held (once the rest of its memory is mapped) */
int aio_restore(struct restore_ctx *r);
/* 0 if the ring V holds is one aio_restore can make again */
int aio_check(const Vma *v);

/* sysvshm.c: the segment of img->vmas[I] attached again at its address
 * (the address, or -errno) */
long sysvshm_attach(struct restore_ctx *r, size_t i);

