/* fuzz_fdinfo.c: /proc/PID/fdinfo/FD text (pos, flags, lock lines). */
#include "ckpt/proc.h"
#include "tests/fuzz/fuzz.h"

FUZZ_TEXT_TARGET(struct proc_fdinfo, proc_parse_fdinfo_text)
