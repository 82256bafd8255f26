/* thaw.c: the Thaw method (and a notification's Resume button): a job that
 * had a terminal is thawed in a new terminal window, any other detached. */
#include <string.h>
#include "dbus/daemon.h"

/* How long a thaw in a terminal may take before it counts as failed, and
 * how often the store is looked at to see the job leave it. */
#define THAW_WAIT_MS	60000
#define THAW_POLL_MS	300

struct thaw {
	char *id;
	char **terminal;
	GDBusMethodInvocation *inv;	/* NULL: nobody waits for a reply */
	char *who;
	gint64 deadline;
	int term_status;		/* -2 while the terminal command runs */
	char *command;			/* of the job, for notifications */
	int refs;			/* the operation, the terminal's wait */
};

static void thaw_unref(struct thaw *t)
{
	if (--t->refs)
		return;
	g_free(t->id);
	g_strfreev(t->terminal);
	g_free(t->who);
	g_free(t->command);
	g_free(t);
}

/* The operation is over (the terminal it opened may well run on). */
static void thaw_free(struct thaw *t)
{
	thaw_unref(t);
	daemon_release();
}

static void thaw_failed(struct thaw *t, const char *err_name, const char *msg, gboolean signal)
{
	jf_log("thaw of job %s for %s failed: %s", t->id, t->who, msg);
	if (signal)
		emit_failed(t->id, "thaw", msg);
	if (t->inv)
		g_dbus_method_invocation_return_dbus_error(t->inv, err_name, msg);
	t->inv = NULL;
}

static void thawed(struct thaw *t)
{
	jf_log("thawed job %s for %s", t->id, t->who);
	if (t->inv)
		g_dbus_method_invocation_return_value(t->inv, NULL);
	t->inv = NULL;
	g_dbus_connection_emit_signal(jf_bus, NULL, JF_OBJ_PATH, JF_IFACE, "JobThawed",
				      g_variant_new("(s)", t->id), NULL);
	notify_thawed(t->command ? t->command : t->id);
}

/* ---- in a terminal: launch it, then watch the job leave the store ------- */

static gboolean poll_store(gpointer data);

static void polled(struct cli_result *r, gpointer data)
{
	struct thaw *t = data;

	if (r->status == 3) {
		thawed(t);
		thaw_free(t);
	} else if (t->term_status > 0) {
		char *msg = g_strdup_printf("the terminal command %s exited with status %d",
					    t->terminal[0], t->term_status);
		thaw_failed(t, JF_ERROR "Failed", msg, TRUE);
		g_free(msg);
		thaw_free(t);
	} else if (g_get_monotonic_time() > t->deadline) {
		thaw_failed(t, JF_ERROR "Failed", "the job was still frozen a minute after its "
			    "terminal opened (was the window closed?)", TRUE);
		thaw_free(t);
	} else {
		g_timeout_add(THAW_POLL_MS, poll_store, t);
	}
}

static gboolean poll_store(gpointer data)
{
	struct thaw *t = data;
	const char *const args[] = { "show", t->id, "--json", NULL };
	cli_run(args, polled, t);
	return G_SOURCE_REMOVE;
}

static void terminal_ended(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct thaw *t = data;
	GSubprocess *p = G_SUBPROCESS(obj);

	/* only note how the terminal command ended: the watch decides */
	if (g_subprocess_wait_finish(p, res, NULL))
		t->term_status = g_subprocess_get_if_exited(p) ? g_subprocess_get_exit_status(p) : 128;
	g_object_unref(p);
	thaw_unref(t);
}

static char **default_terminal(void)
{
	const char *env = g_getenv("TERMINAL");
	if (jf_config.terminal)
		return g_strdupv(jf_config.terminal);
	/* $TERMINAL and the Debian alternative both take -e COMMAND... */
	char *argv[] = { (char *)(env && *env ? env : "x-terminal-emulator"), (char *)"-e", NULL };
	return g_strdupv(argv);
}

/* What the terminal runs: the thaw, and when it did not happen (the job is
 * still in the store) its error stays on the screen until Enter, instead
 * of vanishing with the window. $0 is the CLI, $1 the job. */
static const char thaw_script[] =
	"\"$0\" thaw \"$1\"; s=$?\n"
	"if \"$0\" show \"$1\" >/dev/null 2>&1; then\n"
	"\tprintf '\\njobfreeze: job %s was not thawed; press Enter to close. ' \"$1\"\n"
	"\tread _\n"
	"fi\n"
	"exit $s\n";

static void in_terminal(struct thaw *t)
{
	GPtrArray *argv = g_ptr_array_new();
	GError *err = NULL;

	if (!t->terminal)
		t->terminal = default_terminal();
	for (int i = 0; t->terminal[i]; i++)
		g_ptr_array_add(argv, t->terminal[i]);
	g_ptr_array_add(argv, (char *)"/bin/sh");
	g_ptr_array_add(argv, (char *)"-c");
	g_ptr_array_add(argv, (char *)thaw_script);
	g_ptr_array_add(argv, (char *)cli_path());
	g_ptr_array_add(argv, t->id);
	g_ptr_array_add(argv, NULL);
	GSubprocess *p = g_subprocess_newv((const char *const *)argv->pdata,
					   G_SUBPROCESS_FLAGS_NONE, &err);
	g_ptr_array_free(argv, TRUE);
	if (!p) {
		char *msg = g_strdup_printf("cannot open a terminal with %s: %s (set terminal= "
					    "in ~/.config/jobfreeze/config)", t->terminal[0], err->message);
		thaw_failed(t, JF_ERROR "Failed", msg, TRUE);
		g_free(msg);
		g_error_free(err);
		thaw_free(t);
		return;
	}
	jf_log("thawing job %s for %s in a terminal (%s)", t->id, t->who, t->terminal[0]);
	/* the caller gets its answer now; JobThawed or JobFailed follow */
	if (t->inv)
		g_dbus_method_invocation_return_value(t->inv, NULL);
	t->inv = NULL;
	t->term_status = -2;
	t->deadline = g_get_monotonic_time() + THAW_WAIT_MS * 1000LL;
	/* a terminal window lives as long as the job in it: t must outlive
	 * the watch for this callback */
	t->refs++;
	g_subprocess_wait_async(p, NULL, terminal_ended, t);
	g_timeout_add(THAW_POLL_MS, poll_store, t);
}

/* ---- detached: jobfreeze thaw --detach returns once the job runs -------- */

static void detached(struct cli_result *r, gpointer data)
{
	struct thaw *t = data;

	if (r->status == 0) {
		thawed(t);
	} else {
		char *msg = cli_message(r);
		thaw_failed(t, cli_error_name(r->status), msg, failure_is_operational(r->status));
		g_free(msg);
	}
	thaw_free(t);
}

static void shown(struct cli_result *r, gpointer data)
{
	struct thaw *t = data;
	GVariant *info = cli_json(r, "show", TRUE);
	gboolean had_tty = FALSE;

	if (r->status != 0) {
		char *msg = cli_message(r);
		thaw_failed(t, cli_error_name(r->status), msg, failure_is_operational(r->status));
		g_free(msg);
		thaw_free(t);
		return;
	}
	g_variant_lookup(info, "had_tty", "b", &had_tty);
	g_variant_lookup(info, "command", "s", &t->command);
	g_variant_unref(info);
	if (had_tty) {
		emit_progress("thaw", t->id, "opening a terminal");
		in_terminal(t);
	} else {
		const char *const args[] = { "thaw", t->id, "--detach", NULL };
		jf_log("thawing job %s for %s detached", t->id, t->who);
		emit_progress("thaw", t->id, "started");
		cli_run(args, detached, t);
	}
}

void thaw_job(const char *id, char **terminal, GDBusMethodInvocation *inv, const char *who)
{
	struct thaw *t = g_new0(struct thaw, 1);

	daemon_hold();
	t->refs = 1;
	t->id = g_strdup(id);
	t->terminal = g_strdupv(terminal);
	t->inv = inv;
	t->who = g_strdup(who);
	const char *const args[] = { "show", t->id, "--json", NULL };
	cli_run(args, shown, t);
}

void op_thaw(struct caller *c, GDBusMethodInvocation *inv)
{
	GVariant *opts, *val;
	const char *id, *key;
	char *msg = NULL, **terminal = NULL;
	const char *err_name = JF_ERROR "InvalidArgs";
	GVariantIter it;

	g_variant_get(g_dbus_method_invocation_get_parameters(inv), "(&s@a{sv})", &id, &opts);
	if (!valid_job_ref(id))
		msg = g_strdup_printf("'%s' is not a job ID or name", id);
	g_variant_iter_init(&it, opts);
	while (!msg && g_variant_iter_next(&it, "{&sv}", &key, &val)) {
		if (!strcmp(key, "terminal") && g_variant_is_of_type(val, G_VARIANT_TYPE_STRING_ARRAY)) {
			g_strfreev(terminal);
			terminal = g_variant_dup_strv(val, NULL);
			/* a sandboxed app naming a program would escape its sandbox */
			if (c->sandboxed) {
				err_name = JF_ERROR "NotPermitted";
				msg = g_strdup("a sandboxed caller cannot choose the terminal command");
			} else if (!terminal[0]) {
				msg = g_strdup("option terminal is an empty command");
			}
		} else {
			msg = g_strdup_printf("unknown option '%s' of type %s (Thaw takes terminal (as))",
					      key, g_variant_get_type_string(val));
		}
		g_variant_unref(val);
	}
	char *who = g_strdup_printf("%s (uid %u pid %u)", c->sender, c->uid, c->pid);
	if (msg) {
		jf_log("refused Thaw of %s from %s: %s", id, who, msg);
		g_dbus_method_invocation_return_dbus_error(inv, err_name, msg);
	} else {
		jf_log("Thaw job %s for %s", id, who);
		thaw_job(id, terminal, inv, who);
	}
	g_free(msg);
	g_free(who);
	g_strfreev(terminal);
	g_variant_unref(opts);
	caller_free(c);
}
