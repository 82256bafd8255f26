/* util.h: small helpers shared by the engine: cleanup attributes, checked
 * allocation, whole-file reads and writes, number parsing. */
#pragma once
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))
#define PAGE_SIZE_X86 4096UL

static inline void freep(void *p) { free(*(void **)p); }
static inline void closep(int *fd) { if (*fd >= 0) close(*fd); }
#define _cleanup_free_  __attribute__((cleanup(freep)))
#define _cleanup_close_ __attribute__((cleanup(closep)))

/* Returns the pointer, or aborts: an engine that cannot allocate a few
 * bytes of bookkeeping cannot report anything useful either. */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t m);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Reads a whole (proc) file into a NUL-terminated buffer; NULL with errno
 * set on failure. *len gets the length when len != NULL. */
char *read_file(const char *path, size_t *len);
/* Same, relative to a directory fd. */
char *read_file_at(int dirfd, const char *path, size_t *len);
/* write(2)/pwrite(2)/read(2) until all is done; -1 with errno on failure. */
int write_all(int fd, const void *buf, size_t len);
int pwrite_all(int fd, const void *buf, size_t len, off_t off);
ssize_t read_all(int fd, void *buf, size_t len);
/* write_all, then fsync: on disk when it returns 0 (-1 with errno). The one
 * way the engine and the store write a file that must survive a crash. */
int write_synced(int fd, const void *buf, size_t len);
/* Copies IN from its offset to its end into OUT at its offset; *COPIED
 * (may be NULL) gets the bytes copied. -1 with errno on failure. */
int copy_fd(int in, int out, uint64_t *copied);

/* Strict decimal/hex parsers: the whole string must be a number. */
int parse_int(const char *s, int *out);
int parse_u64(const char *s, int base, uint64_t *out);

/* CLOCK_MONOTONIC now, in nanoseconds. */
int64_t now_ns(void);
