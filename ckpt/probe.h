/* probe.h: the probes behind `jobfreeze check`. features.c runs them in the
 * order of its table, one small function per feature; they live next to
 * the probes they share a child with (probe_trace.c: one traced child;
 * probe_ns.c: one child in new namespaces) and use the helpers of
 * probe.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include "ckpt/features.h"

#define CHILD_TIMEOUT_MS 10000

/* One run of every probe: the report, and the children the probes share,
 * made by the first probe that needs them and ended by features.c. */
struct probe_env {
	struct feature_report *rep;
	struct probe_target *target;  /* probe_trace.c's traced child */
	int target_err;               /* why it could not be made, or 0 */
	struct ns_shared *ns;         /* what probe_ns.c's child found, once it ran */
};

/* One feature's probe: fills R (ok, detail), and raw values in env->rep. */
typedef void probe_fn(struct probe_env *env, struct feature_result *r);

/* probe_trace.c: tracing and memory, on one traced child */
probe_fn probe_ptrace, probe_rseq, probe_process_vm, probe_pidfd, probe_pagemap,
	 probe_pagemap_scan, probe_xstate;
void probe_trace_end(struct probe_env *env);
/* probe_ns.c: namespaces, in one child; the capability that spares them */
probe_fn probe_userns, probe_pidns, probe_timens, probe_cap;
void probe_ns_end(struct probe_env *env);

/* probe.c */
/* E's name (EPERM), "E?" if unknown */
const char *probe_errname(int e);
/* R's detail: set, or added to */
void probe_detail(struct feature_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void probe_add_detail(struct feature_result *r, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Reads a sysctl-like file holding one integer. 0, or -1 with errno
 * (ENOENT when the knob does not exist on this kernel). */
int probe_read_long(const char *path, long *out);
/* Writes S to the file at PATH; -1 with errno */
int probe_write_file(const char *path, const char *s);
/* Waits for our child pid (waitpid flags plus WNOHANG) for up to timeout_ms.
 * A child that is still there then is SIGKILLed and reaped. Returns 0 with
 * *status set, 1 when the child had to be killed, -1 on a waitpid error. */
int probe_wait_child(pid_t pid, int *status, int flags, int timeout_ms);
/* In a forked probe child: die with the parent (PARENT: its pid, or 0 when
 * not visible: PID 1 of a new pid namespace) */
void probe_child_guard(pid_t parent);
/* "exit 3", "killed by signal 9" */
const char *probe_exit_desc(int status, char *buf, size_t len);
