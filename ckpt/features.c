/* features.c: what `jobfreeze check` tests, one entry per kernel feature
 * the engine relies on: its name, what needs it, what its absence costs,
 * and the probe that tests it live (probe_trace.c, probe_ns.c; children
 * all reaped). The table's order is the report's. Adding a feature: a
 * probe function (probe.h) and one line here. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>
#include "ckpt/features.h"
#include "ckpt/log.h"
#include "ckpt/probe.h"
#include "ckpt/util.h"

static const struct probe {
	const char *name;
	unsigned needed_for;
	const char *cost;
	probe_fn *run;
} probes[] = {
	{ "ptrace", FEATURE_FREEZE | FEATURE_THAW,
	  "no freeze, no thaw: jobs cannot be stopped, read or rebuilt", probe_ptrace },
	{ "userns", FEATURE_THAW,
	  "no thaw: exact PIDs need a user+pid namespace (or CAP_CHECKPOINT_RESTORE)",
	  probe_userns },
	{ "pidns-set-tid", FEATURE_THAW,
	  "no thaw: the job's PIDs and TIDs cannot be given back", probe_pidns },
	{ "timens", FEATURE_THAW,
	  "no thaw: CLOCK_MONOTONIC/BOOTTIME would jump for the job", probe_timens },
	{ "rseq", FEATURE_FREEZE,
	  "no freeze: the job's rseq registration cannot be read", probe_rseq },
	{ "process-vm", FEATURE_FREEZE | FEATURE_THAW,
	  "no freeze, no thaw: memory cannot be copied in bulk", probe_process_vm },
	{ "pidfd-getfd", FEATURE_FREEZE | FEATURE_THAW,
	  "no freeze, no thaw: open files cannot be taken from or given to the job",
	  probe_pidfd },
	{ "pagemap", FEATURE_FREEZE,
	  "no freeze: which pages exist cannot be known", probe_pagemap },
	{ "pagemap-scan", 0,
	  "slower dumps: pagemap is read instead", probe_pagemap_scan },
	{ "xstate", FEATURE_FREEZE | FEATURE_THAW,
	  "no freeze, no thaw: FPU/SSE/AVX registers cannot be saved", probe_xstate },
	{ "cap-checkpoint-restore", 0,
	  "thaws always need a new user+pid namespace, never the current ones", probe_cap },
};

int features_probe_all(struct feature_report *rep)
{
	struct probe_env env = { .rep = rep };
	struct sigaction old_chld, dfl;
	bool chld_changed = false;
	struct utsname u;

	_Static_assert(ARRAY_SIZE(probes) <= FEATURE_MAX, "raise FEATURE_MAX");
	memset(rep, 0, sizeof(*rep));
	rep->yama_scope = -1;
	rep->n = ARRAY_SIZE(probes);
	for (size_t i = 0; i < rep->n; i++) {
		rep->f[i].name = probes[i].name;
		rep->f[i].needed_for = probes[i].needed_for;
		rep->f[i].required = probes[i].needed_for != 0;
		rep->f[i].cost = probes[i].cost;
	}
	if (uname(&u) < 0) {
		pr_perror("features: uname");
		return -1;
	}
	snprintf(rep->kernel, sizeof(rep->kernel), "%s", u.release);
	snprintf(rep->machine, sizeof(rep->machine), "%s", u.machine);

	/* With SIGCHLD ignored, children are reaped by the kernel and
	 * waitpid() fails: undo that while the probes run. */
	if (sigaction(SIGCHLD, NULL, &old_chld) < 0) {
		pr_perror("features: sigaction(SIGCHLD)");
		return -1;
	}
	if (old_chld.sa_handler == SIG_IGN || (old_chld.sa_flags & SA_NOCLDWAIT)) {
		memset(&dfl, 0, sizeof(dfl));
		dfl.sa_handler = SIG_DFL;
		if (sigemptyset(&dfl.sa_mask) < 0 || sigaction(SIGCHLD, &dfl, NULL) < 0) {
			pr_perror("features: sigaction(SIGCHLD)");
			return -1;
		}
		chld_changed = true;
	}

	/* (the probes' shared children are made as the first needs them) */
	for (size_t i = 0; i < rep->n; i++)
		probes[i].run(&env, &rep->f[i]);
	probe_trace_end(&env);
	probe_ns_end(&env);

	if (chld_changed && sigaction(SIGCHLD, &old_chld, NULL) < 0)
		pr_perror("features: sigaction(SIGCHLD)");

	rep->freeze_ok = rep->thaw_ok = true;
	for (size_t i = 0; i < rep->n; i++) {
		if (rep->f[i].ok)
			continue;
		if (rep->f[i].needed_for & FEATURE_FREEZE)
			rep->freeze_ok = false;
		if (rep->f[i].needed_for & FEATURE_THAW)
			rep->thaw_ok = false;
	}
	return 0;
}

const struct feature_result *features_find(const struct feature_report *rep,
					   const char *name)
{
	for (size_t i = 0; i < rep->n; i++)
		if (rep->f[i].name && !strcmp(rep->f[i].name, name))
			return &rep->f[i];
	return NULL;
}
