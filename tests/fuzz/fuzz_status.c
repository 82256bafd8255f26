/* fuzz_status.c: /proc/PID/status text (ids, NSpid, umask, Kthread...). */
#include "ckpt/proc.h"
#include "tests/fuzz/fuzz.h"

FUZZ_TEXT_TARGET(struct proc_status, proc_parse_status_text)
