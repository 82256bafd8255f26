/* pagefile.c: a process's page data as chunks (pagefile.h).
 *
 * Writing: the main thread copies each chunk's pages into a slot of a
 * ring and goes on reading the job; worker threads, one per CPU it may
 * run on (2 to 8, once the process has more than 1 MiB of chunks), hash
 * each chunk (XXH3-128), checksum the pieces of page runs it holds
 * (CRC32C: the main thread joins them into the runs' as it writes the
 * slots, in order), look the chunk up in the earlier snapshot, else
 * compress it; the main thread writes finished slots in order. A chunk
 * zstd does not shrink by 5% is stored raw (zstd gives up on random data
 * at several GB/s; still, after a few chunks that did not shrink, only
 * one in 16 is tried until one does). The disk is asked to start on the
 * file every WRITEBACK_BYTES.
 *
 * Reading (a restore): each file mapped; the chunks asked for in order.
 * With compressed chunks, worker threads (one per CPU, 2 to 8)
 * decompress those ahead and write each into the job themselves (the
 * caller's sink), while the main thread checks the CRC32C of the page
 * runs on the same bytes; raw ones are used in place, from the mapping.
 *
 * Incremental snapshots: a chunk whose hash and length an earlier
 * snapshot's chunk has is not written: the chunk refers to that
 * snapshot's file, hard-linked into this image's directory (copied when
 * it is on another file system). Each image holds every file it uses, so
 * deleting an older snapshot only drops a name. Files an image would use
 * little of (under a quarter of their bytes) are not used: their chunks
 * are written again, and the chain of files stays short.
 *
 * The hash is a 128-bit one: chunks match by content, never by address,
 * so a wrong match needs a collision of XXH3-128 between the job's own
 * chunks (not a cryptographic hash: a job could only damage its own
 * snapshot by crafting one). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>
#include <zstd.h>
#include "ckpt/crc32c.h"
#include "ckpt/log.h"
#include "ckpt/pagefile.h"
#include "ckpt/util.h"

#define PAGE 4096u
#define NSLOTS 16
/* Worker threads (a dump's compressing, a restore's decompressing ones):
 * one per CPU the process may run on, 2 to MAX_WORKERS. */
#define MAX_WORKERS 8
/* Bytes of one process's chunks before the threads start. By bytes, not
 * chunks: a process whose few written pages lie scattered (a forked
 * python child: 26 chunks of 19 KiB on average) spent more starting,
 * waking and joining threads than compressing (1.3 ms a process). */
#define THREADS_AFTER (1u << 20)
/* Chunks of one process before a restore decompresses ahead with threads */
#define READ_AHEAD_AFTER 8
/* Bytes written before the disk is asked to start on them: a large
 * process's data goes to disk while the rest is still read and
 * compressed, instead of all at the final sync. */
#define WRITEBACK_BYTES (16u << 20)

/* ---- the earlier snapshot ---- */

struct prev_file {
	char *name;               /* in the earlier image's directory */
	char *link;               /* its name here: pages-PID-TAG.img */
	bool usable;
};

struct pf_prev {
	struct image_dir *dir;
	Process *img;
	struct prev_file *files;  /* [0]: its own pages-PID.img */
	size_t nr_files;
	size_t *table;            /* open addressing: chunk index + 1, 0 empty */
	size_t mask;
};

static uint64_t hash_key(const uint8_t *h)
{
	uint64_t k;
	memcpy(&k, h, 8);
	return k;
}

void pf_prev_free(struct pf_prev *p)
{
	if (!p)
		return;
	for (size_t i = 0; i < p->nr_files; i++) {
		free(p->files[i].name);
		free(p->files[i].link);
	}
	free(p->files);
	free(p->table);
	if (p->img)
		protobuf_c_message_free_unpacked(&p->img->base, NULL);
	free(p);
}

static int by_live_desc(const void *a, const void *b)
{
	uint64_t x = ((const uint64_t *)a)[0], y = ((const uint64_t *)b)[0];
	return x < y ? 1 : x > y ? -1 : 0;
}

struct pf_prev *pf_prev_load(struct image_dir *prev, struct image_dir *d, pid_t pid)
{
	char name[64];
	struct stat st, here;
	struct pf_prev *p;
	uint64_t want = 0;

	/* Linked, its files cost nothing; copied (another file system),
	 * more than writing the chunks again. */
	if (fstat(prev->fd, &st) < 0 || fstat(d->fd, &here) < 0 || st.st_dev != here.st_dev) {
		pr_info("%s is not on the file system of %s: every page is written", prev->path,
			d->path);
		return NULL;
	}
	snprintf(name, sizeof(name), "proc-%d.img", pid);
	if (fstatat(prev->fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		pr_info("%s has no process %d: its pages are all written", prev->path, pid);
		return NULL;
	}
	p = xcalloc(1, sizeof(*p));
	p->dir = prev;
	p->img = (Process *)image_read_msg(prev, name, IMG_PROCESS, &process__descriptor);
	if (!p->img)
		goto unusable;
	for (size_t i = 0; i < p->img->n_page_chunks; i++)
		want += p->img->page_chunks[i]->raw_len;
	if (!p->img->pages_chunked || !p->img->has_pages_tag || pf_validate(p->img, want) < 0)
		goto unusable;
	p->nr_files = 1 + p->img->n_page_files;
	p->files = xcalloc(p->nr_files, sizeof(*p->files));
	p->files[0].name = xasprintf("pages-%d.img", pid);
	p->files[0].link = xasprintf("pages-%d-%016llx.img", pid,
				     (unsigned long long)p->img->pages_tag);
	for (size_t i = 1; i < p->nr_files; i++) {
		p->files[i].name = xstrdup(p->img->page_files[i - 1]);
		p->files[i].link = xstrdup(p->img->page_files[i - 1]);
	}
	/* Which files are worth keeping: those the earlier image uses a
	 * quarter of at least, at most PF_MAX_FILES - 1 of them (the most
	 * used), leaving room for this image's own. */
	uint64_t (*live)[2] = xcalloc(p->nr_files, sizeof(*live));
	for (size_t i = 0; i < p->nr_files; i++)
		live[i][1] = i;
	for (size_t i = 0; i < p->img->n_page_chunks; i++)
		live[p->img->page_chunks[i]->file][0] += p->img->page_chunks[i]->stored_len;
	if (p->nr_files)	/* (qsort wants an array, even of nothing) */
		qsort(live, p->nr_files, sizeof(*live), by_live_desc);
	for (size_t k = 0, kept = 0; k < p->nr_files; k++) {
		struct prev_file *f = &p->files[live[k][1]];
		/* (never under the name of the new image's own file) */
		if (kept < PF_MAX_FILES - 1 && strcmp(f->link, p->files[0].name) &&
		    fstatat(prev->fd, f->name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
		    S_ISREG(st.st_mode) && live[k][0] && live[k][0] * 4 >= (uint64_t)st.st_size) {
			f->usable = true;
			kept++;
		}
	}
	free(live);
	size_t n = 16;
	while (n < p->img->n_page_chunks * 2)
		n *= 2;
	p->table = xcalloc(n, sizeof(size_t));
	p->mask = n - 1;
	for (size_t i = 0; i < p->img->n_page_chunks; i++) {
		const PageChunk *c = p->img->page_chunks[i];
		if (!c->has_hash || !p->files[c->file].usable)
			continue;
		size_t at = hash_key(c->hash.data) & p->mask;
		while (p->table[at])
			at = (at + 1) & p->mask;
		p->table[at] = i + 1;
	}
	return p;
unusable:
	pr_info("the pages of process %d in %s cannot be used: all are written", pid, prev->path);
	pf_prev_free(p);
	return NULL;
}

/* The earlier chunk with hash H and LEN bytes, or -1. */
static long prev_find(const struct pf_prev *p, const uint8_t *h, size_t len)
{
	for (size_t at = hash_key(h) & p->mask; p->table[at]; at = (at + 1) & p->mask) {
		const PageChunk *c = p->img->page_chunks[p->table[at] - 1];
		if (c->raw_len == len && !memcmp(c->hash.data, h, 16))
			return p->table[at] - 1;
	}
	return -1;
}

/* ---- writing ---- */

enum slot_state { SLOT_FREE, SLOT_READY, SLOT_BUSY, SLOT_DONE };

/* A piece of a slot's bytes whose CRC32C extends *to: the CRC of a page
 * run, computed here by the workers and joined in order (write_slot). */
struct crc_piece {
	uint32_t *to;
	uint32_t off, len, crc;
};

struct slot {
	unsigned char *raw, *out;
	size_t raw_len, out_len;
	struct crc_piece pieces[CHUNK_BYTES / PAGE];
	unsigned nr_pieces;
	enum slot_state state;
	bool zstd;
	bool try_zstd;            /* worth a try (main thread, at submit) */
	long ref;                 /* the earlier snapshot's chunk, or -1 */
	uint8_t hash[16];
};

struct pf_writer {
	struct image_dir *d;
	int fd;
	char *name;
	Process *img;
	int level;
	struct pf_prev *prev;
	struct ckpt_stats *stats;
	uint64_t file_off;
	uint64_t written_back;    /* file_off up to which writeback was started */
	size_t cap_chunks;
	int *linked;              /* per earlier file: its index here (1...), 0 not yet */
	struct slot slots[NSLOTS];
	uint64_t fill_seq, write_seq;
	uint64_t submitted;       /* bytes of the chunks submitted */
	bool filling;             /* slots[fill_seq % NSLOTS] holds a chunk being filled */
	uint64_t window;          /* its window of addresses */
	unsigned raw_streak;      /* chunks in a row zstd did not shrink */
	ZSTD_CCtx *cctx;          /* the main thread's, before the workers start */
	pthread_t th[MAX_WORKERS];
	int nr_threads;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	bool stop;
};

static void process_slot(const struct pf_writer *w, struct slot *s, ZSTD_CCtx *cctx)
{
	for (unsigned i = 0; i < s->nr_pieces; i++)
		s->pieces[i].crc = crc32c(0, s->raw + s->pieces[i].off, s->pieces[i].len);
	XXH128_hash_t h = XXH3_128bits(s->raw, s->raw_len);
	XXH128_canonical_t canon;

	XXH128_canonicalFromHash(&canon, h);
	memcpy(s->hash, canon.digest, 16);
	s->ref = w->prev ? prev_find(w->prev, s->hash, s->raw_len) : -1;
	s->zstd = false;
	if (s->ref >= 0 || !s->try_zstd)
		return;
	size_t n = ZSTD_compressCCtx(cctx, s->out, ZSTD_compressBound(CHUNK_BYTES), s->raw, s->raw_len,
				     w->level);
	if (!ZSTD_isError(n) && n < s->raw_len / 100 * 95) {
		s->zstd = true;
		s->out_len = n;
	}
}

static void *worker(void *arg)
{
	struct pf_writer *w = arg;
	ZSTD_CCtx *cctx = ZSTD_createCCtx();

	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s = NULL;
		for (uint64_t q = w->write_seq; q < w->fill_seq + 1 && !s; q++)
			if (w->slots[q % NSLOTS].state == SLOT_READY)
				s = &w->slots[q % NSLOTS];
		if (!s) {
			if (w->stop)
				break;
			pthread_cond_wait(&w->work, &w->mu);
			continue;
		}
		s->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->mu);
		process_slot(w, s, cctx);
		pthread_mutex_lock(&w->mu);
		s->state = SLOT_DONE;
		pthread_cond_broadcast(&w->done);
	}
	pthread_mutex_unlock(&w->mu);
	ZSTD_freeCCtx(cctx);
	return NULL;
}

static void stop_threads(struct pf_writer *w)
{
	if (!w->nr_threads)
		return;
	pthread_mutex_lock(&w->mu);
	w->stop = true;
	pthread_cond_broadcast(&w->work);
	pthread_mutex_unlock(&w->mu);
	for (int i = 0; i < w->nr_threads; i++)
		pthread_join(w->th[i], NULL);
	w->nr_threads = 0;
}

/* How many worker threads: one per CPU this process may run on
 * (taskset and cpusets count), 2 to MAX_WORKERS. */
static int nr_workers(void)
{
	cpu_set_t set;
	int n;

	if (sched_getaffinity(0, sizeof(set), &set) < 0)
		return 2;
	n = CPU_COUNT(&set);
	return n < 2 ? 2 : n > MAX_WORKERS ? MAX_WORKERS : n;
}

static void start_threads(struct pf_writer *w)
{
	int n = nr_workers();

	for (int i = 0; i < n; i++) {
		if (pthread_create(&w->th[i], NULL, worker, w)) {
			pr_debug("cannot start a compression thread: compressing in one");
			break;
		}
		w->nr_threads++;
	}
}

struct pf_writer *pf_writer_new(struct image_dir *d, int fd, const char *name, Process *img,
				int level, struct pf_prev *prev, struct ckpt_stats *stats)
{
	struct pf_writer *w = xcalloc(1, sizeof(*w));
	off_t end = lseek(fd, 0, SEEK_END);

	if (end < 0) {
		pr_perror("cannot seek in image file %s/%s", d->path, name);
		close(fd);
		free(w);
		return NULL;
	}
	w->d = d;
	w->fd = fd;
	w->name = xstrdup(name);
	w->img = img;
	w->level = level;
	w->prev = prev;
	w->stats = stats;
	w->file_off = end;
	w->written_back = end;
	w->cap_chunks = img->n_page_chunks;
	if (prev)
		w->linked = xcalloc(prev->nr_files, sizeof(int));
	for (int i = 0; i < NSLOTS; i++) {
		w->slots[i].raw = xmalloc(CHUNK_BYTES);
		w->slots[i].out = level ? xmalloc(ZSTD_compressBound(CHUNK_BYTES)) : NULL;
	}
	pthread_mutex_init(&w->mu, NULL);
	pthread_cond_init(&w->work, NULL);
	pthread_cond_init(&w->done, NULL);
	img->has_pages_chunked = 1;
	img->pages_chunked = 1;
	if (!img->has_pages_tag) {
		uint64_t tag = 0;
		while (!tag && getrandom(&tag, sizeof(tag), 0) != sizeof(tag))
			tag = (uint64_t)now_ns() ^ ((uint64_t)getpid() << 32);
		img->has_pages_tag = 1;
		img->pages_tag = tag;
	}
	return w;
}

void pf_writer_free(struct pf_writer *w)
{
	if (!w)
		return;
	stop_threads(w);
	for (int i = 0; i < NSLOTS; i++) {
		free(w->slots[i].raw);
		free(w->slots[i].out);
	}
	pthread_mutex_destroy(&w->mu);
	pthread_cond_destroy(&w->work);
	pthread_cond_destroy(&w->done);
	if (w->cctx)
		ZSTD_freeCCtx(w->cctx);
	if (w->fd >= 0)
		close(w->fd);
	free(w->linked);
	free(w->name);
	free(w);
}

/* The index here of the earlier snapshot's file F, linked on first use. */
static int link_prev(struct pf_writer *w, uint32_t f)
{
	struct prev_file *pf = &w->prev->files[f];
	Process *img = w->img;

	if (w->linked[f])
		return w->linked[f];
	/* another chunk of this image may have brought it already (the base
	 * of a parent) */
	for (size_t i = 0; i < img->n_page_files; i++)
		if (!strcmp(img->page_files[i], pf->link))
			return w->linked[f] = i + 1;
	if (image_link_raw(w->d, w->prev->dir, pf->name, pf->link) < 0)
		return -1;
	img->page_files = xrealloc(img->page_files, (img->n_page_files + 1) * sizeof(char *));
	img->page_files[img->n_page_files++] = xstrdup(pf->link);
	return w->linked[f] = img->n_page_files;
}

static PageChunk *add_chunk(struct pf_writer *w)
{
	Process *img = w->img;
	PageChunk *c = xmalloc(sizeof(*c));

	if (img->n_page_chunks == w->cap_chunks) {
		w->cap_chunks = w->cap_chunks ? w->cap_chunks * 2 : 64;
		img->page_chunks = xrealloc(img->page_chunks, w->cap_chunks * sizeof(PageChunk *));
	}
	page_chunk__init(c);
	img->page_chunks[img->n_page_chunks++] = c;
	return c;
}

/* Writes slot S (processed) to the file, or refers to the earlier chunk. */
static int write_slot(struct pf_writer *w, struct slot *s)
{
	PageChunk *c;

	for (unsigned i = 0; i < s->nr_pieces; i++) {
		struct crc_piece *p = &s->pieces[i];
		*p->to = crc32c_combine(*p->to, p->crc, p->len);
	}

	if (s->ref >= 0) {
		const PageChunk *old = w->prev->img->page_chunks[s->ref];
		int f = link_prev(w, old->file);
		if (f < 0)
			return -1;
		c = add_chunk(w);
		c->raw_len = old->raw_len;
		c->stored_len = old->stored_len;
		c->offset = old->offset;
		c->has_file = 1;
		c->file = f;
		c->has_zstd = old->has_zstd;
		c->zstd = old->zstd;
		w->stats->bytes_linked += s->raw_len;
	} else {
		const unsigned char *data = s->zstd ? s->out : s->raw;
		size_t len = s->zstd ? s->out_len : s->raw_len;
		if (write_all(w->fd, data, len) < 0) {
			if (errno == 0)
				errno = ENOSPC;
			pr_perror("cannot write page data to %s/%s", w->d->path, w->name);
			return -1;
		}
		c = add_chunk(w);
		c->raw_len = s->raw_len;
		c->stored_len = len;
		c->offset = w->file_off;
		if (s->zstd) {
			c->has_zstd = 1;
			c->zstd = 1;
		}
		w->file_off += len;
		w->stats->bytes_stored += len;
		if (w->file_off - w->written_back >= WRITEBACK_BYTES) {
			/* only a start: the image is synced whole at the end */
			if (sync_file_range(w->fd, w->written_back, w->file_off - w->written_back,
					    SYNC_FILE_RANGE_WRITE) < 0)
				pr_debug("cannot start writeback of %s/%s: %s", w->d->path, w->name,
					 strerror(errno));
			w->written_back = w->file_off;
		}
		if (s->try_zstd)
			w->raw_streak = s->zstd ? 0 : w->raw_streak + 1;
	}
	c->has_hash = 1;
	c->hash.len = 16;
	c->hash.data = xmalloc(16);
	memcpy(c->hash.data, s->hash, 16);
	/* (under the lock: the workers read slot states and write_seq) */
	pthread_mutex_lock(&w->mu);
	s->state = SLOT_FREE;
	s->raw_len = 0;
	s->nr_pieces = 0;
	w->write_seq++;
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* Writes the finished slots in order; with WAIT_FOR, until slot sequence
 * WAIT_FOR is written. */
static int drain(struct pf_writer *w, uint64_t wait_for)
{
	pthread_mutex_lock(&w->mu);
	for (;;) {
		struct slot *s = &w->slots[w->write_seq % NSLOTS];
		if (w->write_seq < w->fill_seq && s->state == SLOT_DONE) {
			pthread_mutex_unlock(&w->mu);
			if (write_slot(w, s) < 0)
				return -1;
			pthread_mutex_lock(&w->mu);
			continue;
		}
		if (w->write_seq >= wait_for)
			break;
		/* rather than wait, compress one of those waiting */
		struct slot *t = NULL;
		for (uint64_t q = w->write_seq; q < w->fill_seq && !t; q++)
			if (w->slots[q % NSLOTS].state == SLOT_READY)
				t = &w->slots[q % NSLOTS];
		if (!t) {
			pthread_cond_wait(&w->done, &w->mu);
			continue;
		}
		t->state = SLOT_BUSY;
		pthread_mutex_unlock(&w->mu);
		if (!w->cctx)
			w->cctx = ZSTD_createCCtx();
		process_slot(w, t, w->cctx);
		pthread_mutex_lock(&w->mu);
		t->state = SLOT_DONE;
	}
	pthread_mutex_unlock(&w->mu);
	return 0;
}

/* The chunk being filled is complete. */
static int submit(struct pf_writer *w)
{
	struct slot *s = &w->slots[w->fill_seq % NSLOTS];

	w->filling = false;
	/* After 4 chunks in a row that did not compress (random data, media
	 * already compressed), only every 16th is tried: the rest cost
	 * nothing more than raw ones. */
	s->try_zstd = w->level && (w->raw_streak < 4 || w->fill_seq % 16 == 0);
	w->submitted += s->raw_len;
	if (!w->nr_threads && w->level && w->submitted > THREADS_AFTER)
		start_threads(w);
	if (!w->nr_threads) {
		if (!w->cctx && w->level)
			w->cctx = ZSTD_createCCtx();
		process_slot(w, s, w->cctx);
		s->state = SLOT_DONE;
		w->fill_seq++;
		return write_slot(w, s);
	}
	pthread_mutex_lock(&w->mu);
	s->state = SLOT_READY;
	w->fill_seq++;
	pthread_cond_signal(&w->work);
	pthread_mutex_unlock(&w->mu);
	/* the next slot to fill must be free: write what is done up to it */
	return drain(w, w->fill_seq + 1 > NSLOTS ? w->fill_seq + 1 - NSLOTS : 0);
}

int pf_put(struct pf_writer *w, uint64_t vaddr, const unsigned char *data, size_t len,
	   uint32_t *crc)
{
	while (len) {
		uint64_t window = vaddr / CHUNK_BYTES;
		struct slot *s = &w->slots[w->fill_seq % NSLOTS];

		if (w->filling && (window != w->window || s->raw_len == CHUNK_BYTES)) {
			if (submit(w) < 0)
				return -1;
			s = &w->slots[w->fill_seq % NSLOTS];
		}
		if (!w->filling) {
			w->filling = true;
			w->window = window;
			s->raw_len = 0;
			s->nr_pieces = 0;
		}
		size_t room = CHUNK_BYTES - s->raw_len;
		size_t to_end = (window + 1) * CHUNK_BYTES - vaddr;
		size_t take = len < room ? len : room;
		if (take > to_end)
			take = to_end;
		/* (the next bytes of the same run, put apart: one piece; a
		 * piece is a page at least, so a slot has room for them all) */
		struct crc_piece *last = s->nr_pieces ? &s->pieces[s->nr_pieces - 1] : NULL;
		if (last && last->to == crc && last->off + last->len == s->raw_len) {
			last->len += take;
		} else if (s->nr_pieces < CHUNK_BYTES / PAGE && take % PAGE == 0) {
			s->pieces[s->nr_pieces++] = (struct crc_piece){ crc, s->raw_len, take, 0 };
		} else {
			pr_err("page data of %s/%s put in pieces of %zu bytes, not whole pages",
			       w->d->path, w->name, take);
			return -1;
		}
		memcpy(s->raw + s->raw_len, data, take);
		s->raw_len += take;
		vaddr += take;
		data += take;
		len -= take;
	}
	return 0;
}

int pf_finish(struct pf_writer *w)
{
	if (w->filling && submit(w) < 0)
		return -1;
	if (w->nr_threads && drain(w, w->fill_seq) < 0)
		return -1;
	stop_threads(w);
	return 0;
}

/* ---- reading ---- */

static bool file_name_ok(const char *n)
{
	size_t len = strlen(n);
	return len > 10 && len < 100 && !strncmp(n, "pages-", 6) && !strcmp(n + len - 4, ".img") &&
	       !strchr(n, '/');
}

int pf_validate(const Process *img, uint64_t want)
{
	uint64_t sum = 0;

	if (!img->pages_chunked) {
		if (img->n_page_chunks || img->n_page_files) {
			pr_err("damaged image: page chunks in an image without them");
			return -1;
		}
		return 0;
	}
	if (img->n_page_files >= PF_MAX_FILES * 4) {
		pr_err("damaged image: page data in %zu files", img->n_page_files);
		return -1;
	}
	for (size_t i = 0; i < img->n_page_files; i++)
		if (!file_name_ok(img->page_files[i])) {
			pr_err("damaged image: page file %zu has an invalid name", i);
			return -1;
		}
	for (size_t i = 0; i < img->n_page_chunks; i++) {
		const PageChunk *c = img->page_chunks[i];
		if (!c->raw_len || c->raw_len > CHUNK_BYTES || c->raw_len % PAGE ||
		    (c->zstd ? !c->stored_len || c->stored_len > ZSTD_compressBound(c->raw_len)
			     : c->stored_len != c->raw_len) ||
		    c->file > img->n_page_files || c->offset > (1ULL << 50) ||
		    (c->has_hash && c->hash.len != 16)) {
			pr_err("damaged image: page chunk %zu is invalid", i);
			return -1;
		}
		sum += c->raw_len;
	}
	if (sum != want) {
		pr_err("damaged image: the page chunks hold %llu bytes, the page runs %llu",
		       (unsigned long long)sum, (unsigned long long)want);
		return -1;
	}
	return 0;
}

struct rchunk {
	uint64_t start;           /* in the stream */
	uint64_t offset;          /* in its file */
	uint32_t raw, stored, file;
	bool zstd;
	const uint8_t *hash;      /* NULL: none */
};

/* What reading a chunk found wrong (CHUNK_SINK: its sink failed, and
 * said why). */
enum { CHUNK_OK, CHUNK_ZSTD, CHUNK_HASH, CHUNK_SINK };

struct rslot {
	unsigned char *buf;       /* a compressed chunk's bytes */
	const unsigned char *data;
	long idx;                 /* the chunk it holds, -1 none */
	int err;
	size_t zerr;              /* zstd's error code */
};

struct pf_reader {
	struct image_dir *d;
	char **names;
	int *fds;
	unsigned char **maps;     /* each file mapped whole, or NULL (empty) */
	uint64_t *sizes;
	size_t nr_files;
	struct rchunk *c;
	size_t n;
	/* one chunk at a time (pf_read_at, and small images) */
	unsigned char *buf;
	long cached;
	ZSTD_DCtx *dctx;
	/* read ahead by worker threads (pf_chunk called in order) */
	pf_sink sink;
	void *sink_arg;
	struct rslot slots[NSLOTS];
	pthread_t th[MAX_WORKERS];
	int nr_threads;
	pthread_mutex_t mu;
	pthread_cond_t ready, freed;
	size_t next_claim, in_use;
	bool stop;
};

static void stop_readers(struct pf_reader *r);

void pf_reader_close(struct pf_reader *r)
{
	if (!r)
		return;
	stop_readers(r);
	for (size_t i = 0; i < r->nr_files; i++) {
		if (r->maps[i])
			munmap(r->maps[i], r->sizes[i]);
		if (r->fds[i] >= 0)
			close(r->fds[i]);
		free(r->names[i]);
	}
	for (int i = 0; i < NSLOTS; i++)
		free(r->slots[i].buf);
	free(r->names);
	free(r->fds);
	free(r->maps);
	free(r->sizes);
	free(r->c);
	free(r->buf);
	if (r->dctx)
		ZSTD_freeDCtx(r->dctx);
	pthread_mutex_destroy(&r->mu);
	pthread_cond_destroy(&r->ready);
	pthread_cond_destroy(&r->freed);
	free(r);
}

/* Chunk I's bytes into S (BUF: room for a decompressed chunk), checked
 * against its hash with CHECK; any thread. (Read ahead for a restore,
 * every byte goes to a page run whose CRC32C is checked: the hash is
 * not.) */
static void decode(const struct pf_reader *r, size_t i, struct rslot *s, unsigned char *buf,
		   ZSTD_DCtx *dctx, bool check)
{
	const struct rchunk *c = &r->c[i];
	const unsigned char *src = r->maps[c->file] + c->offset;

	s->err = CHUNK_OK;
	s->data = src;
	if (c->zstd) {
		size_t n = ZSTD_decompressDCtx(dctx, buf, CHUNK_BYTES, src, c->stored);
		s->data = buf;
		if (ZSTD_isError(n) || n != c->raw) {
			s->err = CHUNK_ZSTD;
			s->zerr = n;
			return;
		}
	}
	if (c->hash && check) {
		XXH128_canonical_t canon;
		XXH128_canonicalFromHash(&canon, XXH3_128bits(s->data, c->raw));
		if (memcmp(canon.digest, c->hash, 16))
			s->err = CHUNK_HASH;
	}
}

static const unsigned char *decoded(const struct pf_reader *r, size_t i, const struct rslot *s)
{
	const struct rchunk *c = &r->c[i];
	const char *name = r->names[c->file];

	if (s->err == CHUNK_ZSTD) {
		pr_err("image file %s/%s is damaged: the compressed pages at offset %llu cannot be "
		       "read back (%s)", r->d->path, name, (unsigned long long)c->offset,
		       ZSTD_isError(s->zerr) ? ZSTD_getErrorName(s->zerr) : "wrong length");
		return NULL;
	}
	if (s->err == CHUNK_SINK)
		return NULL;
	if (s->err == CHUNK_HASH) {
		pr_err("image file %s/%s is damaged: checksum mismatch in the pages at offset %llu",
		       r->d->path, name, (unsigned long long)c->offset);
		return NULL;
	}
	return s->data;
}

static void *read_ahead(void *arg)
{
	struct pf_reader *r = arg;
	ZSTD_DCtx *dctx = ZSTD_createDCtx();

	pthread_mutex_lock(&r->mu);
	while (!r->stop && r->next_claim < r->n) {
		size_t i = r->next_claim;
		if (i >= r->in_use + NSLOTS) {
			pthread_cond_wait(&r->freed, &r->mu);
			continue;
		}
		r->next_claim++;
		struct rslot *s = &r->slots[i % NSLOTS];
		pthread_mutex_unlock(&r->mu);
		decode(r, i, s, s->buf, dctx, false);
		if (s->err == CHUNK_OK && r->sink && r->sink(r->sink_arg, r->c[i].start, s->data, r->c[i].raw) < 0)
			s->err = CHUNK_SINK;
		pthread_mutex_lock(&r->mu);
		s->idx = i;
		pthread_cond_broadcast(&r->ready);
	}
	pthread_mutex_unlock(&r->mu);
	ZSTD_freeDCtx(dctx);
	return NULL;
}

static void stop_readers(struct pf_reader *r)
{
	if (!r->nr_threads)
		return;
	pthread_mutex_lock(&r->mu);
	r->stop = true;
	pthread_cond_broadcast(&r->freed);
	pthread_mutex_unlock(&r->mu);
	for (int i = 0; i < r->nr_threads; i++)
		pthread_join(r->th[i], NULL);
	r->nr_threads = 0;
}

bool pf_read_ahead(struct pf_reader *r, pf_sink sink, void *arg)
{
	size_t packed = 0;

	/* Raw chunks cost the main thread no more than a CRC and their
	 * write: an image without compressed ones is read as it was. */
	for (size_t i = 0; i < r->n && !packed; i++)
		packed += r->c[i].zstd;
	if (r->n < READ_AHEAD_AFTER || r->nr_threads || !packed)
		return false;
	r->sink = sink;
	r->sink_arg = arg;
	for (int i = 0; i < NSLOTS; i++) {
		r->slots[i].buf = xmalloc(CHUNK_BYTES);
		r->slots[i].idx = -1;
	}
	for (int i = 0, n = nr_workers(); i < n; i++) {
		if (pthread_create(&r->th[i], NULL, read_ahead, r))
			break;
		r->nr_threads++;
	}
	return sink && r->nr_threads > 0;
}

struct pf_reader *pf_reader_open(struct image_dir *d, const Process *img, uint64_t want)
{
	struct pf_reader *r = xcalloc(1, sizeof(*r));

	r->d = d;
	r->cached = -1;
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->ready, NULL);
	pthread_cond_init(&r->freed, NULL);
	r->nr_files = 1 + img->n_page_files;
	r->names = xcalloc(r->nr_files, sizeof(char *));
	r->fds = xmalloc(r->nr_files * sizeof(int));
	r->maps = xcalloc(r->nr_files, sizeof(unsigned char *));
	r->sizes = xcalloc(r->nr_files, sizeof(uint64_t));
	for (size_t i = 0; i < r->nr_files; i++)
		r->fds[i] = -1;
	if (pf_validate(img, want) < 0)
		goto fail;
	r->names[0] = xasprintf("pages-%d.img", img->pid);
	for (size_t i = 1; i < r->nr_files; i++)
		r->names[i] = xstrdup(img->page_files[i - 1]);
	for (size_t i = 0; i < r->nr_files; i++)
		if ((r->fds[i] = image_open_raw(d, r->names[i], &r->sizes[i])) < 0)
			goto fail;
	if (!img->pages_chunked) {
		/* An image from before chunks: the raw bytes back to back. */
		if (r->sizes[0] != want) {
			pr_err("image file %s/%s is truncated or damaged: %llu bytes, the image lists %llu",
			       d->path, r->names[0], (unsigned long long)r->sizes[0],
			       (unsigned long long)want);
			goto fail;
		}
		r->n = (want + CHUNK_BYTES - 1) / CHUNK_BYTES;
		r->c = xcalloc(r->n + 1, sizeof(*r->c));
		for (size_t i = 0; i < r->n; i++) {
			uint64_t at = (uint64_t)i * CHUNK_BYTES;
			uint32_t len = want - at < CHUNK_BYTES ? want - at : CHUNK_BYTES;
			r->c[i] = (struct rchunk){ .start = at, .offset = at, .raw = len, .stored = len };
		}
	} else {
		uint64_t at = 0;
		r->n = img->n_page_chunks;
		r->c = xcalloc(r->n + 1, sizeof(*r->c));
		for (size_t i = 0; i < r->n; i++) {
			const PageChunk *p = img->page_chunks[i];
			if (p->offset + p->stored_len > r->sizes[p->file]) {
				pr_err("image file %s/%s is truncated or damaged: its page data at offset "
				       "%llu lies past its end (%llu bytes)", d->path, r->names[p->file],
				       (unsigned long long)p->offset, (unsigned long long)r->sizes[p->file]);
				goto fail;
			}
			r->c[i] = (struct rchunk){ .start = at, .offset = p->offset, .raw = p->raw_len,
						   .stored = p->stored_len, .file = p->file,
						   .zstd = p->zstd,
						   .hash = p->has_hash ? p->hash.data : NULL };
			at += p->raw_len;
		}
	}
	/* Mapped and populated up front: one batch of page-cache lookups
	 * instead of a fault per page. */
	for (size_t i = 0; i < r->nr_files; i++) {
		if (!r->sizes[i])
			continue;
		void *m = mmap(NULL, r->sizes[i], PROT_READ, MAP_PRIVATE | MAP_POPULATE, r->fds[i], 0);
		if (m == MAP_FAILED) {
			pr_perror("cannot map image file %s/%s", d->path, r->names[i]);
			goto fail;
		}
		madvise(m, r->sizes[i], MADV_SEQUENTIAL);
		r->maps[i] = m;
	}
	return r;
fail:
	pf_reader_close(r);
	return NULL;
}

size_t pf_nr_chunks(const struct pf_reader *r)
{
	return r->n;
}

size_t pf_batch(const struct pf_reader *r)
{
	/* (with a sink, nothing waits for a batch: each chunk is released
	 * as soon as it is checked) */
	return r->nr_threads && !r->sink ? NSLOTS / 2 : 1;
}

void pf_release(struct pf_reader *r, size_t upto)
{
	if (!r->nr_threads)
		return;
	pthread_mutex_lock(&r->mu);
	if (upto > r->in_use) {
		r->in_use = upto;
		pthread_cond_broadcast(&r->freed);
	}
	pthread_mutex_unlock(&r->mu);
}

const unsigned char *pf_chunk(struct pf_reader *r, size_t i, size_t *len)
{
	struct rslot one;

	*len = r->c[i].raw;
	if (r->nr_threads) {
		struct rslot *s = &r->slots[i % NSLOTS];
		pthread_mutex_lock(&r->mu);
		while (s->idx != (long)i) {
			if (r->next_claim <= i && r->stop)
				break;
			pthread_cond_wait(&r->ready, &r->mu);
		}
		pthread_mutex_unlock(&r->mu);
		if (s->idx == (long)i)
			return decoded(r, i, s);
		/* (out of order: read, and given to the sink, here) */
		r->cached = -1;
	}
	if (r->cached == (long)i)
		return r->c[i].zstd ? r->buf : r->maps[r->c[i].file] + r->c[i].offset;
	r->cached = -1;
	if (!r->buf)
		r->buf = xmalloc(CHUNK_BYTES);
	if (!r->dctx)
		r->dctx = ZSTD_createDCtx();
	decode(r, i, &one, r->buf, r->dctx, true);
	const unsigned char *p = decoded(r, i, &one);
	if (p && r->nr_threads && r->sink && r->sink(r->sink_arg, r->c[i].start, p, r->c[i].raw) < 0)
		return NULL;
	if (p)
		r->cached = i;
	return p;
}
bool pf_find_damage(struct pf_reader *r, size_t first, size_t last)
{
	struct rslot one;

	if (!r->buf)
		r->buf = xmalloc(CHUNK_BYTES);
	if (!r->dctx)
		r->dctx = ZSTD_createDCtx();
	r->cached = -1;
	for (size_t i = first; i <= last && i < r->n; i++) {
		decode(r, i, &one, r->buf, r->dctx, true);
		if (one.err != CHUNK_OK) {
			decoded(r, i, &one);	/* (says what and where) */
			return true;
		}
	}
	return false;
}

int pf_read_at(struct pf_reader *r, uint64_t off, void *buf, size_t len)
{
	size_t lo = 0, hi = r->n, clen;

	while (lo < hi) {
		size_t mid = (lo + hi) / 2;
		if (r->c[mid].start + r->c[mid].raw <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo == r->n || off - r->c[lo].start + len > r->c[lo].raw) {
		pr_err("image %s: page data at %llu of the stream is not in its chunks", r->d->path,
		       (unsigned long long)off);
		return -1;
	}
	const unsigned char *p = pf_chunk(r, lo, &clen);
	if (!p)
		return -1;
	memcpy(buf, p + (off - r->c[lo].start), len);
	return 0;
}
