/* fuzz_vdso_elf.c: the vDSO symbol reader (vdso_elf_functions), which
 * reads the bytes of a job's [vdso] at dump and an image's at a thaw: the
 * input is the vDSO image. */
#include "ckpt/vdso_elf.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct vdso_funcs fs;
	const char *why;

	fuzz_quiet();
	if (vdso_elf_functions(data, size, &fs, &why) == 0) {
		for (size_t i = 0; i < fs.n; i++)
			if (fs.f[i].off >= size || fs.f[i].size > size - fs.f[i].off)
				abort();
		vdso_funcs_free(&fs);
	}
	return 0;
}
