/* stats.h: printing --display-stats figures. */
#pragma once
#include "ckpt/ckpt.h"

void print_dump_stats(const struct ckpt_stats *s);
void print_restore_stats(const struct ckpt_stats *s);
