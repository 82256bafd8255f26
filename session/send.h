/* send.h: a stored job moved to another machine's store over the user's
 * own ssh: `jobfreeze send` here, `jobfreeze receive` there. */
#pragma once
#include <stdbool.h>
#include "session/store.h"

struct send_opts {
	const char *key;          /* the job's id or name */
	const char *dest;         /* [USER@]HOST, as ssh takes it */
	const char *ssh;          /* the ssh command (shell words); NULL: $JOBFREEZE_SSH or ssh */
	const char *remote;       /* how jobfreeze runs there (a shell command); NULL: jobfreeze */
	bool keep;                /* the job stays here too */
	bool ignore_cpu_features; /* the other end takes missing CPU features as warnings */
};

/* Asks the other side whether it can thaw the job, refuses (every reason
 * printed) without sending it if not, sends it, and once the other side
 * has it synced and stored, removes it here (unless keep). *REMOTE_ID gets
 * its id there. Returns 0 or an exit status (store.h). */
int session_send(struct store *s, const struct send_opts *o, char **remote_id);

/* The other end, on IN and OUT (ssh's channel): the job goes into store S
 * only once all of it is there and synced; until then it is a directory
 * the store sweeps away if this command dies. */
int session_receive(struct store *s, int in, int out);
