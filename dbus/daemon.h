/* daemon.h: the pieces of jobfreeze-daemon, the D-Bus service that freezes
 * and thaws jobs for the desktop through the jobfreeze CLI. */
#pragma once
#include <gio/gio.h>

#define JF_BUS_NAME  "org.jobfreeze.JobFreeze1"
#define JF_OBJ_PATH  "/org/jobfreeze/JobFreeze1"
#define JF_IFACE     "org.jobfreeze.JobFreeze1"
#define JF_ERROR     "org.jobfreeze.JobFreeze1.Error."

/* config.c: $XDG_CONFIG_HOME/jobfreeze/config, read once at start. */
struct jf_config {
	char **terminal;	/* argv prefix that opens a terminal, or NULL */
	gboolean allow_sandboxed;
	guint idle_timeout;	/* seconds without work before exiting */
};
extern struct jf_config jf_config;
void config_load(void);

/* main.c: the connection, and the idle exit. Every operation in flight
 * holds the service; the idle timer runs only when nothing does. */
extern GDBusConnection *jf_bus;
void daemon_hold(void);
void daemon_release(void);
/* Logs one line to stderr (the journal under systemd). */
void jf_log(const char *fmt, ...) G_GNUC_PRINTF(1, 2);

/* run.c: the jobfreeze CLI, run asynchronously. status is the exit code,
 * or -1 when it could not run or died by a signal (err says why). */
struct cli_result {
	int status;
	char *out;
	char *err;
};
typedef void (*cli_done_fn)(struct cli_result *r, gpointer data);
const char *cli_path(void);
void cli_run(const char *const *args, cli_done_fn done, gpointer data);
/* The message of a failed run: the CLI's "error:" line, else its first. */
char *cli_message(const struct cli_result *r);
/* The D-Bus error name for a CLI exit code (contract: 1..5). */
const char *cli_error_name(int status);

/* json.c: the CLI's JSON metadata as a{sv} / aa{sv}. */
GVariant *json_to_jobs(const char *text, GError **error);
GVariant *json_to_job(const char *text, GError **error);
/* The --json output of a successful run R of WHAT as aa{sv} (ONE: a{sv});
 * output that is not metadata turns R into a failure saying so. */
GVariant *cli_json(struct cli_result *r, const char *what, gboolean one);

/* caller.c: who is calling, and may they. */
struct caller {
	char *sender;
	guint32 uid;
	guint32 pid;		/* 0 when the bus did not say */
	gboolean sandboxed;
};
typedef void (*caller_fn)(struct caller *c, GDBusMethodInvocation *inv);
void caller_check(GDBusMethodInvocation *inv, caller_fn next);
void caller_free(struct caller *c);
/* 0 if PID exists and every uid of it is UID; else sets the D-Bus error. */
int pid_owned_by(guint32 pid, guint32 uid, const char **err_name, char **msg);
/* A job ID or name we hand to the CLI: letters, digits, _ . - @ only
 * (ID@N: snapshot N of an autosave). */
gboolean valid_job_ref(const char *s);

/* ops.c: Freeze, List, Remove; thaw.c: Thaw. */
void op_freeze(struct caller *c, GDBusMethodInvocation *inv);
void op_list(struct caller *c, GDBusMethodInvocation *inv);
void op_remove(struct caller *c, GDBusMethodInvocation *inv);
void op_thaw(struct caller *c, GDBusMethodInvocation *inv);
/* Thaws ID in a terminal (TERMINAL NULL: the default one) on behalf of a
 * notification's Resume button; INV NULL when nobody waits for a reply. */
void thaw_job(const char *id, char **terminal, GDBusMethodInvocation *inv, const char *who);
void emit_failed(const char *id, const char *op, const char *msg);
/* Progress(operation, target, stage): a long operation under way, before
 * the JobFrozen/JobThawed/JobFailed that ends it. */
void emit_progress(const char *operation, const char *target, const char *stage);
/* Whether a CLI failure is the operation's (signalled) or the caller's. */
gboolean failure_is_operational(int status);

/* notify.c: desktop notifications; silent when there is no server. */
void notify_start(void);
void notify_frozen(GVariant *info);
void notify_thawed(const char *id);
void notify_failed(const char *id, const char *op, const char *msg);
