/* features.h: probes of the kernel features the engine relies on (ptrace,
 * namespaces, rseq, pidfd, pagemap, xstate, capabilities), shared by `check`.
 * Which features, in which order: the table in features.c. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What a feature is needed for; 0 for an optional one. */
enum feature_use {
	FEATURE_FREEZE = 1 << 0,
	FEATURE_THAW   = 1 << 1,
};

struct feature_result {
	const char *name;	/* short stable name, e.g. "ptrace", "userns" */
	bool ok;		/* the probe worked as the engine needs it */
	bool required;		/* a freeze or a thaw cannot work without it */
	unsigned needed_for;	/* FEATURE_FREEZE | FEATURE_THAW; 0 if optional */
	char detail[256];	/* what the probe saw, or why it failed */
	const char *cost;	/* what is lost when the feature is missing */
};

/* Room for this many features (features.c checks its table fits). */
#define FEATURE_MAX 32

struct feature_report {
	char kernel[65];	/* uname release */
	char machine[65];	/* uname machine */
	struct feature_result f[FEATURE_MAX];	/* in the order of features.c's table */
	size_t n;		/* how many */
	bool freeze_ok;		/* every feature a freeze needs is ok */
	bool thaw_ok;		/* every feature a thaw needs is ok */

	/* Raw values, for the engine's own use. */
	int yama_scope;		/* -1 when Yama is not present */
	bool ptrace_non_child;	/* a non-descendant could be seized too */
	uint32_t xstate_ptrace;	/* NT_X86_XSTATE size from PTRACE_GETREGSET, 0 if unknown */
	uint32_t xstate_cpuid;	/* CPUID 0xd.0 EBX: size for the features in XCR0 */
	uint32_t xstate_cpuid_max; /* CPUID 0xd.0 ECX: size for every supported feature */
	uint64_t xcr0;		/* XGETBV(0), 0 if unknown */
	bool has_cap_cr;	/* CAP_CHECKPOINT_RESTORE (or CAP_SYS_ADMIN) effective */
};

/* Runs every probe. Children forked by the probes are all reaped before it
 * returns; the caller's SIGCHLD disposition is left as it was. Returns 0,
 * or -1 if the report could not be produced at all (errno set). */
int features_probe_all(struct feature_report *rep);

/* Looks a result up by name; NULL when unknown. */
const struct feature_result *features_find(const struct feature_report *rep,
					   const char *name);
