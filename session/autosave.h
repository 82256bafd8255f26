/* autosave.h: periodic snapshots of a running job (`freeze --every`): the
 * newest few kept in the store, taken by a small background process, the
 * autosaver, so that a crash of the machine loses at most one period. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "session/job.h"

/* An autosave as its record in the store (".autosave-ID") says. Its
 * snapshots are jobs of the store whose metadata names it (meta.h). */
struct autosave {
	char *id;
	char *name;           /* --name, "" if none */
	pid_t pid;            /* the autosaver; 0 once stopped on request */
	bool running;         /* the autosaver runs (it holds the record's lock) */
	unsigned every, keep; /* seconds between snapshots; how many are kept */
	pid_t job_pid;        /* the job's top process, and when it started */
	uint64_t job_start;
	pid_t pgid;           /* the job is this process group (the shell's %N), or 0 */
	int64_t next_at;      /* the next snapshot (unix seconds) */
	char *error;          /* why the latest snapshot failed, "" if it did not */
};

/* Takes the job's first snapshot (into M), then starts its autosaver
 * (detached: it outlives this command and its terminal) and returns. */
int autosave_start(struct store *s, struct freeze_opts *o, unsigned every, unsigned keep,
		   struct job_meta *m);
/* Every autosave of the store with a record. */
int autosave_list(struct store *s, struct autosave **a, size_t *n);
void autosave_list_free(struct autosave *a, size_t n);
/* The autosave whose id or name is KEY: 0, or -1 (not reported). */
int autosave_find(struct store *s, const char *key, struct autosave *a);
void autosave_free(struct autosave *a);
/* Stops the autosaver of autosave ID, once it is between two snapshots;
 * its snapshots are kept. */
int autosave_stop(struct store *s, const char *id);
/* `jobfreeze rm ID`: the autosaver stopped, every snapshot and the record
 * deleted; *WHAT says what it was (to free). */
int autosave_remove(struct store *s, const char *id, char **what);
/* Snapshot M of an autosave runs again (thawed, its images used up): the
 * other snapshots, older states of a job that runs again, go. */
void autosave_thawed(struct store *s, const struct job_meta *m);
