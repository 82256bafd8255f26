/* thaw.c: `jobfreeze thaw [ID]` (installed as `jobthaw` too): the job
 * comes back as this terminal's foreground job and this command exits the
 * way the job does. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/util.h"
#include "cli/cli.h"
#include "session/job.h"
#include "tty/terminal.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobthaw [options] [ID|NAME]\n"
		"       jobfreeze thaw [options] [ID|NAME]\n\n"
		"Thaws a frozen job as the foreground job of this terminal: its output\n"
		"goes on here, ^C and ^Z reach it, and this command exits with its exit\n"
		"status. Without an id: the newest job frozen from this terminal, else\n"
		"the newest. A job frozen while stopped comes back running.\n\n"
		"  -b, --bg          thaw it in the background (with the shell integration\n"
		"                    it becomes a job of your shell: 'fg' brings it here)\n"
		"  -k, --keep        keep its images once it runs (thaw it again later)\n"
		"  -d, --detach      return once it runs; it goes on without this command\n"
		"  -t, --tty PATH    give it the terminal PATH instead of this one\n"
		"      --new-pty     give it a new terminal, relayed to this command's\n"
		"                    input and output (from a script or cron)\n"
		"      --ignore-cpu-features  thaw on a CPU that lacks instruction-set\n"
		"                    features the freezing CPU had (the job may crash if\n"
		"                    it uses one)\n"
		"  -o, --log-file F  write engine messages to F\n"
		"  -v[N]             more messages (0 errors only ... 4 debug)\n"
		"  -h, --help        this help\n\n"
		"Exit status: the job's; before it runs: 1 failed (images kept), 2 bad\n"
		"usage or no terminal, 3 no such job, 5 another command is thawing or\n"
		"removing it.\n");
}

int cmd_thaw(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "bg", no_argument, NULL, 'b' },
		{ "keep", no_argument, NULL, 'k' },
		{ "detach", no_argument, NULL, 'd' },
		{ "tty", required_argument, NULL, 't' },
		{ "new-pty", no_argument, NULL, 'P' },
		{ "ignore-cpu-features", no_argument, NULL, 'F' },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct thaw_opts o = { 0 };
	struct store s;
	int c, ret, wstatus;

	while ((c = getopt_long(argc, argv, "bkdt:o:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 'b': o.bg = true; break;
		case 'k': o.keep = true; break;
		case 'd': o.detach = true; break;
		case 't': o.tty_path = optarg; break;
		case 'P': o.new_pty = true; break;
		case 'F': o.ignore_cpu_features = true; break;
		default: {
			int code = cli_common_option(c, optarg, usage);
			if (code >= 0)
				return code;
			break;
		}
		}
	}
	if (argc - optind > 1) {
		cli_error("thaw takes one job id or name, not %d", argc - optind);
		return 2;
	}
	if (o.tty_path && o.new_pty) {
		cli_error("--tty and --new-pty both say which terminal: give one");
		return 2;
	}
	o.key = optind < argc ? argv[optind] : NULL;
	/* In the background by itself (not as a job of a shell, which puts
	 * us in a background group): the job runs on, on its own. */
	if (o.bg) {
		int fd = tty_open(NULL, false, NULL);
		if (fd < 0 || tty_we_are_foreground(fd))
			o.detach = true;
		if (fd >= 0)
			close(fd);
	}
	if (store_open(&s))
		return 1;
	ret = session_thaw(&s, &o, &wstatus);
	store_close(&s);
	if (ret)
		return ret;
	return o.detach ? 0 : cli_exit_like(wstatus);
}
