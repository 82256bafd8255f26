/* run.c: runs the jobfreeze CLI as a subprocess, asynchronously, so that a
 * slow freeze never blocks the bus and an engine crash never takes the
 * service down. Callers never get to choose the program or a path. */
#include <string.h>
#include <unistd.h>
#include "dbus/daemon.h"

/* $JOBFREEZE_CLI (for tests), else jobfreeze next to this executable (the
 * build tree), else ../bin/jobfreeze (installed in PREFIX/libexec). */
const char *cli_path(void)
{
	static char *path;
	if (path)
		return path;
	const char *env = g_getenv("JOBFREEZE_CLI");
	if (env && *env)
		return path = g_strdup(env);
	char *self = g_file_read_link("/proc/self/exe", NULL);
	char *dir = self ? g_path_get_dirname(self) : g_strdup("/usr/local/libexec");
	path = g_build_filename(dir, "jobfreeze", NULL);
	if (access(path, X_OK)) {
		g_free(path);
		path = g_build_filename(dir, "..", "bin", "jobfreeze", NULL);
	}
	g_free(dir);
	g_free(self);
	return path;
}

struct run {
	cli_done_fn done;
	gpointer data;
	char *what;		/* the command line, for the log */
};

static void finish(struct run *run, struct cli_result *r)
{
	run->done(r, run->data);
	g_free(r->out);
	g_free(r->err);
	g_free(run->what);
	g_free(run);
	daemon_release();
}

static void communicated(GObject *obj, GAsyncResult *res, gpointer data)
{
	GSubprocess *p = G_SUBPROCESS(obj);
	struct run *run = data;
	struct cli_result r = { -1, NULL, NULL };
	GError *err = NULL;

	if (!g_subprocess_communicate_utf8_finish(p, res, &r.out, &r.err, &err)) {
		r.err = g_strdup_printf("reading the output of %s: %s", run->what, err->message);
		g_error_free(err);
	} else if (g_subprocess_get_if_exited(p)) {
		r.status = g_subprocess_get_exit_status(p);
	} else {
		int sig = g_subprocess_get_term_sig(p);
		g_free(r.err);
		r.err = g_strdup_printf("%s was killed by signal %d (%s)", run->what, sig, strsignal(sig));
	}
	g_object_unref(p);
	finish(run, &r);
}

void cli_run(const char *const *args, cli_done_fn done, gpointer data)
{
	GPtrArray *argv = g_ptr_array_new();
	struct run *run = g_new0(struct run, 1);
	GError *err = NULL;

	daemon_hold();
	run->done = done;
	run->data = data;
	g_ptr_array_add(argv, (char *)cli_path());
	for (int i = 0; args[i]; i++)
		g_ptr_array_add(argv, (char *)args[i]);
	g_ptr_array_add(argv, NULL);
	run->what = g_strjoinv(" ", (char **)argv->pdata);

	/* stdin is /dev/null: the CLI must never wait for the user here */
	GSubprocess *p = g_subprocess_newv((const char *const *)argv->pdata,
			G_SUBPROCESS_FLAGS_STDOUT_PIPE | G_SUBPROCESS_FLAGS_STDERR_PIPE, &err);
	g_ptr_array_free(argv, TRUE);
	if (!p) {
		struct cli_result r = { -1, NULL, NULL };
		r.err = g_strdup_printf("cannot run %s: %s (set JOBFREEZE_CLI or reinstall)",
					run->what, err->message);
		g_error_free(err);
		finish(run, &r);
		return;
	}
	g_subprocess_communicate_utf8_async(p, NULL, NULL, communicated, run);
}

char *cli_message(const struct cli_result *r)
{
	const char *tag = "jobfreeze: error: ";
	const char *e = r->err ? r->err : "";
	const char *m = strstr(e, tag);
	char *msg;

	/* without its "error:" line, the first line (not a usage text after it) */
	if (m)
		msg = g_strndup(m + strlen(tag), strcspn(m + strlen(tag), "\n"));
	else
		msg = g_strstrip(g_strndup(e, strcspn(e, "\n")));
	if (!*msg) {
		g_free(msg);
		msg = g_strdup_printf("jobfreeze exited with status %d and no message", r->status);
	}
	return msg;
}

const char *cli_error_name(int status)
{
	switch (status) {
	case 2: return JF_ERROR "InvalidArgs";
	case 3: return JF_ERROR "NoSuchJob";
	case 4: return JF_ERROR "NotPermitted";
	case 5: return JF_ERROR "Busy";
	default: return JF_ERROR "Failed";
	}
}
