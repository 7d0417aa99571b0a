# executor — GitLab Runner custom-executor driver for Docker blue-green deployments.
# Plain GNU make. Flags come from pkg-config; `make check` builds, runs the unit
# tests (`make unit`, no engine; then `make unit-live`, against the engine) and then
# the end-to-end tests against a real Docker engine.

PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
DESTDIR ?=
PKG_CONFIG ?= pkg-config
CC ?= cc

VERSION := $(shell cat VERSION)
PKGS := libcurl json-c openssl libgit2 libfyaml

ifdef SANITIZE
BUILD ?= build-san
SANFLAGS := -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
else
BUILD ?= build
SANFLAGS :=
endif

OPTFLAGS ?= -O2 -g
WARNFLAGS := -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	-Wno-unused-parameter -Wno-missing-field-initializers -Werror=implicit-function-declaration -Wvla
PKG_CFLAGS = $(shell $(PKG_CONFIG) --cflags $(PKGS) 2>/dev/null)
PKG_LIBS = $(shell $(PKG_CONFIG) --libs $(PKGS) 2>/dev/null)
CMOCKA_CFLAGS = $(shell $(PKG_CONFIG) --cflags cmocka 2>/dev/null)
CMOCKA_LIBS = $(shell $(PKG_CONFIG) --libs cmocka 2>/dev/null)

ALL_CPPFLAGS := -I. -D_GNU_SOURCE -DEXECUTOR_VERSION=\"$(VERSION)\" $(CPPFLAGS)
ALL_CFLAGS = -std=gnu11 $(OPTFLAGS) $(WARNFLAGS) $(SANFLAGS) $(PKG_CFLAGS) $(CFLAGS)
ALL_LDFLAGS = $(SANFLAGS) $(LDFLAGS)
LIBS = $(PKG_LIBS) -lpthread

# Layers, each calling only those to its right:
# executor -> jobs -> stages -> (durable, compose, gitlab) -> docker -> common
LIB_DIRS ?= common docker compose gitlab durable stages jobs
LIB_SRCS := $(sort $(wildcard $(addsuffix /*.c,$(LIB_DIRS)) $(addsuffix /*/*.c,$(LIB_DIRS))))
EXE_SRCS := $(sort $(wildcard executor/*.c))
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
# the unit tests that need a real engine end in _live.c: `make unit-live`, never `make unit`
UNIT_LIVE_SRCS := $(filter %_live.c,$(UNIT_SRCS))
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))

GEN_SRCS := $(BUILD)/gen/router_template.c
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/router_template.o
EXE_OBJS := $(EXE_SRCS:%.c=$(BUILD)/obj/%.o)
UNIT_BINS := $(filter-out $(UNIT_LIVE_SRCS:tests/unit/%.c=$(BUILD)/tests/%),$(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%))
UNIT_LIVE_BINS := $(UNIT_LIVE_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)
DEPS := $(LIB_OBJS:.o=.d) $(EXE_OBJS:.o=.d)

.PHONY: all deps check unit unit-live compose-compare e2e soak install uninstall clean fmt fmt-check lint fuzz fuzz-smoke bench demo \
	valgrind-smoke

all: $(BUILD)/executor

# Installs missing Debian packages the build needs (no-op when present).
deps:
	@scripts/install-deps.sh build

$(BUILD)/.deps-ok: scripts/install-deps.sh
	@scripts/install-deps.sh build
	@mkdir -p $(@D) && touch $@

$(BUILD)/obj/%.o: %.c $(BUILD)/.deps-ok
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c $< -o $@

# Data the binary carries: the router's default nginx template.
$(BUILD)/gen/router_template.c: templates/router/executor.conf.template scripts/embed.sh
	@mkdir -p $(@D)
	scripts/embed.sh $< router_default_template > $@

$(BUILD)/obj/gen/%.o: $(BUILD)/gen/%.c
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(BUILD)/libexecutor.a: $(LIB_OBJS)
	@rm -f $@
	rm -f $@ && ar rcs $@ $^

$(BUILD)/executor: $(EXE_OBJS) $(BUILD)/libexecutor.a
	$(CC) $(ALL_LDFLAGS) -o $@ $(EXE_OBJS) $(BUILD)/libexecutor.a $(LIBS)

$(BUILD)/tests/%: tests/unit/%.c $(BUILD)/libexecutor.a
	@mkdir -p $(@D)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(CMOCKA_CFLAGS) -o $@ $< $(BUILD)/libexecutor.a $(CMOCKA_LIBS) $(LIBS) $(ALL_LDFLAGS)

# No engine needed: DOCKER_HOST points nowhere, so a test that reaches for the
# engine fails here instead of passing only where one runs (those are *_live.c).
unit: $(UNIT_BINS)
	@DOCKER_HOST=unix:///nonexistent/executor-unit.sock scripts/run-unit.sh unit $(UNIT_BINS)

# The unit tests against the real engine ($DOCKER_HOST or /var/run/docker.sock).
unit-live: $(UNIT_LIVE_BINS)
	@scripts/ensure-engine.sh
	@scripts/run-unit.sh unit-live $(UNIT_LIVE_BINS)

# The Compose conformance corpus (tests/compose-conformance/) is run by `make unit`
# (test_compose_conformance); this compares `executor compose config` with Debian's
# docker-compose 1.29 on every case 1.29 accepts (a few minutes, deterministic).
compose-compare: $(BUILD)/executor
	@python3 tests/compose-conformance/compare-docker-compose.py $(BUILD)/executor

# End-to-end tests: the built binary driven the way gitlab-runner drives it,
# against a real engine with images built locally.
e2e: $(BUILD)/executor
	@scripts/install-deps.sh test
	@scripts/ensure-engine.sh
	@EXECUTOR_BIN=$(abspath $(BUILD)/executor) python3 tests/e2e/run.py

# An end-to-end path with every driver process under valgrind (tests/e2e/valgrind_smoke.py):
# a container job, then a small stack's durable setup, deploy, promote, rollback and
# cleanup; fails on any invalid access, use of uninitialised memory, definite or indirect
# leak, or descriptor left open. Suppressions (third-party noise only): tests/valgrind.supp.
valgrind-smoke: $(BUILD)/executor
	@scripts/install-deps.sh test
	@scripts/ensure-engine.sh
	@EXECUTOR_BIN=$(abspath $(BUILD)/executor) python3 tests/e2e/valgrind_smoke.py

# The README's test command. CI runs it (twice: plain, and with sanitizers); the plain
# run ends with the valgrind smoke (valgrind cannot run a sanitized binary).
check: all
	@scripts/install-deps.sh test
	@scripts/ensure-engine.sh
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory unit-live
	@$(MAKE) --no-print-directory compose-compare
	@$(MAKE) --no-print-directory e2e
ifndef SANITIZE
	@$(MAKE) --no-print-directory valgrind-smoke
endif

demo: all
	@scripts/install-deps.sh test
	@scripts/ensure-engine.sh
	@EXECUTOR_BIN=$(abspath $(BUILD)/executor) python3 tests/e2e/demo.py

install: $(BUILD)/executor
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MANDIR)/man1
	install -m 0755 $(BUILD)/executor $(DESTDIR)$(BINDIR)/executor
	install -m 0644 docs/executor.1 $(DESTDIR)$(MANDIR)/man1/executor.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/executor $(DESTDIR)$(MANDIR)/man1/executor.1

FMT_FILES = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
fmt:
	clang-format -i $(FMT_FILES)

fmt-check:
	clang-format --dry-run --Werror $(FMT_FILES)

lint: $(BUILD)/.deps-ok
	scripts/include-graph.sh
	cppcheck --quiet --error-exitcode=1 --enable=warning,performance,portability \
		--inline-suppr --suppress=missingIncludeSystem -I. $(LIB_DIRS) executor
	clang-tidy --quiet $(LIB_SRCS) $(EXE_SRCS) -- $(ALL_CPPFLAGS) $(PKG_CFLAGS) -std=gnu11

# libFuzzer targets, one per parser; FUZZ_SECONDS bounds each.
FUZZ_SECONDS ?= 60
# The library is compiled once for every target (instrumented, not linked with
# libFuzzer's main), then each target links against it.
FUZZ_CFLAGS = $(ALL_CPPFLAGS) -std=gnu11 -g -O1 $(PKG_CFLAGS)
FUZZ_OBJS := $(LIB_SRCS:%.c=build-fuzz/obj/%.o) build-fuzz/obj/gen/router_template.o
build-fuzz/obj/%.o: %.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/obj/gen/router_template.o: $(BUILD)/gen/router_template.c
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link,address,undefined -c $< -o $@
build-fuzz/libfuzz.a: $(FUZZ_OBJS)
	rm -f $@ && ar rcs $@ $(FUZZ_OBJS)
build-fuzz/%: tests/fuzz/%.c build-fuzz/libfuzz.a
	@mkdir -p $(@D)
	clang $(FUZZ_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $< build-fuzz/libfuzz.a \
		$(PKG_LIBS) -lpthread

fuzz: $(FUZZ_BINS)
	@scripts/run-fuzz.sh $(FUZZ_SECONDS) $(FUZZ_BINS)

# CI: each target for FUZZ_SMOKE_SECONDS; prints executions and crashes per target.
FUZZ_SMOKE_SECONDS ?= 10
fuzz-smoke: $(FUZZ_BINS)
	@scripts/run-fuzz.sh $(FUZZ_SMOKE_SECONDS) $(FUZZ_BINS)

bench: all
	@scripts/install-deps.sh bench
	@scripts/ensure-engine.sh
	@EXECUTOR_BIN=$(abspath $(BUILD)/executor) python3 bench/run.py

clean:
	rm -rf build build-san build-fuzz

-include $(DEPS)

# Kill injection at every Engine API request of every action (tests/e2e/test_faults.py).
soak: $(BUILD)/executor
	E2E_FAULT_POINTS=all EXECUTOR_BIN=$(CURDIR)/$(BUILD)/executor E2E_TEST_TIMEOUT=7200 \
		python3 tests/e2e/run.py test_faults
