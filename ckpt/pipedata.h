/* pipedata.h: the bytes queued in a pipe or a FIFO of the job, copied into
 * an image without being taken out of it, and queued again at restore. */
#pragma once
#include <stdbool.h>
#include <stdint.h>
#include "ckpt/image.h"

/* The most a pipe may hold: F_SETPIPE_SZ refuses more than
 * /proc/sys/fs/pipe-max-size, which root may raise; beyond this an
 * image is taken as damaged. */
#define PIPE_CAPACITY_MAX (256U << 20)

/* Copies what is queued in the pipe that SRC reads (our own fd on it: the
 * job's read end taken with pidfd_getfd, or one we opened) into the raw
 * image file NAME of DIR, and fills PD but for its id. PACKETS: an end of
 * the pipe writes packets (O_DIRECT). Every queued byte is copied or the
 * copy fails: never a silent short copy. WHAT names the pipe in messages. */
int pipedata_save(struct image_dir *dir, const char *name, int src, bool packets, PipeData *pd,
		  const char *what, uint64_t *bytes_written);

/* Gives the new pipe behind W its capacity and queues PD's bytes (from
 * NAME, checked against PD's size and checksum) again through W, a write
 * end of our own that no process of the job shares. */
int pipedata_refill(struct image_dir *dir, const char *name, const PipeData *pd, int w,
		    const char *what);

/* The PipeData of pipe ID (FIFO_DEV: 0 for a pipe, a FIFO's st_dev) among
 * those INV holds, or NULL (an image from before PipeData). */
const PipeData *pipedata_find(const Inventory *inv, uint64_t id, uint64_t fifo_dev);

/* Frees what pipedata_save allocated in PD (not PD itself). */
void pipedata_clear(PipeData *pd);
