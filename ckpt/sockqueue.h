/* sockqueue.h: what waits in a socket's receive queue, copied without
 * taking it out (MSG_PEEK at an advancing SO_PEEK_OFF) into sock-INO.img,
 * one record per message (a datagram, or a run of a stream), with the
 * address it came from and the fds in flight with it; and queued again at
 * restore, each record through a sender the caller picks. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "ckpt/dump.h"
#include "ckpt/restore.h"

struct sock_msg {
	const char *data;
	uint32_t len;
	const struct sockaddr_storage *from;  /* who sent it, when it says (NULL: none) */
	socklen_t from_len;
	const char *fds;                      /* the fds in flight with it, by path (passedfd.h) */
	size_t fds_len;
	const char *refs;                     /* or as references to files in flight */
	size_t refs_len;
};

/* Called with each message's sender address (a named one) at dump: -1
 * (said) refuses it. */
typedef int (*sockq_from_fn)(void *arg, const struct sockaddr_storage *from, socklen_t len);

/* Copies the receive queue of S, the socket of F (fd F->fd of process
 * C->pid), into sock-INO.img, once per socket. WHAT names it in messages.
 * The copy is checked against the kernel's count (SIOCINQ) where the
 * kernel gives one. *BYTES: how much waits. */
int sockq_save(struct dump_ctx *c, int s, const Fd *f, const char *what, sockq_from_fn from,
	       void *arg, uint64_t *bytes);

/* Sends again each message saved for socket INO: SEND queues it (through
 * the sender it picks); -1 stops. */
typedef int (*sockq_send_fn)(void *arg, const struct sock_msg *m);
int sockq_refill(struct image_dir *dir, uint64_t ino, sockq_send_fn send, void *arg);

/* Sends M through FROM (to TO when given, LEN bytes of address), with its
 * fds opened again (by path), or the NR fds FDS; WHAT names the socket in
 * messages. */
int sockq_send(int from, const struct sockaddr *to, socklen_t to_len, const struct sock_msg *m,
	       const char *what);
int sockq_send_fds(int from, const struct sockaddr *to, socklen_t to_len, const struct sock_msg *m,
		   const int *fds, size_t nr, const char *what);
