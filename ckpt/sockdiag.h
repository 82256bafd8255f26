/* sockdiag.h: what the kernel tells about sockets through
 * NETLINK_SOCK_DIAG: one unix socket by inode (its peer, state, shutdown,
 * bound name and file, pending connections), and the TCP/UDP sockets of
 * this network namespace (to find a connection's other end, whoever
 * holds it); socket addresses as text. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

struct unix_diag_info {
	uint64_t ino, peer;           /* peer: 0 when not connected */
	uint32_t type, state;         /* SOCK_*, TCP_* as unix sockets use them */
	uint32_t shutdown;            /* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	uint32_t rqueue;              /* a listener: connections not accepted yet;
				       * others: bytes queued (a datagram socket: of
				       * its first message only) */
	uint32_t wqueue;              /* a listener: its backlog */
	char name[112];               /* bound address, "@..." when abstract, "" if none */
	bool has_vfs;                 /* bound to a file: its inode and device */
	uint32_t vfs_ino, vfs_dev;
	uint32_t *icons;              /* a listener: the client socket of each
				       * connection not accepted yet, in order (0:
				       * closed); malloc'd, unix_diag_free */
	size_t nr_icons;
};

struct sockaddr_storage;
/* "1.2.3.4:80", "[::1]:22", "/path", "@abstract" of an address of LEN bytes */
void sock_addr_str(const struct sockaddr_storage *ss, unsigned len, char *out, unsigned long size);

/* Fills *U for unix socket INO; -1 if the kernel does not know it
 * (reported unless QUIET: a socket closed meanwhile is no error). */
int unix_diag_get(uint64_t ino, struct unix_diag_info *u);
int unix_diag_get_quiet(uint64_t ino, struct unix_diag_info *u);
void unix_diag_free(struct unix_diag_info *u);

/* One TCP or UDP socket as the kernel lists it. Addresses are kept as
 * AF_INET6 (an IPv4 one mapped, ::ffff:a.b.c.d), so that the two ends of
 * a connection compare equal whatever family each socket has. */
struct inet_diag_info {
	uint32_t state;               /* TCP_* (UDP: TCP_ESTABLISHED when connected, else TCP_CLOSE) */
	uint64_t ino;                 /* 0: held by no file (an orphan closing, or a
				       * connection not accepted yet) */
	struct sockaddr_storage local, remote;
	uint32_t rqueue, wqueue;      /* a listener: accept queue and backlog */
	uint32_t shutdown;            /* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
};

/* Every socket of PROTO (IPPROTO_TCP, UDP, UDPLITE) of both families;
 * *OUT malloc'd, *N entries; -1 on failure (reported). */
int inet_diag_list(int proto, struct inet_diag_info **out, size_t *n);
/* A's address as AF_INET6 (mapped when it is IPv4), for comparing */
void sock_addr_v6(const struct sockaddr_storage *a, struct sockaddr_storage *v6);
/* Whether two addresses (any family) are the same address and port */
bool sock_addr_eq(const struct sockaddr_storage *a, const struct sockaddr_storage *b);
