/* fuzz_image.c: an image file through the path restore takes: the file
 * read and its header checked (image_read_msg), the message unpacked, then
 * the checks load_job makes before using any field. The first input byte
 * picks the message type (bit 0: inventory or process) and whether the
 * rest is a whole file or a payload given a valid header (bit 1), so that
 * the fuzzer gets past the CRC. The file goes to a private directory in $TMPDIR. */
#include "ckpt/crc32c.h"
#include "ckpt/image.h"
#include "ckpt/imgcheck.h"
#include "ckpt/restore.h"
#include "tests/fuzz/fuzz.h"

static struct image_dir dir = { .fd = -1 };
static char *file;

static void setup(void)
{
	if (image_dir_open(fuzz_dir("fuzz.img"), &dir) < 0)
		abort();
	file = xasprintf("%s/fuzz.img", dir.path);
}

static void put_file(const uint8_t *data, size_t size, bool fix, enum image_type type)
{
	struct image_header h = { .version = IMAGE_FORMAT_VERSION, .type = type, .length = size };
	int fd = openat(dir.fd, "fuzz.img", O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);

	if (fd < 0)
		abort();
	if (fix) {
		memcpy(h.magic, IMAGE_MAGIC, 8);
		h.crc = crc32c(0, data, size);
		if (write_all(fd, &h, sizeof(h)) < 0)
			abort();
	}
	if (write_all(fd, data, size) < 0)
		abort();
	close(fd);
}

static void check_inventory(void)
{
	Inventory *inv = (Inventory *)image_read_msg(&dir, "fuzz.img", IMG_INVENTORY,
						     &inventory__descriptor);
	if (inv) {
		image_check_inventory(inv, file);
		protobuf_c_message_free_unpacked(&inv->base, NULL);
	}
}

static void check_process(void)
{
	Process *p = (Process *)image_read_msg(&dir, "fuzz.img", IMG_PROCESS, &process__descriptor);
	ProcEntry pe = PROC_ENTRY__INIT;

	if (!p)
		return;
	pe.pid = p->pid;
	/* what load_job computes from a process that passed */
	if (image_check_process(p, &pe, file) == 0 && files_max_fd(p) + 1 < 3)
		abort();
	protobuf_c_message_free_unpacked(&p->base, NULL);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	bool inventory;

	if (!size)
		return 0;
	fuzz_quiet();
	if (dir.fd < 0)
		setup();
	inventory = !(data[0] & 1);
	put_file(data + 1, size - 1, data[0] & 2, inventory ? IMG_INVENTORY : IMG_PROCESS);
	if (inventory)
		check_inventory();
	else
		check_process();
	return 0;
}
