/* socks.h: what the socket files (socks.c, unixsk.c, inetsk.c, tcpsk.c)
 * share. At dump, the sockets of the whole job, one entry per socket; at
 * restore, the table of the job's sockets, all made before any process's
 * fds are opened, filled and configured once they all exist. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>
#include "ckpt/dump.h"
#include "ckpt/restore.h"

struct sock_msg;

/* ---- dump: the job's sockets -------------------------------------------- */

struct sk_ref {
	struct dump_ctx *c;               /* the first process holding it */
	Fd *f;                            /* its first fd there */
	int held;                         /* in flight: our copy of it (else -1) */
};

/* A copy of the socket (pidfd_getfd of the job's fd, or of ours) */
int sk_grab(const struct sk_ref *r);

struct sk_index {
	struct sk_ref *r;
	size_t n;
};

/* One entry per socket of the job (fds of the same socket share it). */
void sk_index_build(struct dump_ctx *ctx, size_t n, struct sk_index *ix);
void sk_index_free(struct sk_index *ix);
struct sk_ref *sk_index_find(const struct sk_index *ix, uint64_t ino);

/* unixsk.c: the unix socket S of fd F; inetsk.c (dump.h): TCP and UDP */
int unixsk_dump(struct dump_ctx *c, int s, Fd *f, uint64_t ino);
/* unixsk.c: unix sockets against the rest of the job (peers, listeners,
 * what was sent from where), and their queues */
int unixsk_dump_job(const struct sk_index *ix);
/* inetsk.c: UDP queues; tcpsk.c: TCP connections inside the job */
int inetsk_dump_job(const struct sk_index *ix);
int tcpsk_dump_job(const struct sk_index *ix);
/* tcpsk.c: before the job is killed: its connections end with a reset,
 * leaving no TIME_WAIT that would hold their ports at the thaw */
void tcpsk_abort(const struct sk_index *ix);

/* ---- restore: the job's sockets ----------------------------------------- */

struct job_sock *sock_find(struct sock_table *t, uint64_t ino);
/* F's socket (by its inode; in images from before they were recorded, a
 * TCP or UDP socket by its record) */
struct job_sock *sock_find_fd(struct sock_table *t, const Fd *f);
/* Makes the unix sockets, then the TCP and UDP ones, of the table */
int unixsk_build(struct sock_table *t);
int inetsk_build(struct sock_table *t);
/* Their queues filled again, then options and shutdown */
int unixsk_refill(struct sock_table *t, struct image_dir *dir);
int inetsk_refill(struct sock_table *t, struct image_dir *dir);
int sock_configure(struct job_sock *js);
int unixsk_configure(struct job_sock *js);
int inetsk_configure(struct job_sock *js);
/* tcpsk.c: the connections of the job, made between sockets of the table;
 * or, with restore --tcp-close, each made a closed socket */
int tcpsk_build(struct sock_table *t, struct image_dir *dir);
int tcpsk_close_all(struct sock_table *t);
int tcpsk_refill(struct sock_table *t, struct image_dir *dir);

/* An image's address as text ("1.2.3.4:80", "/path"...) */
void sock_bin_str(const ProtobufCBinaryData *b, char *out, size_t size);
/* Stores LEN bytes at P as B (and says so in *HAS) */
void sock_set_bytes(ProtobufCBinaryData *b, protobuf_c_boolean *has, const void *p, size_t len);
/* An IPv4 or IPv6 address: any (0.0.0.0, ::), and its port (network order) */
bool sock_wildcard(const struct sockaddr_storage *a);
/* A as an address of FAMILY (IPv4 as mapped IPv6, or back) into *OUT; its
 * length, 0 if it has none there */
socklen_t sock_addr_as(int family, const struct sockaddr_storage *a, struct sockaddr_storage *out);
uint16_t sock_port(const struct sockaddr_storage *a);

/* The queues of the sockets WHICH picks, filled again: SEND (sockqueue.h)
 * gets a struct sock_refill for each message; LABEL names the kind. */
struct sock_refill {
	struct sock_table *t;
	struct job_sock *to;
	char what[64];
};
int sock_refill_all(struct sock_table *t, struct image_dir *dir, bool (*which)(const Fd *f),
		    int (*send)(void *arg, const struct sock_msg *m), const char *label);

/* A new socket for F (its family, type, protocol), cloexec, with the
 * options that must be set before it is bound */
int sock_new(const Fd *f);
/* inetsk.c: S bound at F's address (sharing the port while the job is
 * built), or -1 naming the address another program took */
int inet_bind(int s, const Fd *f);
/* tcpsk.c: a TCP socket's options and shutdown, as its end had them */
int tcpsk_configure(struct job_sock *js);
/* F's address of LEN bytes into SS; -1 (said) if damaged */
int sock_addr_of(const ProtobufCBinaryData *a, const Fd *f, struct sockaddr_storage *ss,
		 socklen_t *len);
