/* notify.c: desktop notifications (libnotify) for frozen, thawed and failed
 * jobs; "Frozen: ..." offers a Resume button that thaws it in a terminal.
 * Without a notification server nothing is shown and nothing fails. */
#include <libnotify/notify.h>
#include "dbus/daemon.h"

static gboolean ready;

void notify_start(void)
{
	ready = notify_init("jobfreeze");
	if (!ready)
		jf_log("libnotify did not start: no desktop notifications");
}

static gboolean show(NotifyNotification *n)
{
	GError *err = NULL;

	/* no server (a headless session) is normal: just log it */
	if (!notify_notification_show(n, &err)) {
		jf_log("no notification shown: %s", err->message);
		g_error_free(err);
		return FALSE;
	}
	return TRUE;
}

static void simple(const char *summary, const char *body, const char *icon)
{
	if (!ready)
		return;
	NotifyNotification *n = notify_notification_new(summary, body, icon);
	show(n);
	g_object_unref(n);
}

static void resume(NotifyNotification *n, char *action, gpointer data)
{
	const char *id = data;
	jf_log("Resume of job %s from its notification", id);
	thaw_job(id, NULL, NULL, "the notification's Resume button");
}

/* A Resume button works only while the service runs: a "Frozen" notice
 * keeps it from its idle exit until the notice is closed, or for
 * RESUME_HOLD_S at most (some servers keep notices for ever). */
#define RESUME_HOLD_S 600

struct notice {
	guint cap;		/* 0 once the service is no longer held */
};

static gboolean cap_reached(gpointer data)
{
	struct notice *nt = data;
	nt->cap = 0;
	daemon_release();
	return G_SOURCE_REMOVE;
}

static void closed(NotifyNotification *n, gpointer data)
{
	struct notice *nt = data;
	if (nt->cap) {
		g_source_remove(nt->cap);
		daemon_release();
	}
	g_free(nt);
	g_object_unref(n);
}

void notify_frozen(GVariant *info)
{
	const char *id = "", *command = "";
	gint64 bytes = 0;

	if (!ready)
		return;
	g_variant_lookup(info, "id", "&s", &id);
	g_variant_lookup(info, "command", "&s", &command);
	g_variant_lookup(info, "image_bytes", "x", &bytes);
	char *summary = g_strdup_printf("Frozen: %s (%" G_GINT64_FORMAT " MiB on disk)",
					command, (bytes + (1 << 20) - 1) >> 20);
	char *body = g_strdup_printf("Job %s is saved to disk; Resume thaws it in a terminal.", id);
	NotifyNotification *n = notify_notification_new(summary, body, "media-playback-pause");
	notify_notification_add_action(n, "resume", "Resume", resume, g_strdup(id), g_free);
	if (!show(n)) {
		g_object_unref(n);
	} else {
		struct notice *nt = g_new0(struct notice, 1);
		daemon_hold();
		nt->cap = g_timeout_add_seconds(RESUME_HOLD_S, cap_reached, nt);
		g_signal_connect(n, "closed", G_CALLBACK(closed), nt);
	}
	g_free(summary);
	g_free(body);
}

void notify_thawed(const char *what)
{
	char *summary = g_strdup_printf("Thawed: %s", what);
	simple(summary, NULL, "media-playback-start");
	g_free(summary);
}

void notify_failed(const char *id, const char *op, const char *msg)
{
	char *summary = *id ? g_strdup_printf("Could not %s job %s", op, id)
			    : g_strdup_printf("Could not %s", op);
	simple(summary, msg, "dialog-error");
	g_free(summary);
}
