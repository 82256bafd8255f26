# jobfreeze: one build for the engine (ckpt/), the CLI (cli/) and the tests.
# Every library comes through pkg-config; `make help` lists the targets.

PREFIX  ?= /usr/local
DESTDIR ?=
BINDIR  := $(PREFIX)/bin

CC      ?= cc
PKGS    := libprotobuf-c libcap libzstd libxxhash
O       ?= build
SAN     ?=

OPTFLAGS ?= -O2 -g
# User CFLAGS/LDFLAGS add to ours instead of replacing them.
ALL_CFLAGS = $(OPTFLAGS) $(CPPFLAGS) $(CFLAGS) -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
           -Wshadow -Wformat=2 -D_GNU_SOURCE -I. -I$(O) $(SAN) \
           $(shell pkg-config --cflags $(PKGS))
ALL_LDFLAGS = $(LDFLAGS) $(SAN)
LIBS    = $(shell pkg-config --libs $(PKGS)) -pthread

PROTOS    := $(wildcard ckpt/images/*.proto)
PROTO_C   := $(patsubst %.proto,$(O)/%.pb-c.c,$(PROTOS))
PROTO_H   := $(PROTO_C:.c=.h)
CKPT_SRC  := $(wildcard ckpt/*.c)
TTY_SRC   := $(wildcard tty/*.c)
SESSION_SRC := $(wildcard session/*.c)
CLI_SRC   := $(wildcard cli/*.c)
SCRIPTS   := shell/common.sh shell/jobfreeze.bash shell/jobfreeze.zsh completions/jobfreeze.bash completions/_jobfreeze
OBJS      := $(patsubst %.c,$(O)/%.o,$(CKPT_SRC) $(TTY_SRC) $(SESSION_SRC) $(CLI_SRC)) $(PROTO_C:.c=.o) \
             $(O)/shell/scripts.o

WORKLOAD_SRC := $(wildcard tests/workloads/*.c)
WORKLOADS    := $(patsubst tests/workloads/%.c,$(O)/tests/workloads/%,$(WORKLOAD_SRC))
UNIT_SRC     := $(wildcard tests/unit/*.c)
UNITS        := $(patsubst tests/unit/%.c,$(O)/tests/unit/%,$(UNIT_SRC))

.SECONDARY:
.PHONY: all check asan install uninstall clean help bench workloads demo fuzz fuzz-build crashtest stress deb-check
all: $(O)/jobfreeze workloads $(UNITS)

$(O)/jobfreeze: $(OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# Generated protobuf-c code lives in the build tree, never in git.
$(O)/ckpt/images/%.pb-c.c $(O)/ckpt/images/%.pb-c.h: ckpt/images/%.proto
	@mkdir -p $(dir $@)
	protoc-c --c_out=$(O) $<

$(O)/ckpt/images/%.pb-c.o: $(O)/ckpt/images/%.pb-c.c
	$(CC) $(filter-out -Wshadow,$(ALL_CFLAGS)) -c -o $@ $<

# What `jobfreeze init` prints is compiled in from shell/ and completions/.
$(O)/shell/scripts.c $(O)/shell/scripts.h: $(SCRIPTS) shell/embed.sh
	@mkdir -p $(O)/shell
	shell/embed.sh $(O)/shell/scripts.c $(O)/shell/scripts.h \
		script_common=shell/common.sh script_jobfreeze_bash=shell/jobfreeze.bash \
		script_jobfreeze_zsh=shell/jobfreeze.zsh \
		script_completion_bash=completions/jobfreeze.bash script_completion_zsh=completions/_jobfreeze

$(O)/shell/scripts.o: $(O)/shell/scripts.c
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

$(O)/%.o: %.c $(PROTO_H) $(O)/shell/scripts.h $(wildcard ckpt/*.h tty/*.h session/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c -o $@ $<

workloads: $(WORKLOADS)
# Workloads are the jobs the tests freeze: plain programs, never sanitized,
# so that what is frozen is what a user would run.
$(O)/tests/workloads/%: tests/workloads/%.c $(wildcard tests/workloads/*.h)
	@mkdir -p $(dir $@)
	$(CC) -std=gnu11 -O2 -g -Wall -Wextra -Werror -D_GNU_SOURCE -pthread -o $@ $< -lm

# Unit tests link the engine objects (without cli/main.o).
ENGINE_OBJS := $(filter-out $(O)/cli/%,$(OBJS))
$(O)/tests/unit/%: tests/unit/%.c $(ENGINE_OBJS)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

# The tests run in parallel (tests/run.sh: JF_JOBS at a time); the crash
# tests' binary is built first.
check: all crashtest
	tests/run.sh $(O)

# Builds everything with AddressSanitizer and UBSan in build-asan/ and runs
# the whole test suite with those binaries.
asan:
	$(MAKE) O=build-asan SAN="-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined" OPTFLAGS="-O1 -g" check

demo: all
	tests/demo.sh $(O)

bench: all
	bench/run.sh $(O)
	bench/tree.sh $(O)
	bench/owners.sh $(O)
	bench/compress.sh $(O)

# As root: builds the Debian package (debian/), runs lintian, installs it,
# runs the demo with /usr/bin/jobfreeze and purges it (tests/deb-check.sh).
deb-check:
	tests/deb-check.sh

# 50 dump/restore cycles of one running job (STRESS_CYCLES), timed; the
# bigmem test with STRESS_BIGMEM MiB (make check uses 128); then the pipe
# stress tests, STRESS_PIPE_RUNS times each.
STRESS_BIGMEM ?= 512
stress: all
	bench/stress.sh $(O)
	bench/stress.sh $(O) store
	JF_BIGMEM=$(STRESS_BIGMEM) tests/run.sh $(O) "freeze/thaw bigmem"
	bench/stress-pipes.sh $(O)

# Fuzzing with clang's libFuzzer: one target per tests/fuzz/fuzz_*.c, linked
# with the engine built again by clang with ASan/UBSan. `make fuzz` runs each
# for FUZZ_SECONDS; `make check` (tests/t-fuzz.sh) only replays the
# committed inputs.
FUZZ_CC      ?= clang
FUZZ_SECONDS ?= 600
FUZZ_CFLAGS   = -O1 -g -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter \
		-D_GNU_SOURCE -I. -I$(O) -fno-omit-frame-pointer \
		-fsanitize=address,undefined -fno-sanitize-recover=undefined \
		$(shell pkg-config --cflags $(PKGS))
FUZZ_OBJS    := $(patsubst %.c,$(O)/fuzz/obj/%.o,$(CKPT_SRC)) \
		$(patsubst $(O)/%.c,$(O)/fuzz/obj/%.o,$(PROTO_C))
FUZZERS      := $(patsubst tests/fuzz/%.c,$(O)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))

$(O)/fuzz/obj/ckpt/images/%.pb-c.o: $(O)/ckpt/images/%.pb-c.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c -o $@ $<

$(O)/fuzz/obj/%.o: %.c $(PROTO_H) $(wildcard ckpt/*.h)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wshadow -fsanitize=fuzzer-no-link -c -o $@ $<

$(O)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz.h $(FUZZ_OBJS)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -Wshadow -fsanitize=fuzzer -o $@ $< $(FUZZ_OBJS) $(LIBS)

fuzz-build: $(FUZZERS)

fuzz: fuzz-build
	tests/fuzz/run.sh $(O)/fuzz $(FUZZ_SECONDS)

# The test build: the same sources with the crash hook (ckpt/crashpoint.h)
# and the test hooks (JF_TEST_HOOKS: ckpt/vdso.c's forwarding on one
# kernel) compiled in; never installed.
CRASH_OBJS := $(patsubst $(O)/%,$(O)/crashtest/%,$(filter-out $(PROTO_C:.c=.o) $(O)/shell/scripts.o,$(OBJS)))
$(O)/crashtest/%.o: %.c $(PROTO_H) $(O)/shell/scripts.h $(wildcard ckpt/*.h tty/*.h session/*.h cli/*.h)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -DJF_CRASH_HOOKS -DJF_TEST_HOOKS -c -o $@ $<

$(O)/jobfreeze-crashtest: $(CRASH_OBJS) $(PROTO_C:.c=.o) $(O)/shell/scripts.o
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIBS)

crashtest: $(O)/jobfreeze-crashtest

# Completions go where bash-completion and zsh look under PREFIX; jobthaw
# is a link (the binary acts as `jobfreeze thaw` under that name).
BASHCOMPDIR := $(PREFIX)/share/bash-completion/completions
ZSHCOMPDIR  := $(PREFIX)/share/zsh/site-functions

install: $(O)/jobfreeze
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR)
	install -m 0755 $(O)/jobfreeze $(DESTDIR)$(BINDIR)/jobfreeze
	ln -sf jobfreeze $(DESTDIR)$(BINDIR)/jobthaw
	install -m 0644 completions/jobfreeze.bash $(DESTDIR)$(BASHCOMPDIR)/jobfreeze
	ln -sf jobfreeze $(DESTDIR)$(BASHCOMPDIR)/jobthaw
	install -m 0644 completions/_jobfreeze $(DESTDIR)$(ZSHCOMPDIR)/_jobfreeze

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/jobfreeze $(DESTDIR)$(BINDIR)/jobthaw
	rm -f $(DESTDIR)$(BASHCOMPDIR)/jobfreeze $(DESTDIR)$(BASHCOMPDIR)/jobthaw
	rm -f $(DESTDIR)$(ZSHCOMPDIR)/_jobfreeze

clean:
	rm -rf build build-asan

help:
	@echo "make            build $(O)/jobfreeze, the test workloads and unit tests"
	@echo "make demo       freeze a counting program to disk and thaw it"
	@echo "make check      run the test suite (tests/run.sh)"
	@echo "make asan       build with ASan/UBSan in build-asan/ and run the tests"
	@echo "make bench      run the benchmarks in bench/"
	@echo "make stress     50 dump/restore cycles of one job, then 50 through the store, timed;"
	@echo "                the bigmem test with STRESS_BIGMEM=$(STRESS_BIGMEM) MiB;"
	@echo "                then the pipe stress tests 10 times each (STRESS_PIPE_RUNS)"
	@echo "make fuzz       run each libFuzzer target for FUZZ_SECONDS (default 600)"
	@echo "make install    install under PREFIX=$(PREFIX) (DESTDIR honoured), with the man pages"
	@echo "                and, where /etc/apparmor.d exists, the AppArmor profile"
	@echo "make deb-check  as root: build, lintian, install, demo and purge the Debian package"

include dbus/dbus.mk
include man/man.mk
include apparmor/apparmor.mk
