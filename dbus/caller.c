/* caller.c: asks the bus who sent a method call (uid, pid), refuses other
 * users and sandboxed apps, and checks who owns a pid a caller names. */
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include "dbus/daemon.h"

gboolean valid_job_ref(const char *s)
{
	/* no '-' first (it would be an option), no '/' (never a path) */
	if (!s || !*s || *s == '-' || *s == '.' || strlen(s) > 64)
		return FALSE;
	for (; *s; s++)
		if (!g_ascii_isalnum(*s) && *s != '_' && *s != '-' && *s != '.' && *s != '@')
			return FALSE;
	return TRUE;
}

/* Flatpak puts /.flatpak-info in the root of its sandbox; snapd runs apps
 * in snap.NAME.APP cgroups under AppArmor profiles named snap.* */
static gboolean in_sandbox(guint32 pid)
{
	char path[64], *text = NULL;
	gboolean found = FALSE;

	snprintf(path, sizeof(path), "/proc/%u/root/.flatpak-info", pid);
	if (access(path, F_OK) == 0)
		return TRUE;
	snprintf(path, sizeof(path), "/proc/%u/cgroup", pid);
	if (g_file_get_contents(path, &text, NULL, NULL)) {
		found = strstr(text, "/snap.") != NULL;
		g_free(text);
	}
	snprintf(path, sizeof(path), "/proc/%u/attr/current", pid);
	if (!found && g_file_get_contents(path, &text, NULL, NULL)) {
		found = g_str_has_prefix(text, "snap.");
		g_free(text);
	}
	return found;
}

void caller_free(struct caller *c)
{
	if (!c)
		return;
	g_free(c->sender);
	g_free(c);
}

struct pending {
	GDBusMethodInvocation *inv;
	caller_fn next;
};

static void refuse(GDBusMethodInvocation *inv, struct caller *c, const char *why)
{
	jf_log("refused %s from %s (uid %u pid %u): %s",
	       g_dbus_method_invocation_get_method_name(inv), c->sender, c->uid, c->pid, why);
	g_dbus_method_invocation_return_dbus_error(inv, JF_ERROR "NotPermitted", why);
	caller_free(c);
	daemon_release();
}

static void got_credentials(GObject *obj, GAsyncResult *res, gpointer data)
{
	struct pending *p = data;
	GDBusMethodInvocation *inv = p->inv;
	GError *err = NULL;
	GVariant *ret = g_dbus_connection_call_finish(G_DBUS_CONNECTION(obj), res, &err);
	struct caller *c = g_new0(struct caller, 1);
	caller_fn next = p->next;

	g_free(p);
	c->sender = g_strdup(g_dbus_method_invocation_get_sender(inv));
	c->uid = G_MAXUINT32;
	if (!ret) {
		jf_log("cannot ask the bus who %s is: %s", c->sender, err->message);
		g_error_free(err);
		refuse(inv, c, "the bus did not say who the caller is");
		return;
	}
	GVariant *creds = g_variant_get_child_value(ret, 0);
	g_variant_lookup(creds, "UnixUserID", "u", &c->uid);
	g_variant_lookup(creds, "ProcessID", "u", &c->pid);
	g_variant_unref(creds);
	g_variant_unref(ret);

	if (c->uid != getuid()) {
		refuse(inv, c, "the caller is another user");
		return;
	}
	/* a caller whose pid the bus does not know could be anywhere */
	c->sandboxed = c->pid == 0 || in_sandbox(c->pid);
	if (c->sandboxed && !jf_config.allow_sandboxed) {
		refuse(inv, c, "callers in a Flatpak or Snap sandbox are refused "
			       "(allow-sandboxed=true in ~/.config/jobfreeze/config allows them)");
		return;
	}
	next(c, inv);
	daemon_release();
}

void caller_check(GDBusMethodInvocation *inv, caller_fn next)
{
	struct pending *p = g_new0(struct pending, 1);

	daemon_hold();
	p->inv = inv;
	p->next = next;
	g_dbus_connection_call(jf_bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
			       "org.freedesktop.DBus", "GetConnectionCredentials",
			       g_variant_new("(s)", g_dbus_method_invocation_get_sender(inv)),
			       G_VARIANT_TYPE("(a{sv})"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
			       got_credentials, p);
}

int pid_owned_by(guint32 pid, guint32 uid, const char **err_name, char **msg)
{
	char path[64], *text = NULL;
	guint r, e, s, f;

	if (pid == 1) {
		*err_name = JF_ERROR "NotPermitted";
		*msg = g_strdup("process 1 (init) cannot be frozen");
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/%u/status", pid);
	if (pid == 0 || !g_file_get_contents(path, &text, NULL, NULL)) {
		*err_name = JF_ERROR "NoSuchProcess";
		*msg = g_strdup_printf("there is no process %u", pid);
		return -1;
	}
	const char *u = strstr(text, "\nUid:");
	int n = u ? sscanf(u, "\nUid: %u %u %u %u", &r, &e, &s, &f) : 0;
	g_free(text);
	/* every uid must be the caller's: a setuid program is not theirs */
	if (n != 4 || r != uid || e != uid || s != uid || f != uid) {
		*err_name = JF_ERROR "NotPermitted";
		*msg = g_strdup_printf("process %u does not belong to the caller (uid %u)", pid, uid);
		return -1;
	}
	return 0;
}
