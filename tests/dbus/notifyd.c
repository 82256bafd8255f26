/* notifyd.c: a notification server for the tests: owns
 * org.freedesktop.Notifications on the test bus, appends one line per
 * Notify call to LOGFILE, and emits ActionInvoked when the test calls
 * org.jobfreeze.Test.Invoke(id, action) on it. Usage: notifyd LOGFILE */
#include <stdio.h>
#include <string.h>
#include <gio/gio.h>

static const char xml[] =
	"<node>"
	" <interface name='org.freedesktop.Notifications'>"
	"  <method name='GetCapabilities'><arg type='as' direction='out'/></method>"
	"  <method name='GetServerInformation'>"
	"   <arg type='s' direction='out'/><arg type='s' direction='out'/>"
	"   <arg type='s' direction='out'/><arg type='s' direction='out'/></method>"
	"  <method name='Notify'>"
	"   <arg type='s' direction='in'/><arg type='u' direction='in'/>"
	"   <arg type='s' direction='in'/><arg type='s' direction='in'/>"
	"   <arg type='s' direction='in'/><arg type='as' direction='in'/>"
	"   <arg type='a{sv}' direction='in'/><arg type='i' direction='in'/>"
	"   <arg type='u' direction='out'/></method>"
	"  <method name='CloseNotification'><arg type='u' direction='in'/></method>"
	"  <signal name='ActionInvoked'><arg type='u'/><arg type='s'/></signal>"
	"  <signal name='NotificationClosed'><arg type='u'/><arg type='u'/></signal>"
	" </interface>"
	" <interface name='org.jobfreeze.Test'>"
	"  <method name='Invoke'><arg type='u' direction='in'/><arg type='s' direction='in'/></method>"
	" </interface>"
	"</node>";

static const char *logfile;
static guint32 last_id;
static GMainLoop *loop;

static void log_notify(GVariant *p, guint32 id)
{
	const char *app, *icon, *summary, *body;
	const char **actions;
	guint32 replaces;
	gint32 timeout;
	GVariant *hints;
	FILE *f = fopen(logfile, "a");

	if (!f) {
		g_printerr("notifyd: cannot append to %s\n", logfile);
		return;
	}
	g_variant_get(p, "(&su&s&s&s^a&s@a{sv}i)", &app, &replaces, &icon, &summary, &body,
		      &actions, &hints, &timeout);
	char *acts = g_strjoinv(",", (char **)actions);
	fprintf(f, "id=%u app=%s summary=%s body=%s actions=%s\n", id, app, summary, body, acts);
	fclose(f);
	g_free(acts);
	g_free(actions);
	g_variant_unref(hints);
}

static void call(GDBusConnection *bus, const char *sender, const char *path, const char *iface,
		 const char *method, GVariant *p, GDBusMethodInvocation *inv, gpointer data)
{
	if (!strcmp(method, "GetCapabilities")) {
		const char *caps[] = { "actions", "body", NULL };
		g_dbus_method_invocation_return_value(inv, g_variant_new("(^as)", caps));
	} else if (!strcmp(method, "GetServerInformation")) {
		g_dbus_method_invocation_return_value(inv, g_variant_new("(ssss)", "jf-test-notifyd",
									 "jobfreeze", "1", "1.2"));
	} else if (!strcmp(method, "Notify")) {
		log_notify(p, ++last_id);
		g_dbus_method_invocation_return_value(inv, g_variant_new("(u)", last_id));
	} else if (!strcmp(method, "CloseNotification")) {
		g_dbus_method_invocation_return_value(inv, NULL);
	} else if (!strcmp(method, "Invoke")) {
		guint32 id;
		const char *action;
		g_variant_get(p, "(u&s)", &id, &action);
		g_dbus_connection_emit_signal(bus, NULL, "/org/freedesktop/Notifications",
					      "org.freedesktop.Notifications", "ActionInvoked",
					      g_variant_new("(us)", id, action), NULL);
		/* a server closes the notification once an action is chosen (reason 2) */
		g_dbus_connection_emit_signal(bus, NULL, "/org/freedesktop/Notifications",
					      "org.freedesktop.Notifications", "NotificationClosed",
					      g_variant_new("(uu)", id, 2), NULL);
		g_dbus_method_invocation_return_value(inv, NULL);
	}
}

static const GDBusInterfaceVTable vtable = { call, NULL, NULL, { 0 } };

static void acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	GDBusNodeInfo *node = g_dbus_node_info_new_for_xml(xml, NULL);
	for (int i = 0; node->interfaces[i]; i++)
		g_dbus_connection_register_object(bus, "/org/freedesktop/Notifications",
						  node->interfaces[i], &vtable, NULL, NULL, NULL);
	g_dbus_node_info_unref(node);
}

static void lost(GDBusConnection *bus, const char *name, gpointer data)
{
	g_printerr("notifyd: cannot own %s\n", name);
	g_main_loop_quit(loop);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		g_printerr("usage: notifyd LOGFILE\n");
		return 2;
	}
	logfile = argv[1];
	loop = g_main_loop_new(NULL, FALSE);
	g_bus_own_name(G_BUS_TYPE_SESSION, "org.freedesktop.Notifications",
		       G_BUS_NAME_OWNER_FLAGS_NONE, acquired, NULL, lost, NULL, NULL);
	g_main_loop_run(loop);
	return 1;
}
