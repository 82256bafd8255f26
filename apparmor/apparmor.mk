# apparmor/apparmor.mk: the AppArmor profile that lets the installed
# jobfreeze create user namespaces where AppArmor restricts them (Ubuntu
# 24.04). `make install` puts it in APPARMORDIR when that directory exists
# and, without DESTDIR, can be written (AA_INSTALL=yes or no forces the
# choice; `make install PREFIX=~/.local` as a user goes on without it),
# named as ckpt/hardening.c expects: jobfreeze for /usr/bin/jobfreeze, else the path with dots
# (usr.local.bin.jobfreeze). Included by the Makefile.

APPARMORDIR ?= /etc/apparmor.d
AA_INSTALL  ?= $(if $(wildcard $(APPARMORDIR)),$(if $(DESTDIR),yes,$(shell [ -w $(APPARMORDIR) ] && echo yes || echo unwritable)),no)
AA_EXEC     := $(BINDIR)/jobfreeze
AA_NAME     := $(if $(filter /usr/bin/jobfreeze,$(AA_EXEC)),jobfreeze,$(subst /,.,$(patsubst /%,%,$(AA_EXEC))))

all: $(O)/apparmor/$(AA_NAME)

$(O)/apparmor/$(AA_NAME): apparmor/jobfreeze.in
	@mkdir -p $(dir $@)
	sed -e 's|@NAME@|$(AA_NAME)|g' -e 's|@EXEC@|$(AA_EXEC)|g' $< >$@

.PHONY: install-apparmor uninstall-apparmor
install: install-apparmor
install-apparmor: $(O)/apparmor/$(AA_NAME)
ifeq ($(AA_INSTALL),yes)
	install -d $(DESTDIR)$(APPARMORDIR)
	install -m 0644 $(O)/apparmor/$(AA_NAME) $(DESTDIR)$(APPARMORDIR)/$(AA_NAME)
	$(if $(DESTDIR),,apparmor/setup.sh $(APPARMORDIR)/$(AA_NAME))
else ifeq ($(AA_INSTALL),unwritable)
	@echo "note: $(APPARMORDIR) is not writable: the AppArmor profile is not installed" \
		"('jobfreeze check' says when a thaw needs it)"
endif

uninstall: uninstall-apparmor
uninstall-apparmor:
	$(if $(DESTDIR),,-[ ! -e $(APPARMORDIR)/$(AA_NAME) ] || ! command -v apparmor_parser >/dev/null || \
		apparmor_parser -R $(APPARMORDIR)/$(AA_NAME) 2>/dev/null)
	rm -f $(DESTDIR)$(APPARMORDIR)/$(AA_NAME) $(DESTDIR)$(APPARMORDIR)/disable/$(AA_NAME)
