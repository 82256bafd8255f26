/* job.h: freezing a job into the store and thawing it from there, each as
 * one safe operation. Both return 0, or the exit status (store.h) of the
 * error they reported. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>
#include "session/store.h"
#include "session/tmux.h"

struct freeze_opts {
	pid_t pid;                /* a process of the job, or */
	pid_t pgid;               /* the job's process group */
	const char *name;         /* --name, may be NULL */
	const char *command;      /* what the shell calls the job, may be NULL */
	bool leave_running;       /* a snapshot: the job goes on */
	bool tcp_close;           /* its TCP connections outside are found reset at thaw */
	bool ext_unix_close;      /* its unix sockets to outside are found closed */
	bool allow_other_user;    /* root: another user's job, into that user's store */
	uint64_t ghost_limit;     /* the most data of one deleted file or memfd (0: default) */
	bool no_compress;         /* page data stored raw, or */
	int compress_level;       /* at this zstd level (0: the engine's default) */
	bool tmux;                /* the job is a whole tmux server (tmux_target says which) */
	struct tmux_target tmux_target;
	/* Set when the freeze of the tmux server this command runs in was
	 * handed over to the client it is attached to (session/tmux.c): it
	 * goes on there, out of the server, and no job is made here. */
	bool handed_over;
	/* A snapshot of an autosave (session/autosave.c): its id and number,
	 * the previous snapshot's directory (for an incremental dump), and
	 * how its images join the store (instead of store_commit, with the
	 * images complete and synced, the job still held). */
	const char *autosave;
	uint32_t snapshot;
	const char *prev_dir;
	int (*commit)(struct store *s, const char *tmp, struct job_meta *m, void *arg);
	void *commit_arg;
};

/* Whose job TARGET (O->pid or O->pgid) is: *UID; the store it goes to. */
int session_job_owner(const struct freeze_opts *o, uid_t *uid);

/* Freezes the job into the store; fills M (the new job's metadata). */
int session_freeze(struct store *s, struct freeze_opts *o, struct job_meta *m);

struct thaw_opts {
	const char *key;          /* id or name; NULL: this terminal's newest, else the newest */
	bool bg;                  /* in the background */
	bool keep;                /* keep the images once it runs */
	bool detach;              /* return once it runs, no terminal needed */
	const char *tty_path;     /* the terminal to give it */
	bool new_pty;             /* a new terminal, relayed to our stdin/stdout */
	bool ignore_cpu_features; /* on a CPU lacking flags the freezing one had */
};

/* Thaws a job from the store; unless detached, waits for it and stores
 * its wait status in *wstatus. */
int session_thaw(struct store *s, const struct thaw_opts *o, int *wstatus);
/* The job a thaw without an id takes: NULL if the store is empty. */
int session_default_job(struct store *s, struct job_meta *m);
