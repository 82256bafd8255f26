/* image.c: reading and writing image files. Every read checks ownership,
 * magic, version, type, length bounds and CRC before protobuf sees a byte. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "ckpt/crc32c.h"
#include "ckpt/image.h"
#include "ckpt/log.h"
#include "ckpt/util.h"

static const char *type_name(uint32_t t)
{
	switch (t) {
	case IMG_INVENTORY: return "inventory";
	case IMG_PROCESS: return "process";
	}
	return "unknown";
}

/* Images hold the job's memory: only their owner may use them. */
static int check_owner(const struct stat *st, const char *what, const char *path)
{
	if (st->st_uid != geteuid()) {
		pr_err("%s %s belongs to uid %u, not to you (uid %u): refusing to use "
		       "someone else's image", what, path, st->st_uid, geteuid());
		return -1;
	}
	if (st->st_mode & 022) {
		pr_err("%s %s is writable by group or others (mode %04o): anyone could have "
		       "changed it; check it and chmod go-w", what, path, st->st_mode & 07777);
		return -1;
	}
	return 0;
}

/* Opens PATH itself (never through a symlink) as D's directory. */
static int open_dir(const char *path, struct image_dir *d, struct stat *st)
{
	memset(d, 0, sizeof(*d));
	pthread_mutex_init(&d->lock, NULL);
	d->fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (d->fd < 0) {
		if (errno == ENOENT)
			pr_err("image directory %s does not exist", path);
		else if (errno == ELOOP || errno == ENOTDIR)
			pr_err("%s is a symlink or not a directory: give the image directory itself",
			       path);
		else
			pr_perror("cannot open image directory %s", path);
		return -1;
	}
	if (fstat(d->fd, st) < 0) {
		pr_perror("cannot stat image directory %s", path);
		close(d->fd);
		d->fd = -1;
		return -1;
	}
	return 0;
}

int image_dir_create(const char *path, struct image_dir *d)
{
	struct stat st;
	bool made = mkdir(path, 0700) == 0;

	if (!made && errno != EEXIST) {
		memset(d, 0, sizeof(*d));
		d->fd = -1;
		pr_perror("cannot create image directory %s", path);
		return -1;
	}
	if (open_dir(path, d, &st) < 0)
		return -1;
	d->made_dir = made;
	if (st.st_uid != geteuid()) {
		pr_err("image directory %s belongs to uid %u, not to you", path, st.st_uid);
		goto fail;
	}
	/* mkdir honours the umask; the mode must not. */
	if ((st.st_mode & 0777) != 0700 && fchmod(d->fd, 0700) < 0) {
		pr_perror("cannot make image directory %s private (chmod 0700)", path);
		goto fail;
	}
	if (faccessat(d->fd, "inventory.img", F_OK, AT_SYMLINK_NOFOLLOW) == 0) {
		pr_err("%s already holds an image: remove it or choose another directory", path);
		goto fail;
	}
	d->path = xstrdup(path);
	return 0;
fail:
	close(d->fd);
	d->fd = -1;
	return -1;
}

int image_dir_open(const char *path, struct image_dir *d)
{
	struct stat st;

	if (open_dir(path, d, &st) < 0)
		return -1;
	if (check_owner(&st, "image directory", path) < 0)
		goto fail;
	d->path = xstrdup(path);
	return 0;
fail:
	close(d->fd);
	d->fd = -1;
	return -1;
}

/* (d->lock held) */
static void note_created(struct image_dir *d, const char *name)
{
	d->created = xrealloc(d->created, (d->nr_created + 1) * sizeof(char *));
	d->created[d->nr_created++] = xstrdup(name);
}

void image_dir_discard(struct image_dir *d)
{
	for (size_t i = 0; i < d->nr_created; i++)
		if (unlinkat(d->fd, d->created[i], 0) < 0 && errno != ENOENT)
			pr_perror("cannot remove %s/%s", d->path, d->created[i]);
	/* A directory this dump made goes too (if nothing else went in). */
	if (d->made_dir && rmdir(d->path) < 0 && errno != ENOTEMPTY)
		pr_perror("cannot remove %s", d->path);
}

void image_dir_close(struct image_dir *d)
{
	for (size_t i = 0; i < d->nr_created; i++)
		free(d->created[i]);
	free(d->created);
	for (size_t i = 0; i < d->nr_ahead; i++)
		free(d->ahead[i]);
	free(d->ahead);
	free(d->path);
	if (d->fd >= 0)
		close(d->fd);
	memset(d, 0, sizeof(*d));
	d->fd = -1;
}

int image_dir_chown(struct image_dir *d, uid_t uid, gid_t gid)
{
	for (size_t i = 0; i < d->nr_created; i++)
		if (fchownat(d->fd, d->created[i], uid, gid, AT_SYMLINK_NOFOLLOW) < 0) {
			pr_perror("cannot give image file %s/%s to uid %u", d->path, d->created[i], uid);
			return -1;
		}
	if (fchown(d->fd, uid, gid) < 0) {
		pr_perror("cannot give image directory %s to uid %u", d->path, uid);
		return -1;
	}
	return image_dir_sync(d);
}

/* The data the kernel has yet to write to any disk (Dirty + Writeback of
 * /proc/meminfo), bytes; UINT64_MAX when unknown. */
static uint64_t system_unwritten(void)
{
	char *m = read_file("/proc/meminfo", NULL);
	uint64_t total = 0;
	int seen = 0;

	for (char *l = m; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : l + strlen(l)) {
		unsigned long long kib;
		if (sscanf(l, "Dirty: %llu kB", &kib) == 1 || sscanf(l, "Writeback: %llu kB", &kib) == 1) {
			total += (uint64_t)kib << 10;
			seen++;
		}
	}
	free(m);
	return seen == 2 ? total : UINT64_MAX;
}

/* Whether one syncfs of the directory's file system costs less than an
 * fsync of each of its N new files. Each fsync ends with a flush of the
 * disk's cache (ext4 sends one even when an earlier fsync's journal commit
 * already holds the file), about 4 ms on our machines: 200 files of a
 * 100-process job took 280 ms, one syncfs 10 ms. But syncfs also writes
 * what others left unwritten on that file system, so it is only taken for
 * many files while the whole system has little unwritten data besides
 * ours. */
#define SYNCFS_MIN_FILES 16
#define SYNCFS_MAX_FOREIGN (64ULL << 20)
static bool syncfs_cheaper(struct image_dir *d)
{
	uint64_t ours = 0, all;
	struct stat st;

	if (d->nr_created - d->nr_synced < SYNCFS_MIN_FILES)
		return false;
	for (size_t i = d->nr_synced; i < d->nr_created; i++)
		if (fstatat(d->fd, d->created[i], &st, AT_SYMLINK_NOFOLLOW) == 0)
			ours += (uint64_t)st.st_blocks * 512;
	all = system_unwritten();
	return all != UINT64_MAX && all <= ours + SYNCFS_MAX_FOREIGN;
}

/* Files are written without syncing each: one sync of them all at the end
 * costs one journal commit instead of one per file (two per process).
 * syncfs reports a write error of any file of the file system since the
 * directory was opened (Linux 5.8+), ours among them. */
int image_dir_sync(struct image_dir *d)
{
	if (syncfs_cheaper(d)) {
		if (syncfs(d->fd) < 0) {
			pr_perror("cannot sync the file system of image directory %s", d->path);
			return -1;
		}
		d->nr_synced = d->nr_created;
		return 0;
	}
	for (; d->nr_synced < d->nr_created; d->nr_synced++) {
		const char *name = d->created[d->nr_synced];
		int fd = openat(d->fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0 || fsync(fd) < 0) {
			pr_perror("cannot sync image file %s/%s", d->path, name);
			if (fd >= 0)
				close(fd);
			return -1;
		}
		close(fd);
	}
	if (fsync(d->fd) < 0) {
		pr_perror("cannot sync image directory %s", d->path);
		return -1;
	}
	return 0;
}

/* A new file NAME (d->lock held: made and listed at once, as one thread
 * making a file sees it made by the other either not at all or listed). */
static int create_locked(struct image_dir *d, const char *name)
{
	int fd = openat(d->fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);

	if (fd >= 0)
		note_created(d, name);
	return fd;
}

int image_make_ahead(struct image_dir *d, const char *name)
{
	pthread_mutex_lock(&d->lock);
	int fd = create_locked(d, name);
	if (fd >= 0) {
		d->ahead = xrealloc(d->ahead, (d->nr_ahead + 1) * sizeof(char *));
		d->ahead[d->nr_ahead++] = xstrdup(name);
	}
	pthread_mutex_unlock(&d->lock);
	if (fd < 0)
		return -1;
	/* (as image_create_raw: the umask; a file left 0000 is refused later) */
	fchmod(fd, 0600);
	close(fd);
	return 0;
}

/* Whether NAME was made ahead (and not taken yet): now it is taken
 * (d->lock held). */
static bool take_ahead(struct image_dir *d, const char *name)
{
	for (size_t i = 0; i < d->nr_ahead; i++)
		if (!strcmp(d->ahead[i], name)) {
			free(d->ahead[i]);
			d->ahead[i] = d->ahead[--d->nr_ahead];
			return true;
		}
	return false;
}

int image_create_raw(struct image_dir *d, const char *name)
{
	bool ahead;
	int fd;

	pthread_mutex_lock(&d->lock);
	ahead = take_ahead(d, name);
	fd = ahead ? -1 : create_locked(d, name);
	pthread_mutex_unlock(&d->lock);
	/* made ahead by this dump, empty, listed */
	if (ahead) {
		fd = openat(d->fd, name, O_WRONLY | O_CLOEXEC | O_NOFOLLOW);
		if (fd < 0)
			pr_perror("cannot open image file %s/%s", d->path, name);
		else if (fchmod(fd, 0600) < 0) {
			pr_perror("cannot chmod image file %s/%s", d->path, name);
			close(fd);
			return -1;
		}
		return fd;
	}
	if (fd < 0) {
		pr_perror("cannot create image file %s/%s", d->path, name);
		return -1;
	}
	/* O_CREAT's mode is masked by the umask; 0600 is never widened by it,
	 * but a umask of 0777 would leave the owner without access. */
	if (fchmod(fd, 0600) < 0) {
		pr_perror("cannot chmod image file %s/%s", d->path, name);
		close(fd);
		return -1;
	}
	return fd;
}

int image_link_raw(struct image_dir *d, struct image_dir *src, const char *srcname,
		   const char *name)
{
	int in, out, ret = -1;

	if (linkat(src->fd, srcname, d->fd, name, 0) == 0) {
		pthread_mutex_lock(&d->lock);
		note_created(d, name);
		pthread_mutex_unlock(&d->lock);
		return 0;
	}
	if (errno != EXDEV && errno != EPERM && errno != EMLINK) {
		pr_perror("cannot link image file %s/%s as %s/%s", src->path, srcname, d->path, name);
		return -1;
	}
	/* another file system (or links refused): a copy */
	if ((in = image_open_raw(src, srcname, NULL)) < 0)
		return -1;
	out = image_create_raw(d, name);
	if (out >= 0 && copy_fd(in, out, NULL) < 0)
		pr_perror("cannot copy image file %s/%s to %s/%s", src->path, srcname, d->path, name);
	else if (out >= 0)
		ret = 0;
	if (out >= 0)
		close(out);
	close(in);
	return ret;
}

int image_open_raw(struct image_dir *d, const char *name, uint64_t *size)
{
	struct stat st;
	char *full = xasprintf("%s/%s", d->path, name);
	int fd = openat(d->fd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	if (fd < 0) {
		if (errno == ENOENT)
			pr_err("image file %s is missing: the image is incomplete", full);
		else
			pr_perror("cannot open image file %s", full);
		goto fail;
	}
	if (fstat(fd, &st) < 0) {
		pr_perror("cannot stat image file %s", full);
		goto fail;
	}
	if (!S_ISREG(st.st_mode)) {
		pr_err("image file %s is not a regular file", full);
		goto fail;
	}
	if (check_owner(&st, "image file", full) < 0)
		goto fail;
	if (size)
		*size = st.st_size;
	free(full);
	return fd;
fail:
	if (fd >= 0)
		close(fd);
	free(full);
	return -1;
}

int image_write_msg(struct image_dir *d, const char *name, enum image_type type,
		    const ProtobufCMessage *msg)
{
	size_t len = protobuf_c_message_get_packed_size(msg);
	struct image_header h;
	uint8_t *buf;
	int fd, ret = -1;

	if (len > IMAGE_MAX_PAYLOAD) {
		pr_err("image %s would be %zu bytes, over the %u limit", name, len, IMAGE_MAX_PAYLOAD);
		return -1;
	}
	buf = xmalloc(sizeof(h) + len);
	protobuf_c_message_pack(msg, buf + sizeof(h));
	memcpy(h.magic, IMAGE_MAGIC, 8);
	h.version = IMAGE_FORMAT_VERSION;
	h.type = type;
	h.length = len;
	h.crc = crc32c(0, buf + sizeof(h), len);
	memcpy(buf, &h, sizeof(h));

	fd = image_create_raw(d, name);
	if (fd < 0)
		goto out;
	if (write_all(fd, buf, sizeof(h) + len) < 0) {
		pr_perror("cannot write image file %s/%s", d->path, name);
		goto out;
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret;
}

ProtobufCMessage *image_read_msg(struct image_dir *d, const char *name, enum image_type type,
				 const ProtobufCMessageDescriptor *desc)
{
	ProtobufCMessage *msg = NULL;
	struct image_header h;
	uint8_t *buf = NULL;
	uint64_t size;
	char *full = xasprintf("%s/%s", d->path, name);
	int fd = image_open_raw(d, name, &size);

	if (fd < 0)
		goto out;
	if (size < sizeof(h) || read_all(fd, &h, sizeof(h)) != (ssize_t)sizeof(h)) {
		pr_err("image file %s is truncated (%llu bytes, shorter than its header)",
		       full, (unsigned long long)size);
		goto out;
	}
	if (memcmp(h.magic, IMAGE_MAGIC, 8)) {
		pr_err("%s is not a jobfreeze image file (bad magic)", full);
		goto out;
	}
	if (h.version < IMAGE_FORMAT_OLDEST || h.version > IMAGE_FORMAT_VERSION) {
		pr_err("image file %s has format version %u; this jobfreeze reads versions %u to %u: "
		       "thaw it with the jobfreeze that froze it (or a newer one)", full, h.version,
		       IMAGE_FORMAT_OLDEST, IMAGE_FORMAT_VERSION);
		goto out;
	}
	if (h.type != type) {
		pr_err("image file %s holds a %s image, expected %s", full, type_name(h.type),
		       type_name(type));
		goto out;
	}
	if (h.length > IMAGE_MAX_PAYLOAD || sizeof(h) + (uint64_t)h.length != size) {
		pr_err("image file %s is truncated or damaged: header says %u payload bytes, "
		       "file has %llu", full, h.length, (unsigned long long)(size - sizeof(h)));
		goto out;
	}
	buf = xmalloc(h.length);
	if (read_all(fd, buf, h.length) != (ssize_t)h.length) {
		pr_perror("cannot read image file %s", full);
		goto out;
	}
	if (crc32c(0, buf, h.length) != h.crc) {
		pr_err("image file %s is damaged (checksum mismatch)", full);
		goto out;
	}
	msg = protobuf_c_message_unpack(desc, NULL, h.length, buf);
	if (!msg)
		pr_err("image file %s is damaged (cannot decode its %s message)", full, type_name(type));
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(full);
	return msg;
}
