/* fmaps: memory areas with attributes a thaw must give back: madvise flags
 * (each area's VmFlags compared before and after), mlock, MAP_NORESERVE,
 * MAP_DROPPABLE, MADV_WIPEONFORK seen by a child forked before the freeze,
 * a shared file mapping mapped read-only from a writable fd that may be
 * made writable later, guard regions (MADV_GUARD_INSTALL) in anonymous and
 * file mappings that must still fault, and data written in the middle of
 * a private file mapping split by mprotect. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include "fwait.h"

#define PG 4096
#ifndef MAP_DROPPABLE
#define MAP_DROPPABLE 0x08
#endif
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif
#ifndef MLOCK_ONFAULT
#define MLOCK_ONFAULT 1
#endif

/* The VmFlags of the area at ADDR that a program may set, sorted. */
static void vmflags(void *addr, char *out, size_t len)
{
	static const char *const keep[] = { "dc", "sr", "rr", "dd", "hg", "nh", "mg", "wf",
					    "lo", "lf", "nr", "dp", "mw" };
	char line[1024];
	unsigned long a, b, want = (unsigned long)addr;
	bool in = false;
	FILE *f = fopen("/proc/self/smaps", "r");

	*out = 0;
	while (f && fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &a, &b) == 2 && strchr(line, '-') < strchr(line, ' '))
			in = a <= want && want < b;
		else if (in && !strncmp(line, "VmFlags:", 8)) {
			for (size_t k = 0; k < sizeof(keep) / sizeof(keep[0]); k++)
				if (strstr(line + 8, keep[k]) && strlen(out) + 4 < len) {
					strcat(out, keep[k]);
					strcat(out, " ");
				}
			break;
		}
	}
	if (f)
		fclose(f);
}

static sigjmp_buf jb;
static void on_segv(int sig)
{
	(void)sig;
	siglongjmp(jb, 1);
}

/* Whether a write to P faults. */
static bool write_faults(volatile char *p)
{
	if (sigsetjmp(jb, 1))
		return true;
	*p = 'x';
	return false;
}

struct area {
	const char *name;
	char *p;
	char flags[128];
};

int main(int argc, char **argv)
{
	struct area a[12];
	int na = 0;
	char buf[PG], now[128];

	fw_init(argc, argv);
	signal(SIGSEGV, on_segv);

	/* anonymous areas, one attribute each */
	static const struct { const char *name; int flags, advice; } kinds[] = {
		{ "dontfork", MAP_PRIVATE, MADV_DONTFORK }, { "sequential", MAP_PRIVATE, MADV_SEQUENTIAL },
		{ "random", MAP_PRIVATE, MADV_RANDOM }, { "dontdump", MAP_PRIVATE, MADV_DONTDUMP },
		{ "hugepage", MAP_PRIVATE, MADV_HUGEPAGE }, { "nohugepage", MAP_PRIVATE, MADV_NOHUGEPAGE },
		{ "mergeable", MAP_PRIVATE, MADV_MERGEABLE }, { "wipeonfork", MAP_PRIVATE, MADV_WIPEONFORK },
		{ "locked", MAP_PRIVATE | MAP_LOCKED, MADV_NORMAL },
		{ "noreserve", MAP_PRIVATE | MAP_NORESERVE, MADV_NORMAL },
	};
	for (size_t k = 0; k < sizeof(kinds) / sizeof(kinds[0]); k++) {
		char *p = mmap(NULL, 2 * PG, PROT_READ | PROT_WRITE, kinds[k].flags | MAP_ANONYMOUS, -1, 0);
		fw_need(p != MAP_FAILED, kinds[k].name);
		fw_need(madvise(p, 2 * PG, kinds[k].advice) == 0 || errno == EINVAL, kinds[k].name);
		memset(p, 'a' + k, 2 * PG);
		a[na++] = (struct area){ kinds[k].name, p, "" };
	}
	char *onfault = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fw_need(onfault != MAP_FAILED && syscall(SYS_mlock2, onfault, 4 * PG, MLOCK_ONFAULT) == 0,
		"mlock2");
	onfault[0] = 'o';
	a[na++] = (struct area){ "lockonfault", onfault, "" };
	for (int i = 0; i < na; i++)
		vmflags(a[i].p, a[i].flags, sizeof(a[i].flags));

	/* droppable: its contents may go at any moment, a freeze being one */
	char *drop = mmap(NULL, PG, PROT_READ | PROT_WRITE, MAP_DROPPABLE | MAP_ANONYMOUS, -1, 0);
	if (drop != MAP_FAILED)
		strcpy(drop, "droppable");

	/* a shared mapping of a file, read-only, from a writable fd */
	int fd = open(fw_path("shared.dat"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	fw_need(fd >= 0 && ftruncate(fd, 2 * PG) == 0, "shared.dat");
	char *ro = mmap(NULL, 2 * PG, PROT_READ, MAP_SHARED, fd, 0);
	fw_need(ro != MAP_FAILED && mprotect(ro + PG, PG, PROT_READ | PROT_WRITE) == 0, "mmap ro");
	close(fd);

	/* guard regions in anonymous memory and in a private file mapping */
	char *g = mmap(NULL, 4 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	fw_need(g != MAP_FAILED, "guard area");
	memset(g, 'g', 4 * PG);
	bool have_guards = madvise(g + PG, 2 * PG, MADV_GUARD_INSTALL) == 0;
	fd = open(fw_path("mid.dat"), O_RDWR | O_CREAT | O_TRUNC, 0644);
	fw_need(fd >= 0, "mid.dat");
	for (int i = 0; i < 6; i++) {
		memset(buf, '0' + i, PG);
		fw_need(write(fd, buf, PG) == PG, "write mid.dat");
	}
	char *fg = mmap(NULL, 3 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	fw_need(fg != MAP_FAILED, "file guard area");
	if (have_guards)
		madvise(fg, PG, MADV_GUARD_INSTALL);

	/* data written in the middle of a private file mapping, split by mprotect */
	char *mid = mmap(NULL, 6 * PG, PROT_READ | PROT_WRITE, MAP_PRIVATE, fd, 0);
	fw_need(mid != MAP_FAILED, "mid mapping");
	memset(mid + 3 * PG, 'W', PG);
	fw_need(mprotect(mid + 2 * PG, 2 * PG, PROT_READ) == 0, "mprotect mid");
	close(fd);

	/* a child forked now sees the wiped area as zeros, the parent its data */
	pid_t child = fork();
	fw_need(child >= 0, "fork");
	if (child == 0) {
		fw_wait_go();
		_exit(a[7].p[0] == 0 && a[7].p[PG] == 0 ? 0 : 1);
	}

	fw_ready_wait();

	for (int i = 0; i < na; i++) {
		vmflags(a[i].p, now, sizeof(now));
		fw_check(a[i].name, !strcmp(now, a[i].flags) && a[i].p[0] == (i == na - 1 ? 'o' : 'a' + i),
			 "flags '%s', were '%s'", now, a[i].flags);
	}
	fw_check("droppable", drop == MAP_FAILED || !strcmp(drop, "droppable") || !drop[0],
		 "holds '%.16s'", drop);
	int st = fw_reap(child, 0);
	fw_check("wipeonfork child", st == 0, "status %#x", st);
	ro[PG] = 'w';
	fw_check("may write later", mprotect(ro, PG, PROT_READ | PROT_WRITE) == 0, "mprotect: %s",
		 strerror(errno));
	ro[0] = 'v';
	fd = open(fw_path("shared.dat"), O_RDONLY);
	fw_check("shared file written", fd >= 0 && pread(fd, buf, 2, 0) == 2 && buf[0] == 'v' &&
		 pread(fd, buf, 1, PG) == 1 && buf[0] == 'w', "reads '%c'", buf[0]);
	if (fd >= 0)
		close(fd);
	bool guards_ok = true;
	if (have_guards)
		guards_ok = !write_faults(g) && write_faults(g + PG) && write_faults(g + 2 * PG) &&
			    !write_faults(g + 3 * PG) && g[3 * PG] == 'x' && write_faults(fg) &&
			    !write_faults(fg + PG) && fg[2 * PG] == '2';
	fw_check("guard regions", guards_ok, "a guard page took a write, or the others did not");
	bool mid_ok = mid[0] == '0' && mid[PG] == '1' && mid[2 * PG] == '2' && mid[3 * PG] == 'W' &&
		      mid[4 * PG - 1] == 'W' && mid[4 * PG] == '4' && mid[5 * PG] == '5';
	fw_check("middle of a file mapping", mid_ok, "pages read %c%c%c%c%c%c", mid[0], mid[PG],
		 mid[2 * PG], mid[3 * PG], mid[4 * PG], mid[5 * PG]);
	fw_check("split still read-only", write_faults(mid + 2 * PG) && !write_faults(mid + 4 * PG),
		 "protections changed");
	return fw_done();
}
