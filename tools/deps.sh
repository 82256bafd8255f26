#!/usr/bin/env bash
# tools/deps.sh BUILD_DIR [--graph]: the call graph between the source files
# of the engine and the layers above it, from their object files' symbols
# (nm: what each defines, what each needs). Fails, naming the files and the
# functions that tie them, on
#   - a circle among the ckpt/*.c files (a file below calling back a file
#     that calls it: the engine must read top to bottom, see ARCHITECTURE.md);
#   - a layer calling a layer to its right (ckpt -> tty -> session -> cli).
# --graph prints every edge "from -> to: symbol..." instead of only checking.

set -u

if [ $# -lt 1 ]; then
	echo "usage: $0 BUILD_DIR [--graph]" >&2
	exit 2
fi
BUILD=$1
GRAPH=${2:-}
ROOT=$(cd "$(dirname "$0")/.." && pwd)
objs=()
for layer in ckpt tty session cli; do
	for o in "$BUILD/$layer"/*.o; do
		# (an object whose source has gone is a leftover of an older tree)
		[ -e "$o" ] && [ -e "$ROOT/$layer/$(basename "$o" .o).c" ] && objs+=("$o")
	done
done
if [ ${#objs[@]} = 0 ]; then
	echo "$0: no object files under $BUILD: run make first" >&2
	exit 2
fi

# One line per symbol: "D unit symbol" (defined) or "U unit symbol" (needed),
# unit being the source path (ckpt/restore.c).
{
	nm -A -g --defined-only "${objs[@]}" | sed 's/^/D /'
	nm -A -u "${objs[@]}" | sed 's/^/U /'
} | awk -v build="$BUILD/" '{
	unit = $2
	sub(/\.o:.*/, ".c", unit)
	if (index(unit, build) == 1) unit = substr(unit, length(build) + 1)
	print $1, unit, $NF
}' |
awk -v graph="$GRAPH" '
function layer(u) {
	if (u ~ /^ckpt\//) return 0
	if (u ~ /^tty\//) return 1
	if (u ~ /^session\//) return 2
	return 3
}
$1 == "D" { def[$3] = $2; next }
{ need[++nn] = $2 " " $3 }
# Tarjan: strongly connected components of the ckpt/ files
function visit(v,    i, w) {
	idx[v] = lowl[v] = ++counter
	stack[++sp] = v; on[v] = 1
	for (i = 1; i <= nout[v]; i++) {
		w = out[v, i]
		if (!(w in idx)) {
			visit(w)
			if (lowl[w] < lowl[v]) lowl[v] = lowl[w]
		} else if (on[w] && idx[w] < lowl[v])
			lowl[v] = idx[w]
	}
	if (lowl[v] == idx[v]) {
		ncomp++; size = 0
		do {
			w = stack[sp--]; on[w] = 0
			comp[w] = ncomp; members[ncomp] = members[ncomp] " " w; size++
		} while (w != v)
		csize[ncomp] = size
	}
}
END {
	for (k = 1; k <= nn; k++) {
		split(need[k], p, " ")
		from = p[1]; sym = p[2]
		if (!(sym in def) || def[sym] == from) continue
		to = def[sym]
		if (!((from, to) in why)) {
			out[from, ++nout[from]] = to
			nodes[from] = 1; nodes[to] = 1
			why[from, to] = sym
		} else if (length(why[from, to]) < 60)
			why[from, to] = why[from, to] " " sym
	}
	if (graph != "") {
		for (e in why) {
			split(e, ft, SUBSEP)
			print ft[1] " -> " ft[2] ": " why[e] | "sort"
		}
		close("sort")
	}
	bad = 0
	for (e in why) {
		split(e, ft, SUBSEP)
		if (layer(ft[2]) > layer(ft[1])) {
			printf "layer: %s calls %s (%s): ckpt -> tty -> session -> cli, each uses only those to its left\n",
			       ft[1], ft[2], why[e]
			bad = 1
		}
	}
	for (v in nodes)
		if (v ~ /^ckpt\// && !(v in idx)) visit(v)
	for (c = 1; c <= ncomp; c++) {
		if (csize[c] < 2) continue
		split(substr(members[c], 2), m, " ")
		if (m[1] !~ /^ckpt\//) continue
		printf "circle among%s:\n", members[c]
		for (i in m)
			for (j in m)
				if ((m[i], m[j]) in why)
					printf "  %s -> %s: %s\n", m[i], m[j], why[m[i], m[j]]
		bad = 1
	}
	if (bad)
		print "(move what both sides share into a file below them; see ARCHITECTURE.md)"
	exit bad
}'
