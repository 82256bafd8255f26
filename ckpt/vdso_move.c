/* vdso_move.c: where the kernel's [vvar], [vvar_vclock] and [vdso] areas
 * go in a new process. Under the job's own kernel: back at the job's
 * addresses. Under another kernel (vdso.c decides), the job keeps calling
 * the old vDSO's functions at the addresses its C library found them at
 * start. Then this kernel's areas go to a free range near the old vDSO
 * (its code finds its data at a fixed distance before itself), and the
 * old vDSO's bytes come back at their address, headers, symbols and unwind
 * tables included (the C library and unwinders read them there), with a
 * jump at each function to this kernel's function of the same name.
 *
 * The old bytes go into this kernel's [vdso] mapping itself, moved to the
 * old address (written through /proc/PID/mem, which copies the pages for
 * this process alone): /proc/self/maps then shows [vdso] where the job's
 * auxv says it is. This kernel's code runs from a copy next to its
 * [vvar]: an anonymous r-x area that a later dump recognises and leaves
 * out (vdso.c). Where this kernel's vDSO is larger than the old one and
 * the job has something mapped right after it, the real [vdso] stays next
 * to its [vvar] instead and the old bytes are an anonymous area. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include "ckpt/log.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"
#include "ckpt/vdso.h"
#include "ckpt/vdso_elf.h"

const char *const vdso_area_names[NR_AREAS] = { "[vvar]", "[vvar_vclock]", "[vdso]" };
static const Vma__Kind area_kinds[NR_AREAS] = { VMA__KIND__VVAR, VMA__KIND__VVAR_VCLOCK,
						 VMA__KIND__VDSO };

void vdso_image_areas(const Process *img, struct range a[NR_AREAS])
{
	memset(a, 0, NR_AREAS * sizeof(*a));
	for (size_t i = 0; i < img->n_vmas; i++)
		for (int k = 0; k < NR_AREAS; k++)
			if (img->vmas[i]->kind == area_kinds[k])
				a[k] = (struct range){ img->vmas[i]->start, img->vmas[i]->end };
}

static int move_area(struct restore_ctx *r, int k, struct range *cur, uint64_t to)
{
	uint64_t size = cur->end - cur->start;
	long ret = INJECT(&r->in, SYS_mremap, cur->start, size, size, MREMAP_MAYMOVE | MREMAP_FIXED,
			  to);

	if (ret < 0) {
		pr_err("cannot move %s from %#lx to %#lx: %s%s", vdso_area_names[k],
		       (unsigned long)cur->start, (unsigned long)to, strerror(-ret),
		       ret == -EPERM ? " (this kernel seals its vDSO against moves: "
				       "CONFIG_MSEAL_SYSTEM_MAPPINGS)" : "");
		return -1;
	}
	*cur = (struct range){ to, to + size };
	return 0;
}

int vdso_place(struct restore_ctx *r, struct range cur[NR_AREAS], const uint64_t dest[NR_AREAS],
	       const struct range *busy, size_t nr_busy)
{
	struct range *avoid = xcalloc(2 * NR_AREAS + 1 + nr_busy, sizeof(*avoid));
	size_t n = 0;
	int ret = -1;

	/* First every area out of the way, then each to its place: no move
	 * lands on an area another one still occupies. */
	for (int k = 0; k < NR_AREAS; k++) {
		uint64_t size = cur[k].end - cur[k].start, to;
		if (!size || cur[k].start == dest[k])
			continue;
		if (!dest[k]) {
			long e = INJECT(&r->in, SYS_munmap, cur[k].start, size);
			if (e < 0) {
				pr_err("cannot unmap this kernel's %s: %s", vdso_area_names[k], strerror(-e));
				goto out;
			}
			cur[k] = (struct range){ 0, 0 };
			continue;
		}
		n = 0;
		for (int j = 0; j < NR_AREAS; j++) {
			avoid[n++] = cur[j];
			if (dest[j])
				avoid[n++] = (struct range){ dest[j], dest[j] + cur[j].end - cur[j].start };
		}
		avoid[n++] = (struct range){ r->in.scratch, r->in.scratch + r->in.scratch_size };
		for (size_t b = 0; b < nr_busy; b++)
			avoid[n++] = busy[b];
		to = find_gap(r, size, avoid, n);
		if (!to) {
			pr_err("no free address range to move the vdso through");
			goto out;
		}
		if (move_area(r, k, &cur[k], to) < 0)
			goto out;
	}
	for (int k = 0; k < NR_AREAS; k++)
		if (cur[k].end > cur[k].start && cur[k].start != dest[k] &&
		    move_area(r, k, &cur[k], dest[k]) < 0)
			goto out;
	ret = 0;
out:
	free(avoid);
	return ret;
}


static bool overlaps(uint64_t a, uint64_t b, uint64_t c, uint64_t d)
{
	return a < d && c < b;
}

/* Whether [AT, AT + LEN) holds nothing the restore maps for the job (the
 * kernel's areas and a vDSO copy are not mapped by mem.c) but the scratch. */
static bool free_for_vdso(const struct restore_ctx *r, uint64_t at, uint64_t len)
{
	if (overlaps(at, at + len, r->in.scratch, r->in.scratch + r->in.scratch_size))
		return false;
	for (size_t i = 0; i < r->img->n_vmas; i++) {
		const Vma *v = r->img->vmas[i];
		bool kernel = v->kind == VMA__KIND__VDSO || v->kind == VMA__KIND__VVAR ||
			      v->kind == VMA__KIND__VVAR_VCLOCK || v->vdso_copy;
		if (!kernel && overlaps(at, at + len, v->start, v->end))
			return false;
	}
	return true;
}

static const unsigned char endbr64[4] = { 0xf3, 0x0f, 0x1e, 0xfa };

/* Where the jump for the job's function I goes in the old bytes TEXT, and
 * how many bytes it may take: from its start (after an endbr64, which an
 * indirect call may need to find there) to its end or the next function. */
static int jump_room(const Process *img, size_t i, const unsigned char *text, uint64_t *at,
		     uint64_t *room)
{
	const VdsoMoveSymbol *s = img->vdso_symbols[i];
	uint64_t len = img->vdso_text.len, end = s->size ? s->offset + s->size : len;

	for (size_t j = 0; j < img->n_vdso_symbols; j++)
		if (img->vdso_symbols[j]->offset > s->offset && img->vdso_symbols[j]->offset < end)
			end = img->vdso_symbols[j]->offset;
	if (s->offset >= len || end > len || end <= s->offset) {
		pr_err("process %d: damaged image (vDSO function %s at %#lx)", img->pid, s->name,
		       (unsigned long)s->offset);
		return -1;
	}
	*at = s->offset;
	if (end - *at >= sizeof(endbr64) + 5 && !memcmp(text + *at, endbr64, sizeof(endbr64)))
		*at += sizeof(endbr64);
	*room = end - *at;
	return 0;
}

int vdso_forward_check(const Process *img)
{
	int bad = 0;

	for (size_t i = 0; i < img->n_vdso_symbols; i++) {
		uint64_t at, room;
		if (jump_room(img, i, img->vdso_text.data, &at, &room) < 0)
			return -1;
		if (room < 5) {
			pr_err("process %d: the job's vDSO function %s is %lu bytes: too short to lead "
			       "to this kernel's", img->pid, img->vdso_symbols[i]->name,
			       (unsigned long)room);
			bad++;
		}
	}
	return bad ? -1 : 0;
}

/* Writes into BUF (the old vDSO's bytes, to be put at address AT) a jump
 * at each of the job's functions to this kernel's function of the same
 * name (FS, its code at BASE): `jmp rel32` when it reaches, else through
 * r11, which no caller expects kept across a call. */
static int put_jumps(const Process *img, unsigned char *buf, uint64_t at, uint64_t base,
		     const struct vdso_funcs *fs)
{
	for (size_t i = 0; i < img->n_vdso_symbols; i++) {
		const struct vdso_func *to = vdso_funcs_find(fs, img->vdso_symbols[i]->name);
		uint64_t off, room, target;
		int64_t rel;

		if (!to) {
			pr_err("this kernel's vDSO lacks %s(), which the job's had",
			       img->vdso_symbols[i]->name);
			return -1;
		}
		if (jump_room(img, i, buf, &off, &room) < 0)
			return -1;
		target = base + to->off;
		rel = (int64_t)(target - (at + off + 5));
		if (rel == (int32_t)rel && room >= 5) {
			int32_t r32 = (int32_t)rel;
			buf[off] = 0xe9;
			memcpy(buf + off + 1, &r32, 4);
		} else if (room >= 13) {
			buf[off] = 0x49;	/* movabs $target, %r11 */
			buf[off + 1] = 0xbb;
			memcpy(buf + off + 2, &target, 8);
			buf[off + 10] = 0x41;	/* jmp *%r11 */
			buf[off + 11] = 0xff;
			buf[off + 12] = 0xe3;
		} else {
			pr_err("no room for a jump from the job's vDSO function %s to this kernel's "
			       "(%lu bytes, %#lx away)", img->vdso_symbols[i]->name,
			       (unsigned long)room, (unsigned long)(target - at));
			return -1;
		}
	}
	return 0;
}

/* LEN bytes of code BYTES at AT in the job: an anonymous area, r-x. */
static int map_code(struct restore_ctx *r, uint64_t at, const void *bytes, uint64_t len)
{
	long ret = INJECT(&r->in, SYS_mmap, at, len, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);

	if (ret != (long)at) {
		pr_err("cannot map the vDSO's code at %#lx: %s", (unsigned long)at,
		       ret < 0 ? strerror(-ret) : "placed elsewhere");
		return -1;
	}
	if (remote_write(r->job, at, bytes, len) < 0)
		return -1;
	ret = INJECT(&r->in, SYS_mprotect, at, len, PROT_READ | PROT_EXEC);
	if (ret < 0) {
		pr_err("cannot make the vDSO's code at %#lx executable: %s", (unsigned long)at,
		       strerror(-ret));
		return -1;
	}
	return 0;
}

int vdso_forward(struct restore_ctx *r, struct range cur[NR_AREAS],
		 const struct range want[NR_AREAS], const unsigned char *text, size_t len)
{
	const Process *img = r->img;
	uint64_t at = want[VDSO].start, old_len = want[VDSO].end - at, lo = UINT64_MAX, hi = 0;
	uint64_t dest[NR_AREAS] = { 0 }, gap, base, buf_len;
	struct range keep[2];
	struct vdso_funcs fs;
	unsigned char *buf = NULL;
	const char *why, *mode = NULL;
	bool in_place;
	int ret = -1;

	if (vdso_elf_functions(text, len, &fs, &why) < 0) {
		pr_err("this kernel's vDSO cannot be read as an ELF image (%s)", why);
		return -1;
	}
	for (int k = 0; k < NR_AREAS; k++)
		if (cur[k].end > cur[k].start) {
			lo = cur[k].start < lo ? cur[k].start : lo;
			hi = cur[k].end > hi ? cur[k].end : hi;
		}
#ifdef JF_TEST_HOOKS
	mode = getenv("JOBFREEZE_TEST_VDSO");
#endif
	in_place = !(mode && !strcmp(mode, "forward-anon")) && free_for_vdso(r, at, len);
	/* Near the old vDSO, so that a 5-byte jump reaches; never where its
	 * bytes go back. */
	keep[0] = (struct range){ at, at + (old_len > len ? old_len : len) };
	keep[1] = (struct range){ r->in.scratch, r->in.scratch + r->in.scratch_size };
	gap = find_gap_near(r, hi - lo, keep, 2, at);
	if (!gap) {
		pr_err("no free address range for this kernel's vDSO");
		goto out;
	}
	for (int k = 0; k < NR_AREAS; k++)
		if (cur[k].end > cur[k].start)
			dest[k] = gap + (cur[k].start - lo);
	base = dest[VDSO];
	if (in_place)
		dest[VDSO] = at;
	buf_len = in_place && len > old_len ? len : old_len;
	buf = xmalloc(buf_len);
	memset(buf, 0xcc, buf_len);	/* int3: nothing jumps there */
	memcpy(buf, img->vdso_text.data, old_len);
	if (put_jumps(img, buf, at, base, &fs) < 0 || vdso_place(r, cur, dest, keep, 1) < 0)
		goto out;
	if (in_place) {
		/* the copy of this kernel's code, then the old bytes in its [vdso] */
		if (map_code(r, base, text, len) < 0 ||
		    remote_write(r->job, at, buf, len < buf_len ? len : buf_len) < 0 ||
		    (old_len > len && map_code(r, at + len, buf + len, old_len - len) < 0))
			goto out;
	} else if (map_code(r, at, buf, old_len) < 0) {
		goto out;
	}
	pr_info("process %d: the job's vDSO (kernel %s) at %#lx leads to this kernel's at %#lx "
		"(%zu functions)%s", img->pid, r->inv->kernel, (unsigned long)at,
		(unsigned long)base, img->n_vdso_symbols,
		in_place ? "" : "; [vdso] shows there, not at the old address");
	ret = 0;
out:
	free(buf);
	vdso_funcs_free(&fs);
	return ret;
}
