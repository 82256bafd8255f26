/* autosave.c: `jobfreeze autosave [--stop ID...]`: the autosaves of the
 * store (freeze --every), and stopping one (its snapshots kept). */
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "cli/cli.h"
#include "session/autosave.h"

void cli_autosave_state(FILE *f, const struct autosave *a)
{
	char per[32], in[32];
	int64_t left = a->next_at - time(NULL);

	fprintf(f, "autosave every %s, the newest %u kept: ", cli_period(a->every, per), a->keep);
	if (a->running)
		fprintf(f, "next in %s", cli_period(left > 0 ? left : 0, in));
	else if (!a->pid)
		fprintf(f, "stopped");
	else
		fprintf(f, "interrupted (its autosaver %d ended: a crash?)", a->pid);
	if (*a->error)
		fprintf(f, "; the last snapshot failed: %s", a->error);
}

int cmd_autosave(int argc, char **argv)
{
	struct autosave *all;
	struct store s;
	size_t n;
	int ret = 0;

	if (argc >= 2 && (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h"))) {
		printf("usage: jobfreeze autosave\n"
		       "       jobfreeze autosave --stop ID|NAME...\n\n"
		       "The autosaves of running jobs ('jobfreeze freeze --every PERIOD PID'),\n"
		       "one line each; --stop ends one, its snapshots kept ('jobfreeze rm ID'\n"
		       "deletes them too). 'jobfreeze list' shows the snapshots.\n\n"
		       "Exit status: 0 done, 1 failed, 3 no such autosave, 5 its autosaver did\n"
		       "not stop.\n");
		return 0;
	}
	if (argc >= 2 && strcmp(argv[1], "--stop")) {
		cli_error("autosave takes --stop ID...; see 'jobfreeze autosave --help'");
		return 2;
	}
	if (argc == 2) {
		cli_error("--stop needs the id or name of an autosave; 'jobfreeze autosave' lists them");
		return 2;
	}
	if (store_open(&s))
		return 1;
	if (argc < 2) {
		if (autosave_list(&s, &all, &n) == 0) {
			for (size_t i = 0; i < n; i++) {
				printf("%s%s%s: ", all[i].id, *all[i].name ? ":" : "", all[i].name);
				cli_autosave_state(stdout, &all[i]);
				printf("\n");
			}
			if (!n)
				printf("no autosave (start one with 'jobfreeze freeze --every 10m PID')\n");
			autosave_list_free(all, n);
		} else {
			ret = 1;
		}
	}
	for (int i = 2; i < argc; i++) {
		struct autosave a;
		int r;
		if (autosave_find(&s, argv[i], &a) < 0) {
			cli_error("no autosave '%s'; 'jobfreeze autosave' lists them", argv[i]);
			r = 3;
		} else {
			r = autosave_stop(&s, a.id);
			if (!r)
				printf("stopped autosave %s; its snapshots are kept ('jobfreeze rm %s' "
				       "deletes them)\n", a.id, a.id);
			autosave_free(&a);
		}
		if (r && !ret)
			ret = r;
	}
	store_close(&s);
	return ret;
}
