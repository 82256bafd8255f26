/* fuzz_stat.c: /proc/PID/stat text (comm may hold spaces and ')'). */
#include "ckpt/proc.h"
#include "tests/fuzz/fuzz.h"

FUZZ_TEXT_TARGET(struct proc_stat, proc_parse_stat_text)
