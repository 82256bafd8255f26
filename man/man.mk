# man/man.mk: the man pages, written in scdoc (man/*.scd) and turned into
# roff at build time; the installed paths in them (@LIBEXECDIR@...) are
# filled in at install time, as desktop/'s files are, so that `make install
# PREFIX=...` after a plain `make` says the right ones. Included by the
# Makefile.

MAN_SRC  := $(wildcard man/*.scd)
MANS     := $(patsubst man/%.scd,$(O)/man/%,$(MAN_SRC))
MANDIR   := $(DATADIR)/man
MAN_SED  := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g' \
		-e 's|@DATADIR@|$(DATADIR)|g' -e 's|@USERUNITDIR@|$(USERUNITDIR)|g'
# the version is the one the binary prints
JF_VERSION := $(shell sed -n 's/^\#define JOBFREEZE_VERSION "\(.*\)"/\1/p' cli/cli.h)

# A build without scdoc goes on without the pages; installing needs them.
SCDOC    := $(shell command -v scdoc)
all: $(if $(SCDOC),$(MANS))

$(O)/man/%: man/%.scd cli/cli.h
	@[ -n "$(SCDOC)" ] || { echo "the man pages need scdoc: apt-get install scdoc" >&2; exit 1; }
	@mkdir -p $(dir $@)
	sed 's|@VERSION@|$(JF_VERSION)|g' $< | $(SCDOC) >$@.tmp
	mv $@.tmp $@

# jobthaw(1) is jobfreeze(1), jobfreeze-pick(1) jobfreeze-daemon(1): links.
.PHONY: install-man uninstall-man
install: install-man
install-man: $(MANS)
	install -d $(DESTDIR)$(MANDIR)/man1
	for m in $(notdir $(MANS)); do \
		$(MAN_SED) $(O)/man/$$m >$(DESTDIR)$(MANDIR)/man1/$$m || exit 1; \
		chmod 0644 $(DESTDIR)$(MANDIR)/man1/$$m; \
	done
	ln -sf jobfreeze.1 $(DESTDIR)$(MANDIR)/man1/jobthaw.1
	ln -sf jobfreeze-daemon.1 $(DESTDIR)$(MANDIR)/man1/jobfreeze-pick.1

uninstall: uninstall-man
uninstall-man:
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man1/,$(notdir $(MANS)) jobthaw.1 jobfreeze-pick.1)
