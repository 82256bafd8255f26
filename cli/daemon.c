/* daemon.c: `jobfreeze daemon` runs the D-Bus service, a separate program
 * (jobfreeze-daemon) so that this binary never links glib. */
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

int cmd_daemon(int argc, char **argv)
{
	/* next to us in the build tree; in PREFIX/libexec once installed */
	static const char *const where[] = { "jobfreeze-daemon", "../libexec/jobfreeze-daemon" };
	char self[PATH_MAX], path[PATH_MAX + 64];
	ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);

	if (argc > 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(help ? stdout : stderr, "usage: jobfreeze daemon\n"
			"Serves org.jobfreeze.JobFreeze1 on the session bus (normally started\n"
			"on demand by D-Bus activation).\n\n"
			"  -h, --help    this help\n");
		return help ? 0 : 2;
	}
	if (n < 0) {
		cli_error("cannot read /proc/self/exe to find jobfreeze-daemon: %m");
		return 1;
	}
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	for (size_t i = 0; i < sizeof(where) / sizeof(where[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", self, where[i]);
		if (access(path, X_OK) == 0) {
			execv(path, argv);
			cli_error("cannot run %s: %m", path);
			return 1;
		}
	}
	cli_error("jobfreeze-daemon is not installed next to %s/jobfreeze or in ../libexec", self);
	return 1;
}
