/* tmux.h: a whole tmux server as one job: found by its socket, its
 * clients (outside the job) told and detached before it is frozen. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* Which server: tmux's own -L NAME or -S PATH, or neither (the default
 * one, or the one this command runs in, from $TMUX). */
struct tmux_target {
	const char *name;         /* -L */
	const char *path;         /* -S */
};

struct tmux_server {
	pid_t pid;
	char *socket;             /* its socket's path */
	char *summary;            /* "2 sessions: main, work; 5 windows" */
};

/* Asks the server of T for its pid, socket and sessions; JF_NO_JOB
 * (reported) when none runs there. */
int tmux_find(const struct tmux_target *t, struct tmux_server *s);
void tmux_server_free(struct tmux_server *s);
/* Whether this process runs inside the server (one of its panes). */
bool tmux_inside(const struct tmux_server *s);
/* Detaches every client of the server, telling each why (MESSAGE, run in
 * the client's terminal as it goes), and waits until none is left. With
 * OURS (a shell command), the client this command runs under is detached
 * running OURS instead: the freeze goes on there, outside the server. */
int tmux_detach_clients(const struct tmux_server *s, const char *message, const char *ours);
/* A word quoted for sh. */
char *tmux_quote(const char *word);
