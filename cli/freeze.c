/* freeze.c: `jobfreeze freeze TARGET...` (and bare `jobfreeze PID`): each
 * job into the store, then killed; `--json` for scripts and the service. */
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"
#include "session/autosave.h"
#include "session/job.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze freeze [options] PID...\n"
		"       jobfreeze freeze [options] --pgid PGID\n"
		"       jobfreeze freeze [options] --tmux [-L NAME | -S PATH]\n"
		"       jobfreeze freeze -R --every PERIOD [--keep N] [options] PID|--pgid PGID\n\n"
		"Freezes the job PID belongs to (its process group: every stage of a\n"
		"pipeline, every child) into the job store, then ends it. It is thawed\n"
		"with 'jobfreeze thaw ID' (or 'jobthaw'), here or in another terminal,\n"
		"after a logout or a reboot. A PID in its shell's own process group is\n"
		"frozen with its descendants only. With the shell integration\n"
		"(eval \"$(jobfreeze init bash)\"), 'jobfreeze %%1' takes job specs.\n\n"
		"With --tmux, the job is a whole tmux server, with every window and pane\n"
		"and what runs in them: its clients are told and detached first, and\n"
		"'jobfreeze thaw ID' brings it back listening on its socket ('tmux\n"
		"attach'). Run from inside tmux, it freezes that server: your client\n"
		"detaches and does it in your terminal.\n\n"
		"  -n, --name NAME        a name to thaw it by, besides its id\n"
		"  -G, --pgid PGID        the job is process group PGID\n"
		"      --tmux             the job is the tmux server (the default one, or\n"
		"                         the one this command runs in)\n"
		"  -L NAME                --tmux of the server of socket NAME (as tmux -L)\n"
		"  -S PATH                --tmux of the server of socket PATH (as tmux -S)\n"
		"  -R, --leave-running    a snapshot: the job goes on running\n"
		"      --every PERIOD     autosave: a snapshot now and one every PERIOD (30s,\n"
		"                         10m, 2h, 1d; implies -R) while the job runs, taken\n"
		"                         by a background process; after a crash 'jobthaw ID'\n"
		"                         brings the job back from the newest. When the job\n"
		"                         ends, its snapshots are deleted. 'jobfreeze\n"
		"                         autosave --stop ID' or 'jobfreeze rm ID' ends it\n"
		"      --keep N           with --every: keep the newest N snapshots (3)\n"
		"      --tcp-close        drop its TCP connections to outside it: after the\n"
		"                         thaw it finds them reset, as after a network loss\n"
		"      --ext-unix-close   drop its unix sockets to services outside it (X11,\n"
		"                         D-Bus, ssh-agent): after the thaw it finds them closed\n"
		"      --ghost-limit SIZE copy at most SIZE of data (64G by default) of each\n"
		"                         deleted file or memfd it holds; a bigger one is refused\n"
		"      --compress=LEVEL|none  its page data compressed with zstd at LEVEL (1,\n"
		"                         the default, is the fastest; up to 19), or stored\n"
		"                         raw (also $JOBFREEZE_COMPRESS)\n"
		"      --command TEXT     how to describe the job (shells pass their job text)\n"
		"      --allow-other-user\n"
		"                         as root: freeze another user's job into THAT user's\n"
		"                         job store (~/.local/state/jobfreeze in their home),\n"
		"                         its images theirs: they thaw it with 'jobthaw'\n"
		"      --json             print the new jobs as JSON (see 'list --json')\n"
		"  -o, --log-file FILE    write engine messages to FILE\n"
		"  -v[N]                  more messages (0 errors only ... 4 debug)\n"
		"  -h, --help             this help\n\n"
		"Exit status: 0 frozen, 1 failed (the job goes on running), 2 bad usage,\n"
		"3 no such process, 4 not permitted (another user's process: run as that\n"
		"user, or as root with --allow-other-user), 5 busy (another jobfreeze\n"
		"command is freezing or thawing it).\n");
}

static void report_autosave(const struct job_meta *m, unsigned every, unsigned keep)
{
	char disk[32], per[32];

	printf("autosave %s: snapshot 1 of %s taken (%s on disk); one every %s, the newest %u "
	       "kept\n  after a crash, 'jobthaw %s' brings the job back from the newest; "
	       "'jobfreeze autosave --stop %s' ends it\n", m->autosave, m->command,
	       meta_size(m->image_bytes, disk), cli_period(every, per), keep, m->autosave,
	       m->autosave);
}

static void report(const struct job_meta *m)
{
	char mem[32], disk[32];

	printf("frozen %s: %s  (%u process%s, %s in memory, %s on disk)\n", m->id, m->command,
	       m->processes, m->processes == 1 ? "" : "es", meta_size(m->memory_bytes, mem),
	       meta_size(m->image_bytes, disk));
}

int cmd_freeze(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "name", required_argument, NULL, 'n' },
		{ "pgid", required_argument, NULL, 'G' },
		{ "tmux", no_argument, NULL, 'X' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "command", required_argument, NULL, 'c' },
		{ "tcp-close", no_argument, NULL, 'T' },
		{ "ext-unix-close", no_argument, NULL, 'U' },
		{ "ghost-limit", required_argument, NULL, 'g' },
		{ "every", required_argument, NULL, 'E' },
		{ "keep", required_argument, NULL, 'K' },
		{ "compress", required_argument, NULL, 'Z' },
		{ "allow-other-user", no_argument, NULL, 'A' },
		{ "json", no_argument, NULL, 'j' },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct freeze_opts o = { 0 };
	const char *ghost_limit = NULL, *keep_arg = NULL, *compress = NULL;
	unsigned every = 0, keep = 3;
	struct store s;
	bool json = false, first = true;
	int c, ret = 0, nr_targets;

	while ((c = getopt_long(argc, argv, "n:G:RL:S:o:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 'n': o.name = optarg; break;
		case 'X': o.tmux = true; break;
		case 'L': o.tmux = true; o.tmux_target.name = optarg; break;
		case 'S': o.tmux = true; o.tmux_target.path = optarg; break;
		case 'G':
			if (parse_int(optarg, &o.pgid) < 0 || o.pgid <= 0) {
				cli_error("--pgid takes a process group id, not '%s'", optarg);
				return 2;
			}
			break;
		case 'R': o.leave_running = true; break;
		case 'c': o.command = optarg; break;
		case 'T': o.tcp_close = true; break;
		case 'U': o.ext_unix_close = true; break;
		case 'g': ghost_limit = optarg; break;
		case 'E':
			if (cli_parse_period(optarg, &every) < 0) {
				cli_error("--every takes a period of at least 1s, such as 30s, 10m, 2h "
					  "or 1d, not '%s'", optarg);
				return 2;
			}
			break;
		case 'K': {
			int k;
			if (parse_int(optarg, &k) < 0 || k < 1 || k > 64) {
				cli_error("--keep takes a number of snapshots from 1 to 64, not '%s'",
					  optarg);
				return 2;
			}
			keep = k;
			keep_arg = optarg;
			break;
		}
		case 'Z': compress = optarg; break;
		case 'A': o.allow_other_user = true; break;
		case 'j': json = true; break;
		default: {
			int code = cli_common_option(c, optarg, usage);
			if (code >= 0)
				return code;
			break;
		}
		}
	}
	if (cli_ghost_limit(ghost_limit, &o.ghost_limit) < 0 ||
	    cli_compress(compress, &o.no_compress, &o.compress_level) < 0)
		return 2;
	nr_targets = argc - optind + (o.pgid ? 1 : 0) + (o.tmux ? 1 : 0);
	if (o.tmux && nr_targets > 1) {
		cli_error("--tmux freezes a tmux server: give no PID or --pgid with it");
		return 2;
	}
	if (o.tmux_target.name && o.tmux_target.path) {
		cli_error("-L and -S both say which tmux server: give one");
		return 2;
	}
	if (nr_targets == 0) {
		cli_error("freeze needs a PID or --pgid PGID; see 'jobfreeze freeze --help'");
		return 2;
	}
	if (keep_arg && !every) {
		cli_error("--keep says how many snapshots an autosave keeps: give --every too");
		return 2;
	}
	if (every && (nr_targets > 1 || o.tmux || o.allow_other_user)) {
		cli_error("--every autosaves one job of yours, given by its PID or --pgid (not "
			  "--tmux, not --allow-other-user)");
		return 2;
	}
	if (every)
		o.leave_running = true;
	if (nr_targets > 1 && o.name) {
		cli_error("--name names one job, but %d are to be frozen", nr_targets);
		return 2;
	}
	for (int i = optind; i < argc; i++) {
		int pid;
		if (argv[i][0] == '%') {
			cli_error("'%s' is a job spec of your shell: jobfreeze understands it once the "
				  "shell integration is loaded: eval \"$(jobfreeze init bash)\" (or zsh)",
				  argv[i]);
			return 2;
		}
		if (parse_int(argv[i], &pid) < 0 || pid <= 0) {
			cli_error("'%s' is not a process id", argv[i]);
			return 2;
		}
	}
	s.fd = -1;
	s.path = NULL;
	if (json)
		printf("[");
	for (int i = o.pgid || o.tmux ? optind - 1 : optind; i < argc; i++) {
		struct job_meta m;
		struct freeze_opts one = o;
		uid_t owner;
		int r;

		if (i >= optind) {
			one.pgid = 0;
			parse_int(argv[i], &one.pid);
		}
		/* each job into its owner's store (root's --allow-other-user) */
		session_job_owner(&one, &owner);
		if (s.fd < 0 || s.uid != owner) {
			store_close(&s);
			if (store_open_user(&s, owner)) {
				ret = ret ? ret : 1;
				continue;
			}
			cli_warn_images_once(&s, NULL);
		}
		r = every ? autosave_start(&s, &one, every, keep, &m) : session_freeze(&s, &one, &m);
		if (r) {
			if (!ret)
				ret = r;
			continue;
		}
		if (one.handed_over) {
			fprintf(stderr, "jobfreeze: this runs inside the tmux server: its client was "
					"detached, and freezes it from your terminal\n");
			continue;
		}
		if (json) {
			printf("%s", first ? "" : ",");
			meta_print_json(stdout, &m);
		} else if (every) {
			report_autosave(&m, every, keep);
		} else {
			report(&m);
		}
		first = false;
		meta_free(&m);
	}
	if (json)
		printf("]\n");
	store_close(&s);
	return ret;
}
