/* passedfd.h: files in flight in a unix socket (SCM_RIGHTS sent, not yet
 * received). Each is recorded once per process whose socket holds it (its
 * in-flight list, Process.inflight), as an open file of its own: a regular
 * file, a device or a directory by path, a pipe, a socket, an eventfd,
 * signalfd or timerfd; the message refers to it by that process's pid and
 * its index there. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct dump_ctx;
struct pipe_list;
struct restore_ctx;

/* A queue record's length with QUEUED_WITH_FDS is followed, after its
 * bytes, by the fds it carries as paths (images of an earlier version);
 * with QUEUED_WITH_REFS, by references to in-flight files. */
#define QUEUED_WITH_FDS 0x80000000u
#define QUEUED_WITH_REFS 0x20000000u

/* ---- dump ---- */

/* inflight.c: before the job's sockets are looked at together, every file
 * in flight in the queues of the N processes' unix sockets (and in those
 * of the sockets in flight themselves) joins its holder's in-flight list. */
int passedfd_discover(struct dump_ctx *ctx, size_t n);
/* The fds a peek at MH received (closed here) as references into C's
 * in-flight list, in *OUT (malloc'd, *LEN bytes; none: *OUT NULL); -1
 * (said) for a kind that cannot travel in an image. WHERE names the
 * socket in messages. */
int passedfd_refs(struct dump_ctx *c, struct msghdr *mh, char **out, size_t *len, const char *where);
/* inflight.c: once the job's pipes are copied (OUT), those only in flight
 * are copied too; one that a process outside the job holds is refused. */
int passedfd_pipes(struct dump_ctx *ctx, size_t n, struct pipe_list *out);

/* Whether our fds A and B are the same open file (kcmp) */
bool passedfd_same(int a, int b);
/* Each fd a peek at MH received, through FN, which takes it over (a
 * failure closes the rest) */
int passedfd_each(struct msghdr *mh, int (*fn)(void *arg, int fd), void *arg);

/* ---- restore ---- */

/* inflight.c: the process's in-flight files opened in init (after its own
 * fds), closed once sent with their messages. */
int passedfd_prepare(struct restore_ctx *r);
void passedfd_close(struct restore_ctx *r);
/* The init fds the references at REFS (LEN bytes) name, among the N
 * processes; into FDS (253 at most), *NR of them. -1 if damaged. */
int passedfd_resolve(struct restore_ctx *procs, size_t n, const char *refs, size_t len,
		     int *fds, size_t *nr);
/* How many bytes the references at REFS take (at most AVAIL); 0 if damaged. */
size_t passedfd_refs_len(const char *refs, size_t avail);

/* Images of an earlier version: files described by path (QUEUED_WITH_FDS) */
int passedfd_send(int from, const struct sockaddr *to, socklen_t to_len, const char *data,
		  uint32_t len, const char *desc, size_t desc_len, size_t *used, const char *where);
size_t passedfd_desc_len(const char *desc, size_t avail);
/* Sends LEN bytes at DATA through FROM (to TO when given) with NR fds */
int passedfd_sendmsg(int from, const struct sockaddr *to, socklen_t to_len, const char *data,
		     uint32_t len, const int *fds, size_t nr, const char *where);
