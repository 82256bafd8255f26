/* init.c: `jobfreeze init bash|zsh`: prints the shell integration (the
 * jobfreeze and jobthaw functions that understand job specs, the key
 * binding, the completions), embedded at build time from shell/ and
 * completions/. */
#include <getopt.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "shell/scripts.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze init bash|zsh [--key KEY | --no-key]\n\n"
		"Prints the shell integration; load it from ~/.bashrc or ~/.zshrc with\n"
		"  eval \"$(jobfreeze init bash)\"      (or zsh)\n"
		"It makes 'jobfreeze %%1' and 'jobthaw' work on the shell's jobs, adds\n"
		"completions, and binds a key that sends the stopped job to disk.\n\n"
		"  --key KEY   the key (readline or zle notation; default ctrl+z, \\C-z / ^Z,\n"
		"              which acts only at an empty prompt)\n"
		"  --no-key    bind no key\n"
		"The variable JOBFREEZE_KEY does the same at load time (empty: no key).\n");
}

/* Single-quoted for the shell. */
static void put_quoted(const char *s)
{
	putchar('\'');
	for (; *s; s++)
		if (*s == '\'')
			fputs("'\\''", stdout);
		else
			putchar(*s);
	putchar('\'');
}

int cmd_init(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "key", required_argument, NULL, 'k' },
		{ "no-key", no_argument, NULL, 'n' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	const char *key = NULL, *shell;
	char self[PATH_MAX];
	bool no_key = false;
	ssize_t len;
	int c;

	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': key = optarg; break;
		case 'n': no_key = true; break;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 2;
		}
	}
	if (argc - optind != 1) {
		cli_error("init needs the shell: 'jobfreeze init bash' or 'jobfreeze init zsh'");
		return 2;
	}
	shell = argv[optind];
	if (strcmp(shell, "bash") && strcmp(shell, "zsh")) {
		cli_error("no integration for the shell '%s': bash and zsh are supported", shell);
		return 2;
	}
	len = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (len < 0) {
		cli_error("cannot find this program's path: %m");
		return 1;
	}
	self[len] = 0;
	/* The functions call this very binary, wherever it is installed. */
	printf("__jobfreeze_bin=");
	put_quoted(self);
	printf("\n");
	if (no_key) {
		printf("__jobfreeze_key=\n");
	} else if (key) {
		printf("__jobfreeze_key=");
		put_quoted(key);
		printf("\n");
	} else {
		printf("__jobfreeze_key=${JOBFREEZE_KEY-%s}\n", !strcmp(shell, "bash") ? "'\\C-z'" : "'^Z'");
	}
	/* What both shells share, then what each does its own way. */
	fputs(script_common, stdout);
	if (!strcmp(shell, "bash"))
		fputs(script_jobfreeze_bash, stdout);
	else
		fputs(script_jobfreeze_zsh, stdout);
	if (!strcmp(shell, "bash")) {
		fputs(script_completion_bash, stdout);
	} else {
		/* The completion file's body as a function, for shells that have
		 * not installed it in their fpath. */
		printf("_jobfreeze() {\n");
		fputs(script_completion_zsh, stdout);
		printf("}\n(( $+functions[compdef] )) && compdef _jobfreeze jobfreeze jobthaw\n");
	}
	return 0;
}
