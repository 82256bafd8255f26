/* passedfd.h: file descriptors in flight in a unix socket (SCM_RIGHTS
 * sent, not yet received): regular files and character devices, saved
 * with the message that carries them and sent along with it again. */
#pragma once
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* A queue record's length with this bit set is followed, after its bytes,
 * by the fds it carries (passedfd_describe's format). */
#define QUEUED_WITH_FDS 0x80000000u

/* The fds a peek at MH received (closed here), described into *OUT
 * (malloc'd, *LEN bytes; none: *OUT NULL). -1 after saying why for a kind
 * that cannot travel in an image (a pipe, a socket...). WHERE names the
 * socket in messages. */
int passedfd_describe(struct msghdr *mh, char **out, size_t *len, const char *where);
/* Sends the LEN bytes at DATA through FROM (to TO when given), with the
 * fds DESC describes (opened again); *USED: the bytes of DESC they took. */
int passedfd_send(int from, const struct sockaddr *to, socklen_t to_len, const char *data,
		  uint32_t len, const char *desc, size_t desc_len, size_t *used, const char *where);
/* How many bytes the description at DESC takes (at most AVAIL); 0 if damaged. */
size_t passedfd_desc_len(const char *desc, size_t avail);
