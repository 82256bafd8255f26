/* warn.c: the one note every user gets once, at their first freeze or
 * dump: images hold the job's memory, secrets included. */
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "cli/cli.h"
#include "session/store.h"

static void say_note(const char *where, bool own)
{
	fprintf(stderr,
		"jobfreeze: note: a frozen job's images hold its memory, passwords and keys\n"
		"included. They are kept in %s, readable only by %s;\n"
		"put them on an encrypted disk if the job handles secrets (see README.md,\n"
		"\"Images and secrets\").\n",
		where, own ? "you" : "their owner");
}

void cli_warn_images_once(struct store *s, const char *dir)
{
	struct store own;
	int fd, level, r;

	if (!s) {
		/* dump: the note's marker lives in the job store if there is
		 * one to keep it in. Remembering is a courtesy: a dump that
		 * worked must not report an error because of it (a HOME the
		 * user cannot write, as root's under setpriv, or none), and
		 * the note is said all the same, each time, when it cannot be
		 * remembered. */
		level = log_get_level();
		log_set_level(0);
		r = store_open(&own);
		log_set_level(level);
		if (r) {
			say_note(dir, true);
			return;
		}
		s = &own;
	}
	fd = openat(s->fd, ".warned", O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd >= 0) {
		store_own(s, fd, ".warned");
		close(fd);
		say_note(dir ? dir : s->path, s->uid == geteuid());
	} else if (errno != EEXIST && s == &own) {
		say_note(dir, true);	/* a store we may not write in */
	}
	if (s == &own)
		store_close(&own);
}
