/* stats.c: the --display-stats tables of dump and restore, on stderr so
 * they never mix with a job's output. */
#include <stdio.h>
#include "cli/stats.h"

static double ms(int64_t ns) { return ns / 1e6; }

void print_dump_stats(const struct ckpt_stats *s)
{
	fprintf(stderr,
		"Dump statistics\n"
		"  frozen time:     %10.3f ms\n"
		"  seize:           %10.3f ms\n"
		"  process info:    %10.3f ms\n"
		"  files:           %10.3f ms\n"
		"  memory:          %10.3f ms\n"
		"  image write:     %10.3f ms\n"
		"  sync:            %10.3f ms\n"
		"  pages scanned:   %10llu\n"
		"  pages skipped as zero: %4llu\n"
		"  pages written:   %10llu\n"
		"  bytes written:   %10llu\n",
		ms(s->frozen_ns), ms(s->seize_ns), ms(s->info_ns), ms(s->files_ns), ms(s->mem_ns),
		ms(s->write_ns), ms(s->sync_ns), (unsigned long long)s->pages_scanned,
		(unsigned long long)s->pages_zero, (unsigned long long)s->pages_written,
		(unsigned long long)s->bytes_written);
}

void print_restore_stats(const struct ckpt_stats *s)
{
	fprintf(stderr,
		"Restore statistics\n"
		"  restore time:    %10.3f ms\n"
		"  memory:          %10.3f ms\n"
		"  pages restored:  %10llu\n"
		"  bytes read:      %10llu\n",
		ms(s->restore_ns), ms(s->mem_restore_ns),
		(unsigned long long)s->pages_read, (unsigned long long)s->bytes_read);
}
