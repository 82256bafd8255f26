/* send.c: `jobfreeze send ID [USER@]HOST`, a stored job moved to another
 * machine's job store over ssh, and `jobfreeze receive`, the other end
 * that send runs there (session/send.c). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/util.h"
#include "cli/cli.h"
#include "session/send.h"

static void send_usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze send [options] ID|NAME [USER@]HOST\n\n"
		"Moves a frozen job into the job store of USER on HOST, over ssh (your own:\n"
		"its keys, agent and ~/.ssh/config), where 'jobthaw' thaws it. First the\n"
		"other side says whether it can thaw it: its kernel, its CPU, and the\n"
		"job's files there (program, libraries, the files it has open: the same,\n"
		"at the same paths); if not, every reason is printed and nothing is sent.\n"
		"The job is deleted here only once the other side has it on disk; a\n"
		"transfer that breaks leaves it here and nothing of it there.\n\n"
		"  -k, --keep                 keep the job here too\n"
		"      --ssh COMMAND          the ssh command to run, with its options\n"
		"                             (default: $JOBFREEZE_SSH, else ssh)\n"
		"      --remote COMMAND       how to run jobfreeze on HOST (default:\n"
		"                             jobfreeze); its 'receive' is run there\n"
		"      --ignore-cpu-features  the other side may lack CPU features this\n"
		"                             job's CPU had (see 'thaw --ignore-cpu-features';\n"
		"                             give it to the thaw there too)\n"
		"  -o, --log-file FILE        write messages to FILE\n"
		"  -v[N]                      more messages (0 errors only ... 4 debug)\n"
		"  -h, --help                 this help\n\n"
		"Exit status: 0 sent, 1 failed or refused by the other side (the job stays\n"
		"here), 2 bad usage, 3 no such job, 5 another command is thawing or\n"
		"removing it.\n");
}

int cmd_send(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "keep", no_argument, NULL, 'k' },
		{ "ssh", required_argument, NULL, 'S' },
		{ "remote", required_argument, NULL, 'R' },
		{ "ignore-cpu-features", no_argument, NULL, 'F' },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct send_opts o = { 0 };
	struct store s;
	char *id;
	int c, ret;

	while ((c = getopt_long(argc, argv, "ko:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 'k': o.keep = true; break;
		case 'S': o.ssh = optarg; break;
		case 'R': o.remote = optarg; break;
		case 'F': o.ignore_cpu_features = true; break;
		default: {
			int code = cli_common_option(c, optarg, send_usage);
			if (code >= 0)
				return code;
			break;
		}
		}
	}
	if (argc - optind != 2) {
		cli_error("send takes a job id or name and a host ([USER@]HOST)");
		return 2;
	}
	o.key = argv[optind];
	o.dest = argv[optind + 1];
	if (o.dest[0] == '-') {
		cli_error("'%s' is not a host", o.dest);
		return 2;
	}
	if (store_open(&s))
		return 1;
	ret = session_send(&s, &o, &id);
	store_close(&s);
	if (!ret)
		printf("sent job %s to %s, where it is job %s%s\n", o.key, o.dest, id,
		       o.keep ? " (kept here too)" : "");
	free(id);
	return ret;
}

int cmd_receive(int argc, char **argv)
{
	static const struct option opts[] = {
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct store s;
	int c, ret;

	while ((c = getopt_long(argc, argv, "o:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 'h':
			printf("usage: jobfreeze receive [-o LOG] [-v[N]]\n\n"
			       "The other end of 'jobfreeze send', which runs it over ssh: takes a\n"
			       "job on standard input into your job store, answering on standard\n"
			       "output. Not for use by hand.\n\n"
			       "  -o, --log-file FILE   write messages to FILE\n"
			       "  -v[N]                 more messages (0 errors only ... 4 debug)\n"
			       "  -h, --help            this help\n");
			return 0;
		case 'o':
		case 'v':
			if (cli_log_option(c, optarg) < 0)
				return 2;
			break;
		default:
			return 2;
		}
	}
	if (optind < argc) {
		cli_error("receive takes no arguments");
		return 2;
	}
	if (store_open(&s))
		return 1;
	ret = session_receive(&s, 0, 1);
	store_close(&s);
	return ret;
}
