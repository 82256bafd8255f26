/* fuzz_anonfd.c: the fdinfo text of an eventfd, signalfd or timerfd as the
 * restore reads it back from an image (anonfd_open makes the fd). The first
 * byte picks the kind. */
#include <unistd.h>
#include "ckpt/restore.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const Fd__Kind kinds[] = { FD__KIND__EVENTFD, FD__KIND__SIGNALFD, FD__KIND__TIMERFD };
	Fd f = FD__INIT;
	int fd;

	if (!size)
		return 0;
	fuzz_quiet();
	f.kind = kinds[data[0] % ARRAY_SIZE(kinds)];
	f.flags = data[0] & 0x80 ? O_NONBLOCK : 0;
	f.fd = 3;
	f.path = (char *)"anon_inode";
	f.info = fuzz_text(data + 1, size - 1);
	fd = anonfd_open(&f);
	if (fd >= 0)
		close(fd);
	free(f.info);
	return 0;
}
