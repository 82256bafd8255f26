/* crashpoint.h: crash_point(PHASE) kills the calling process at a phase
 * boundary when JOBFREEZE_CRASH_AT names that phase: for the crash tests
 * only, compiled in with -DJF_CRASH_HOOKS (jobfreeze-crashtest). */
#pragma once

/* The phases, in the order a dump or a restore passes them. A new phase is
 * one name here and one crash_point() call; tests/t-crash.sh asks the
 * crashtest binary for this list (JOBFREEZE_CRASH_AT=list). */
#define CRASH_PHASES                                                        \
	"dump-seized", "dump-injecting", "dump-memory", "dump-writing", "dump-synced", "dump-kill", \
	"restore-memory", "restore-built", "restore-run",                   \
	"store-checked", "store-commit", "thaw-aside", "thaw-ready", "rm-locked", "rm-renamed"

#ifdef JF_CRASH_HOOKS
void crash_point(const char *phase);
#else
static inline void crash_point(const char *phase) { (void)phase; }
#endif
