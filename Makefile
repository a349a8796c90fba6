# SPDX-License-Identifier: Apache-2.0
# cutoff - build, run, test, benchmark.
#
#   make            build the library, the CLI and the tests (build/)
#   make run        install what is missing, build, walk the reference case, then
#                   serve it with cutoffd on 127.0.0.1 (Ctrl-C stops)
#   make test       install what is missing, build, run every test, then all
#                   of them again under AddressSanitizer + UBSan (build/san/)
#   make bench      the benchmarks of BENCHMARKS.md (minutes; BENCH_SCALE=small for a quick look)
#   make long       the long reliability runs of tests/long/RESULTS.md: 500 SIGKILLs during
#                   changes (CRASH_KILLS), 60 s of load with changes (LOAD_SECONDS); minutes
#   make fuzz       libFuzzer drivers over the committed corpora (FUZZ_SECONDS each)
#   make install    the programs, libcutoff (.so and .a), cutoff.h, cutoff.pc, man
#                   pages, the systemd unit and the examples under PREFIX
#                   (default /usr/local); DESTDIR stages them elsewhere
#   make uninstall  removes exactly what make install put there (same variables)
#   make SANITIZE=address,undefined ...   any target, sanitised, in build/san/
#
# The library is built twice from one set of position-independent objects:
# libcutoff.so (what the programs link, so that the build refuses a program
# that reaches past include/cutoff.h) and libcutoff.a (what the unit tests,
# tools and benchmarks link, since they test internals). Helpers the two
# programs share live in libcutoff-common.a, which is not part of libcutoff
# and is never installed.

PKGS      := sqlite3 libpq jansson libsodium libxxhash
HTTP_PKGS := libmicrohttpd
CLI_PKGS  := libcurl
TEST_PKGS := cmocka

SANITIZE ?=
ifeq ($(SANITIZE),)
BUILD     ?= build
OPT       ?= -O2
else
BUILD     ?= build/san
OPT       ?= -O1 -fno-omit-frame-pointer -fsanitize=$(SANITIZE) -fno-sanitize-recover=all
endif

CC        ?= cc
WARN      := -Wall -Wextra -Wstrict-prototypes -Wmissing-prototypes -Wshadow -Wvla -Werror
CPPFLAGS  += -Iinclude -Isrc -D_GNU_SOURCE
CFLAGS    += -std=c11 -g $(OPT) $(WARN) -fvisibility=hidden -MMD -MP
LDFLAGS   += $(if $(SANITIZE),-fsanitize=$(SANITIZE),)
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
TEST_LIBS  = $(shell pkg-config --libs $(TEST_PKGS) 2>/dev/null)
HTTP_LIBS  = $(shell pkg-config --libs $(HTTP_PKGS) 2>/dev/null)
CLI_LIBS   = $(shell pkg-config --libs $(CLI_PKGS) 2>/dev/null)
LIBS       = $(PKG_LIBS) -lpthread -lm

LIB_SRC   := $(wildcard src/util/*.c src/engine/*.c src/format/*.c src/store/*.c \
                        src/audit/*.c src/db/*.c)
COMMON_SRC:= $(wildcard src/common/*.c)
CLI_SRC   := $(wildcard src/cli/*.c)
DAEMON_SRC:= $(wildcard src/http/*.c src/daemon/*.c)
SUP_SRC   := $(wildcard tests/support/*.c)
UNIT_SRC  := $(wildcard tests/unit/test_*.c)
BENCH_SRC := $(wildcard bench/*.c)
TOOL_SRC  := $(wildcard tests/tools/*.c)

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

# The release, read from the one place it is written: include/cutoff.h.
version_part = $(shell sed -n 's/^.define CUTOFF_VERSION_$(1) \([0-9][0-9]*\)$$/\1/p' include/cutoff.h)
VERSION_MAJOR := $(call version_part,MAJOR)
VERSION_MINOR := $(call version_part,MINOR)
VERSION_PATCH := $(call version_part,PATCH)
VERSION   := $(VERSION_MAJOR).$(VERSION_MINOR).$(VERSION_PATCH)
ifneq ($(words $(VERSION_MAJOR) $(VERSION_MINOR) $(VERSION_PATCH)),3)
$(error cannot read CUTOFF_VERSION_MAJOR/MINOR/PATCH from include/cutoff.h)
endif

LIB       := $(BUILD)/libcutoff.a
SONAME    := libcutoff.so.$(VERSION_MAJOR)
SO_FILE   := $(BUILD)/libcutoff.so.$(VERSION)
SO_LINKS  := $(BUILD)/$(SONAME) $(BUILD)/libcutoff.so
COMMON    := $(BUILD)/libcutoff-common.a
CLI       := $(BUILD)/cutoff
DAEMON    := $(BUILD)/cutoffd
UNIT_BINS := $(patsubst tests/unit/%.c,$(BUILD)/tests/%,$(UNIT_SRC))
BENCH_BINS:= $(patsubst bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
TOOL_BINS := $(patsubst tests/tools/%.c,$(BUILD)/tools/%,$(TOOL_SRC))

.PHONY: all deps run test check bench long fuzz clean format install uninstall
all: $(LIB) $(SO_FILE) $(SO_LINKS) $(CLI) $(DAEMON) $(UNIT_BINS) $(BENCH_BINS) $(TOOL_BINS)

deps:
	@bash scripts/install-deps.sh

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CPPFLAGS) $(PKG_CFLAGS) $(CFLAGS) -c $< -o $@

# One set of library objects, position-independent, for both archives.
$(call obj,$(LIB_SRC)): CFLAGS += -fPIC

$(LIB): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The shared library exports what CUTOFF_EXPORT marks and nothing else
# (-fvisibility=hidden); --no-undefined makes it name every library it needs.
$(SO_FILE): $(call obj,$(LIB_SRC))
	@mkdir -p $(dir $@)
	$(CC) -shared $(LDFLAGS) -Wl,-soname,$(SONAME) -Wl,--no-undefined -o $@ $^ $(LIBS)

$(SO_LINKS): $(SO_FILE)
	ln -sfn $(notdir $<) $@

$(COMMON): $(call obj,$(COMMON_SRC))
	@mkdir -p $(dir $@)
	rm -f $@ && ar rcs $@ $^

# The programs link libcutoff.so, found next to them in the build directory
# and in ../lib once installed (bin/ and sbin/ are both one level down).
PROG_LDFLAGS := -Wl,-rpath,'$$ORIGIN:$$ORIGIN/../lib' -Wl,--enable-new-dtags -Wl,--as-needed

# libcurl (the CLI's --server mode) goes into the CLI only.
$(call obj,$(CLI_SRC)): PKG_CFLAGS += $(shell pkg-config --cflags $(CLI_PKGS) 2>/dev/null)
$(CLI): $(call obj,$(CLI_SRC)) $(COMMON) $(SO_LINKS)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $(call obj,$(CLI_SRC)) $(COMMON) $(BUILD)/libcutoff.so $(CLI_LIBS) $(LIBS)

$(DAEMON): $(call obj,$(DAEMON_SRC)) $(COMMON) $(SO_LINKS)
	$(CC) $(LDFLAGS) $(PROG_LDFLAGS) -o $@ $(call obj,$(DAEMON_SRC)) $(COMMON) $(BUILD)/libcutoff.so $(HTTP_LIBS) $(LIBS)

# Daemon unit tests also link the daemon's objects (all but main).
DAEMON_LIB_OBJS = $(filter-out %/main.o,$(call obj,$(DAEMON_SRC)))
$(BUILD)/tests/test_daemon_%: $(BUILD)/obj/tests/unit/test_daemon_%.o $(DAEMON_LIB_OBJS) $(call obj,$(SUP_SRC)) $(COMMON) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(HTTP_LIBS) $(LIBS)

$(BUILD)/tests/%: $(BUILD)/obj/tests/unit/%.o $(call obj,$(SUP_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(TEST_LIBS) $(LIBS)

$(BUILD)/tools/%: $(BUILD)/obj/tests/tools/%.o $(call obj,$(SUP_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

$(BUILD)/bench/%: $(BUILD)/obj/bench/%.o $(call obj,$(SUP_SRC)) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LIBS)

run: deps
	@$(MAKE) --no-print-directory $(CLI) $(DAEMON)
	@bash examples/reference-case/run.sh $(CLI)
	@bash examples/reference-case/serve.sh $(BUILD)

# Unit and integration tests of one build (BUILD), without the sanitiser pass.
check: all
	@bash tests/run.sh $(BUILD)

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory SANITIZE=address,undefined all
	@bash tests/run.sh build build/san

bench: deps
	@$(MAKE) --no-print-directory all
	@bash bench/run.sh $(BUILD)

long: deps
	@$(MAKE) --no-print-directory all
	@bash tests/long/run.sh $(BUILD)

fuzz: deps
	@bash fuzz/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

# ---- install ---------------------------------------------------------------
# The usual variables; DESTDIR stages the whole tree under another root, so
# no root is needed to build a package. cutoffd goes to sbin and its manual
# to section 8: it is a system daemon that an administrator starts (through
# the systemd unit), not a command for users. The unit runs it as the
# system user "cutoff" made by the sysusers.d snippet (see the unit).
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
SBINDIR        ?= $(PREFIX)/sbin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
PKGCONFIGDIR   ?= $(LIBDIR)/pkgconfig
DATAROOTDIR    ?= $(PREFIX)/share
MANDIR         ?= $(DATAROOTDIR)/man
DOCDIR         ?= $(DATAROOTDIR)/doc/cutoff
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d
SYSCONFDIR     ?= /etc
INSTALL        ?= install

# Documentation and examples, installed under DOCDIR with their paths.
DOC_FILES      := README.md $(wildcard docs/*.md)
EXAMPLE_FILES  := $(wildcard examples/gateway/* \
                             examples/reference-case/*.json examples/reference-case/*.jsonl \
                             examples/reference-case/*.sh examples/reference-case/evidence/* \
                             examples/embed/*.c examples/embed/*.md examples/embed/*.txt \
                             examples/embed/Makefile examples/systemd/*.json \
                             examples/systemd/*.sysusers)
EXAMPLE_DIRS   := $(sort $(patsubst %/,%,$(dir $(EXAMPLE_FILES))))
STAGE          := $(BUILD)/install

# Files made from templates for this PREFIX: the pkg-config file, the unit,
# and the manuals with the version of cutoff.h in their title line.
subst_paths = sed -e 's|@VERSION@|$(VERSION)|g' -e 's|@PREFIX@|$(PREFIX)|g' \
    -e 's|@LIBDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(LIBDIR))|g' \
    -e 's|@INCLUDEDIR@|$(patsubst $(PREFIX)/%,$${prefix}/%,$(INCLUDEDIR))|g' \
    -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g'
man_version = sed -e '1,/^\.TH/s/^\(\.TH [^"]*"[^"]*"\) "\([a-z]*\)[^"]*"/\1 "\2 $(VERSION)"/'

install: $(CLI) $(DAEMON) $(LIB) $(SO_FILE) $(SO_LINKS)
	@mkdir -p $(STAGE)
	$(subst_paths) cutoff.pc.in >$(STAGE)/cutoff.pc
	$(subst_paths) examples/systemd/cutoffd.service.in >$(STAGE)/cutoffd.service
	$(man_version) docs/cutoff.1 >$(STAGE)/cutoff.1
	$(man_version) docs/cutoffd.8 >$(STAGE)/cutoffd.8
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(PKGCONFIGDIR) $(DESTDIR)$(MANDIR)/man1 \
	    $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	    $(DESTDIR)$(DOCDIR) $(addprefix $(DESTDIR)$(DOCDIR)/,$(EXAMPLE_DIRS))
	$(INSTALL) -m 0755 $(CLI) $(DESTDIR)$(BINDIR)/cutoff
	$(INSTALL) -m 0755 $(DAEMON) $(DESTDIR)$(SBINDIR)/cutoffd
	$(INSTALL) -m 0644 $(SO_FILE) $(DESTDIR)$(LIBDIR)/libcutoff.so.$(VERSION)
	ln -sfn libcutoff.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME)
	ln -sfn $(SONAME) $(DESTDIR)$(LIBDIR)/libcutoff.so
	$(INSTALL) -m 0644 $(LIB) $(DESTDIR)$(LIBDIR)/libcutoff.a
	$(INSTALL) -m 0644 include/cutoff.h $(DESTDIR)$(INCLUDEDIR)/cutoff.h
	$(INSTALL) -m 0644 $(STAGE)/cutoff.pc $(DESTDIR)$(PKGCONFIGDIR)/cutoff.pc
	$(INSTALL) -m 0644 $(STAGE)/cutoff.1 $(DESTDIR)$(MANDIR)/man1/cutoff.1
	$(INSTALL) -m 0644 $(STAGE)/cutoffd.8 $(DESTDIR)$(MANDIR)/man8/cutoffd.8
	$(INSTALL) -m 0644 $(STAGE)/cutoffd.service $(DESTDIR)$(SYSTEMDUNITDIR)/cutoffd.service
	$(INSTALL) -m 0644 examples/systemd/cutoff.sysusers $(DESTDIR)$(SYSUSERSDIR)/cutoff.conf
	$(INSTALL) -m 0644 $(DOC_FILES) $(DESTDIR)$(DOCDIR)/
	$(foreach d,$(EXAMPLE_DIRS),$(INSTALL) -m 0644 $(call files_in,$(d)) $(DESTDIR)$(DOCDIR)/$(d)/$(newline))
	$(ldconfig)

# Exactly the files install puts there, and the documentation directories,
# which are cutoff's own; shared directories (bin, lib, ...) stay.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/cutoff $(DESTDIR)$(SBINDIR)/cutoffd \
	    $(DESTDIR)$(LIBDIR)/libcutoff.so.$(VERSION) $(DESTDIR)$(LIBDIR)/$(SONAME) \
	    $(DESTDIR)$(LIBDIR)/libcutoff.so $(DESTDIR)$(LIBDIR)/libcutoff.a \
	    $(DESTDIR)$(INCLUDEDIR)/cutoff.h $(DESTDIR)$(PKGCONFIGDIR)/cutoff.pc \
	    $(DESTDIR)$(MANDIR)/man1/cutoff.1 $(DESTDIR)$(MANDIR)/man8/cutoffd.8 \
	    $(DESTDIR)$(SYSTEMDUNITDIR)/cutoffd.service $(DESTDIR)$(SYSUSERSDIR)/cutoff.conf
	rm -f $(addprefix $(DESTDIR)$(DOCDIR)/,$(notdir $(DOC_FILES)) $(EXAMPLE_FILES))
	printf '%s\n' $(EXAMPLE_DIRS) examples | sort -r | \
	    while read -r d; do rmdir "$(DESTDIR)$(DOCDIR)/$$d" 2>/dev/null || true; done
	rmdir "$(DESTDIR)$(DOCDIR)" 2>/dev/null || true
	$(ldconfig)

# A real install (no DESTDIR) by root refreshes the dynamic linker's cache,
# so that programs built against libcutoff find libcutoff.so.MAJOR.
ldconfig = @if [ -z "$(DESTDIR)" ] && [ "$$(id -u)" = 0 ] && command -v ldconfig >/dev/null; then ldconfig; fi

# The example files directly in directory $(1); one recipe line per directory.
files_in = $(foreach f,$(EXAMPLE_FILES),$(if $(filter $(1)/,$(dir $(f))),$(f)))
define newline


endef

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
