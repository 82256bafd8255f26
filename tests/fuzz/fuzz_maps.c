/* fuzz_maps.c: /proc/PID/maps and smaps text (with VmFlags lines) as the
 * dump and restore parse it. */
#include "ckpt/proc.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *t = fuzz_text(data, size);
	struct proc_maps m;

	fuzz_quiet();
	if (proc_parse_maps_text(t, &m) == 0)
		proc_maps_free(&m);
	free(t);
	return 0;
}
