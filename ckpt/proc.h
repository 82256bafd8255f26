/* proc.h: parsers of /proc/PID text files the engine reads (maps, smaps
 * VmFlags, stat, status, fdinfo). The *_text variants take the text itself. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

/* VmFlags from smaps that change behaviour and must be replayed. */
enum {
	VMF_GROWSDOWN = 1 << 0,  /* gd */
	VMF_DONTFORK  = 1 << 1,  /* dc */
	VMF_WIPEONFORK = 1 << 2, /* wf */
	VMF_HUGEPAGE  = 1 << 3,  /* hg */
	VMF_NOHUGEPAGE = 1 << 4, /* nh */
	VMF_DONTDUMP  = 1 << 5,  /* dd */
	VMF_LOCKED    = 1 << 6,  /* lo */
	VMF_IO        = 1 << 7,  /* io or pf: device memory, cannot be dumped */
	VMF_SHARED    = 1 << 8,  /* sh */
	VMF_MAYREAD   = 1 << 9,  /* mr */
	VMF_MAYWRITE  = 1 << 10, /* mw: may be made writable (a shared file mapping's fd was
				  * writable) */
	VMF_SEQ_READ  = 1 << 11, /* sr: MADV_SEQUENTIAL */
	VMF_RAND_READ = 1 << 12, /* rr: MADV_RANDOM */
	VMF_MERGEABLE = 1 << 13, /* mg: MADV_MERGEABLE (KSM) */
	VMF_LOCKONFAULT = 1 << 14, /* lf: mlock2(MLOCK_ONFAULT) */
	VMF_NORESERVE = 1 << 15, /* nr: MAP_NORESERVE */
	VMF_HUGETLB   = 1 << 16, /* ht: hugetlbfs pages */
	VMF_DROPPABLE = 1 << 17, /* dp: MAP_DROPPABLE */
	VMF_GUARD     = 1 << 18, /* gu: may hold guard regions (MADV_GUARD_INSTALL) */
};

struct proc_vma {
	uint64_t start, end, pgoff;
	uint32_t prot;        /* PROT_* */
	bool     shared;      /* 's' in the maps permissions */
	unsigned dev_major, dev_minor;
	uint64_t ino;
	char    *path;        /* NULL for anonymous; "[heap]" etc. for special */
	bool     deleted;     /* path ended in " (deleted)" (stripped) */
	uint32_t vmflags;     /* VMF_*, only when parsed from smaps */
	uint64_t swap_kb;     /* its pages in swap ("Swap:"), only from smaps */
};

struct proc_maps {
	struct proc_vma *v;
	size_t n;
};

/* Parses /proc/PID/smaps (with VmFlags) or /proc/PID/maps. */
int proc_parse_maps(pid_t pid, bool smaps, struct proc_maps *m);
int proc_parse_maps_text(char *text, struct proc_maps *m);
void proc_maps_free(struct proc_maps *m);

struct proc_stat {
	char state;
	pid_t ppid, pgrp, session;
	int tty_nr;
	pid_t tpgid;           /* foreground group of its terminal, -1 if none */
	unsigned long flags;  /* field 9: PF_* */
	long num_threads;
	unsigned long long start_time; /* clock ticks after boot */
	uint64_t startcode, endcode, startstack;
	uint64_t start_data, end_data, start_brk, arg_start, arg_end, env_start, env_end;
	int exit_code;        /* field 52: the wait status of an exited process */
};
int proc_parse_stat(pid_t pid, struct proc_stat *s);
int proc_parse_stat_text(char *text, struct proc_stat *s);
/* The same without an error message when the process is gone. */
int proc_stat_quiet(pid_t pid, struct proc_stat *s);
/* The state letter of task PID (R, S, D, T, t, Z...), '?' if unknown
 * (gone, or /proc unreadable): for messages and waits, never a refusal. */
char proc_state_of(pid_t pid);

struct proc_status {
	pid_t tgid, ppid;
	pid_t nspid;          /* last NSpid: the pid as the process itself sees it */
	pid_t nspgid, nssid;  /* last NSpgid, NSsid: its group and session, so seen */
	int   ns_depth;       /* number of NSpid entries */
	int   threads;
	uid_t uid[4];         /* real, effective, saved, fs */
	gid_t gid[4];
	mode_t umask;
	char  state;
	bool  kthread;
	pid_t tracer;         /* TracerPid: who ptraces it, 0 if nobody */
	int   seccomp;        /* Seccomp: 0 none, 1 strict, 2 filters */
	int   seccomp_filters;/* Seccomp_filters: how many */
};
int proc_parse_status(pid_t pid, struct proc_status *s);
int proc_parse_status_text(char *text, struct proc_status *s);

struct proc_fdinfo {
	uint64_t pos;
	uint32_t flags;       /* open flags, octal in fdinfo */
	bool has_flags;
	bool locked;          /* a "lock:" line: a file lock is held through it */
};
/* Parses /proc/PID/fdinfo/FD; *raw gets the text itself (free it). */
int proc_parse_fdinfo(pid_t pid, int fd, struct proc_fdinfo *fi, char **raw);
int proc_parse_fdinfo_text(char *text, struct proc_fdinfo *fi);

/* Does PID run this very program (jobfreeze: a thaw's restoring command,
 * its starter or its namespace's init)? */
bool proc_runs_self(pid_t pid);
