/* sockopt.h: the options a program set on a socket (setsockopt), found by
 * comparing each with a new socket of the same kind, and set again. */
#pragma once
#include <stdbool.h>
#include "ckpt/image.h"

/* Records in F the options of socket S (the job's fd F->fd of process PID)
 * that differ from a new socket of its family, type and protocol; a
 * connected TCP socket's path MSS and window are the kernel's, not
 * options. Refuses (-1, said) an option an ordinary user may not set (a
 * mark, a transparent socket) or a filter that cannot be read back (eBPF). */
int sockopt_dump(int pid, int s, Fd *f, bool connected);

/* Sets on S the options of F: before its bind (SOCKOPT_BIND: address
 * reuse, IPv6-only, free bind...) or once it holds its data (the rest,
 * buffer sizes and locks last). -1 (said, naming the job's fd) on failure. */
enum sockopt_phase { SOCKOPT_BIND, SOCKOPT_FINAL };
int sockopt_restore(int s, const Fd *f, enum sockopt_phase phase);

/* The recorded int option LEVEL/NAME of F in *V; false if none recorded */
bool sockopt_int(const Fd *f, int level, int name, int *v);
