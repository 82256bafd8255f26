/* check.h: whether this machine can thaw a job's images, and every reason
 * it cannot, as data (for `check --image`, `show --check` and the other
 * end of `send`). */
#pragma once
#include <stdbool.h>
#include <stddef.h>

struct thaw_verdict {
	int status;          /* 0: it can; 1: it cannot; -1: the images cannot be read */
	char **reasons;      /* why not, one sentence each */
	size_t n_reasons;
	char **warnings;     /* what it would do differently (--ignore-cpu-features) */
	size_t n_warnings;
};

/* Checks the images in DIR against this machine: its files, kernel, CPU
 * and the kernel features a thaw needs. IGNORE_CPU: --ignore-cpu-features. */
void session_check_images(const char *dir, bool ignore_cpu, struct thaw_verdict *v);
void thaw_verdict_free(struct thaw_verdict *v);
