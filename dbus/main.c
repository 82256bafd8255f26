/* main.c: jobfreeze-daemon's entry point: owns org.jobfreeze.JobFreeze1 on
 * the session bus, serves the interface of org.jobfreeze.JobFreeze1.xml
 * and exits after idle-timeout seconds without work. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include "dbus/daemon.h"
#include "dbus/iface-xml.h"	/* generated from the XML by the Makefile */

GDBusConnection *jf_bus;
static GMainLoop *loop;
static GDBusNodeInfo *node;
static guint holds, idle_source;
static int exit_code;

void jf_log(const char *fmt, ...)
{
	va_list ap;

	fputs("jobfreeze-daemon: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static gboolean idle_exit(gpointer data)
{
	jf_log("idle for %u s: exiting", jf_config.idle_timeout);
	idle_source = 0;
	g_main_loop_quit(loop);
	return G_SOURCE_REMOVE;
}

void daemon_hold(void)
{
	holds++;
	if (idle_source) {
		g_source_remove(idle_source);
		idle_source = 0;
	}
}

void daemon_release(void)
{
	if (--holds == 0)
		idle_source = g_timeout_add_seconds(jf_config.idle_timeout, idle_exit, NULL);
}

static const struct {
	const char *name;
	caller_fn fn;
} methods[] = {
	{ "Freeze", op_freeze },
	{ "Thaw",   op_thaw },
	{ "List",   op_list },
	{ "Remove", op_remove },
};

static caller_fn method_fn(const char *name)
{
	for (size_t i = 0; i < G_N_ELEMENTS(methods); i++)
		if (!strcmp(methods[i].name, name))
			return methods[i].fn;
	return NULL;
}

/* GDBus has already checked the arguments against the XML's signature. */
static void method_call(GDBusConnection *bus, const char *sender, const char *path,
			const char *iface, const char *method, GVariant *params,
			GDBusMethodInvocation *inv, gpointer data)
{
	caller_fn fn = method_fn(method);
	if (!fn) {
		g_dbus_method_invocation_return_dbus_error(inv, "org.freedesktop.DBus.Error.UnknownMethod",
							   method);
		return;
	}
	caller_check(inv, fn);
}

static const GDBusInterfaceVTable vtable = { method_call, NULL, NULL, { 0 } };

static void bus_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	GError *err = NULL;

	jf_bus = bus;
	if (!g_dbus_connection_register_object(bus, JF_OBJ_PATH, node->interfaces[0], &vtable,
					       NULL, NULL, &err)) {
		jf_log("cannot serve %s: %s", JF_OBJ_PATH, err->message);
		g_error_free(err);
		exit_code = 1;
		g_main_loop_quit(loop);
	}
}

static gboolean serving;

static void name_acquired(GDBusConnection *bus, const char *name, gpointer data)
{
	serving = TRUE;
	jf_log("serving %s (jobfreeze CLI: %s, idle timeout %u s)", name, cli_path(),
	       jf_config.idle_timeout);
}

static void name_lost(GDBusConnection *bus, const char *name, gpointer data)
{
	if (serving)
		jf_log("lost %s: the session bus went away", name);
	else if (bus)
		jf_log("%s is owned by another process: is a jobfreeze-daemon running already?", name);
	else
		jf_log("cannot connect to the session bus to own %s (is DBUS_SESSION_BUS_ADDRESS set?)",
		       name);
	exit_code = serving ? 0 : 1;
	g_main_loop_quit(loop);
}

/* Every method of the XML has a handler: run by the build after linking. */
static int check_interface(void)
{
	GDBusInterfaceInfo *ii = node->interfaces[0];
	int bad = 0;

	if (strcmp(ii->name, JF_IFACE)) {
		fprintf(stderr, "interface %s in the XML, %s in the code\n", ii->name, JF_IFACE);
		bad = 1;
	}
	for (int i = 0; ii->methods && ii->methods[i]; i++)
		if (!method_fn(ii->methods[i]->name)) {
			fprintf(stderr, "method %s of the XML has no handler\n", ii->methods[i]->name);
			bad = 1;
		}
	for (size_t i = 0; i < G_N_ELEMENTS(methods); i++)
		if (!g_dbus_interface_info_lookup_method(ii, methods[i].name)) {
			fprintf(stderr, "handler %s is not in the XML\n", methods[i].name);
			bad = 1;
		}
	return bad;
}

int main(int argc, char **argv)
{
	GError *err = NULL;

	node = g_dbus_node_info_new_for_xml(jf_iface_xml, &err);
	if (!node || !node->interfaces[0]) {
		fprintf(stderr, "jobfreeze-daemon: bad built-in interface XML: %s\n",
			err ? err->message : "no interface");
		return 1;
	}
	if (argc == 2 && !strcmp(argv[1], "--check-interface")) {
		int bad = check_interface();
		g_dbus_node_info_unref(node);
		return bad;
	}
	if (argc == 2 && !strcmp(argv[1], "--print-interface")) {
		fputs(jf_iface_xml, stdout);
		return 0;
	}
	if (argc != 1) {
		bool help = !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h");

		fprintf(help ? stdout : stderr, "usage: jobfreeze-daemon [--print-interface | --check-interface]\n\n"
			"Serves %s on the session bus; started by D-Bus activation or by\n"
			"`jobfreeze daemon`. Settings: ~/.config/jobfreeze/config.\n\n"
			"  --print-interface  print the D-Bus interface (introspection XML)\n"
			"  --check-interface  check that every method of it has a handler\n"
			"  -h, --help         this help\n", JF_BUS_NAME);
		g_dbus_node_info_unref(node);
		return help ? 0 : 2;
	}
	config_load();
	notify_start();
	loop = g_main_loop_new(NULL, FALSE);
	guint owner = g_bus_own_name(G_BUS_TYPE_SESSION, JF_BUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
				     bus_acquired, name_acquired, name_lost, NULL, NULL);
	/* nothing asked yet: the idle clock runs from the start */
	idle_source = g_timeout_add_seconds(jf_config.idle_timeout, idle_exit, NULL);
	g_main_loop_run(loop);
	g_bus_unown_name(owner);
	g_main_loop_unref(loop);
	g_dbus_node_info_unref(node);
	return exit_code;
}
