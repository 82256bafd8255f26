/* warn.c: the one note every user gets once, at their first freeze or
 * dump: images hold the job's memory, secrets included. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>
#include "cli/cli.h"
#include "session/store.h"

void cli_warn_images_once(struct store *s, const char *dir)
{
	struct store own;
	int fd;

	if (!s) {
		/* dump: the note's marker lives in the job store, if there is a
		 * home to keep it in */
		if (!getenv("HOME") && !getenv("XDG_STATE_HOME"))
			return;
		if (store_open(&own))
			return;
		s = &own;
	}
	fd = openat(s->fd, ".warned", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		store_own(s, fd, ".warned");
		close(fd);
		fprintf(stderr,
			"jobfreeze: note: a frozen job's images hold its memory, passwords and keys\n"
			"included. They are kept in %s, readable only by %s;\n"
			"put them on an encrypted disk if the job handles secrets (see README.md,\n"
			"\"Images and secrets\").\n",
			dir ? dir : s->path, s->uid == geteuid() ? "you" : "their owner");
	}
	if (s == &own)
		store_close(&own);
}
