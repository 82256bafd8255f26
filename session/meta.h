/* meta.h: what the job store knows of a frozen job besides its images:
 * where and when it was frozen, what it was, how big. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

struct job_meta {
	char *id;             /* short decimal id, never reused: its directory's name */
	char *name;           /* --name, or "" */
	char *command;        /* the job's command line(s), " | " between stages */
	char *cwd;
	char *tty;            /* the terminal it ran on, "" if none */
	char *host, *kernel, *boot_id;
	int64_t frozen_at;    /* unix seconds */
	uint64_t memory_bytes, image_bytes;
	uint32_t processes;
	bool stopped;         /* stopped by job control (^Z) when frozen */
	bool tty_foreground;  /* it was its terminal's foreground job */
	char *termios;        /* its terminal's settings (hex), "" if unknown */
	pid_t pgid;
	pid_t pid;            /* its top process when frozen, and when that started: */
	uint64_t start_time;  /* a freeze that died half-way tells by them whether
			       * the job still runs */
	char *kind;           /* "tmux": a tmux server (socket: where it listens); "": a job */
	char *socket;
	/* A snapshot of an autosave (session/autosave.h): the autosave's id, and
	 * which snapshot of it this is (1, 2, ...); "" and 0 for other jobs. */
	char *autosave;
	uint32_t snapshot;
	char *dir;            /* its directory in the store (not stored: found) */
};

/* The metadata file inside a job's directory. */
#define META_FILE "job.meta"

/* Writes M to DIRFD/META_FILE (0600, fsynced). */
int meta_write(int dirfd, const struct job_meta *m);
/* Reads DIRFD/META_FILE; -1 after reporting why. */
int meta_read(int dirfd, struct job_meta *m);
void meta_free(struct job_meta *m);
/* One JSON object, the fields the CLI's --json and the D-Bus List give. */
void meta_print_json(FILE *f, const struct job_meta *m);
/* "KEY":"V" in JSON (escaped), then a comma if COMMA */
void json_str(FILE *f, const char *key, const char *v, bool comma);
/* The same without the closing brace: the caller adds ",\"key\":value"s. */
void meta_print_json_open(FILE *f, const struct job_meta *m);
/* "1 process" / "3 processes", "214 MiB": for people. */
const char *meta_size(uint64_t bytes, char buf[32]);
