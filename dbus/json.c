/* json.c: turns the CLI's --json output (an array of metadata objects)
 * into the aa{sv} the D-Bus API hands out. */
#include <json-glib/json-glib.h>
#include "dbus/daemon.h"

GVariant *json_to_jobs(const char *text, GError **error)
{
	/* json-glib maps JSON numbers to x, booleans to b, strings to s */
	GVariant *v = json_gvariant_deserialize_data(text, -1, "aa{sv}", error);
	return v ? g_variant_ref_sink(v) : NULL;
}

/* `jobfreeze show --json` prints one object; accept a one-element array too. */
GVariant *json_to_job(const char *text, GError **error)
{
	const char *p = text;
	while (g_ascii_isspace(*p))
		p++;
	if (*p != '[') {
		GVariant *v = json_gvariant_deserialize_data(p, -1, "a{sv}", error);
		return v ? g_variant_ref_sink(v) : NULL;
	}
	GVariant *jobs = json_to_jobs(p, error), *job = NULL;
	if (!jobs)
		return NULL;
	if (g_variant_n_children(jobs) == 1)
		job = g_variant_get_child_value(jobs, 0);
	else
		g_set_error(error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
			    "%zu jobs where one was expected", g_variant_n_children(jobs));
	g_variant_unref(jobs);
	return job;
}

GVariant *cli_json(struct cli_result *r, const char *what, gboolean one)
{
	GError *err = NULL;
	GVariant *v;

	if (r->status != 0)
		return NULL;
	v = one ? json_to_job(r->out, &err) : json_to_jobs(r->out, &err);
	if (!v) {
		r->status = 1;
		g_free(r->err);
		r->err = g_strdup_printf("jobfreeze %s --json printed what is not metadata: %s",
					 what, err->message);
		g_error_free(err);
	}
	return v;
}
