/* hardening.c: Yama's ptrace scope and AppArmor's user namespace restriction,
 * and what to tell the user about them. The texts live here, once, so that
 * `jobfreeze check` and the errors of a freeze or a thaw say the same. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/hardening.h"
#include "ckpt/util.h"

/* A number in a /proc/sys file, or -1 when it cannot be read. */
static int sysctl_int(const char *path)
{
	char *text = read_file(path, NULL);
	int v;

	if (!text)
		return -1;
	text[strcspn(text, "\n")] = '\0';
	if (parse_int(text, &v) < 0)
		v = -1;
	free(text);
	return v;
}

int hardening_yama_scope(void)
{
	return sysctl_int("/proc/sys/kernel/yama/ptrace_scope");
}

int hardening_aa_userns(void)
{
	return sysctl_int("/proc/sys/kernel/apparmor_restrict_unprivileged_userns");
}

char *hardening_aa_label(void)
{
	/* The AppArmor-only file of newer kernels, else the LSM-shared one
	 * (which holds another LSM's label when AppArmor is not the one). */
	static const char *const files[] = { "/proc/self/attr/apparmor/current",
					     "/proc/self/attr/current" };

	if (access("/sys/kernel/security/apparmor", F_OK) < 0 &&
	    access("/sys/module/apparmor", F_OK) < 0)
		return NULL;
	for (size_t i = 0; i < ARRAY_SIZE(files); i++) {
		char *text = read_file(files[i], NULL);
		if (!text)
			continue;
		text[strcspn(text, "\n")] = '\0';
		if (*text)
			return text;
		free(text);
	}
	return NULL;
}

bool hardening_aa_has_profile(const char *label)
{
	return label && *label && strcmp(label, "unconfined");
}

/* The user's way out of Yama, the same for scopes 1 and 2. */
#define YAMA_OPTIONS \
	"\n  Your options: freeze it as root, into your own job store:" \
	"\n    sudo jobfreeze freeze --allow-other-user PID" \
	"\n  or let your processes trace each other, until the next boot:" \
	"\n    sudo sysctl kernel.yama.ptrace_scope=0" \
	"\n  and for good:" \
	"\n    echo kernel.yama.ptrace_scope=0 | sudo tee /etc/sysctl.d/60-jobfreeze-ptrace.conf" \
	"\n  Scope 0 (most distributions' default) lets any program of yours read and" \
	"\n  change the memory of your other programs (a compromised one could read" \
	"\n  the keys of your ssh-agent): the scope you have guards against that."

char *hardening_yama_advice(int scope)
{
	switch (scope) {
	case 1:
		return xstrdup("kernel.yama.ptrace_scope is 1: a process may be traced only by its\n"
			       "  ancestors, so jobfreeze cannot freeze a job your shell started (it\n"
			       "  can freeze jobs it thawed: they are in a user namespace of yours)."
			       YAMA_OPTIONS);
	case 2:
		return xstrdup("kernel.yama.ptrace_scope is 2: only a process with CAP_SYS_PTRACE may\n"
			       "  trace another, so only root can freeze a job (except jobs that\n"
			       "  jobfreeze thawed: they are in a user namespace of yours)."
			       YAMA_OPTIONS);
	case 3:
		return xstrdup("kernel.yama.ptrace_scope is 3: no process may trace another, root's\n"
			       "  neither, until the next boot: no job can be frozen. Remove the line\n"
			       "  that sets it (grep -r ptrace_scope /etc/sysctl.d /usr/lib/sysctl.d\n"
			       "  /etc/sysctl.conf) and reboot.");
	default:
		return NULL;
	}
}

/* Where the profile of the program at EXE is installed: the package's
 * /usr/bin/jobfreeze has the short name Ubuntu gives such profiles, any
 * other path (make install's PREFIX) AppArmor's classic name, the path
 * with dots, so that the two never overwrite each other. */
char *hardening_aa_profile_file(const char *exe)
{
	char *name, *p;

	if (!strcmp(exe, "/usr/bin/jobfreeze"))
		return xstrdup("/etc/apparmor.d/jobfreeze");
	name = xasprintf("/etc/apparmor.d/%s", exe + (*exe == '/'));
	for (p = name + strlen("/etc/apparmor.d/"); *p; p++)
		if (*p == '/')
			*p = '.';
	return name;
}

char *hardening_aa_advice(int restricted, const char *label)
{
	char exe[4096], *file, *text;
	ssize_t n;

	if (restricted != 1 || hardening_aa_has_profile(label))
		return NULL;
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		n = snprintf(exe, sizeof(exe), "/usr/bin/jobfreeze");
	exe[n] = '\0';
	file = hardening_aa_profile_file(exe);
	text = xasprintf("kernel.apparmor_restrict_unprivileged_userns is 1: only a program whose\n"
			 "  AppArmor profile allows it may create the user namespace a thaw needs,\n"
			 "  and %s runs without one (unconfined).\n"
			 "  Your options: load its profile, %s\n"
			 "  (%s), with\n"
			 "    sudo apparmor_parser -r %s\n"
			 "  or lift the restriction for every program, until the next boot:\n"
			 "    sudo sysctl kernel.apparmor_restrict_unprivileged_userns=0",
			 exe, file,
			 access(file, F_OK) == 0 ? "installed, not loaded" :
			 "missing: the package and 'make install' put it there for the\n"
			 "  path they install jobfreeze to",
			 file);
	free(file);
	return text;
}
