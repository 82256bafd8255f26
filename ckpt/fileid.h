/* fileid.h: the identity of a file the job opened or mapped (size, mtime,
 * inode, ELF build-id), recorded at dump and verified before a restore. */
#pragma once
#include <stdbool.h>
#include <sys/stat.h>
#include "ckpt/images/image.pb-c.h"

/* Builds a FileId for PATH described by ST (the object the job holds).
 * Reads the build-id of ELF files. */
FileId *fileid_make(const char *path, const struct stat *st);
/* 0 if PATH is still the file recorded; else reports what changed,
 * naming WHAT (e.g. "mapped by the job at 0x...") and returns -1. */
int fileid_check(const FileId *id, const char *what);
/* The same for a file the job itself writes through a shared mapping: the
 * kernel may update its mtime after the dump, so only its kind and size
 * are compared. */
int fileid_check_size(const FileId *id, const char *what);
/* Only that it still exists as the same kind of file (it may have grown). */
int fileid_check_exists(const FileId *id, const char *what);
void fileid_free(FileId *id);
/* The same, reading each file's build-id once: every process of a job maps
 * the same program and libraries. */
struct fileid_cache {
	FileId **ids;
	size_t n;
	struct stat_entry *stats;         /* paths looked up: open addressing */
	size_t nr_stats, cap_stats;
};
FileId *fileid_make_cached(struct fileid_cache *c, const char *path, const struct stat *st);
/* stat(2) of PATH, looked up once per dump (0, or -1 with errno): each
 * process of a job maps the same libraries, each in several areas. */
int fileid_stat_cached(struct fileid_cache *c, const char *path, struct stat *st);
void fileid_cache_free(struct fileid_cache *c);
