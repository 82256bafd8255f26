/* spans.c: lists of address ranges (see spans.h). */
#include <string.h>
#include "ckpt/spans.h"
#include "ckpt/util.h"

void spans_add(struct spans *l, uint64_t start, uint64_t end)
{
	size_t i = l->n, k;

	if (start >= end)
		return;
	/* Mostly added in order: the place is looked for from the end. */
	while (i && l->s[i - 1].start > start)
		i--;
	if (i && l->s[i - 1].end >= start) {
		/* it extends the one before */
		i--;
		if (end > l->s[i].end)
			l->s[i].end = end;
	} else {
		if (l->n == l->cap)
			l->s = xrealloc(l->s, (l->cap = l->cap ? l->cap * 2 : 16) * sizeof(*l->s));
		memmove(l->s + i + 1, l->s + i, (l->n - i) * sizeof(*l->s));
		l->s[i] = (struct span){ start, end };
		l->n++;
	}
	/* and swallows those it now reaches */
	for (k = i + 1; k < l->n && l->s[k].start <= l->s[i].end; k++)
		if (l->s[k].end > l->s[i].end)
			l->s[i].end = l->s[k].end;
	memmove(l->s + i + 1, l->s + k, (l->n - k) * sizeof(*l->s));
	l->n -= k - i - 1;
}

void spans_minus(const struct spans *a, const struct spans *b, struct spans *out)
{
	size_t k = 0;

	for (size_t i = 0; i < a->n; i++) {
		uint64_t at = a->s[i].start;
		while (k < b->n && b->s[k].end <= at)
			k++;
		for (size_t j = k; j < b->n && b->s[j].start < a->s[i].end; j++) {
			if (b->s[j].start > at)
				spans_add(out, at, b->s[j].start);
			if (b->s[j].end > at)
				at = b->s[j].end;
		}
		if (at < a->s[i].end)
			spans_add(out, at, a->s[i].end);
	}
}

void spans_and(const struct spans *a, const struct spans *b, struct spans *out)
{
	for (size_t i = 0, k = 0; i < a->n && k < b->n;) {
		uint64_t s = a->s[i].start > b->s[k].start ? a->s[i].start : b->s[k].start;
		uint64_t e = a->s[i].end < b->s[k].end ? a->s[i].end : b->s[k].end;
		spans_add(out, s, e);
		if (a->s[i].end < b->s[k].end)
			i++;
		else
			k++;
	}
}

void spans_free(struct spans *l)
{
	free(l->s);
	memset(l, 0, sizeof(*l));
}
