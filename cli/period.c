/* period.c: periods on the command line ("30s", "10m", "2h", "1d", or
 * seconds) and for people ("10m", "1h30m"). */
#include <stdio.h>
#include <stdlib.h>
#include "cli/cli.h"

/* The longest period: a snapshot a year is not an autosave any more. */
#define PERIOD_MAX (366u * 24 * 3600)

int cli_parse_period(const char *s, unsigned *out)
{
	unsigned long long v;
	unsigned mult = 1;
	char *end;

	if (cli_leading_number(s, &v, &end) < 0)
		return -1;
	switch (*end) {
	case 0: case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 24 * 3600; break;
	default: return -1;
	}
	if (*end && end[1])
		return -1;
	if (!v || v > PERIOD_MAX / mult)
		return -1;
	*out = v * mult;
	return 0;
}

const char *cli_period(unsigned secs, char buf[32])
{
	if (secs >= 86400 && secs % 86400 == 0)
		snprintf(buf, 32, "%ud", secs / 86400);
	else if (secs >= 3600 && secs % 60 == 0)
		snprintf(buf, 32, secs % 3600 ? "%uh%um" : "%uh", secs / 3600, secs % 3600 / 60);
	else if (secs >= 60 && secs % 60 == 0)
		snprintf(buf, 32, "%um", secs / 60);
	else if (secs >= 60)
		snprintf(buf, 32, "%um%us", secs / 60, secs % 60);
	else
		snprintf(buf, 32, "%us", secs);
	return buf;
}
