/* ops.c: the Freeze, List and Remove methods: each checks its arguments,
 * runs one jobfreeze command and answers when that command ends. */
#include <stdlib.h>
#include <string.h>
#include "dbus/daemon.h"

struct op {
	struct caller *c;
	GDBusMethodInvocation *inv;
	guint32 pid;
	char *id;
};

static void op_free(struct op *op)
{
	caller_free(op->c);
	g_free(op->id);
	g_free(op);
}

void emit_progress(const char *operation, const char *target, const char *stage)
{
	g_dbus_connection_emit_signal(jf_bus, NULL, JF_OBJ_PATH, JF_IFACE, "Progress",
				      g_variant_new("(sss)", operation, target, stage), NULL);
}

void emit_failed(const char *id, const char *op, const char *msg)
{
	g_dbus_connection_emit_signal(jf_bus, NULL, JF_OBJ_PATH, JF_IFACE, "JobFailed",
				      g_variant_new("(sss)", id, op, msg), NULL);
	notify_failed(id, op, msg);
}

/* Bad usage (2) and no such job (3) are the caller's mistake, answered
 * with an error only; the rest failed while working on a job. */
gboolean failure_is_operational(int status)
{
	return status != 2 && status != 3;
}

/* Answers a failed command with its named error and logs it; SIGNAL: a
 * failed freeze is also told to listeners (JobFailed, a notification). */
static void op_failed(struct op *op, const char *what, const struct cli_result *r, gboolean signal)
{
	char *msg = cli_message(r);
	jf_log("%s for %s (uid %u pid %u) failed: %s", what, op->c->sender, op->c->uid,
	       op->c->pid, msg);
	if (signal && failure_is_operational(r->status))
		emit_failed(op->id ? op->id : "", what, msg);
	g_dbus_method_invocation_return_dbus_error(op->inv, cli_error_name(r->status), msg);
	g_free(msg);
}

static void bad_args(GDBusMethodInvocation *inv, struct caller *c, char *msg)
{
	jf_log("%s from %s (uid %u pid %u): bad arguments: %s",
	       g_dbus_method_invocation_get_method_name(inv), c->sender, c->uid, c->pid, msg);
	g_dbus_method_invocation_return_dbus_error(inv, JF_ERROR "InvalidArgs", msg);
	g_free(msg);
	caller_free(c);
}

/* ---- Freeze ------------------------------------------------------------- */

static void frozen(struct cli_result *r, gpointer data)
{
	struct op *op = data;
	GVariant *jobs = cli_json(r, "freeze", FALSE);

	if (r->status != 0) {
		op_failed(op, "freeze", r, TRUE);
		op_free(op);
		return;
	}
	/* one pid is one job: the first (only) object is ours */
	GVariant *info = g_variant_n_children(jobs) ? g_variant_get_child_value(jobs, 0) : NULL;
	const char *id = "";
	/* an autosave answers with its own id (Thaw of it: the newest snapshot) */
	gboolean named = info && ((g_variant_lookup(info, "autosave", "&s", &id) && *id) ||
				  g_variant_lookup(info, "id", "&s", &id));
	if (!named) {
		struct cli_result bad = { 1, NULL, (char *)"jobfreeze freeze --json named no job" };
		op_failed(op, "freeze", &bad, TRUE);
	} else {
		jf_log("froze pid %u as job %s for %s (uid %u pid %u)", op->pid, id,
		       op->c->sender, op->c->uid, op->c->pid);
		g_dbus_method_invocation_return_value(op->inv, g_variant_new("(s)", id));
		g_dbus_connection_emit_signal(jf_bus, NULL, JF_OBJ_PATH, JF_IFACE, "JobFrozen",
					      g_variant_new("(s@a{sv})", id, info), NULL);
		notify_frozen(info);
	}
	if (info)
		g_variant_unref(info);
	g_variant_unref(jobs);
	op_free(op);
}

static const char *const freeze_flags[] = { "leave-running", "tcp-close", "ext-unix-close", NULL };

/* An option "every" or "keep": a positive number, as u (or i). */
static gboolean positive(GVariant *val, gint64 *v)
{
	if (g_variant_is_of_type(val, G_VARIANT_TYPE_UINT32))
		*v = g_variant_get_uint32(val);
	else if (g_variant_is_of_type(val, G_VARIANT_TYPE_INT32))
		*v = g_variant_get_int32(val);
	else
		return FALSE;
	return TRUE;
}

void op_freeze(struct caller *c, GDBusMethodInvocation *inv)
{
	GVariant *params = g_dbus_method_invocation_get_parameters(inv);
	GVariant *opts, *val;
	GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
	const char *key, *err_name;
	char *msg = NULL;
	guint32 pid;
	gboolean tmux = FALSE;
	gint64 every = 0, keep = 0;
	GVariantIter it;

	g_variant_get(params, "(u@a{sv})", &pid, &opts);
	g_ptr_array_add(args, g_strdup("freeze"));
	g_ptr_array_add(args, g_strdup("--json"));
	g_variant_iter_init(&it, opts);
	while (!msg && g_variant_iter_next(&it, "{&sv}", &key, &val)) {
		if (!strcmp(key, "name") && g_variant_is_of_type(val, G_VARIANT_TYPE_STRING)) {
			const char *name = g_variant_get_string(val, NULL);
			if (!valid_job_ref(name))
				msg = g_strdup_printf("name '%s': use letters, digits, _ . - (not first)", name);
			g_ptr_array_add(args, g_strdup("--name"));
			g_ptr_array_add(args, g_strdup(name));
		} else if (g_strv_contains(freeze_flags, key) &&
			   g_variant_is_of_type(val, G_VARIANT_TYPE_BOOLEAN)) {
			if (g_variant_get_boolean(val))
				g_ptr_array_add(args, g_strconcat("--", key, NULL));
		} else if (!strcmp(key, "every") && positive(val, &every)) {
			if (every <= 0 || every > 366 * 86400)
				msg = g_strdup_printf("every %" G_GINT64_FORMAT ": the seconds between two "
						      "snapshots, at least 1", every);
		} else if (!strcmp(key, "keep") && positive(val, &keep)) {
			if (keep <= 0 || keep > 64)
				msg = g_strdup_printf("keep %" G_GINT64_FORMAT ": how many snapshots "
						      "are kept, 1 to 64", keep);
		} else if (!strcmp(key, "compress") && g_variant_is_of_type(val, G_VARIANT_TYPE_STRING)) {
			/* a zstd level or none: checked here, told as InvalidArgs */
			const char *level = g_variant_get_string(val, NULL);
			char *end = NULL;
			long v = strtol(level, &end, 10);
			if (strcmp(level, "none") && (!*level || *end || v < 1 || v > 19))
				msg = g_strdup_printf("compress '%s': a zstd level 1-19, or none", level);
			g_ptr_array_add(args, g_strdup_printf("--compress=%s", level));
		} else if (!strcmp(key, "tmux") && g_variant_is_of_type(val, G_VARIANT_TYPE_BOOLEAN)) {
			tmux |= g_variant_get_boolean(val);
		} else if (!strcmp(key, "tmux-socket") &&
			   g_variant_is_of_type(val, G_VARIANT_TYPE_STRING)) {
			const char *path = g_variant_get_string(val, NULL);
			if (path[0] != '/')
				msg = g_strdup_printf("tmux-socket '%s': give its absolute path", path);
			tmux = TRUE;
			g_ptr_array_add(args, g_strdup("-S"));
			g_ptr_array_add(args, g_strdup(path));
		} else {
			msg = g_strdup_printf("unknown option '%s' of type %s (Freeze takes name, "
					      "tmux-socket, compress (s), leave-running, tcp-close, "
					      "ext-unix-close, tmux (b), every, keep (u))", key,
					      g_variant_get_type_string(val));
		}
		g_variant_unref(val);
	}
	g_variant_unref(opts);
	if (!msg && keep && !every)
		msg = g_strdup("keep says how many snapshots an autosave keeps: give every too");
	if (!msg && every && tmux)
		msg = g_strdup("every: an autosave is of a job, not of a tmux server");
	if (every) {
		g_ptr_array_add(args, g_strdup_printf("--every=%" G_GINT64_FORMAT "s", every));
		if (keep)
			g_ptr_array_add(args, g_strdup_printf("--keep=%" G_GINT64_FORMAT, keep));
	}
	if (msg) {
		g_ptr_array_free(args, TRUE);
		bad_args(inv, c, msg);
		return;
	}
	/* (a tmux server is found by its socket, as the caller: pid unused) */
	if (tmux)
		g_ptr_array_add(args, g_strdup("--tmux"));
	if (!tmux && pid_owned_by(pid, c->uid, &err_name, &msg) < 0) {
		jf_log("refused Freeze of pid %u from %s (uid %u pid %u): %s", pid, c->sender,
		       c->uid, c->pid, msg);
		g_dbus_method_invocation_return_dbus_error(inv, err_name, msg);
		g_free(msg);
		g_ptr_array_free(args, TRUE);
		caller_free(c);
		return;
	}
	if (!tmux)
		g_ptr_array_add(args, g_strdup_printf("%u", pid));
	g_ptr_array_add(args, NULL);

	struct op *op = g_new0(struct op, 1);
	op->c = c;
	op->inv = inv;
	op->pid = pid;
	jf_log("Freeze pid %u for %s (uid %u pid %u)", pid, c->sender, c->uid, c->pid);
	char *target = g_strdup_printf("%u", pid);
	emit_progress("freeze", target, "started");
	g_free(target);
	cli_run((const char *const *)args->pdata, frozen, op);
	g_ptr_array_free(args, TRUE);
}

/* ---- List --------------------------------------------------------------- */

static void listed(struct cli_result *r, gpointer data)
{
	struct op *op = data;
	GVariant *jobs = cli_json(r, "list", FALSE);

	if (r->status != 0) {
		op_failed(op, "list", r, FALSE);
	} else {
		g_dbus_method_invocation_return_value(op->inv, g_variant_new("(@aa{sv})", jobs));
		g_variant_unref(jobs);
	}
	op_free(op);
}

void op_list(struct caller *c, GDBusMethodInvocation *inv)
{
	static const char *const args[] = { "list", "--json", NULL };
	struct op *op = g_new0(struct op, 1);

	op->c = c;
	op->inv = inv;
	jf_log("List for %s (uid %u pid %u)", c->sender, c->uid, c->pid);
	cli_run(args, listed, op);
}

/* ---- Remove ------------------------------------------------------------- */

static void removed(struct cli_result *r, gpointer data)
{
	struct op *op = data;

	if (r->status != 0) {
		op_failed(op, "remove", r, FALSE);
	} else {
		jf_log("removed job %s for %s (uid %u pid %u)", op->id, op->c->sender,
		       op->c->uid, op->c->pid);
		g_dbus_method_invocation_return_value(op->inv, NULL);
	}
	op_free(op);
}

void op_remove(struct caller *c, GDBusMethodInvocation *inv)
{
	const char *id;

	g_variant_get(g_dbus_method_invocation_get_parameters(inv), "(&s)", &id);
	if (!valid_job_ref(id)) {
		bad_args(inv, c, g_strdup_printf("'%s' is not a job ID or name", id));
		return;
	}
	struct op *op = g_new0(struct op, 1);
	op->c = c;
	op->inv = inv;
	op->id = g_strdup(id);
	const char *const args[] = { "rm", op->id, NULL };
	jf_log("Remove job %s for %s (uid %u pid %u)", id, c->sender, c->uid, c->pid);
	cli_run(args, removed, op);
}
