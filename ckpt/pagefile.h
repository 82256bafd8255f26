/* pagefile.h: a process's page data (pages-PID.img) as chunks. Dump: the
 * stream of page bytes cut into chunks, each compressed with zstd by
 * worker threads while the main thread reads the job's pages, kept raw
 * when it does not shrink; a chunk an earlier snapshot already holds is
 * referenced in that snapshot's file (hard-linked here) instead of
 * written. Restore: the chunks read back in order and checked, those of
 * a large process decompressed and written into the job by worker
 * threads. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include "ckpt/ckpt.h"
#include "ckpt/image.h"

/* A chunk holds at most the stored pages of one window of CHUNK_BYTES of
 * addresses, aligned: a page changed between two snapshots changes one
 * chunk, and zstd's largest block is as big. */
#define CHUNK_BYTES (128u << 10)
/* Files one process's chunks may lie in, its own pages-PID.img included:
 * a longer chain of snapshots starts writing again what lies in the
 * files it uses least. */
#define PF_MAX_FILES 8
#define PF_LEVEL_DEFAULT 1

struct pf_prev;
struct pf_writer;
struct pf_reader;

/* The process PID of the earlier snapshot in PREV, for the image in D:
 * NULL when it has none, its chunks cannot be used, or it is on another
 * file system than D (said at info level). */
struct pf_prev *pf_prev_load(struct image_dir *prev, struct image_dir *d, pid_t pid);
void pf_prev_free(struct pf_prev *p);

/* Writes IMG's page stream to NAME of D (FD, written from its end on, the
 * writer's to close), at zstd LEVEL (0: raw), chunks PREV holds linked
 * (PREV may be NULL). */
struct pf_writer *pf_writer_new(struct image_dir *d, int fd, const char *name, Process *img,
				int level, struct pf_prev *prev, struct ckpt_stats *stats);
/* The next LEN bytes of the stream, whole pages that lie at VADDR, the
 * CRC32C at *CRC (a page run's) carried on over them: by a worker, the
 * pieces of a run joined in order, done once pf_finish returns. */
int pf_put(struct pf_writer *w, uint64_t vaddr, const unsigned char *data, size_t len,
	   uint32_t *crc);
/* Everything written, the chunks listed in IMG, the CRCs complete. */
int pf_finish(struct pf_writer *w);
void pf_writer_free(struct pf_writer *w);

/* The chunk list of IMG against its runs (WANT bytes of stream): only
 * what the image says, before any file is opened. */
int pf_validate(const Process *img, uint64_t want);
/* Opens IMG's page files in D (WANT bytes of stream; NULL after saying why). */
struct pf_reader *pf_reader_open(struct image_dir *d, const Process *img, uint64_t want);
size_t pf_nr_chunks(const struct pf_reader *r);
/* What is done with each chunk read ahead: its LEN bytes, at offset
 * OFF of the stream, written where they belong; 0, or -1 after saying
 * why. Called from worker threads, several chunks at once. */
typedef int (*pf_sink)(void *arg, uint64_t off, const unsigned char *data, size_t len);
/* From now on chunks are asked for in order, from the first: for a
 * large process with compressed chunks, worker threads decompress those
 * ahead, and hand each to SINK (ARG) if there is one, so that both CPUs
 * decompress and write its memory. True if they do: then every chunk
 * pf_chunk returns was given to SINK (by a worker, or by pf_chunk
 * itself), in no particular order; false (no SINK, few chunks, or all
 * raw): none is, the caller writes them. */
bool pf_read_ahead(struct pf_reader *r, pf_sink sink, void *arg);
/* How many chunks in a row stay valid before pf_release; then the
 * chunks below UPTO are done with. */
size_t pf_batch(const struct pf_reader *r);
void pf_release(struct pf_reader *r, size_t upto);
/* Chunk I's bytes (*LEN of them), valid for pf_batch calls (or until
 * pf_release); NULL after
 * saying why (a damaged chunk names its file and offset). */
const unsigned char *pf_chunk(struct pf_reader *r, size_t i, size_t *len);
/* Which of chunks FIRST..LAST (whose bytes did not match a CRC32C) is
 * damaged, by their hashes: said, naming its file and offset (true), or
 * none found (false, nothing said). */
bool pf_find_damage(struct pf_reader *r, size_t first, size_t last);
/* LEN bytes from offset OFF of the stream, inside one chunk. */
int pf_read_at(struct pf_reader *r, uint64_t off, void *buf, size_t len);
void pf_reader_close(struct pf_reader *r);
