/* restore.c: `jobfreeze restore -D DIR`: thaws the job and, unless -d,
 * waits for it and exits the way it exited. */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "ckpt/ckpt.h"
#include "ckpt/log.h"
#include "ckpt/util.h"
#include "cli/cli.h"
#include "cli/stats.h"

#define MAX_INHERIT 64

static void usage(FILE *f)
{
	fprintf(f,
		"usage: jobfreeze restore -D DIR [options]\n\n"
		"Thaws the process saved in DIR. It continues where it was, with its pid,\n"
		"memory, registers, signals and files. Files it had open are reopened by\n"
		"path (refused if they changed); its terminal becomes this terminal.\n"
		"Without -d, waits for the job and exits with its exit status.\n\n"
		"  -D, --images-dir DIR       the image to thaw (left intact)\n"
		"  -d, --restore-detached     return as soon as the job runs\n"
		"  -s, --leave-stopped        restore it stopped (continue it with kill -CONT)\n"
		"      --resume-stopped       a job frozen while stopped (^Z) comes back\n"
		"                             running; without it, it comes back stopped\n"
		"      --tcp-close            its TCP connections come back closed (the job\n"
		"                             reads their end): their ports are not taken\n"
		"      --pidfile FILE         write the job's pid (as seen here) to FILE\n"
		"      --inherit-fd N[:M]     the job's fd N becomes this command's fd M\n"
		"                             (default M = N) instead of the recorded file\n"
		"      --ignore-cpu-features  thaw on a CPU that lacks instruction-set\n"
		"                             features the freezing CPU had (the job may\n"
		"                             crash if it uses one)\n"
		"  -o, --log-file FILE        write messages to FILE instead of stderr\n"
		"  -v[N]                      more messages (0 errors only ... 4 debug)\n"
		"      --display-stats        print times, pages and bytes\n"
		"  -h, --help                 this help\n");
}

static int parse_inherit(const char *arg, struct inherit_fd *fd)
{
	char buf[64], *colon;

	snprintf(buf, sizeof(buf), "%s", arg);
	colon = strchr(buf, ':');
	if (colon)
		*colon = 0;
	if (parse_int(buf, &fd->job_fd) < 0 || fd->job_fd < 0)
		return -1;
	fd->my_fd = fd->job_fd;
	if (colon && (parse_int(colon + 1, &fd->my_fd) < 0 || fd->my_fd < 0))
		return -1;
	return 0;
}

/* The terminal the job's terminal fds become: ours, if we have one. */
static int find_tty(void)
{
	for (int fd = 0; fd <= 2; fd++)
		if (isatty(fd))
			return fd;
	return -1;
}

int cmd_restore(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "images-dir", required_argument, NULL, 'D' },
		{ "restore-detached", no_argument, NULL, 'd' },
		{ "leave-stopped", no_argument, NULL, 's' },
		{ "resume-stopped", no_argument, NULL, 'C' },
		{ "tcp-close", no_argument, NULL, 'T' },
		{ "pidfile", required_argument, NULL, 'P' },
		{ "inherit-fd", required_argument, NULL, 'I' },
		{ "display-stats", no_argument, NULL, 'S' },
		{ "ignore-cpu-features", no_argument, NULL, 'F' },
		CLI_COMMON_OPTIONS,
		{ 0 },
	};
	struct inherit_fd inherit[MAX_INHERIT];
	struct ckpt_stats stats = { 0 };
	struct restore_opts o = { .stats = &stats, .inherit = inherit, .tty_fd = find_tty() };
	bool show_stats = false;
	int c, wstatus;

	while ((c = getopt_long(argc, argv, "D:dso:v::h", opts, NULL)) != -1) {
		switch (c) {
		case 'D': o.dir = optarg; break;
		case 'd': o.detached = true; break;
		case 's': o.leave_stopped = true; break;
		case 'C': o.resume_stopped = true; break;
		case 'T': o.tcp_close = true; break;
		case 'P': o.pidfile = optarg; break;
		case 'S': show_stats = true; break;
		case 'F': o.ignore_cpu_features = true; break;
		case 'I':
			if (o.nr_inherit == MAX_INHERIT || parse_inherit(optarg, &inherit[o.nr_inherit]) < 0) {
				cli_error("--inherit-fd takes N or N:M (fd numbers), not '%s'", optarg);
				return 2;
			}
			if (fcntl(inherit[o.nr_inherit].my_fd, F_GETFD) < 0) {
				cli_error("--inherit-fd %s: fd %d is not open here", optarg,
					  inherit[o.nr_inherit].my_fd);
				return 2;
			}
			o.nr_inherit++;
			break;
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
	if (!o.dir) {
		cli_error("restore needs -D DIR; see 'jobfreeze restore --help'");
		return 2;
	}
	if (ckpt_restore(&o, &wstatus) < 0)
		return 1;
	if (show_stats)
		print_restore_stats(&stats);
	if (o.detached)
		return 0;
	return cli_exit_like(wstatus);
}
