/* owners.h: file owners and groups as the thawed job sees them. The user
 * namespace of a thaw maps only the user's own uid and gid; without this,
 * the kernel would show every other owner (root's files, a group's) as
 * 65534 to the thawed job, and its `tar`, `ls -l`, `find -user` or `id`
 * would give other results than before the freeze. */
#pragma once
#include <stdbool.h>
#include <sys/types.h>

/* The stat server: a process outside the namespaces, which stats the
 * objects the job's init hands it and reports the real ids. Started by
 * the restoring process before it makes the namespaces; it lives, detached
 * from the caller, as long as its end of *SOCK (for init) is open.
 * Returns 0, or -1 (the thaw goes on without it: ids as the kernel shows). */
int owners_server_start(int *sock);

/* In a top process of the job, made by init, before it execs its program
 * (while it still has every capability in the new user namespace): the
 * seccomp filter that hands the job's stat and getgroups calls to init,
 * whose listener is sent through CTL. The processes the job forks, at
 * restore and later, inherit it. Returns -1 (reported) on failure. */
int owners_filter_install(int ctl);

/* In init, once the job runs: serves the calls the filters of the job's
 * processes hand over (their listeners arrive on CTL), through the server
 * at SERVER. Calls WAIT_CHILDREN whenever a child of init changed state,
 * and returns when it says the job is over (nonzero). */
void owners_serve(int ctl, int server, int (*wait_children)(void *arg), void *arg);

/* Whether process PID (as we see it) runs in the namespaces of a thaw by
 * jobfreeze and has exactly the one seccomp filter a thaw gives: then it
 * is ours, not the job's, and a new thaw gives it again. */
bool owners_filter_is_ours(pid_t pid, int nr_filters);
