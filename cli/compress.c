/* compress.c: how a freeze stores page data: --compress=LEVEL|none, else
 * $JOBFREEZE_COMPRESS, else the engine's default (zstd level 1). */
#include <stdlib.h>
#include <string.h>
#include "ckpt/util.h"
#include "cli/cli.h"

int cli_compress(const char *arg, bool *none, int *level)
{
	const char *from = arg ? "--compress" : "JOBFREEZE_COMPRESS";

	if (!arg)
		arg = getenv("JOBFREEZE_COMPRESS");
	*none = false;
	*level = 0;
	if (!arg || !*arg)
		return 0;
	if (!strcmp(arg, "none") || !strcmp(arg, "0")) {
		*none = true;
		return 0;
	}
	if (parse_int(arg, level) < 0 || *level < 1 || *level > 19) {
		cli_error("%s takes a zstd level from 1 (fastest) to 19, or none, not '%s'", from, arg);
		return -1;
	}
	return 0;
}
