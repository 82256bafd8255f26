/* jobs.c: the store's listing commands: `list`, `show ID`, `rm ID...`. */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "ckpt/util.h"
#include "cli/cli.h"
#include "session/autosave.h"
#include "session/check.h"
#include "session/store.h"

/* Parses the options common to list and show; returns -1 to go on. */
enum { TEXT, JSON, COMPLETION };

enum { CHECK = 1, IGNORE_CPU = 2 };	/* show's own options */

static int parse(int argc, char **argv, int *mode, const char *use, unsigned *show)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'j' },
		{ "completion", no_argument, NULL, 'c' },
		{ "check", no_argument, NULL, 'K' },
		{ "ignore-cpu-features", no_argument, NULL, 'C' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		if (c == 'j' || c == 'c') {
			*mode = c == 'j' ? JSON : COMPLETION;
		} else if ((c == 'K' || c == 'C') && show) {
			*show |= c == 'K' ? CHECK : IGNORE_CPU;
		} else if (c == 'h') {
			printf("%s", use);
			return 0;
		} else {
			fprintf(stderr, "%s", use);
			return 2;
		}
	}
	return -1;
}

static void when(int64_t t, char buf[32])
{
	time_t tt = t;
	struct tm tm;

	localtime_r(&tt, &tm);
	strftime(buf, 32, "%Y-%m-%d %H:%M", &tm);
}

static void print_job(const struct job_meta *m, const char *tag)
{
	char t[32], d[32], id[80];

	when(m->frozen_at, t);
	if (*m->autosave)
		snprintf(id, sizeof(id), "%s@%u", m->autosave, m->snapshot);
	else
		snprintf(id, sizeof(id), "%s%s%s", m->id, *m->name ? ":" : "", m->name);
	printf("%-4s %-16s %-8s %9s %-11s %s  (in %s)%s\n", id, t, m->stopped ? "stopped" : "running",
	       meta_size(m->image_bytes, d), *m->tty ? m->tty + (strncmp(m->tty, "/dev/", 5) ? 0 : 5) : "-",
	       m->command, m->cwd, tag ? tag : "");
}

/* JOBS[I] is a snapshot of an autosave listed already (at an older one). */
static bool shown(const struct job_meta *jobs, size_t i)
{
	for (size_t k = 0; k < i; k++)
		if (!strcmp(jobs[k].autosave, jobs[i].autosave))
			return true;
	return false;
}

/* Autosave ID: its state, then its snapshots, newest first. */
static void print_autosave(const struct job_meta *jobs, size_t n, const char *id,
			   const struct autosave *autos, size_t na)
{
	const struct autosave *a = NULL;
	const char *name = "";
	int newest = -1, count = 0;

	for (size_t k = 0; k < na; k++)
		if (!strcmp(autos[k].id, id))
			a = &autos[k];
	for (size_t i = 0; i < n; i++)
		if (!strcmp(jobs[i].autosave, id)) {
			count++;
			name = jobs[i].name;
			if (newest < 0 || jobs[i].snapshot > jobs[newest].snapshot)
				newest = i;
		}
	char label[80];
	snprintf(label, sizeof(label), "%s%s%s", id, *name ? ":" : "", name);
	printf("%-4s ", label);
	if (a)
		cli_autosave_state(stdout, a);
	else
		printf("autosave over");
	printf("; %d snapshot%s\n", count, count == 1 ? "" : "s");
	/* newest first: each time the newest not printed yet */
	for (uint32_t below = UINT32_MAX; count-- > 0;) {
		int next = -1;
		for (size_t i = 0; i < n; i++)
			if (!strcmp(jobs[i].autosave, id) && jobs[i].snapshot < below &&
			    (next < 0 || jobs[i].snapshot > jobs[next].snapshot))
				next = i;
		if (next < 0)
			break;
		print_job(&jobs[next], next == newest ? "  newest" : NULL);
		below = jobs[next].snapshot;
	}
}

/* A job in JSON; a snapshot with its autosave's state too (D-Bus List
 * gives these): autosave_state "running", "stopped", "interrupted" (its
 * autosaver ended without being told: a crash) or "over" (no record),
 * and while it has a record autosave_every and autosave_keep, next_at
 * (unix seconds) and autosave_error (why the last snapshot failed, ""). */
static void print_json(const struct job_meta *m, const struct autosave *autos, size_t na)
{
	const struct autosave *a = NULL;

	meta_print_json_open(stdout, m);
	if (!*m->autosave) {
		printf("}");
		return;
	}
	for (size_t k = 0; k < na; k++)
		if (!strcmp(autos[k].id, m->autosave))
			a = &autos[k];
	if (!a) {
		printf(",\"autosave_state\":\"over\"}");
		return;
	}
	printf(",\"autosave_state\":\"%s\",\"autosave_every\":%u,\"autosave_keep\":%u,"
	       "\"autosave_next_at\":%" PRId64 ",",
	       a->running ? "running" : !a->pid ? "stopped" : "interrupted", a->every, a->keep,
	       a->next_at);
	json_str(stdout, "autosave_error", a->error, false);
	printf("}");
}

int cmd_list(int argc, char **argv)
{
	int mode = TEXT;
	struct job_meta *jobs;
	struct autosave *autos = NULL;
	struct store s;
	size_t n, na = 0;
	int r = parse(argc, argv, &mode,
		      "usage: jobfreeze list [--json]\n\n"
		      "The frozen jobs, oldest first: id, when, state, size, terminal, command.\n"
		      "An autosave ('freeze --every') is one line with its state, then its\n"
		      "snapshots, newest first, as ID@N: 'jobthaw ID' thaws the newest,\n"
		      "'jobthaw ID@N' snapshot N. --json gives every field, for scripts (a\n"
		      "snapshot's: autosave, its id, snapshot, its number, and the autosave's\n"
		      "autosave_state, _every, _keep, _next_at and _error).\n", NULL);

	if (r >= 0)
		return r;
	if (optind < argc) {
		cli_error("list takes no argument; 'jobfreeze show ID' shows one job");
		return 2;
	}
	if (store_open(&s) || store_list(&s, &jobs, &n)) {
		store_close(&s);
		return 1;
	}
	if (autosave_list(&s, &autos, &na))
		na = 0;
	if (mode == COMPLETION) {
		/* For the shells' completions: "id<TAB>command", names too; an
		 * autosave's snapshots as ID@K, the autosave as its id. */
		for (size_t i = 0; i < n; i++) {
			if (*jobs[i].autosave) {
				if (!shown(jobs, i))
					printf("%s\tautosave: %s\n", jobs[i].autosave, jobs[i].command);
				printf("%s@%u\t%s\n", jobs[i].autosave, jobs[i].snapshot, jobs[i].command);
				continue;
			}
			printf("%s\t%s\n", jobs[i].id, jobs[i].command);
			if (*jobs[i].name)
				printf("%s\t%s\n", jobs[i].name, jobs[i].command);
		}
	} else if (mode == JSON) {
		printf("[");
		for (size_t i = 0; i < n; i++) {
			printf("%s", i ? "," : "");
			print_json(&jobs[i], autos, na);
		}
		printf("]\n");
	} else if (n || na) {
		printf("%-4s %-16s %-8s %9s %-11s %s\n", "ID", "FROZEN", "STATE", "DISK", "TTY", "COMMAND");
		for (size_t i = 0; i < n; i++) {
			if (!*jobs[i].autosave)
				print_job(&jobs[i], NULL);
			else if (!shown(jobs, i))
				print_autosave(jobs, n, jobs[i].autosave, autos, na);
		}
		/* autosaves whose snapshots are all gone (removed one by one) */
		for (size_t k = 0; k < na; k++) {
			bool has = false;
			for (size_t i = 0; i < n; i++)
				has |= !strcmp(jobs[i].autosave, autos[k].id);
			if (!has)
				print_autosave(jobs, n, autos[k].id, autos, na);
		}
	} else {
		printf("no frozen jobs (freeze one with 'jobfreeze PID' or 'jobfreeze %%1')\n");
	}
	autosave_list_free(autos, na);
	store_list_free(jobs, n);
	store_close(&s);
	return 0;
}

/* show --check: the job's images against this machine, the job locked
 * meanwhile (a thaw would move them). */
static int check_job(struct store *s, const struct job_meta *m, bool ignore_cpu,
		     struct thaw_verdict *v)
{
	int lock = store_lock(s, m->id);

	if (lock < 0)
		return -lock;
	session_check_images(m->dir, ignore_cpu, v);
	close(lock);
	return 0;
}

int cmd_show(int argc, char **argv)
{
	int mode = TEXT;
	struct job_meta m;
	struct store s;
	unsigned opt = 0;
	struct thaw_verdict v = { 0 };
	int r = parse(argc, argv, &mode,
		      "usage: jobfreeze show [--json] [--check [--ignore-cpu-features]] ID|NAME\n\n"
		      "Everything the store knows of one frozen job.\n\n"
		      "  --check     and whether this machine can thaw it, with every reason\n"
		      "              it cannot (see 'jobfreeze check --image'); exit status 1\n"
		      "              when it cannot\n"
		      "  --ignore-cpu-features  with --check: CPU features this CPU lacks are\n"
		      "              warnings, as thaw --ignore-cpu-features takes them\n"
		      "  --json      one JSON object; with --check {job, thaw, readable,\n"
		      "              reasons[], warnings[]}\n", &opt);

	if (r >= 0)
		return r;
	if (argc - optind != 1) {
		cli_error("show takes one job id or name");
		return 2;
	}
	if (store_open(&s))
		return 1;
	r = store_find(&s, argv[optind], &m);
	if (!r && (opt & CHECK))
		r = check_job(&s, &m, opt & IGNORE_CPU, &v);
	store_close(&s);
	if (r)
		return r;
	if (mode == JSON && (opt & CHECK)) {
		fputs("{\"job\":", stdout);
		meta_print_json(stdout, &m);
		fputc(',', stdout);
		cli_print_verdict_fields(stdout, &v);
		fputs("}\n", stdout);
	} else if (mode == JSON) {
		meta_print_json(stdout, &m);
		printf("\n");
	} else {
		char t[32], mem[32], disk[32];
		when(m.frozen_at, t);
		printf("id:         %s\nname:       %s\ncommand:    %s\ndirectory:  %s\n"
		       "terminal:   %s\nfrozen:     %s on %s (kernel %s)\nstate:      %s\n"
		       "processes:  %u\nmemory:     %s\nimages:     %s in %s\n",
		       m.id, *m.name ? m.name : "-", m.command, m.cwd, *m.tty ? m.tty : "none",
		       t, m.host, m.kernel, m.stopped ? "stopped (^Z)" : "running", m.processes,
		       meta_size(m.memory_bytes, mem), meta_size(m.image_bytes, disk), m.dir);
		if (opt & CHECK) {
			char *what = xasprintf("job %s", m.id);
			cli_print_verdict(stdout, what, &v);
			free(what);
		}
	}
	r = (opt & CHECK) && v.status != 0 ? 1 : 0;
	thaw_verdict_free(&v);
	meta_free(&m);
	return r;
}

int cmd_rm(int argc, char **argv)
{
	struct store s;
	int ret = 0;

	if (argc == 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: jobfreeze rm ID|NAME...\n\nDeletes frozen jobs and their images, damaged ones\n"
		       "too, with what interrupted commands left of them. An autosave's id:\n"
		       "its autosaver stopped and every snapshot deleted; ID@N: snapshot N.\n\n"
		       "Exit status: 0 removed, 1 failed, 3 no such job, 5 another command is\n"
		       "thawing or removing it.\n");
		return 0;
	}
	if (argc < 2) {
		cli_error("rm needs the id or name of a frozen job; 'jobfreeze list' shows them");
		return 2;
	}
	if (store_open(&s))
		return 1;
	for (int i = 1; i < argc; i++) {
		struct autosave a;
		char *what;
		int r;
		/* an autosave: stopped, with every snapshot */
		if (!strchr(argv[i], '@') && autosave_find(&s, argv[i], &a) == 0) {
			r = autosave_remove(&s, a.id, &what);
			autosave_free(&a);
		} else {
			r = store_rm(&s, argv[i], &what);
		}
		if (!r)
			printf("removed %s\n", what);
		free(what);
		if (r && !ret)
			ret = r;
	}
	store_close(&s);
	return ret;
}
