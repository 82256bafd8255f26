/* main.c: jobfreeze's entry point: global options and the subcommand table. */
#include <ctype.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help;
};

static const struct command commands[] = {
	{ "dump",    cmd_dump,    "save a running process to an image directory" },
	{ "restore", cmd_restore, "bring a process back from an image directory" },
	{ "check",   cmd_check,   "report whether this system can freeze and thaw" },
	{ "freeze",  cmd_freeze,  "freeze a job into the job store (also: jobfreeze PID)" },
	{ "thaw",    cmd_thaw,    "thaw a frozen job in this terminal (also: jobthaw)" },
	{ "list",    cmd_list,    "list the frozen jobs" },
	{ "show",    cmd_show,    "show one frozen job" },
	{ "rm",      cmd_rm,      "delete frozen jobs" },
	{ "autosave", cmd_autosave, "list or stop the periodic snapshots of running jobs" },
	{ "send",    cmd_send,    "move a frozen job to another machine, over ssh" },
	{ "receive", cmd_receive, "the other end of send (run by send over ssh)" },
	{ "init",    cmd_init,    "print the shell integration: eval \"$(jobfreeze init bash)\"" },
	{ "daemon",  cmd_daemon,  "serve freeze and thaw to the desktop on D-Bus" },
};

static void usage(FILE *f)
{
	fprintf(f, "usage: jobfreeze [--version] [-h | --help] COMMAND [ARGS]\n\n"
		   "ctrl+z to disk: freeze a running job to disk without root, thaw it later.\n\n"
		   "  jobfreeze PID        freeze the job of PID into the job store\n"
		   "  jobthaw [ID]         thaw it here as the foreground job\n\n"
		   "Commands:\n");
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		fprintf(f, "  %-9s %s\n", commands[i].name, commands[i].help);
	fprintf(f, "\nRun 'jobfreeze COMMAND --help' (or 'jobfreeze help COMMAND') for the options\n"
		   "of one command, 'man jobfreeze' for all of them.\n");
}

static const struct command *find_command(const char *name)
{
	for (size_t i = 0; i < ARRAY_SIZE(commands); i++)
		if (!strcmp(name, commands[i].name))
			return &commands[i];
	return NULL;
}

/* `jobfreeze help COMMAND`: what `jobfreeze COMMAND --help` prints. */
static int help_of(const char *name)
{
	const struct command *c = find_command(name);
	char *argv[] = { (char *)name, "--help", NULL };

	if (!c) {
		cli_error("'%s' is not a jobfreeze command; see 'jobfreeze --help'", name);
		return 2;
	}
	return c->fn(2, argv);
}

void cli_error(const char *fmt, ...)
{
	va_list ap;

	fputs("jobfreeze: error: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* -o LOG sends engine messages to LOG; -v[N] sets how many (0-4). */
int cli_log_option(int opt, const char *arg)
{
	if (opt == 'o') {
		int fd = open(arg, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
		if (fd < 0) {
			cli_error("cannot open log file %s: %m", arg);
			return -2;
		}
		log_set_fd(fd);
		return 0;
	}
	if (opt == 'v') {
		int v;
		if (!arg)
			v = log_get_level() + 1;
		else if (parse_int(arg, &v) < 0 || v < 0 || v > 4) {
			cli_error("-v takes a level from 0 to 4, not '%s'", arg);
			return -2;
		}
		log_set_level(v);
		return 0;
	}
	return -1;
}

int cli_common_option(int opt, const char *arg, void (*cmd_usage)(FILE *out))
{
	switch (opt) {
	case 'h':
		cmd_usage(stdout);
		return 0;
	case 'o':
	case 'v':
		return cli_log_option(opt, arg) < 0 ? 2 : -1;
	default:
		cmd_usage(stderr);
		return 2;
	}
}

int cli_exit_like(int wstatus)
{
	if (WIFSIGNALED(wstatus)) {
		/* Die the same way, so the shell reports what happened to the job. */
		int sig = WTERMSIG(wstatus);
		struct rlimit no_core = { 0, 0 };
		sigset_t set;

		signal(sig, SIG_DFL);
		sigemptyset(&set);
		sigaddset(&set, sig);
		sigprocmask(SIG_UNBLOCK, &set, NULL);
		/* The job already dumped core if it was going to; we must not. */
		setrlimit(RLIMIT_CORE, &no_core);
		if (sig != SIGKILL && sig != SIGSTOP)
			raise(sig);
		return 128 + sig;
	}
	return WEXITSTATUS(wstatus);
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	/* Installed as jobthaw too (a link): that name is `jobfreeze thaw`. */
	if (!strcmp(self, "jobthaw"))
		return cmd_thaw(argc, argv);
	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	/* The overview, as `git --help` gives it; `help COMMAND` is that
	 * command's own --help. Before the bare freeze below, which would
	 * take --help as one of its options. */
	if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
		if (argc > 2 && !strcmp(argv[1], "help"))
			return help_of(argv[2]);
		usage(stdout);
		return 0;
	}
	if (!strcmp(argv[1], "--version")) {
		printf("jobfreeze %s\n", JOBFREEZE_VERSION);
		return 0;
	}
	/* Bare `jobfreeze [options] PID...` freezes. */
	if (isdigit((unsigned char)argv[1][0]) || argv[1][0] == '%' || argv[1][0] == '-')
		return cmd_freeze(argc, argv);
	const struct command *c = find_command(argv[1]);
	if (c)
		return c->fn(argc - 1, argv + 1);
	cli_error("'%s' is not a jobfreeze command; see 'jobfreeze --help'", argv[1]);
	return 2;
}
