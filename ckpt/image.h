/* image.h: the image directory and its files: the header every metadata
 * file starts with (magic, version, type, length, CRC32C), ownership checks. */
#pragma once
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <protobuf-c/protobuf-c.h>
#include "ckpt/images/image.pb-c.h"

#define IMAGE_MAGIC "JOBFREEZ"
/* 2: page data in chunks, zstd-compressed or raw (pagefile.c); an older
 * jobfreeze would take those bytes for raw pages, so it must refuse them.
 * 1: before chunks, still read. */
#define IMAGE_FORMAT_VERSION 2
#define IMAGE_FORMAT_OLDEST  1
/* No metadata message is anywhere near this; a bigger length is damage. */
#define IMAGE_MAX_PAYLOAD (256u << 20)

enum image_type {
	IMG_INVENTORY = 1,
	IMG_PROCESS = 2,
};

struct image_header {
	char     magic[8];
	uint32_t version;
	uint32_t type;
	uint32_t length;
	uint32_t crc;
};

struct image_dir {
	int   fd;
	char *path;
	/* Files this dump created, removed again if the dump fails. */
	char **created;
	size_t nr_created;
	size_t nr_synced;                 /* created[0..nr_synced) are synced */
	pthread_mutex_t lock;             /* created, ahead: files are made by several
					   * threads of a dump (dump.c) */
	char **ahead;                     /* made (empty) before they are written */
	size_t nr_ahead;
	bool made_dir;                    /* image_dir_create made the directory */
};

/* Creates DIR (0700) for a dump, or takes an existing empty one of ours. */
int image_dir_create(const char *path, struct image_dir *d);
/* Opens DIR for a restore: must be ours, not a symlink, not writable by others. */
int image_dir_open(const char *path, struct image_dir *d);
/* Deletes the files image_dir_create's caller made (a failed dump). */
void image_dir_discard(struct image_dir *d);
void image_dir_close(struct image_dir *d);
/* Gives the directory and the files this dump created to UID:GID. */
int image_dir_chown(struct image_dir *d, uid_t uid, gid_t gid);
/* Syncs every file created since the last call, then the directory. */
int image_dir_sync(struct image_dir *d);

/* Writes NAME (0600, new) with the header and the packed message; synced
 * by the next image_dir_sync. */
int image_write_msg(struct image_dir *d, const char *name, enum image_type type,
		    const ProtobufCMessage *msg);
/* Reads and checks NAME; returns the unpacked message (free with
 * protobuf_c_message_free_unpacked) or NULL after reporting why. */
ProtobufCMessage *image_read_msg(struct image_dir *d, const char *name, enum image_type type,
				 const ProtobufCMessageDescriptor *desc);

/* Makes NAME, empty, for image_create_raw or image_write_msg to fill
 * later: on some file systems making a file costs more than writing it
 * (ext4 without a journal looks for an inode not deleted lately), and a
 * thread with nothing else to do can make them ahead. Silent; -1 if it
 * could not (the writer then makes it itself, or says why not). */
int image_make_ahead(struct image_dir *d, const char *name);
/* A new raw data file (pages, ghost file contents), 0600. */
int image_create_raw(struct image_dir *d, const char *name);
/* NAME in D becomes the raw file SRCNAME of SRC: a hard link, or a copy
 * when they are on different file systems. */
int image_link_raw(struct image_dir *d, struct image_dir *src, const char *srcname,
		   const char *name);
/* Opens a raw data file for reading after the ownership checks. */
int image_open_raw(struct image_dir *d, const char *name, uint64_t *size);
