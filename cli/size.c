/* size.c: sizes on the command line ("512M", "64G"), and the limit on the
 * data of one deleted file or memfd that a freeze copies into its image. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include "cli/cli.h"

int cli_leading_number(const char *s, unsigned long long *v, char **end)
{
	if (!s || *s < '0' || *s > '9')
		return -1;
	errno = 0;
	*v = strtoull(s, end, 10);
	return errno ? -1 : 0;
}

int cli_parse_size(const char *s, uint64_t *out)
{
	static const char units[] = "KMGT";
	unsigned long long v;
	char *end;

	if (cli_leading_number(s, &v, &end) < 0)
		return -1;
	if (*end) {
		int shift = 0;
		for (const char *u = units; *u; u++)
			if ((*end | 0x20) == (*u | 0x20))
				shift = 10 * (int)(u - units + 1);
		if (!shift || (end[1] && (end[1] | 0x20) != 'b') || (end[1] && end[2]))
			return -1;
		if (v > UINT64_MAX >> shift)
			return -1;
		v <<= shift;
	}
	*out = v;
	return 0;
}

int cli_ghost_limit(const char *arg, uint64_t *out)
{
	const char *from = arg ? "--ghost-limit" : "JOBFREEZE_GHOST_LIMIT";

	if (!arg)
		arg = getenv("JOBFREEZE_GHOST_LIMIT");
	*out = 0;
	if (!arg || !*arg)
		return 0;	/* the engine's default */
	if (cli_parse_size(arg, out) < 0 || !*out) {
		cli_error("%s takes a size such as 512M or 64G, not '%s'", from, arg);
		return -1;
	}
	return 0;
}
