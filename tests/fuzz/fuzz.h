/* fuzz.h: what every libFuzzer target of the engine shares: messages
 * formatted (so their arguments are exercised) but sent to /dev/null, and
 * the input as the NUL-terminated, writable text the /proc parsers take. */
#pragma once
#include <fcntl.h>
#include <stdio.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "ckpt/log.h"
#include "ckpt/util.h"

static inline void fuzz_quiet(void)
{
	static int fd = -1;

	if (fd < 0) {
		fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
		log_set_fd(fd);
		log_set_level(LOG_DEBUG);
	}
}

/* A private directory in $TMPDIR for a target that needs its input as the
 * file FILE there; both are removed when the fuzzer exits. */
static char *fuzz_dir_path, *fuzz_dir_file;

static inline void fuzz_dir_cleanup(void)
{
	char *f = xasprintf("%s/%s", fuzz_dir_path, fuzz_dir_file);

	unlink(f);
	rmdir(fuzz_dir_path);
	free(f);
}

static inline const char *fuzz_dir(const char *file)
{
	const char *tmp = getenv("TMPDIR");

	if (fuzz_dir_path)
		return fuzz_dir_path;
	fuzz_dir_path = xasprintf("%s/jf-fuzz.XXXXXX", tmp ? tmp : "/tmp");
	fuzz_dir_file = xstrdup(file);
	if (!mkdtemp(fuzz_dir_path)) {
		perror(fuzz_dir_path);
		abort();
	}
	atexit(fuzz_dir_cleanup);
	return fuzz_dir_path;
}

/* A copy of DATA ending in NUL; free it. */
static inline char *fuzz_text(const uint8_t *data, size_t size)
{
	char *t = xmalloc(size + 1);

	memcpy(t, data, size);
	t[size] = 0;
	return t;
}

/* The whole target for a parser PARSE(char *text, TYPE *out) that keeps
 * nothing allocated. */
#define FUZZ_TEXT_TARGET(TYPE, PARSE)                                        \
	int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)         \
	{                                                                    \
		char *t = fuzz_text(data, size);                             \
		TYPE out;                                                    \
		fuzz_quiet();                                                \
		PARSE(t, &out);                                              \
		free(t);                                                     \
		return 0;                                                    \
	}
