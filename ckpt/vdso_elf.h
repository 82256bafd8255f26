/* vdso_elf.h: the functions a vDSO exports, read from its ELF image (the
 * bytes of a [vdso] mapping: headers, sections and code as one). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct vdso_func {
	char *name;
	uint64_t off;         /* from the start of the image (= of the mapping) */
	uint64_t size;
};

struct vdso_funcs {
	struct vdso_func *f;
	size_t n;
};

/* The defined function symbols of the image IMG (LEN bytes), in the order
 * of its dynamic symbol table. -1 when IMG is not an ELF image this reads
 * (nothing allocated; *WHY says what is wrong). */
int vdso_elf_functions(const unsigned char *img, size_t len, struct vdso_funcs *out,
		       const char **why);
void vdso_funcs_free(struct vdso_funcs *fs);
const struct vdso_func *vdso_funcs_find(const struct vdso_funcs *fs, const char *name);
