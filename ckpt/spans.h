/* spans.h: lists of address ranges in order, merged where they touch, and
 * the set operations on them that the copy-on-write rebuild needs
 * (spans.c). */
#pragma once
#include <stddef.h>
#include <stdint.h>

struct span {
	uint64_t start, end;
};

struct spans {
	struct span *s;
	size_t n, cap;
};

/* Adds START..END (ignored when empty), merging it with what it touches. */
void spans_add(struct spans *l, uint64_t start, uint64_t end);
/* OUT gets A minus B, or A and B (lists in order, as spans_add makes them). */
void spans_minus(const struct spans *a, const struct spans *b, struct spans *out);
void spans_and(const struct spans *a, const struct spans *b, struct spans *out);
void spans_free(struct spans *l);
