/* dump.c: `jobfreeze dump -t PID -D DIR`, with CRIU's option names. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include "ckpt/ckpt.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"
#include "cli/stats.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze dump (-t PID | --pgid PGID) -D DIR [options]\n\n"
		"Saves a job to the image directory DIR (created, mode 0700), then kills\n"
		"it. The job is stopped only while it is read; if anything fails it goes\n"
		"on running untouched and DIR is left without a partial image.\n\n"
		"  -t, --tree PID          the job: process PID and all its descendants\n"
		"      --pgid PGID         the job: every process of process group PGID (a\n"
		"                          shell job: all stages of a pipeline) and their\n"
		"                          descendants; it exits as its last stage does\n"
		"  -D, --images-dir DIR    where the image goes\n"
		"  -R, --leave-running     take a snapshot: the process goes on running\n"
		"  -s, --leave-stopped     leave the process stopped (SIGSTOP) after the dump\n"
		"      --tcp-close         drop the job's TCP connections to outside it: after\n"
		"                          the thaw it finds them reset (else refused)\n"
		"      --ext-unix-close    drop unix sockets connected outside the job (X11,\n"
		"                          D-Bus...): after the thaw it finds them closed\n"
		"      --allow-other-user  as root: freeze another user's job; the images\n"
		"                          are given to that user\n"
		"      --ghost-limit SIZE  copy at most SIZE of data (64G by default; 512M,\n"
		"                          1T...) of each deleted file or memfd the job holds\n"
		"                          into the image; a bigger one is refused\n"
		"      --compress=LEVEL|none  page data compressed with zstd at LEVEL (1, the\n"
		"                          default, is the fastest; up to 19), or stored raw\n"
		"                          (also $JOBFREEZE_COMPRESS)\n"
		"      --prev DIR          with -R: an incremental snapshot; the pages that\n"
		"                          the earlier snapshot DIR holds are hard-linked\n"
		"                          from it, not written (deleting DIR later is safe)\n"
		"  -o, --log-file FILE     write messages to FILE instead of stderr\n"
		"  -v[N]                   more messages (0 errors only ... 4 debug; default 2)\n"
		"      --display-stats     print times, pages and bytes\n"
		"  -h, --help              this help\n\n"
		"The image holds the process's memory, which may hold passwords and keys:\n"
		"keep it on a disk you trust (an encrypted home, for example).\n");
}

int cmd_dump(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "tree", required_argument, NULL, 't' },
		{ "pgid", required_argument, NULL, 'G' },
		{ "images-dir", required_argument, NULL, 'D' },
		{ "leave-running", no_argument, NULL, 'R' },
		{ "leave-stopped", no_argument, NULL, 's' },
		{ "allow-other-user", no_argument, NULL, 'A' },
		{ "display-stats", no_argument, NULL, 'S' },
		{ "tcp-close", no_argument, NULL, 'T' },
		{ "ext-unix-close", no_argument, NULL, 'U' },
		{ "ghost-limit", required_argument, NULL, 'g' },
		{ "compress", required_argument, NULL, 'Z' },
		{ "prev", required_argument, NULL, 'P' },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct ckpt_stats stats = { 0 };
	struct dump_opts o = { .stats = &stats };
	const char *ghost_limit = NULL, *compress = NULL;
	bool show_stats = false;
	int c;

	while ((c = getopt_long(argc, argv, "t:D:Rso:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			if (parse_int(optarg, &o.pid) < 0 || o.pid <= 0) {
				cli_error("-t takes a process id, not '%s'", optarg);
				return 2;
			}
			break;
		case 'G':
			if (parse_int(optarg, &o.pgid) < 0 || o.pgid <= 0) {
				cli_error("--pgid takes a process group id, not '%s'", optarg);
				return 2;
			}
			break;
		case 'D': o.dir = optarg; break;
		case 'R': o.leave_running = true; break;
		case 's': o.leave_stopped = true; break;
		case 'A': o.allow_other_user = true; break;
		case 'S': show_stats = true; break;
		case 'T': o.tcp_close = true; break;
		case 'U': o.ext_unix_close = true; break;
		case 'g': ghost_limit = optarg; break;
		case 'Z': compress = optarg; break;
		case 'P': o.prev_dir = optarg; break;
		default: {
			int code = cli_common_option(c, optarg, usage);
			if (code >= 0)
				return code;
			break;
		}
		}
	}
	if (optind < argc) {
		cli_error("unexpected argument '%s'", argv[optind]);
		return 2;
	}
	if ((!o.pid == !o.pgid) || !o.dir) {
		cli_error("dump needs -t PID or --pgid PGID, and -D DIR; see 'jobfreeze dump --help'");
		return 2;
	}
	if (cli_ghost_limit(ghost_limit, &o.ghost_limit) < 0 ||
	    cli_compress(compress, &o.no_compress, &o.compress_level) < 0)
		return 2;
	if (ckpt_dump(&o) < 0)
		return 1;
	cli_warn_images_once(NULL, o.dir);
	if (show_stats)
		print_dump_stats(&stats);
	return 0;
}
