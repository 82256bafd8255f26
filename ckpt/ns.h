/* ns.h: the namespaces a thaw creates without privileges: a user namespace
 * mapping the user to themselves, and pid, time and mount namespaces in it. */
#pragma once
#include <stdint.h>
#include <sys/types.h>

/* Moves the caller into a new user namespace where it has the capabilities
 * the other namespaces need, keeping its uid and gid. */
int ns_enter_user(void);
/* Children of the caller will live in a new pid namespace and in a time
 * namespace whose clocks read MONO and BOOT now. */
int ns_unshare_job(int64_t mono, int64_t boot);
/* In the new pid namespace's init: a mount namespace of its own with a
 * /proc that shows the job's pids. */
int ns_mount_proc(void);
/* Then, for a job with ptys of its own: a new devpts instance on /dev/pts. */
int ns_mount_devpts(void);
/* The next process or thread made in the caller's pid namespace gets
 * PID (nothing else may fork there meanwhile). */
int ns_set_next_pid(pid_t pid);
/* fork() that gives the child PID in the caller's pid namespace. */
pid_t clone_with_pid(pid_t pid);
