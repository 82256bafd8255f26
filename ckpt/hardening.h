/* hardening.h: the settings of hardened systems that stop an ordinary
 * user's freeze or thaw (Yama's kernel.yama.ptrace_scope, AppArmor's
 * kernel.apparmor_restrict_unprivileged_userns), read from /proc/sys, and
 * what the user can do about each: said by `check` and by the errors. */
#pragma once
#include <stdbool.h>

/* kernel.yama.ptrace_scope (0-3), or -1 when Yama is not there. */
int hardening_yama_scope(void);
/* kernel.apparmor_restrict_unprivileged_userns (0 or 1), or -1 when this
 * kernel has no such setting. */
int hardening_aa_userns(void);
/* The AppArmor label this process runs under ("unconfined", "jobfreeze
 * (unconfined)"), a new string; NULL when AppArmor is not there. */
char *hardening_aa_label(void);
/* True when LABEL is a profile of its own, not plain "unconfined". */
bool hardening_aa_has_profile(const char *label);

/* The file of the AppArmor profile for the jobfreeze at EXE (a new
 * string): /etc/apparmor.d/jobfreeze for /usr/bin/jobfreeze, the path
 * with dots (usr.local.bin.jobfreeze) for any other. */
char *hardening_aa_profile_file(const char *exe);

/* What Yama scope SCOPE means for jobfreeze and the user's options: a new
 * multi-line text (continuation lines start with two spaces), NULL when
 * SCOPE stops nothing (0 or no Yama). */
char *hardening_yama_advice(int scope);
/* The same for AppArmor's restriction of user namespaces, for this
 * process (running under LABEL): NULL when the restriction is off or the
 * profile lets this program create user namespaces. */
char *hardening_aa_advice(int restricted, const char *label);
