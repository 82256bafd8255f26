/* sockdiag.h: what the kernel tells about one unix socket through
 * NETLINK_SOCK_DIAG (its peer, state, shutdown, bound name), by inode. */
#pragma once
#include <stdbool.h>
#include <stdint.h>

struct unix_diag_info {
	uint64_t ino, peer;           /* peer: 0 when not connected */
	uint32_t type, state;         /* SOCK_*, TCP_* as unix sockets use them */
	uint32_t shutdown;            /* RCV_SHUTDOWN 1 | SEND_SHUTDOWN 2 */
	uint32_t rqueue;              /* a listener: connections not accepted yet;
				       * others: bytes queued (a datagram socket: of
				       * its first message only) */
	char name[112];               /* bound address, "@..." when abstract, "" if none */
};

struct sockaddr_storage;
/* "1.2.3.4:80", "[::1]:22", "/path", "@abstract" of an address of LEN bytes */
void sock_addr_str(const struct sockaddr_storage *ss, unsigned len, char *out, unsigned long size);

/* Fills *U for unix socket INO; -1 (reported) if the kernel does not know it. */
int unix_diag_get(uint64_t ino, struct unix_diag_info *u);
