/* stats.c: the --display-stats tables of dump and restore, on stderr so
 * they never mix with a job's output. The times of a dump are the parts
 * of the time the job was frozen, those of a restore the parts of its
 * time: they add up to it, and what no part measured is shown last. */
#include <stdio.h>
#include "cli/stats.h"

static double ms(int64_t ns) { return ns / 1e6; }

static void part(const char *name, int64_t ns, int64_t whole)
{
	fprintf(stderr, "  %-22s %10.3f ms %5.1f%%\n", name, ms(ns), whole ? 100.0 * ns / whole : 0);
}

void print_dump_stats(const struct ckpt_stats *s)
{
	const struct { const char *name; int64_t ns; } parts[] = {
		{ "seize:", s->seize_ns }, { "registers, signals:", s->regs_ns },
		{ "process info:", s->info_ns }, { "files:", s->files_ns },
		{ "memory:", s->mem_ns }, { "whole job:", s->job_ns },
		{ "image write:", s->write_ns }, { "sync:", s->sync_ns },
		{ "job store:", s->store_ns }, { "release:", s->release_ns },
	};
	int64_t rest = s->frozen_ns;

	fprintf(stderr, "Dump statistics\n  %-22s %10.3f ms  (%u processes)\n", "frozen time:",
		ms(s->frozen_ns), s->nr_procs);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		part(parts[i].name, parts[i].ns, s->frozen_ns);
		rest -= parts[i].ns;
	}
	part("other:", rest, s->frozen_ns);
	if (s->mem_alongside_ns)
		fprintf(stderr, "  (memory, alongside:    %10.3f ms: read while the parts above went on)\n",
			ms(s->mem_alongside_ns));
	fprintf(stderr,
		"  system calls injected: %10llu (run in %llu round trips)\n"
		"  pages scanned:         %10llu\n"
		"  pages skipped as zero: %10llu\n"
		"  pages shared (parent): %10llu\n"
		"  pages written:         %10llu\n"
		"  bytes written:         %10llu\n"
		"  bytes on disk:         %10llu (compressed)\n"
		"  bytes linked:          %10llu (an earlier snapshot's)\n",
		(unsigned long long)s->injected, (unsigned long long)s->injected_trips,
		(unsigned long long)s->pages_scanned,
		(unsigned long long)s->pages_zero, (unsigned long long)s->pages_shared,
		(unsigned long long)s->pages_written, (unsigned long long)s->bytes_written,
		(unsigned long long)s->bytes_stored, (unsigned long long)s->bytes_linked);
}

void print_restore_stats(const struct ckpt_stats *s)
{
	const struct { const char *name; int64_t ns; } parts[] = {
		{ "images read:", s->load_ns }, { "files opened:", s->rfiles_ns },
		{ "processes made:", s->spawn_ns }, { "memory:", s->mem_restore_ns },
		{ "process state:", s->rtask_ns }, { "finish, release:", s->finish_ns },
	};
	int64_t rest = s->restore_ns;

	fprintf(stderr, "Restore statistics\n  %-22s %10.3f ms  (%u processes)\n", "restore time:",
		ms(s->restore_ns), s->nr_procs);
	for (size_t i = 0; i < sizeof(parts) / sizeof(parts[0]); i++) {
		part(parts[i].name, parts[i].ns, s->restore_ns);
		rest -= parts[i].ns;
	}
	part("namespaces, other:", rest, s->restore_ns);
	fprintf(stderr,
		"  pages restored:        %10llu\n"
		"  bytes read:            %10llu\n",
		(unsigned long long)s->pages_read, (unsigned long long)s->bytes_read);
}
