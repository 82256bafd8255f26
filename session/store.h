/* store.h: the job store: one directory per frozen job under
 * $XDG_STATE_HOME/jobfreeze (~/.local/state/jobfreeze), 0700, holding
 * the engine's images and the job's metadata (meta.h). */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>
#include "session/meta.h"

/* Exit statuses of the store's commands, also what its functions return
 * after reporting an error: scripts and the D-Bus service tell them apart. */
enum {
	JF_FAILED = 1,        /* the operation failed */
	JF_USAGE = 2,         /* bad arguments */
	JF_NO_JOB = 3,        /* no such job or process */
	JF_NOT_PERMITTED = 4, /* another user's process, a protected one */
	JF_BUSY = 5,          /* another command is thawing or removing it */
};

struct store {
	int fd;
	char *path;
	uid_t uid;                /* whose store it is (root may open a user's) */
	gid_t gid;
};

/* Opens (making it, 0700) the store; refuses one that is not the user's
 * or that others can write. Sweeps what crashed commands left behind. */
int store_open(struct store *s);
/* The same for user UID's store (in their home, from the password
 * database), for root freezing that user's job: made as that user. */
int store_open_user(struct store *s, uid_t uid);
/* Gives a file root made in another user's store to that user. */
int store_own(struct store *s, int fd, const char *what);
/* Opens the job directory NAME of the store, refusing (reported) a
 * symlink, one that others can write or that is not the store owner's.
 * -1 with errno ENOENT (not reported) if there is none. */
int store_open_job(struct store *s, const char *name);
void store_close(struct store *s);
/* Does the job M describes still run (its top process, same start)? */
bool store_job_runs(const struct job_meta *m);
/* Every job, oldest first. */
int store_list(struct store *s, struct job_meta **jobs, size_t *n);
void store_list_free(struct job_meta *jobs, size_t n);
/* The job whose id or name is KEY; JF_NO_JOB (reported) if none. An
 * autosave's id or name gives its newest snapshot, "ID@K" its snapshot K. */
int store_find(struct store *s, const char *key, struct job_meta *m);
/* A new temporary directory in the store for a freeze in progress. */
char *store_new_tmp(struct store *s);
/* The same for a freeze (RECEIVE false) or a job received from another
 * machine (RECEIVE true: never taken in as a job if its command dies). */
char *store_new_dir(struct store *s, bool receive);
/* Deletes a temporary directory and what is in it. */
void store_drop_tmp(struct store *s, const char *tmp);
/* Moves the finished temporary directory TMP in as a new job; its id (and
 * M->id) is allocated here. The job exists once this returns 0. */
int store_commit(struct store *s, const char *tmp, struct job_meta *m);
/* A new id that no job takes (an autosave's), NULL after reporting why. */
char *store_new_id(struct store *s);
/* Takes the job's lock (a thaw or a removal in progress holds it):
 * returns a descriptor to close to let it go, or -JF_BUSY/-JF_FAILED. */
int store_lock(struct store *s, const char *id);
/* Deletes the job (its lock held by the caller): gone from the listing at
 * once (renamed), then its files. */
int store_remove(struct store *s, const char *id);
/* Job ID (its lock held) out of the listing by a rename, not synced: the
 * name it has now (to delete with store_drop_tmp once the rename is synced,
 * or to put back with store_put_back), NULL after reporting why. */
char *store_set_aside(struct store *s, const char *id);
void store_put_back(struct store *s, const char *aside, const char *id);
/* `jobfreeze rm KEY`: the job (locked), or a damaged job directory, with
 * what dead commands left of it; *WHAT says what it was (to free). */
int store_rm(struct store *s, const char *key, char **what);
/* A thaw of job ID (its lock held): set aside while it is read, used up
 * once the job runs (renamed from the first path to the second, by the
 * restore, at the point of no return), then deleted; or put back. */
int store_thaw_begin(struct store *s, const char *id);
char *store_thaw_path(struct store *s, const char *id, bool used);
void store_thaw_undo(struct store *s, const char *id);
void store_thaw_done(struct store *s, const char *id);
/* Is NAME usable as a job name (not a number, no '/', short)? */
bool store_name_ok(const char *name);
