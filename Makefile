# ccf: plain Makefile + pkg-config. `make help` lists the targets.
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3
SAN     ?=

PKGS    := libmicrohttpd sqlite3 jansson libcrypto inih
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Werror -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -pthread $(SAN)

LIB_MODULES := core store api executor orchestrator auth
LIB_SRCS    := $(foreach m,$(LIB_MODULES),$(wildcard src/$(m)/*.c))
SERVER_SRCS := $(wildcard src/server/*.c)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_SRCS   := $(wildcard tests/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/%.c=$(BUILD)/tests/%)
LIBCCF      := $(BUILD)/libccfd.a
CCFD        := $(BUILD)/ccfd

DATA_DIR ?= ./var
LISTEN   ?= 127.0.0.1:8787

.PHONY: all deps run test unit service asan asan-test format validate install clean help
.PHONY: bench

# Benchmarks (never part of the tests): ccfd beside this machine's ceilings.
BENCH_BINS := $(BUILD)/bench/ceiling_http $(BUILD)/bench/ceiling_sqlite

$(BUILD)/bench/ceiling_http: bench/ceiling_http.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS_ALL)

$(BUILD)/bench/ceiling_sqlite: bench/ceiling_sqlite.c $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBCCF) $(LDLIBS_ALL)

bench: deps
	@$(MAKE) --no-print-directory $(CCFD) $(BENCH_BINS)
	$(PYTHON) bench/run.py $(BUILD) $(BENCH_ARGS)

all: $(CCFD)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCCF): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(CCFD): $(SERVER_OBJS) $(LIBCCF)
	$(CC) $(SAN) -o $@ $(SERVER_OBJS) $(LIBCCF) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(LIBCCF) $(LDLIBS_ALL) -lcmocka

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(CCFD) --listen $(LISTEN) --data-dir $(DATA_DIR)

# `make test`: install what is missing, build, run unit then service tests.
test: deps
	@$(MAKE) --no-print-directory unit service

unit: $(UNIT_BINS)
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; exit $$fail

service: $(CCFD)
	CCFD=$(abspath $(CCFD)) $(PYTHON) -m pytest -q -p no:cacheprovider tests/service

# The same suites under AddressSanitizer + UndefinedBehaviorSanitizer.
asan: deps
	@$(MAKE) --no-print-directory BUILD=build/asan CC=clang CFLAGS="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  unit service

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')

format:
	clang-format -i $(FORMAT_FILES)

validate:
	clang-format --dry-run --Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem -I src --std=c11 -D__GNUC__ src

install: all
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/doc/ccf
	install -m 0755 $(CCFD) $(DESTDIR)$(PREFIX)/bin/ccfd
	install -m 0644 README.md docs/*.md $(DESTDIR)$(PREFIX)/share/doc/ccf/

clean:
	rm -rf build

help:
	@echo "targets: all run test asan format validate install clean (PREFIX=$(PREFIX))"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
