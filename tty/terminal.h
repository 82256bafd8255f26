/* terminal.h: a job's terminal: which one it ran on, its settings, and the
 * terminal a thawed job is given. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

struct tty_info {
	char *path;           /* the terminal the job's fds name, NULL if none */
	char *termios;        /* its settings, hex of struct termios, or NULL */
	bool foreground;      /* the job was the terminal's foreground job */
};

/* What terminal the job whose top process is PID (in group PGID) uses. */
int tty_describe(pid_t pid, pid_t pgid, struct tty_info *t);
void tty_info_free(struct tty_info *t);
/* Our own terminal's name ("/dev/pts/3"), or NULL. */
char *tty_self_name(void);
/* The terminal a thawed job gets: PATH if given, else ours; -1 if none
 * (reported when NEED). */
int tty_open(const char *path, bool need, const char *job);
/* Puts the job's recorded settings back on FD (hex from tty_describe). */
int tty_apply_termios(int fd, const char *hex);
/* Is our process group FD's foreground group? */
bool tty_we_are_foreground(int fd);
