/* cli.h: the subcommands of the jobfreeze command line, one file each,
 * dispatched from cli/main.c like git's builtin/ table. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

int cmd_dump(int argc, char **argv);
int cmd_restore(int argc, char **argv);
int cmd_check(int argc, char **argv);
int cmd_daemon(int argc, char **argv);

int cmd_freeze(int argc, char **argv);
int cmd_thaw(int argc, char **argv);
int cmd_list(int argc, char **argv);
int cmd_show(int argc, char **argv);
int cmd_rm(int argc, char **argv);
int cmd_send(int argc, char **argv);
int cmd_receive(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_autosave(int argc, char **argv);

/* Exits (or dies of the same signal) the way wait status WSTATUS says;
 * returns the exit status to use if still alive. */
int cli_exit_like(int wstatus);
struct store;
/* The note on images and secrets, the first time only (S: the store, or
 * NULL to open it; DIR: where the images are, NULL for the store). */
void cli_warn_images_once(struct store *s, const char *dir);
/* Shared option handling: -o LOG, -v[N]. Returns 0 if handled. */
int cli_log_option(int opt, const char *arg);
/* The options every command takes, for its getopt_long table: -o, --log-file
 * FILE; -v[N], --verbosity[=N]; -h, --help. */
#define CLI_COMMON_OPTIONS                                    \
	{ "log-file", required_argument, NULL, 'o' },         \
	{ "verbosity", optional_argument, NULL, 'v' },        \
	{ "help", no_argument, NULL, 'h' }
/* The default: of a command's getopt loop, for OPT (with its ARG) that the
 * command does not handle itself: -1 if it was -o or -v and is taken (go
 * on), else the command's exit status: 0 after -h (USAGE on stdout), 2
 * after a bad option (USAGE on stderr) or a bad -o/-v value. */
int cli_common_option(int opt, const char *arg, void (*usage)(FILE *out));
/* size.c: the decimal number S starts with (*END: what follows); -1 if
 * none or too big. */
int cli_leading_number(const char *s, unsigned long long *v, char **end);
/* size.c: "512M", "64G" (powers of 1024) into *OUT; -1 if not a size */
int cli_parse_size(const char *s, uint64_t *out);
/* The limit on the data of one deleted file or memfd in an image: ARG
 * (--ghost-limit), else $JOBFREEZE_GHOST_LIMIT, else 0 (the default);
 * -1 after saying what is wrong. */
int cli_ghost_limit(const char *arg, uint64_t *out);
/* autosave.c: "autosave every 10m, the newest 3 kept: next in 3m", for
 * the listings. */
struct autosave;
void cli_autosave_state(FILE *f, const struct autosave *a);
/* period.c: "30s", "10m", "2h", "1d" or seconds into *OUT (at least 1 s);
 * -1 if not a period. For people: "10m", "1h30m". */
int cli_parse_period(const char *s, unsigned *out);
const char *cli_period(unsigned secs, char buf[32]);
/* compress.c: page data stored raw (*NONE) or at zstd *LEVEL (0: the
 * default): ARG (--compress), else $JOBFREEZE_COMPRESS; -1 after saying
 * what is wrong. */
int cli_compress(const char *arg, bool *none, int *level);
/* Prints "jobfreeze: error: ..." to stderr. */
void cli_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* check.c: a thaw verdict (session/check.h) for people, "WHAT can be
 * thawed here" and the reasons, or as JSON fields (no braces). */
struct thaw_verdict;
void cli_print_verdict(FILE *f, const char *what, const struct thaw_verdict *v);
void cli_print_verdict_fields(FILE *f, const struct thaw_verdict *v);

#define JOBFREEZE_VERSION "0.1.0"
