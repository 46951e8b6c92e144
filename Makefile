# ccf: plain Makefile + pkg-config. `make help` lists the targets.
CC      ?= cc
BUILD   ?= build
PREFIX  ?= /usr/local
PYTHON  ?= /usr/bin/python3
SAN     ?=
# `make` alone builds what `make install` installs.
.DEFAULT_GOAL := all

# make install's layout (GNU names); the unit it writes names BINDIR and
# SYSCONFDIR. The data directory is systemd's StateDirectory, /var/lib/ccf.
BINDIR         ?= $(PREFIX)/bin
LIBDIR         ?= $(PREFIX)/lib
INCLUDEDIR     ?= $(PREFIX)/include
MANDIR         ?= $(PREFIX)/share/man
DOCDIR         ?= $(PREFIX)/share/doc/ccf
COMPLETIONDIR  ?= $(PREFIX)/share/bash-completion/completions
SYSCONFDIR     ?= /etc
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR    ?= $(PREFIX)/lib/sysusers.d

PKGS    := libmicrohttpd sqlite3 jansson libcrypto inih gnutls glib-2.0 libpq libcurl
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)

WARN    := -Wall -Wextra -Wshadow -Werror -Wstrict-prototypes -Wmissing-prototypes \
           -Wformat=2 -Wvla
CFLAGS  ?= -O2 -g
ALL_CFLAGS = -std=c11 -D_GNU_SOURCE $(WARN) $(CFLAGS) $(SAN) -Isrc $(PKG_CFLAGS) -pthread -MMD -MP
LDLIBS_ALL = $(PKG_LIBS) -pthread $(SAN)

LIB_MODULES := core store api executor orchestrator auth scheduler webhook aws
# A backend per folder (store.h, executor.h).
LIB_SRCS    := $(foreach m,$(LIB_MODULES),$(wildcard src/$(m)/*.c)) \
               $(wildcard src/store/*/*.c) $(wildcard src/executor/*/*.c) \
               $(wildcard src/lambda/events*.c) # the Lambda event decoders are in the
               # library for their fuzz targets.
SERVER_SRCS := $(wildcard src/server/*.c)
LIB_OBJS    := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SERVER_OBJS := $(SERVER_SRCS:%.c=$(BUILD)/obj/%.o)
# ccfd's configuration (server/config*.c), which fuzz_config links too.
CONFIG_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/server/config*.c))
UNIT_SRCS   := $(wildcard tests/test_*.c)
UNIT_BINS   := $(UNIT_SRCS:tests/%.c=$(BUILD)/tests/%)
LIBCCF      := $(BUILD)/libccfd.a
CCFD        := $(BUILD)/ccfd
# The job supervisor, linked with libc only (src/supervise/main.c says why).
SUPERVISE   := $(BUILD)/ccfd-supervise
# The AWS profile's Lambda function (src/lambda/main.c).
BOOTSTRAP   := $(BUILD)/bootstrap

# libccf (the client library) and the ccf CLI: libcurl + jansson, no server code.
CLIENT_PKGS   := libcurl jansson
CLIENT_CFLAGS  = $(shell pkg-config --cflags $(CLIENT_PKGS) 2>/dev/null)
CLIENT_LIBS    = $(shell pkg-config --libs $(CLIENT_PKGS) 2>/dev/null) -lm
CLIENT_OBJS   := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/client/*.c))
CLI_OBJS      := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard src/cli/*.c))
LIBCCF_CLIENT := $(BUILD)/libccf.a
CCF_CLI       := $(BUILD)/ccf

# The author kit (clients/python): Debian's python3 looks in
# /usr/lib/python3/dist-packages for packages and in
# /usr/local/lib/python3.N/dist-packages for local installs.
PYTHON_N   := $(shell $(PYTHON) -c 'import sys; print("python%d.%d" % sys.version_info[:2])' 2>/dev/null)
PYTHONDIR  ?= $(if $(filter /usr,$(PREFIX)),$(PREFIX)/lib/python3/dist-packages,$(PREFIX)/lib/$(PYTHON_N)/dist-packages)
KIT_FILES  := $(shell cd clients/python 2>/dev/null && find ccf_connector custom_connector_framework \
                -type f \( -name '*.py' -o -name '*.json' \) | sort)

DATA_DIR ?= ./var
LISTEN   ?= 127.0.0.1:8787

.PHONY: all deps run test unit service asan asan-test format validate install clean help
.PHONY: valgrind fuzz fuzz-build fuzz-ci crash soak load bench integ integ-local
.PHONY: bench-schedule test-postgres crash-postgres crash-replicas test-dynamo crash-dynamo

# Benchmarks (never part of the tests): ccfd beside this machine's ceilings.
BENCH_BINS := $(BUILD)/bench/ceiling_http $(BUILD)/bench/ceiling_sqlite

$(BUILD)/bench/ceiling_http: bench/ceiling_http.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LDLIBS_ALL)

$(BUILD)/bench/ceiling_sqlite: bench/ceiling_sqlite.c $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBCCF) $(LDLIBS_ALL)

# ns per next-run computation and bytes per parsed schedule (bench/sched_next.c).
$(BUILD)/bench/sched_next: bench/sched_next.c $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBCCF) $(LDLIBS_ALL)

bench-schedule: $(BUILD)/bench/sched_next
	$(BUILD)/bench/sched_next

# Deletion detection: BatchPut before/after its index, not-seen pages at 1M
# documents (bench/docstats.c); DOCSTATS_N=100000 for a quicker run.
.PHONY: bench-docstats
$(BUILD)/bench/docstats: bench/docstats.c $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -o $@ $< $(LIBCCF) $(LDLIBS_ALL)

bench-docstats: $(BUILD)/bench/docstats
	@d=$$(mktemp -d); $(BUILD)/bench/docstats $$d $(DOCSTATS_N); rc=$$?; rm -rf $$d; exit $$rc

# BatchPut of 1000 documents through a signed ccfd, with a job's key and an
# operator's: req/s and ccfd's CPU ms per request (bench/docstats_http.py).
.PHONY: bench-docstats-http
bench-docstats-http: deps
	@$(MAKE) --no-print-directory $(CCFD)
	$(PYTHON) bench/docstats_http.py --requests 400 $(abspath $(CCFD))

# The author kit as a job: documents/s and peak RSS of a first sync of
# 100,000 small documents, and of the unchanged second (bench/kit_sync.py).
.PHONY: bench-kit
bench-kit: deps
	@$(MAKE) --no-print-directory all
	$(PYTHON) bench/kit_sync.py $(BENCH_ARGS) $(abspath $(CCFD))

# The cost of TLS: signed reads over HTTP and HTTPS, same run (docs/PERFORMANCE.md).
.PHONY: bench-tls
bench-tls:
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory $(CCFD)
	$(PYTHON) bench/tls.py $(BUILD) $(BENCH_ARGS)

# Job start latency and stop survival, local and slurm (and podman) in one run.
.PHONY: bench-backends
bench-backends: all
	$(PYTHON) bench/executors.py --ccfd $(abspath $(CCFD)) $(BENCH_ARGS)

# The web console's size in ccfd and its browser test's time (bench/console.py).
.PHONY: bench-console
bench-console: all console-deps
	$(PYTHON) bench/console.py $(BUILD) $(BENCH_ARGS)

bench:
	@scripts/deps.sh --bench
	@$(MAKE) --no-print-directory $(CCFD) $(BENCH_BINS)
	$(PYTHON) bench/run.py $(BUILD) $(BENCH_ARGS)

all: $(CCFD) $(SUPERVISE) $(CCF_CLI) $(LIBCCF_CLIENT) $(BUILD)/ccfd.conf $(BOOTSTRAP)

# The sample config is ccfd's own --print-config (every key of the table,
# at its default, commented out) with the packaged data directory; no CCF_
# variable of the builder's shell gets in.
$(BUILD)/ccfd.conf: $(CCFD)
	env -i $(CCFD) --data-dir /var/lib/ccf --print-config > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(LIBCCF): $(LIB_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

# The web console: console/ becomes one generated C table (content-hashed
# asset names), linked into ccfd; nothing is read from disk at run time.
CONSOLE_FILES := $(wildcard console/*)
CONSOLE_OBJ   := $(BUILD)/obj/gen/console_assets.o
$(BUILD)/gen/console_assets.c: $(CONSOLE_FILES) scripts/embed_console.py
	@mkdir -p $(dir $@)
	$(PYTHON) scripts/embed_console.py console $@

$(CONSOLE_OBJ): $(BUILD)/gen/console_assets.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -c $< -o $@

$(CCFD): $(SERVER_OBJS) $(CONSOLE_OBJ) $(LIBCCF)
	$(CC) $(SAN) -o $@ $(SERVER_OBJS) $(CONSOLE_OBJ) $(LIBCCF) $(LDLIBS_ALL)

# The AWS profile's Lambda function (src/lambda/main.c): the handlers of
# libccfd.a plus libcurl for the Runtime API.
BOOTSTRAP_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(filter-out $(wildcard src/lambda/events*.c),\
                  $(wildcard src/lambda/*.c)))
$(BOOTSTRAP_OBJS): ALL_CFLAGS += $(CLIENT_CFLAGS)
# --as-needed: only the libraries it uses; an RPATH (not RUNPATH: it also
# serves the libraries' own dependencies) of $ORIGIN/lib, where make
# aws-package bundles them beside it.
$(BOOTSTRAP): $(BOOTSTRAP_OBJS) $(LIBCCF)
	$(CC) $(SAN) -o $@ $(BOOTSTRAP_OBJS) $(LIBCCF) -Wl,--as-needed $(LDLIBS_ALL) $(CLIENT_LIBS) \
	  -Wl,--disable-new-dtags,-rpath,'$$ORIGIN/lib'

# The Lambda function's zip: bootstrap at its root, the libraries it needs
# (but glibc's, which Lambda's provided.al2023 has) under lib/.
.PHONY: aws-package
aws-package: $(BOOTSTRAP)
	scripts/aws-package.sh $(BOOTSTRAP) $(BUILD)/aws

# --as-needed: only the libraries the supervisor's objects use (none).
$(SUPERVISE): $(BUILD)/obj/src/supervise/main.o $(LIBCCF)
	$(CC) $(SAN) -o $@ $< $(LIBCCF) -Wl,--as-needed $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(LIBCCF) $(LDLIBS_ALL) -lcmocka

# server/tls.c is not in libccfd.a (the server's objects are not): its test links it.
$(BUILD)/tests/test_server_tls: $(BUILD)/obj/tests/test_server_tls.o $(BUILD)/obj/src/server/tls.o \
  $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# The console's routes and its compiled-in files (server/console.c).
$(BUILD)/tests/test_console: $(BUILD)/obj/tests/test_console.o $(BUILD)/obj/src/server/console.o \
  $(CONSOLE_OBJ) $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# The orchestrator's tests link the fake executor (tests/orch_fake.c, a
# link-time double of executor.h) ahead of libccfd.a and its backends.
ORCH_TESTS := $(BUILD)/tests/test_orchestrator $(BUILD)/tests/test_orchestrator_retry
$(ORCH_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(BUILD)/obj/tests/orch_fake.o $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# The store conformance suite: its cases (tests/store_conf/*.c) run against
# every backend (tests/test_store_conf.c).
STORE_CONF_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/store_conf/*.c))
$(BUILD)/tests/test_store_conf: $(BUILD)/obj/tests/test_store_conf.o $(STORE_CONF_OBJS) $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL) -lcmocka

# libccf's tests (tests/test_client_*.c) link libccf.a, not the server's library.
CLIENT_TESTS := $(patsubst tests/%.c,$(BUILD)/tests/%,$(wildcard tests/test_client_*.c))
$(CLIENT_OBJS) $(CLI_OBJS) $(CLIENT_TESTS:$(BUILD)/tests/%=$(BUILD)/obj/tests/%.o): \
  ALL_CFLAGS += $(CLIENT_CFLAGS)

$(LIBCCF_CLIENT): $(CLIENT_OBJS)
	@mkdir -p $(dir $@)
	ar rcs $@ $^

$(CCF_CLI): $(CLI_OBJS) $(LIBCCF_CLIENT)
	$(CC) $(SAN) -o $@ $(CLI_OBJS) $(LIBCCF_CLIENT) $(CLIENT_LIBS)

$(CLIENT_TESTS): $(BUILD)/tests/%: $(BUILD)/obj/tests/%.o $(LIBCCF_CLIENT)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $< $(LIBCCF_CLIENT) $(CLIENT_LIBS) -lcmocka

deps:
	@scripts/deps.sh

run: deps
	@$(MAKE) --no-print-directory all
	$(CCFD) --listen $(LISTEN) --data-dir $(DATA_DIR)

# The service suites run on SERVICE_JOBS pytest-xdist workers (0 or 1:
# serial): they mostly wait (polls, sleeps, jobs), so workers overlap the
# waits. --dist loadgroup keeps the tests of a heavy fixture (podman, Slurm)
# on one worker (tests/service/conftest.py, HEAVY_GROUPS). Valgrind's
# ccfds are CPU-bound: VALGRIND_JOBS, fewer.
SERVICE_JOBS  ?= 4
VALGRIND_JOBS ?= 2
xdist = $(if $(filter-out 0 1,$(1)),-n $(1) --dist loadgroup)
SERVICE_XDIST  = $(call xdist,$(SERVICE_JOBS))

# `make test`: install what is missing, build, run unit then service tests.
test: deps
	@$(MAKE) --no-print-directory unit service

# The service suite against ccfd on PostgreSQL: a throw-away cluster
# (scripts/with-pg.sh, stopped by pidfile even on failure), a database per
# ccfd; the tests of SQLite's own file are skipped by name (sqlite_only).
# The podman and Slurm variants are left out by default, as for valgrind:
# their time is the containers' and the cluster's, and their store calls
# are the local executor's; PG_TESTS="" runs the whole suite.
PG_TESTS ?= -k "not podman and not slurm"
test-postgres: deps
	@$(MAKE) --no-print-directory $(CCFD) $(SUPERVISE) $(CCF_CLI) console-deps
	CCFD=$(abspath $(CCFD)) CCF_BIN=$(abspath $(CCF_CLI)) scripts/with-pg.sh \
	  $(PYTHON) -m pytest -q -rs -p no:cacheprovider $(SERVICE_XDIST) $(PG_TESTS) tests/service

# The service suite against ccfd on the experimental DynamoDB store: a
# throw-away dynalite (scripts/with-dynalite.sh, stopped by pidfile even on
# failure), a table prefix per ccfd. What cannot pass on DynamoDB by design
# is skipped with its reason from one list (tests/service/conftest.py,
# DYNAMO_SKIP; SQLite's own file by sqlite_only). Podman and Slurm are left
# out as for PostgreSQL; DYNAMO_TESTS="" runs the whole suite.
DYNAMO_TESTS ?= -k "not podman and not slurm"
test-dynamo: deps dynamo-deps
	@$(MAKE) --no-print-directory $(CCFD) $(SUPERVISE) $(CCF_CLI) $(BOOTSTRAP) console-deps
	CCFD=$(abspath $(CCFD)) CCF_BIN=$(abspath $(CCF_CLI)) BOOTSTRAP=$(abspath $(BOOTSTRAP)) \
	  scripts/with-dynalite.sh $(PYTHON) -m pytest -q -rs -p no:cacheprovider $(SERVICE_XDIST) $(DYNAMO_TESTS) \
	  tests/service

# Every fuzz target built without libFuzzer (tests/fuzz/replay.c) replays
# its committed corpus here, so that a target that stops compiling, or an
# input that crashes again, fails the tests and not only make fuzz.
REPLAY_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/replay/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/replay/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/harness.o \
  $(BUILD)/obj/tests/fuzz/replay.o $(CONFIG_OBJS) $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -o $@ $^ $(LDLIBS_ALL)

unit: $(UNIT_BINS) $(REPLAY_BINS) dynamo-deps
	@fail=0; for t in $(UNIT_BINS); do echo "== $$t"; $$t || fail=1; done; \
	for r in $(REPLAY_BINS); do $$r tests/fuzz/corpus/$${r##*/fuzz_} || fail=1; done; \
	exit $$fail

service: $(CCFD) $(SUPERVISE) $(CCF_CLI) $(BOOTSTRAP) console-deps
	CCFD=$(abspath $(CCFD)) CCF_BIN=$(abspath $(CCF_CLI)) BOOTSTRAP=$(abspath $(BOOTSTRAP)) $(PYTHON) -m pytest -q -p no:cacheprovider \
	  $(SERVICE_XDIST) tests/service

# The console's browser tests (tests/console/run.mjs): puppeteer-core, pinned
# in package-lock.json, installed with npm ci; chromium and node come from
# Debian (scripts/deps.sh).
.PHONY: console-deps
CONSOLE_NODE := tests/console/node_modules/.package-lock.json
console-deps: $(CONSOLE_NODE)
$(CONSOLE_NODE): tests/console/package.json tests/console/package-lock.json
	cd tests/console && npm ci --ignore-scripts --no-audit --no-fund

# dynalite, the DynamoDB emulator the dynamodb:// store is tested against
# (scripts/dynalite.sh), pinned in tests/dynamo/package-lock.json. Its
# LevelDB binding (classic-level) ships prebuilt binaries: no install
# scripts run.
.PHONY: dynamo-deps
DYNAMO_NODE := tests/dynamo/node_modules/.package-lock.json
dynamo-deps: $(DYNAMO_NODE)
$(DYNAMO_NODE): tests/dynamo/package.json tests/dynamo/package-lock.json
	cd tests/dynamo && npm ci --ignore-scripts --no-audit --no-fund

# make integ: the black-box service tests against a running deployment,
# CCF_ENDPOINT, signed with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY
# [, AWS_SESSION_TOKEN] in AWS_REGION, as the original framework's make
# integ does (tests/service/conftest.py, --integ). integ-local runs it
# against a ccfd started here (scripts/integ-local.sh; CI does).
integ:
	@[ -n "$$CCF_ENDPOINT" ] || { echo "make integ: set CCF_ENDPOINT and AWS_ACCESS_KEY_ID," \
	  "AWS_SECRET_ACCESS_KEY (AWS_SESSION_TOKEN, AWS_REGION if needed)" >&2; exit 2; }
	$(PYTHON) -m pytest -q -p no:cacheprovider --integ tests/service $(INTEG_ARGS)

integ-local: all
	scripts/integ-local.sh $(CCFD)

# The same suites under AddressSanitizer + UndefinedBehaviorSanitizer.
# Jobs run the plain ccf (CCF_JOB_BIN): their memory limit is an
# address-space limit, under which ASan cannot map its shadow memory.
asan: deps
	@$(MAKE) --no-print-directory $(CCF_CLI)
	@CCF_JOB_BIN=$(abspath $(CCF_CLI)) \
	  $(MAKE) --no-print-directory BUILD=build/asan CC=clang CFLAGS="-O1 -g" \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  unit service

# Hardening (docs/RELIABILITY.md). The service tests with ccfd under valgrind
# (supervisors run natively); any leak or error fails ccfd's exit status.
VALGRIND = valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect \
  --error-exitcode=99 --track-fds=no --trace-children=no
# The podman and Slurm variants are left to make test and make asan (which
# run everything): their time is the containers' and the cluster's (about a
# second a job), not ccfd's; VALGRIND_TESTS="" runs them under valgrind too.
VALGRIND_TESTS ?= -k "not podman and not slurm"
valgrind: deps
	@$(MAKE) --no-print-directory all console-deps
	CCFD=$(abspath $(CCFD)) CCF_BIN=$(abspath $(CCF_CLI)) CCFD_WRAPPER="$(VALGRIND)" \
	  CCFD_TIMEOUT_SCALE=10 $(PYTHON) -m pytest -q -p no:cacheprovider $(call xdist,$(VALGRIND_JOBS)) \
	  $(VALGRIND_TESTS) tests/service

# libFuzzer targets tests/fuzz/fuzz_*.c, each FUZZ_SECONDS from its seed corpus.
FUZZ_SECONDS ?= 60
FUZZ_SAN  := -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all \
  -fno-omit-frame-pointer
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzzers/%,$(wildcard tests/fuzz/fuzz_*.c))

$(BUILD)/fuzzers/%: $(BUILD)/obj/tests/fuzz/%.o $(BUILD)/obj/tests/fuzz/harness.o \
  $(CONFIG_OBJS) $(LIBCCF)
	@mkdir -p $(dir $@)
	$(CC) $(SAN) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)

.SECONDARY: $(FUZZ_BINS:$(BUILD)/fuzzers/%=$(BUILD)/obj/tests/fuzz/%.o) \
  $(BUILD)/obj/tests/fuzz/harness.o
fuzz-build: $(FUZZ_BINS)

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang CFLAGS="-O1 -g" SAN="$(FUZZ_SAN)" \
	  fuzz-build
	tests/fuzz/run.sh build/fuzz $(FUZZ_SECONDS)

# Every target (four of them the Lambda events) for 15 s each: CI's
# whole run gained test-dynamo and crash-replicas, and under 5 min of fuzzing
# keeps it near its budget; make fuzz runs each for FUZZ_SECONDS (60).
fuzz-ci:
	@$(MAKE) --no-print-directory fuzz FUZZ_SECONDS=15

# SIGKILL at random moments under a mixed workload; CRASH_SEED replays a run.
crash: deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) $(PYTHON) tests/crash/run.py

# make crash against ccfd on PostgreSQL (tests/crash/pgstore.py): the same
# SIGKILLs and invariants, the store read through psql while ccfd is down.
crash-postgres: deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) CRASH_STORE=postgres scripts/with-pg.sh $(PYTHON) tests/crash/run.py

# make crash against ccfd on DynamoDB (dynalite; tests/crash/dynstore.py): the
# same SIGKILLs, the tables Scanned while ccfd is down (CRASH_KILLS, default 20).
crash-dynamo: deps dynamo-deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) CRASH_STORE=dynamodb CRASH_KILLS=$${CRASH_KILLS:-20} \
	  scripts/with-dynalite.sh $(PYTHON) tests/crash/run.py

# Three replicas on one PostgreSQL (tests/crash/replicas.py): kill -9 of the
# leader and of a replica running a job, in turn (CRASH_KILLS, default 12).
crash-replicas: deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) CRASH_STORE=postgres scripts/with-pg.sh $(PYTHON) tests/crash/replicas.py

# A sustained mixed load (LOAD_SECONDS, default 300): zero 5xx, nothing lost, flat RSS.
load: deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) $(PYTHON) tests/load/run.py

soak: deps
	@$(MAKE) --no-print-directory all
	CCFD=$(abspath $(CCFD)) CRASH_KILLS=$${CRASH_KILLS:-500} $(PYTHON) tests/crash/run.py

FORMAT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null || find src tests bench -name '*.[ch]')

format:
	clang-format -i $(FORMAT_FILES)

validate:
	clang-format --dry-run --Werror $(FORMAT_FILES)
	cppcheck --quiet --error-exitcode=1 --enable=warning,portability,performance \
	  --inline-suppr --suppress=missingIncludeSystem -I src --std=c11 -D__GNUC__ src

# The sample goes to $(SYSCONFDIR)/ccf/ccfd.conf unless one is there (an
# operator's edits are kept), and always to $(DOCDIR)/ccfd.conf.sample.
install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBDIR) $(DESTDIR)$(INCLUDEDIR) \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(DOCDIR) \
	  $(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(SYSCONFDIR)/ccf
	install -m 0755 $(CCFD) $(DESTDIR)$(BINDIR)/ccfd
	install -m 0755 $(SUPERVISE) $(DESTDIR)$(BINDIR)/ccfd-supervise
	install -m 0755 $(CCF_CLI) $(DESTDIR)$(BINDIR)/ccf
	install -m 0644 $(LIBCCF_CLIENT) $(DESTDIR)$(LIBDIR)/libccf.a
	install -m 0644 src/client/ccf_client.h $(DESTDIR)$(INCLUDEDIR)/ccf_client.h
	install -m 0644 docs/ccf.1 $(DESTDIR)$(MANDIR)/man1/ccf.1
	install -m 0644 docs/ccfd.8 $(DESTDIR)$(MANDIR)/man8/ccfd.8
	install -m 0644 contrib/ccf.bash-completion $(DESTDIR)$(COMPLETIONDIR)/ccf
	install -m 0644 contrib/ccfd.bash-completion $(DESTDIR)$(COMPLETIONDIR)/ccfd
	sed -e 's|@BINDIR@|$(BINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' contrib/ccfd.service.in \
	  > $(DESTDIR)$(SYSTEMDUNITDIR)/ccfd.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/ccfd.service
	install -m 0644 contrib/ccf.sysusers $(DESTDIR)$(SYSUSERSDIR)/ccf.conf
	install -m 0644 $(BUILD)/ccfd.conf $(DESTDIR)$(DOCDIR)/ccfd.conf.sample
	[ -e $(DESTDIR)$(SYSCONFDIR)/ccf/ccfd.conf ] || \
	  install -m 0644 $(BUILD)/ccfd.conf $(DESTDIR)$(SYSCONFDIR)/ccf/ccfd.conf
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 examples/*.py $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 clients/python/README.md $(DESTDIR)$(DOCDIR)/README.kit.md
	for f in $(KIT_FILES); do \
	  install -D -m 0644 clients/python/$$f $(DESTDIR)$(PYTHONDIR)/$$f || exit 1; done

clean:
	rm -rf build

help:
	@echo "targets: all (the default) run test asan format validate install clean (PREFIX=$(PREFIX))"
	@echo "integ: the black-box service tests against CCF_ENDPOINT with the AWS_* credentials"
	@echo "hardening: valgrind fuzz fuzz-ci (FUZZ_SECONDS=60) crash soak (CRASH_KILLS=500) crash-postgres crash-replicas crash-dynamo"

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
