/* holders.h: the open fds of processes outside the job, to find who else
 * holds one of its pipes or FIFOs. */
#pragma once
#include <stddef.h>
#include <sys/types.h>

/* FN is called with each fd (its /proc/PID/fd/FD path and link text) of
 * each process outside the job; a nonzero return stops the walk and is
 * returned. */
typedef int (*holder_fn)(void *arg, pid_t pid, const char *fd_path, const char *link);

/* Walks the fds of every process this user can see, but the N processes
 * of the job (JOB, as we see them) and this one. Processes of other users
 * are unreadable and cannot hold our pipes unless given one: they are
 * passed over. */
int holders_walk(const pid_t *job, size_t n, holder_fn fn, void *arg);
