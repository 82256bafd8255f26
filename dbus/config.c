/* config.c: the user's settings for the service, key=value lines in
 * $XDG_CONFIG_HOME/jobfreeze/config (terminal, allow-sandboxed, idle-timeout). */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "dbus/daemon.h"

struct jf_config jf_config = { NULL, FALSE, 60 };

static void set_key(const char *path, int line, const char *key, const char *val)
{
	if (!strcmp(key, "terminal")) {
		GError *err = NULL;
		char **argv = NULL;
		if (!g_shell_parse_argv(val, NULL, &argv, &err)) {
			jf_log("%s:%d: terminal: %s; using the default terminal", path, line, err->message);
			g_error_free(err);
			return;
		}
		g_strfreev(jf_config.terminal);
		jf_config.terminal = argv;
	} else if (!strcmp(key, "allow-sandboxed")) {
		if (!strcmp(val, "true"))
			jf_config.allow_sandboxed = TRUE;
		else if (!strcmp(val, "false"))
			jf_config.allow_sandboxed = FALSE;
		else
			jf_log("%s:%d: allow-sandboxed takes true or false, not '%s'", path, line, val);
	} else if (!strcmp(key, "idle-timeout")) {
		char *end;
		unsigned long v;
		errno = 0;
		v = strtoul(val, &end, 10);
		if (errno || end == val || *end || v == 0 || v > 86400)
			jf_log("%s:%d: idle-timeout takes seconds (1-86400), not '%s'", path, line, val);
		else
			jf_config.idle_timeout = v;
	} else {
		jf_log("%s:%d: unknown setting '%s' ignored", path, line, key);
	}
}

void config_load(void)
{
	char *path = g_build_filename(g_get_user_config_dir(), "jobfreeze", "config", NULL);
	char *text = NULL;
	GError *err = NULL;

	if (!g_file_get_contents(path, &text, NULL, &err)) {
		/* no config file is the normal case: defaults */
		if (!g_error_matches(err, G_FILE_ERROR, G_FILE_ERROR_NOENT))
			jf_log("cannot read %s: %s; using the defaults", path, err->message);
		g_error_free(err);
		g_free(path);
		return;
	}
	char **lines = g_strsplit(text, "\n", -1);
	for (int i = 0; lines[i]; i++) {
		char *l = g_strstrip(lines[i]);
		if (!*l || *l == '#')
			continue;
		char *eq = strchr(l, '=');
		if (!eq) {
			jf_log("%s:%d: not key=value, ignored", path, i + 1);
			continue;
		}
		*eq = '\0';
		set_key(path, i + 1, g_strstrip(l), g_strstrip(eq + 1));
	}
	g_strfreev(lines);
	g_free(text);
	g_free(path);
}
