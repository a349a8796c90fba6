# SPDX-License-Identifier: Apache-2.0
# cutoff - build, run, test, benchmark.
#
#   make            build the library, the CLI and the tests (build/)
#   make run        install what is missing, build, walk the reference case, then
#                   serve it with cutoffd on 127.0.0.1 (Ctrl-C stops)
#   make test       install what is missing, build, run every test, then all
#                   of them again under AddressSanitizer + UBSan (build/san/)
#   make bench      the benchmarks of BENCHMARKS.md (minutes; BENCH_SCALE=small for a quick look)
#   make fuzz       libFuzzer drivers over the committed corpora (FUZZ_SECONDS each)
#   make SANITIZE=address,undefined ...   any target, sanitised, in build/san/
#
# The library is built twice from one set of position-independent objects:
# libcutoff.so (what the programs link, so that the build refuses a program
# that reaches past include/cutoff.h) and libcutoff.a (what the unit tests,
# tools and benchmarks link, since they test internals). Helpers the two
# programs share live in libcutoff-common.a, which is not part of libcutoff
# and is never installed.

PKGS      := sqlite3 jansson libsodium libxxhash
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

.PHONY: all deps run test check bench fuzz clean format
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

fuzz: deps
	@bash fuzz/run.sh

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

clean:
	rm -rf build

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
