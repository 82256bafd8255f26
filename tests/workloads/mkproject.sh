#!/bin/sh
# mkproject.sh DIR: writes a small C project into DIR (7 files, ~1.5 s to
# build with make -j2) for the freeze/thaw test of a parallel build. One of
# its targets compiles a file again and again until told to stop (a file
# "stop" in DIR): however fast the machine, the build runs until the test
# has frozen it.
set -e
mkdir -p "$1"
cd "$1"
for i in 1 2 3 4 5 6; do
	{
		echo "int run$i(void);"
		k=1
		while [ $k -le 300 ]; do
			echo "int f${i}_$k(int x) { return x * $k + $i; }"
			k=$((k + 1))
		done
		echo "int run$i(void) { int s = 0;"
		k=1
		while [ $k -le 300 ]; do
			echo "s += f${i}_$k(s & 255);"
			k=$((k + 1))
		done
		echo "return s; }"
	} >"f$i.c"
done
cat >main.c <<'EOC'
#include <stdio.h>
int run1(void); int run2(void); int run3(void); int run4(void); int run5(void); int run6(void);
int main(void) { printf("%d %d %d %d %d %d\n", run1(), run2(), run3(), run4(), run5(), run6()); return 0; }
EOC
cat >Makefile <<'EOC'
OBJS = main.o f1.o f2.o f3.o f4.o f5.o f6.o
all: prog busy
prog: $(OBJS)
	$(CC) -o $@ $(OBJS)
%.o: %.c
	$(CC) -O2 -c -o $@ $<
	@echo "built $@"
busy:
	@while [ ! -e stop ]; do $(CC) -O2 -c -o busy.o f1.c; done; echo "busy: stopped"
.PHONY: all busy
EOC
