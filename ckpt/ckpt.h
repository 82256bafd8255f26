/* ckpt.h: the engine's public face: dump a process to an image directory,
 * restore it from one. Nothing here knows about shells or desktops. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

struct proc_table;

/* Figures for --display-stats; times in nanoseconds. */
struct ckpt_stats {
	int64_t frozen_ns;        /* dump: from stopping the job to letting it go/killing it */
	/* The parts of frozen_ns, summed over the processes; they add up to it
	 * (cli/stats.c prints what is left as "other"). */
	int64_t seize_ns;         /* listing the job, checking it, stopping every thread */
	int64_t regs_ns;          /* registers, signals held, scratch memory */
	int64_t info_ns;          /* threads, signals, timers, layout, mm, limits */
	int64_t files_ns;         /* fds and POSIX timers */
	int64_t mem_ns;           /* page data read, compared, written */
	int64_t job_ns;           /* what needs the whole job: shared fds, pipes, sockets */
	int64_t write_ns;         /* process images and the inventory */
	int64_t sync_ns;          /* everything written made durable */
	int64_t store_ns;         /* the caller's prepare and commit (a job store) */
	int64_t release_ns;       /* the job let go, or killed and reaped */
	/* not a part: the time the memory worker (dump.c) read, compared
	 * and wrote page data while the parts above went on; mem_ns is only
	 * what the main thread waited for it */
	int64_t mem_alongside_ns;
	uint64_t injected;        /* system calls run inside the job */
	uint64_t injected_trips;  /* times the job's tasks ran for them (batches: once) */
	int64_t restore_ns;       /* restore: from reading the images to the job running */
	/* The parts of restore_ns (what is left: namespaces, init, messages). */
	int64_t load_ns;          /* images read and checked */
	int64_t rfiles_ns;        /* the job's files opened in init */
	int64_t spawn_ns;         /* processes made: forked, exec'd, given their fds */
	int64_t mem_restore_ns;   /* memory: layout, pages, protections */
	int64_t rtask_ns;         /* the rest of each process: signals, threads, timers... */
	int64_t finish_ns;        /* groups, registers, the job let go */
	uint64_t pages_scanned, pages_zero, pages_written, bytes_written;
	uint64_t pages_shared;    /* dump: pages left to the parent's copy (copy-on-write) */
	uint64_t bytes_stored;    /* dump: page bytes on disk (compressed; linked ones not) */
	uint64_t bytes_linked;    /* dump: page bytes an earlier snapshot holds, linked */
	uint64_t pages_read, bytes_read;
	uint32_t nr_procs;        /* dump: processes frozen */
};

struct dump_opts {
	pid_t pid;                /* the tree under this process, or */
	pid_t pgid;               /* every process of this group and their descendants */
	const char *dir;
	bool leave_running;       /* snapshot: the job goes on */
	bool leave_stopped;       /* the job stays stopped (SIGSTOP) after the dump */
	bool tcp_close;           /* TCP connections outside the job are dropped: found reset */
	bool ext_unix_close;      /* unix sockets connected outside the job: found closed */
	bool allow_other_user;    /* root: dump another user's job, images given to that user */
	uint64_t ghost_limit;     /* the most data of one deleted file or memfd copied into
				   * the image (0: the default, 64 GiB) */
	bool no_compress;         /* page data stored raw */
	int compress_level;       /* else compressed with zstd at this level (0: the
				   * default, 1; ckpt/pagefile.h) */
	/* An earlier snapshot of the same job (an image directory): the page
	 * data it holds already is hard-linked from it, not written again.
	 * Deleting it later does not harm the new image. NULL: all written. */
	const char *prev_dir;
	/* With pgid: the caller's listing of /proc (ckpt/tree.h), the one it
	 * chose the job by; NULL: the engine reads its own. (The engine lists
	 * the job again once it holds it, to see that it held still.) */
	const struct proc_table *procs;
	struct ckpt_stats *stats; /* may be NULL */
	/* For a job store, once the images are complete and synced: PREPARE
	 * before the job is tied to this process (killed if it dies), COMMIT
	 * after, before the job is killed (or let go). When either fails, the
	 * dump fails and the job goes on running. */
	int (*prepare)(void *arg);
	int (*commit)(void *arg);
	void *commit_arg;
};

int ckpt_dump(const struct dump_opts *o);
/* Tasks a failed dump could not let go: one blocked where no stop reaches
 * it (a parent in vfork()) stays traced by this process until it stops,
 * which it does once unblocked; and stays stopped until let go. A process
 * that lives on after a failed dump (the autosaver) calls this until it
 * returns 0: each task that has stopped since is let go. Returns how many
 * are still waited for. */
int ckpt_let_go_pending(void);

struct inherit_fd {
	int job_fd;               /* the fd number inside the job */
	int my_fd;                /* the restoring process's fd it becomes */
};

struct restore_opts {
	const char *dir;
	bool detached;            /* return once the job runs */
	bool leave_stopped;       /* the job is restored stopped (SIGSTOP) */
	bool resume_stopped;      /* a job frozen stopped (^Z) comes back running */
	bool tcp_close;           /* its TCP connections come back closed (their ports free) */
	const char *pidfile;      /* the job's pid as the caller sees it */
	bool ignore_cpu_features; /* thaw on a CPU lacking flags the freezing one had */
	int tty_fd;               /* the terminal the job's tty fds become, or -1 */
	const struct inherit_fd *inherit;
	size_t nr_inherit;
	struct ckpt_stats *stats; /* may be NULL */
	/* Called in the namespace's init with the job rebuilt, just before it
	 * is let go, once nothing can stop it any more (not even the death of
	 * the restoring process); when it fails, the job is killed instead. */
	int (*releasing)(void *arg);
	void *releasing_arg;
	/* Called once the job runs again (JOB: its pid as we see it). */
	void (*ready)(void *arg, pid_t job);
	void *ready_arg;
};

/* Restores the job. Without o->detached, waits for it and stores its wait
 * status in *wstatus. Returns 0 on success, -1 after reporting why (the
 * half-built job is killed; the images are left as they were). */
int ckpt_restore(const struct restore_opts *o, int *wstatus);

/* Whether this machine can thaw the image in o->dir (o->dir, and
 * o->ignore_cpu_features, o->inherit are heeded): its files, this kernel,
 * this CPU. 0: it can; 1: it cannot, every reason reported; -1: the image
 * cannot be read (reported). */
int ckpt_check(const struct restore_opts *o);
