# dbus/dbus.mk: jobfreeze-daemon (the D-Bus service, the only program that
# links glib), its test notification server and the desktop/ files it
# installs. Included by the Makefile.

DBUS_PKGS   := gio-2.0 gio-unix-2.0 json-glib-1.0 libnotify
DBUS_SRC    := $(wildcard dbus/*.c)
DBUS_OBJS   := $(patsubst %.c,$(O)/%.o,$(DBUS_SRC))
DBUS_XML    := dbus/org.jobfreeze.JobFreeze1.xml
LIBEXECDIR  := $(PREFIX)/libexec
DATADIR     := $(PREFIX)/share
USERUNITDIR := $(PREFIX)/lib/systemd/user

all: $(O)/jobfreeze-daemon $(O)/tests/dbus/notifyd

$(DBUS_OBJS) $(O)/tests/dbus/notifyd: ALL_CFLAGS += $(shell pkg-config --cflags $(DBUS_PKGS))
$(DBUS_OBJS): dbus/daemon.h $(O)/dbus/iface-xml.h

# The daemon parses the XML itself (so GDBus checks every call against it);
# it goes in as a C string.
$(O)/dbus/iface-xml.h: $(DBUS_XML)
	@mkdir -p $(dir $@)
	{ echo '/* generated from $< by dbus/dbus.mk */'; \
	  echo 'static const char jf_iface_xml[] ='; \
	  sed 's/\\/\\\\/g; s/"/\\"/g; s/^/"/; s/$$/\\n"/' $<; echo ';'; } >$@

# Linking also checks that the XML and the method table agree (leaks of
# glib's type system at exit are no concern of an ASan build here).
$(O)/jobfreeze-daemon: $(DBUS_OBJS)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(shell pkg-config --libs $(DBUS_PKGS))
	ASAN_OPTIONS=detect_leaks=0 $@ --check-interface

$(O)/tests/dbus/notifyd: tests/dbus/notifyd.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(shell pkg-config --libs gio-2.0)

# Templated paths in desktop/*.in get PREFIX's at install time.
DESKTOP_SED := sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@LIBEXECDIR@|$(LIBEXECDIR)|g'
.PHONY: install-desktop uninstall-desktop
install: install-desktop
install-desktop: $(O)/jobfreeze-daemon
	install -d $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(BINDIR) $(DESTDIR)$(DATADIR)/dbus-1/services \
		$(DESTDIR)$(USERUNITDIR) $(DESTDIR)$(DATADIR)/applications
	install -m 0755 $(O)/jobfreeze-daemon $(DESTDIR)$(LIBEXECDIR)/jobfreeze-daemon
	install -m 0755 desktop/jobfreeze-pick $(DESTDIR)$(BINDIR)/jobfreeze-pick
	$(DESKTOP_SED) desktop/org.jobfreeze.JobFreeze1.service.in \
		>$(DESTDIR)$(DATADIR)/dbus-1/services/org.jobfreeze.JobFreeze1.service
	$(DESKTOP_SED) desktop/jobfreeze.service.in >$(DESTDIR)$(USERUNITDIR)/jobfreeze.service
	$(DESKTOP_SED) desktop/jobfreeze-frozen-jobs.desktop.in \
		>$(DESTDIR)$(DATADIR)/applications/jobfreeze-frozen-jobs.desktop
	install -d $(DESTDIR)$(DATADIR)/dbus-1/interfaces
	install -m 0644 $(DBUS_XML) $(DESTDIR)$(DATADIR)/dbus-1/interfaces/org.jobfreeze.JobFreeze1.xml

uninstall: uninstall-desktop
uninstall-desktop:
	rm -f $(DESTDIR)$(LIBEXECDIR)/jobfreeze-daemon $(DESTDIR)$(BINDIR)/jobfreeze-pick \
		$(DESTDIR)$(DATADIR)/dbus-1/services/org.jobfreeze.JobFreeze1.service \
		$(DESTDIR)$(USERUNITDIR)/jobfreeze.service \
		$(DESTDIR)$(DATADIR)/applications/jobfreeze-frozen-jobs.desktop \
		$(DESTDIR)$(DATADIR)/dbus-1/interfaces/org.jobfreeze.JobFreeze1.xml
