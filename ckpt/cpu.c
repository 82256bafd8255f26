/* cpu.c: the CPU a job ran on, as its programs saw it.
 *
 * Programs choose their code by CPUID once, at start: glibc its AVX-512 or
 * AVX2 string functions, numpy, OpenSSL and JITs theirs. A job thawed on a
 * CPU without an instruction the freezing CPU had crashes whenever it next
 * takes that path. So the dump records the CPUID leaves of the
 * instruction-set flags a program can test, and the XSAVE components the
 * OS enabled (XCR0, which programs read with xgetbv before they use
 * AVX/AVX-512/AMX state); a thaw refuses a CPU that lacks one, naming it,
 * unless told to go on. More features than before is fine.
 *
 * The saved FPU/vector registers (NT_X86_XSTATE, the kernel's standard
 * XSAVE format) put each component at an offset CPUID 0xd gives, which
 * differs between CPUs, and are as long as the CPU's largest state. The
 * dump records the layout; a thaw lays each component the thread's state
 * holds (its XSTATE_BV) out for this CPU, and refuses a component this CPU
 * lacks: a job that never touched AMX thaws without AMX. */
#include <cpuid.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <asm/prctl.h>
#include "ckpt/cpu.h"
#include "ckpt/inject.h"
#include "ckpt/log.h"
#include "ckpt/ptrace.h"
#include "ckpt/restore.h"
#include "ckpt/util.h"

enum { EAX, EBX, ECX, EDX };

/* The flags compared, named as /proc/cpuinfo names them. Not the TSX
 * flags: microcode and kernels turn TSX off between boots, and a program
 * that takes its path then finds its transactions aborting, which it must
 * handle anyway. */
static const struct cpu_flag {
	uint32_t leaf, sub;
	uint8_t reg, bit;
	const char *name;
} flags[] = {
	{ 1, 0, ECX, 0, "sse3" }, { 1, 0, ECX, 1, "pclmulqdq" }, { 1, 0, ECX, 9, "ssse3" },
	{ 1, 0, ECX, 12, "fma" }, { 1, 0, ECX, 13, "cx16" }, { 1, 0, ECX, 19, "sse4_1" },
	{ 1, 0, ECX, 20, "sse4_2" }, { 1, 0, ECX, 22, "movbe" }, { 1, 0, ECX, 23, "popcnt" },
	{ 1, 0, ECX, 25, "aes" }, { 1, 0, ECX, 26, "xsave" }, { 1, 0, ECX, 28, "avx" },
	{ 1, 0, ECX, 29, "f16c" }, { 1, 0, ECX, 30, "rdrand" },
	{ 1, 0, EDX, 4, "tsc" }, { 1, 0, EDX, 8, "cx8" }, { 1, 0, EDX, 15, "cmov" },
	{ 1, 0, EDX, 19, "clflush" }, { 1, 0, EDX, 23, "mmx" }, { 1, 0, EDX, 24, "fxsr" },
	{ 1, 0, EDX, 25, "sse" }, { 1, 0, EDX, 26, "sse2" },
	{ 7, 0, EBX, 0, "fsgsbase" }, { 7, 0, EBX, 3, "bmi1" }, { 7, 0, EBX, 5, "avx2" },
	{ 7, 0, EBX, 8, "bmi2" }, { 7, 0, EBX, 9, "erms" }, { 7, 0, EBX, 16, "avx512f" },
	{ 7, 0, EBX, 17, "avx512dq" }, { 7, 0, EBX, 18, "rdseed" }, { 7, 0, EBX, 19, "adx" },
	{ 7, 0, EBX, 21, "avx512ifma" }, { 7, 0, EBX, 23, "clflushopt" },
	{ 7, 0, EBX, 24, "clwb" }, { 7, 0, EBX, 26, "avx512pf" }, { 7, 0, EBX, 27, "avx512er" },
	{ 7, 0, EBX, 28, "avx512cd" }, { 7, 0, EBX, 29, "sha_ni" }, { 7, 0, EBX, 30, "avx512bw" },
	{ 7, 0, EBX, 31, "avx512vl" },
	{ 7, 0, ECX, 1, "avx512vbmi" }, { 7, 0, ECX, 5, "waitpkg" },
	{ 7, 0, ECX, 6, "avx512_vbmi2" }, { 7, 0, ECX, 8, "gfni" }, { 7, 0, ECX, 9, "vaes" },
	{ 7, 0, ECX, 10, "vpclmulqdq" }, { 7, 0, ECX, 11, "avx512_vnni" },
	{ 7, 0, ECX, 12, "avx512_bitalg" }, { 7, 0, ECX, 14, "avx512_vpopcntdq" },
	{ 7, 0, ECX, 22, "rdpid" }, { 7, 0, ECX, 25, "cldemote" }, { 7, 0, ECX, 27, "movdiri" },
	{ 7, 0, ECX, 28, "movdir64b" },
	{ 7, 0, EDX, 2, "avx512_4vnniw" }, { 7, 0, EDX, 3, "avx512_4fmaps" },
	{ 7, 0, EDX, 4, "fsrm" }, { 7, 0, EDX, 8, "avx512_vp2intersect" },
	{ 7, 0, EDX, 14, "serialize" }, { 7, 0, EDX, 22, "amx_bf16" },
	{ 7, 0, EDX, 23, "avx512_fp16" }, { 7, 0, EDX, 24, "amx_tile" },
	{ 7, 0, EDX, 25, "amx_int8" },
	{ 7, 1, EAX, 4, "avx_vnni" }, { 7, 1, EAX, 5, "avx512_bf16" },
	{ 7, 1, EAX, 7, "cmpccxadd" }, { 7, 1, EAX, 10, "fzrm" }, { 7, 1, EAX, 11, "fsrs" },
	{ 7, 1, EAX, 12, "fsrc" }, { 7, 1, EAX, 21, "amx_fp16" }, { 7, 1, EAX, 23, "avx_ifma" },
	{ 7, 1, EDX, 4, "avx_vnni_int8" }, { 7, 1, EDX, 5, "avx_ne_convert" },
	{ 7, 1, EDX, 14, "prefetchiti" }, { 7, 1, EDX, 19, "avx10" },
	{ 0xd, 1, EAX, 0, "xsaveopt" }, { 0xd, 1, EAX, 1, "xsavec" }, { 0xd, 1, EAX, 2, "xgetbv1" },
	{ 0x80000001, 0, ECX, 0, "lahf_lm" }, { 0x80000001, 0, ECX, 5, "abm" },
	{ 0x80000001, 0, ECX, 6, "sse4a" }, { 0x80000001, 0, ECX, 8, "3dnowprefetch" },
	{ 0x80000001, 0, ECX, 11, "xop" }, { 0x80000001, 0, ECX, 16, "fma4" },
	{ 0x80000001, 0, ECX, 21, "tbm" },
	{ 0x80000001, 0, EDX, 22, "mmxext" }, { 0x80000001, 0, EDX, 27, "rdtscp" },
	{ 0x80000001, 0, EDX, 30, "3dnowext" }, { 0x80000001, 0, EDX, 31, "3dnow" },
	{ 0x80000008, 0, EBX, 0, "clzero" },
};

/* The XSAVE components a program can hold (XCR0's user bits). */
static const char *const xfeature_names[] = {
	[0] = "x87", [1] = "SSE", [2] = "AVX", [3] = "MPX bounds", [4] = "MPX status",
	[5] = "AVX-512 opmask", [6] = "AVX-512 upper ZMM", [7] = "AVX-512 ZMM16-31",
	[9] = "protection keys (PKRU)", [17] = "AMX tile config", [18] = "AMX tile data",
	[19] = "APX registers",
};
#define XFEATURE_PKRU 9
#define XFEATURE_XTILEDATA 18
/* The components whose layout is asked: up to APX's (19). */
#define XFEATURE_ASKED 20
/* The kernel's PKRU for a new process: every key but 0 write-disabled. */
#define PKRU_DEFAULT 0x55555554u
/* The XSAVE header: the components present (XSTATE_BV), at this offset. */
#define XSAVE_HDR 512

static const char *xfeature_name(unsigned i, char buf[32])
{
	if (i < ARRAY_SIZE(xfeature_names) && xfeature_names[i])
		return xfeature_names[i];
	snprintf(buf, 32, "XSAVE component %u", i);
	return buf;
}

/* The leaves asked: the highest of each range, the flags' leaves, the
 * XSAVE layout (0xd: its size, then each component up to APX's). */
static void plan(struct cpu_view *v)
{
	static const uint32_t fixed[][2] = { { 0, 0 }, { 0x80000000, 0 }, { 0xd, 0 } };

	memset(v, 0, sizeof(*v));
	for (size_t i = 0; i < ARRAY_SIZE(fixed); i++) {
		v->leaf[v->n] = fixed[i][0];
		v->sub[v->n++] = fixed[i][1];
	}
	for (size_t i = 0; i < ARRAY_SIZE(flags); i++) {
		bool seen = false;
		for (size_t k = 0; k < v->n; k++)
			seen |= v->leaf[k] == flags[i].leaf && v->sub[k] == flags[i].sub;
		if (!seen) {
			v->leaf[v->n] = flags[i].leaf;
			v->sub[v->n++] = flags[i].sub;
		}
	}
	for (uint32_t i = 2; i < XFEATURE_ASKED; i++) {
		v->leaf[v->n] = 0xd;
		v->sub[v->n++] = i;
	}
}

/* Register REG of LEAF.SUB as V has it; 0 for a leaf beyond the CPU's
 * highest (which CPUID would answer with another leaf's values). */
static uint32_t view_reg(const struct cpu_view *v, uint32_t leaf, uint32_t sub, int reg)
{
	uint32_t max = 0;

	for (size_t k = 0; k < v->n; k++)
		if (v->leaf[k] == (leaf & 0x80000000u) && !v->sub[k])
			max = v->reg[k][EAX];
	for (size_t k = 0; k < v->n; k++)
		if (v->leaf[k] == leaf && v->sub[k] == sub)
			return leaf <= max ? v->reg[k][reg] : 0;
	return 0;
}

void cpu_view_self(struct cpu_view *v)
{
	uint64_t supp = 0;

	plan(v);
	for (size_t k = 0; k < v->n; k++)
		if ((uint32_t)__get_cpuid_max(v->leaf[k] & 0x80000000u, NULL) >= v->leaf[k])
			__cpuid_count(v->leaf[k], v->sub[k], v->reg[k][EAX], v->reg[k][EBX],
				      v->reg[k][ECX], v->reg[k][EDX]);
	/* The kernel's own answer first (Linux 5.16+): no emulator between */
	if (syscall(SYS_arch_prctl, ARCH_GET_XCOMP_SUPP, &supp) == 0) {
		v->xcr0 = supp;
	} else if (view_reg(v, 1, 0, ECX) & (1u << 27)) {	/* OSXSAVE */
		uint32_t lo, hi;
		__asm__ volatile("xgetbv" : "=a"(lo), "=d"(hi) : "c"(0));
		v->xcr0 = (uint64_t)hi << 32 | lo;
	} else {
		v->xcr0 = 3;
	}
}

/* Appends the 4 bytes of X at C[*N]. */
static void put32(unsigned char *c, size_t *n, uint32_t x)
{
	memcpy(c + *n, &x, 4);
	*n += 4;
}

/* Ends a probe: getpid through the syscall at SYSCALL_AT (code at AT). */
static void probe_end(unsigned char *c, size_t *n, uint64_t at, uint64_t syscall_at)
{
	c[(*n)++] = 0xb8;			/* mov $SYS_getpid, %eax */
	put32(c, n, SYS_getpid);
	if (!syscall_at) {
		c[(*n)++] = 0x0f;		/* syscall */
		c[(*n)++] = 0x05;
		return;
	}
	c[(*n)++] = 0xe9;			/* jmp rel32 */
	put32(c, n, (uint32_t)(syscall_at - (at + *n + 4)));
}

/* Runs the probe code C (N bytes) at CODE in the task, rdi = BUF. */
static int run_probe(struct inject *in, const unsigned char *c, size_t n, uint64_t code,
		     uint64_t buf)
{
	long ret;

	if (remote_write(in->tid, code, c, n) < 0)
		return -1;
	ret = inject_syscall_at(in, code, SYS_getpid, buf, 0, 0, 0, 0, 0);
	if (ret < 0) {
		pr_debug("task %d: the CPU probe failed: %s", in->tid, strerror(-ret));
		return -1;
	}
	return 0;
}

int cpu_view_task(struct inject *in, uint64_t code, uint64_t buf, uint64_t syscall_at,
		  struct cpu_view *v)
{
	static const unsigned char store[] = {
		0x0f, 0xa2,			/* cpuid */
		0x89, 0x07,			/* mov %eax, (%rdi) */
		0x89, 0x5f, 0x04,		/* mov %ebx, 4(%rdi) */
		0x89, 0x4f, 0x08,		/* mov %ecx, 8(%rdi) */
		0x89, 0x57, 0x0c,		/* mov %edx, 12(%rdi) */
		0x48, 0x83, 0xc7, 0x10,		/* add $16, %rdi */
	};
	static const unsigned char xgetbv[] = {
		0x31, 0xc9,			/* xor %ecx, %ecx */
		0x0f, 0x01, 0xd0,		/* xgetbv */
		0x89, 0x07,			/* mov %eax, (%rdi) */
		0x89, 0x57, 0x04,		/* mov %edx, 4(%rdi) */
	};
	unsigned char c[CPU_QUERIES_MAX * 32 + 32];
	uint32_t r[CPU_QUERIES_MAX][4], x[2];
	size_t n = 0;

	/* CPUID made to fault in this process (arch_prctl ARCH_SET_CPUID) */
	if (INJECT(in, SYS_arch_prctl, ARCH_GET_CPUID, 0) != 1)
		return -1;
	plan(v);
	for (size_t k = 0; k < v->n; k++) {
		c[n++] = 0xb8;			/* mov $leaf, %eax */
		put32(c, &n, v->leaf[k]);
		c[n++] = 0xb9;			/* mov $sub, %ecx */
		put32(c, &n, v->sub[k]);
		memcpy(c + n, store, sizeof(store));
		n += sizeof(store);
	}
	probe_end(c, &n, code, syscall_at);
	if (run_probe(in, c, n, code, buf) < 0 || remote_read(in->tid, buf, r, v->n * 16) < 0)
		return -1;
	memcpy(v->reg, r, v->n * 16);
	v->xcr0 = 3;
	if (!(view_reg(v, 1, 0, ECX) & (1u << 27)))	/* no OSXSAVE: no xgetbv */
		return 0;
	n = 0;
	memcpy(c, xgetbv, sizeof(xgetbv));
	n = sizeof(xgetbv);
	probe_end(c, &n, code, syscall_at);
	if (run_probe(in, c, n, code, buf) < 0 || remote_read(in->tid, buf, x, sizeof(x)) < 0)
		return -1;
	v->xcr0 = (uint64_t)x[1] << 32 | x[0];
	return 0;
}

bool cpu_has_amx(const struct cpu_view *v)
{
	return v->xcr0 & (1ULL << XFEATURE_XTILEDATA);
}

void cpu_record(Inventory *inv, const struct cpu_view *v)
{
	inv->cpuid = xcalloc(v->n, sizeof(*inv->cpuid));
	for (size_t k = 0; k < v->n; k++) {
		VdsoMoveCpuid *c;
		if (v->leaf[k] == 0xd && v->sub[k] >= 2)
			continue;	/* the layout, below */
		c = xmalloc(sizeof(*c));
		vdso_move_cpuid__init(c);
		c->leaf = v->leaf[k];
		c->subleaf = v->sub[k];
		c->eax = view_reg(v, v->leaf[k], v->sub[k], EAX);
		c->ebx = view_reg(v, v->leaf[k], v->sub[k], EBX);
		c->ecx = view_reg(v, v->leaf[k], v->sub[k], ECX);
		c->edx = view_reg(v, v->leaf[k], v->sub[k], EDX);
		inv->cpuid[inv->n_cpuid++] = c;
	}
	inv->has_xcr0 = 1;
	inv->xcr0 = v->xcr0;
	inv->xsave_areas = xcalloc(64, sizeof(*inv->xsave_areas));
	for (unsigned i = 2; i < XFEATURE_ASKED; i++) {
		if (!(v->xcr0 >> i & 1))
			continue;
		VdsoMoveXsaveArea *a = xmalloc(sizeof(*a));
		vdso_move_xsave_area__init(a);
		a->feature = i;
		a->size = view_reg(v, 0xd, i, EAX);
		a->offset = view_reg(v, 0xd, i, EBX);
		inv->xsave_areas[inv->n_xsave_areas++] = a;
	}
}

void cpu_record_free(Inventory *inv)
{
	for (size_t i = 0; i < inv->n_cpuid; i++)
		free(inv->cpuid[i]);
	for (size_t i = 0; i < inv->n_xsave_areas; i++)
		free(inv->xsave_areas[i]);
	free(inv->cpuid);
	free(inv->xsave_areas);
	inv->cpuid = NULL;
	inv->xsave_areas = NULL;
	inv->n_cpuid = inv->n_xsave_areas = 0;
}

/* Register REG of LEAF.SUB as the freezing CPU answered it (*KNOWN). */
static uint32_t recorded_reg(const Inventory *inv, uint32_t leaf, uint32_t sub, int reg,
			     bool *known)
{
	for (size_t k = 0; k < inv->n_cpuid; k++) {
		const VdsoMoveCpuid *c = inv->cpuid[k];
		if (c->leaf == leaf && c->subleaf == sub) {
			*known = true;
			return reg == EAX ? c->eax : reg == EBX ? c->ebx : reg == ECX ? c->ecx : c->edx;
		}
	}
	*known = false;
	return 0;
}

/* The names of what INV's CPU had and V lacks, ", "-separated. */
static char *missing_flags(const Inventory *inv, const struct cpu_view *v)
{
	uint64_t lost = inv->has_xcr0 ? inv->xcr0 & ~v->xcr0 : 0;
	char *list = NULL, buf[32];
	size_t len = 0;
	FILE *f = open_memstream(&list, &len);

	for (size_t i = 0; f && i < ARRAY_SIZE(flags); i++) {
		const struct cpu_flag *c = &flags[i];
		bool known = false;
		uint32_t had = recorded_reg(inv, c->leaf, c->sub, c->reg, &known);
		uint32_t have = view_reg(v, c->leaf, c->sub, c->reg);
		if (known && (had >> c->bit & 1) && !(have >> c->bit & 1))
			fprintf(f, "%s%s", ftell(f) ? ", " : "", c->name);
	}
	for (unsigned i = 2; f && i < 64; i++)
		if (lost >> i & 1)
			fprintf(f, "%s%s state (XCR0)", ftell(f) ? ", " : "", xfeature_name(i, buf));
	if (!f || fclose(f) != 0 || !len) {
		free(list);
		return NULL;
	}
	return list;
}

static uint64_t xstate_bv(const Thread *t)
{
	uint64_t bv = 0;

	if (t->xstate.len >= XSAVE_HDR + 8)
		memcpy(&bv, t->xstate.data + XSAVE_HDR, sizeof(bv));
	return bv;
}

static const VdsoMoveXsaveArea *recorded_area(const Inventory *inv, unsigned i)
{
	for (size_t k = 0; k < inv->n_xsave_areas; k++)
		if (inv->xsave_areas[k]->feature == i)
			return inv->xsave_areas[k];
	return NULL;
}

/* Component I of thread T can be dropped: PKRU as every new process has
 * it (the job never used protection keys). */
static bool droppable(const Thread *t, const Inventory *inv, unsigned i)
{
	const VdsoMoveXsaveArea *a = recorded_area(inv, i);
	uint32_t pkru;

	if (i != XFEATURE_PKRU || !a || a->size < 4 || a->offset + 4 > t->xstate.len)
		return false;
	memcpy(&pkru, t->xstate.data + a->offset, sizeof(pkru));
	return pkru == PKRU_DEFAULT || pkru == 0;
}

/* Why component I of a saved state cannot come back on V, or NULL. */
static const char *xstate_trouble(const Inventory *inv, unsigned i, const struct cpu_view *v)
{
	const VdsoMoveXsaveArea *a = recorded_area(inv, i);

	if (i >= XFEATURE_ASKED || !(v->xcr0 >> i & 1))
		return "this CPU (or its kernel) has no such state";
	if (!a)
		return "the image does not say where the freezing CPU kept it";
	if (a->size != view_reg(v, 0xd, i, EAX))
		return "this CPU keeps it in another size";
	return NULL;
}

static int check_xstate(const Inventory *inv, const Process *p, const struct cpu_view *v,
			bool ignore)
{
	int bad = 0;
	char buf[32];

	for (size_t k = 0; k < p->n_threads; k++) {
		const Thread *t = p->threads[k];
		uint64_t bv = xstate_bv(t);
		for (unsigned i = 2; i < 64; i++) {
			const char *why = bv >> i & 1 ? xstate_trouble(inv, i, v) : NULL;
			if (!why || droppable(t, inv, i))
				continue;
			if (ignore) {
				pr_warn("thread %d: its %s registers are dropped (%s; "
					"--ignore-cpu-features)", t->tid, xfeature_name(i, buf), why);
				continue;
			}
			pr_err("thread %d of process %d holds %s registers, and %s: thaw it on a CPU "
			       "that has them", t->tid, p->pid, xfeature_name(i, buf), why);
			bad++;
		}
	}
	return bad;
}

/* An image without the layout (an older jobfreeze's): this CPU's state
 * must be as long as the freezing CPU's, taken to be laid out alike. */
static int check_xstate_size(const Process *p, const struct cpu_view *v)
{
	uint32_t size = view_reg(v, 0xd, 0, EBX);

	if (p->threads[0]->xstate.len == size)
		return 0;
	pr_err("the job was frozen on a CPU with %zu bytes of FPU/vector state, this one has "
	       "%u, and its image does not say how they were laid out: it can only be thawed "
	       "on a machine with the same CPU features", p->threads[0]->xstate.len, size);
	return 1;
}

int cpu_check(const Inventory *inv, const Process *const *procs, size_t n,
	      const struct cpu_view *v, bool with_flags, bool ignore)
{
	char *missing = with_flags ? missing_flags(inv, v) : NULL;
	int bad = 0;

	if (missing && ignore) {
		pr_warn("this CPU lacks %s, which the job's CPU had: thawing it anyway "
			"(--ignore-cpu-features)", missing);
	} else if (missing) {
		pr_err("the job was frozen on a CPU with %s, which this CPU lacks: its programs may "
		       "have chosen code that uses them and would crash; thaw it on a CPU that has "
		       "them (or with --ignore-cpu-features if you know it does not use them)",
		       missing);
		bad++;
	}
	free(missing);
	for (size_t i = 0; i < n; i++) {
		if (!procs[i])
			continue;	/* a zombie: no registers */
		bad += inv->n_xsave_areas ? check_xstate(inv, procs[i], v, ignore)
					  : check_xstate_size(procs[i], v);
		if ((procs[i]->xcomp_perm >> XFEATURE_XTILEDATA & 1) && !cpu_has_amx(v)) {
			if (ignore) {
				pr_warn("process %d had AMX permission, which this CPU cannot give "
					"(--ignore-cpu-features)", procs[i]->pid);
			} else {
				pr_err("process %d asked for AMX (arch_prctl), which this CPU or its "
				       "kernel has not: thaw it where AMX is", procs[i]->pid);
				bad++;
			}
		}
	}
	return bad ? -1 : 0;
}

int cpu_xstate_restore(pid_t tid, const Thread *t, const Inventory *inv,
		       const struct cpu_view *v, bool ignore)
{
	uint64_t bv = xstate_bv(t), keep = 3, zero = 0;
	unsigned char *buf;
	void *now;
	size_t len;
	int ret = -1;

	/* This task's own state says how long this CPU's is. */
	if (ptrace_get_xstate(tid, &now, &len) < 0)
		return -1;
	buf = now;
	if (!inv->n_xsave_areas) {
		if (len != t->xstate.len) {
			pr_err("the job was frozen on a CPU with %zu bytes of FPU/vector state, this one "
			       "has %zu, and its image does not say how they were laid out: it can "
			       "only be thawed on a machine with the same CPU features",
			       t->xstate.len, len);
			goto out;
		}
		ret = ptrace_set_xstate(tid, t->xstate.data, t->xstate.len);
		goto out;
	}
	if (t->xstate.len < XSAVE_HDR + 64 || len < XSAVE_HDR + 64) {
		pr_err("thread %d: damaged image (%zu bytes of FPU state)", t->tid, t->xstate.len);
		goto out;
	}
	/* the legacy area (x87, SSE, MXCSR) and a fresh header */
	memset(buf, 0, len);
	memcpy(buf, t->xstate.data, XSAVE_HDR);
	for (unsigned i = 2; i < 64; i++) {
		const VdsoMoveXsaveArea *a = recorded_area(inv, i);
		if (!(bv >> i & 1))
			continue;
		if (xstate_trouble(inv, i, v)) {
			if (!ignore && !droppable(t, inv, i)) {
				pr_err("thread %d: its FPU/vector state cannot be laid out for this CPU", t->tid);
				goto out;
			}
			continue;
		}
		uint32_t to = view_reg(v, 0xd, i, EBX);
		if ((uint64_t)a->offset + a->size > t->xstate.len || (uint64_t)to + a->size > len) {
			pr_err("thread %d: damaged image (XSAVE component %u beyond its state)", t->tid, i);
			goto out;
		}
		memcpy(buf + to, t->xstate.data + a->offset, a->size);
		keep |= 1ULL << i;
	}
	bv &= keep;
	memcpy(buf + XSAVE_HDR, &bv, sizeof(bv));
	memcpy(buf + XSAVE_HDR + 8, &zero, sizeof(zero));	/* standard format: no XCOMP_BV */
	ret = ptrace_set_xstate(tid, buf, len);
out:
	free(now);
	return ret;
}

int cpu_restore_check(struct restore_ctx *r)
{
	const Process *p = r->img;

	r->cpu = xmalloc(sizeof(*r->cpu));
	if (cpu_view_task(&r->in, r->in.scratch + CPU_PROBE_CODE, r->in.scratch + CPU_PROBE_BUF, 0,
			  r->cpu) < 0)
		cpu_view_self(r->cpu);
	/* (the flags are the job's: said once, for its first process) */
	return cpu_check(r->inv, &p, 1, r->cpu, p->pid == r->inv->root_pid,
			 r->o->ignore_cpu_features);
}
