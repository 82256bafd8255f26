/* fuzz_elf.c: the ELF build-id reader (fileid_make), which reads the
 * program and every library of the job at dump and restore: the input is
 * the file lib.so. */
#include <unistd.h>
#include "ckpt/fileid.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *path = xasprintf("%s/lib.so", fuzz_dir("lib.so"));
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	struct stat st;

	fuzz_quiet();
	if (fd < 0 || write_all(fd, data, size) < 0 || fstat(fd, &st) < 0)
		abort();
	close(fd);
	fileid_free(fileid_make(path, &st));
	free(path);
	return 0;
}
