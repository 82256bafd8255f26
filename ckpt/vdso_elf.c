/* vdso_elf.c: the function symbols of a vDSO image. The image comes from
 * the job's memory at dump, or from an image file at a thaw, so every
 * offset and count is checked against its length before it is followed
 * (a fuzz target, tests/fuzz/fuzz_vdso_elf.c, feeds it garbage). The
 * kernel links its vDSO at address 0 and maps the file as it is, so a
 * symbol's value, less the first loaded segment's address, is its offset
 * in the mapping. */
#include <elf.h>
#include <string.h>
#include "ckpt/util.h"
#include "ckpt/vdso_elf.h"

/* Whether [OFF, OFF + N * SIZE) lies inside LEN bytes, without overflow. */
static bool inside(uint64_t off, uint64_t n, uint64_t size, size_t len)
{
	return off <= len && (size == 0 || n <= (len - off) / size);
}

static int load_base(const unsigned char *img, size_t len, const Elf64_Ehdr *eh, uint64_t *base)
{
	if (!inside(eh->e_phoff, eh->e_phnum, sizeof(Elf64_Phdr), len))
		return -1;
	for (unsigned i = 0; i < eh->e_phnum; i++) {
		Elf64_Phdr ph;
		memcpy(&ph, img + eh->e_phoff + i * sizeof(ph), sizeof(ph));
		if (ph.p_type == PT_LOAD) {
			*base = ph.p_vaddr - ph.p_offset;
			return 0;
		}
	}
	return -1;
}

static void add(struct vdso_funcs *fs, const char *name, size_t name_len, uint64_t off,
		uint64_t size)
{
	struct vdso_func *f;

	fs->f = xrealloc(fs->f, (fs->n + 1) * sizeof(*fs->f));
	f = &fs->f[fs->n++];
	f->name = xmalloc(name_len + 1);
	memcpy(f->name, name, name_len);
	f->name[name_len] = 0;
	f->off = off;
	f->size = size;
}

/* The functions of dynamic symbol table SH (strings in section STR). */
static int read_symtab(const unsigned char *img, size_t len, uint64_t base, const Elf64_Shdr *sh,
		       const Elf64_Shdr *str, struct vdso_funcs *fs)
{
	uint64_t n = sh->sh_size / sizeof(Elf64_Sym);

	if (sh->sh_entsize != sizeof(Elf64_Sym) || !inside(sh->sh_offset, n, sizeof(Elf64_Sym), len) ||
	    !inside(str->sh_offset, str->sh_size, 1, len))
		return -1;
	for (uint64_t i = 0; i < n; i++) {
		Elf64_Sym s;
		memcpy(&s, img + sh->sh_offset + i * sizeof(s), sizeof(s));
		if (ELF64_ST_TYPE(s.st_info) != STT_FUNC || s.st_shndx == SHN_UNDEF ||
		    (ELF64_ST_BIND(s.st_info) != STB_GLOBAL && ELF64_ST_BIND(s.st_info) != STB_WEAK))
			continue;
		if (s.st_name >= str->sh_size)
			return -1;
		const char *name = (const char *)img + str->sh_offset + s.st_name;
		size_t name_len = strnlen(name, str->sh_size - s.st_name);
		uint64_t off = s.st_value - base;
		if (!name_len || name_len == str->sh_size - s.st_name || s.st_value < base ||
		    off >= len || s.st_size > len - off)
			return -1;
		add(fs, name, name_len, off, s.st_size);
	}
	return 0;
}

int vdso_elf_functions(const unsigned char *img, size_t len, struct vdso_funcs *out,
		       const char **why)
{
	Elf64_Ehdr eh;
	uint64_t base;
	bool found = false;

	memset(out, 0, sizeof(*out));
	*why = "not a 64-bit ELF image";
	if (len < sizeof(eh))
		return -1;
	memcpy(&eh, img, sizeof(eh));
	if (memcmp(eh.e_ident, ELFMAG, SELFMAG) || eh.e_ident[EI_CLASS] != ELFCLASS64)
		return -1;
	*why = "no loadable segment";
	if (load_base(img, len, &eh, &base) < 0)
		return -1;
	*why = "damaged section headers";
	if (eh.e_shentsize != sizeof(Elf64_Shdr) ||
	    !inside(eh.e_shoff, eh.e_shnum, sizeof(Elf64_Shdr), len))
		return -1;
	for (unsigned i = 0; i < eh.e_shnum; i++) {
		Elf64_Shdr sh, str;
		memcpy(&sh, img + eh.e_shoff + i * sizeof(sh), sizeof(sh));
		if (sh.sh_type != SHT_DYNSYM)
			continue;
		*why = "damaged dynamic symbol table";
		if (sh.sh_link >= eh.e_shnum)
			goto fail;
		memcpy(&str, img + eh.e_shoff + sh.sh_link * sizeof(str), sizeof(str));
		if (read_symtab(img, len, base, &sh, &str, out) < 0)
			goto fail;
		found = true;
	}
	*why = "no dynamic symbol table";
	if (!found)
		goto fail;
	*why = NULL;
	return 0;
fail:
	vdso_funcs_free(out);
	return -1;
}

void vdso_funcs_free(struct vdso_funcs *fs)
{
	for (size_t i = 0; i < fs->n; i++)
		free(fs->f[i].name);
	free(fs->f);
	fs->f = NULL;
	fs->n = 0;
}

const struct vdso_func *vdso_funcs_find(const struct vdso_funcs *fs, const char *name)
{
	for (size_t i = 0; i < fs->n; i++)
		if (!strcmp(fs->f[i].name, name))
			return &fs->f[i];
	return NULL;
}
