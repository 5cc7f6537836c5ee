# anchord - top-level Makefile, the entry point for every task.
#
#   make run        install missing build dependencies, configure, build, and
#                   start anchord in the foreground with etc/anchord.conf
#   make check      the same set-up, then every test (unit, integration, fuzz
#                   regression); SANITIZE=1 builds and tests under ASan+UBSan
#   make install    DESTDIR and prefix are honoured
#   make check-valgrind   unit tests and the daemon under valgrind
#   make fuzz       run every libFuzzer target for FUZZ_TIME seconds each
#
# configure runs by itself the first time (and again when configure.ac or
# config.mk.in change). Objects of a sanitizer build go to build-san/, so the
# two builds never mix.

.DEFAULT_GOAL := all
SANITIZE ?=
BUILD ?= $(if $(SANITIZE),build-san,build)
PYTHON ?= /usr/bin/python3
FUZZ_TIME ?= 60
FUZZ_CHECK_TIME ?= 5
PYTEST_ARGS ?=

NO_CONFIG_GOALS := clean distclean deps help
ifeq ($(filter $(NO_CONFIG_GOALS),$(MAKECMDGOALS)),)
-include config.mk
endif

configure: configure.ac
	contrib/install-deps.sh build
	autoreconf -fi

config.mk: configure config.mk.in
	./configure $(CONFIGURE_FLAGS)

# ---------------------------------------------------------------- flags
WARN := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow \
	-Wstrict-prototypes -Wmissing-prototypes -Wpointer-arith -Wvla \
	-Wformat=2 -Wundef
SAN_FLAGS := -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
OPT := $(if $(SANITIZE),$(SAN_FLAGS),-O2)
LIB_CFLAGS = $(LIBUV_CFLAGS) $(GNUTLS_CFLAGS) $(TASN1_CFLAGS) $(NGHTTP2_CFLAGS) $(LDNS_CFLAGS) \
	$(SODIUM_CFLAGS) $(YAML_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) \
	$(CURL_CFLAGS) $(QRENCODE_CFLAGS) $(PNG_CFLAGS) $(NFTABLES_CFLAGS)
LIB_LIBS = $(LIBUV_LIBS) $(GNUTLS_LIBS) $(TASN1_LIBS) $(NGHTTP2_LIBS) $(LDNS_LIBS) \
	$(SODIUM_LIBS) $(YAML_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) \
	$(CURL_LIBS) $(QRENCODE_LIBS) $(PNG_LIBS) $(NFTABLES_LIBS) -lpthread
ALL_CPPFLAGS = -D_GNU_SOURCE -DANCHORD_VERSION='"$(VERSION)"' \
	-DANCHORD_STATE_DIR='"$(STATE_DIR)"' \
	-DANCHORD_CONFIG='"$(sysconfdir)/anchord/anchord.conf"' \
	-DANCHORD_ROOT_KEY='"$(sysconfdir)/anchord/root.key"' \
	-Isrc $(CPPFLAGS_IN) $(CPPFLAGS)
ALL_CFLAGS = -std=c11 $(CFLAGS_IN) -g $(OPT) $(WARN) $(LIB_CFLAGS) $(CFLAGS)
SAN_LDFLAGS := -fsanitize=address,undefined
ALL_LDFLAGS = $(if $(SANITIZE),$(SAN_LDFLAGS)) \
	-Wl,--as-needed $(LDFLAGS_IN) $(LDFLAGS)

# ---------------------------------------------------------------- sources
# Every folder under src/ but tools/ goes into one static library; each
# program is its main file plus that library.
# A tool is src/tools/NAME.c and any src/tools/NAME_*.c.
PROGRAM_MAINS := src/daemon/main.c
TOOL_NAMES := anchorctl anchor-enroll
TOOLS := $(TOOL_NAMES:%=$(BUILD)/%)
LIB_SRCS := $(filter-out $(PROGRAM_MAINS),$(sort $(wildcard src/*/*.c)))
LIB_SRCS := $(filter-out src/tools/%,$(LIB_SRCS))
LIB_OBJS := $(LIB_SRCS:%.c=$(BUILD)/%.o)
LIB := $(BUILD)/libanchord.a
PROGRAMS := $(BUILD)/anchord $(TOOLS)
UNIT_SRCS := $(sort $(wildcard tests/unit/test_*.c))
UNIT_BINS := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
FUZZ_SRCS := $(sort $(wildcard tests/fuzz/fuzz_*.c))
FUZZ_BINS := $(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/%)

all: $(PROGRAMS)

$(BUILD)/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(LIB): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(BUILD)/anchord: $(BUILD)/src/daemon/main.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(LIB_LIBS)

$(TOOLS): $(BUILD)/%: $(BUILD)/src/tools/%.o $(LIB)
	$(CC) $(ALL_LDFLAGS) -o $@ $(filter %.o,$^) $(LIB) $(LIB_LIBS)

tool_parts = $(patsubst %.c,$(BUILD)/%.o,$(wildcard src/tools/$(1)_*.c))
TOOL_PARTS := $(foreach t,$(TOOL_NAMES),$(call tool_parts,$(t)))
$(foreach t,$(TOOL_NAMES),$(eval $(BUILD)/$(t): $(call tool_parts,$(t))))

$(BUILD)/tests/%: $(BUILD)/tests/unit/%.o $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(ALL_LDFLAGS) -o $@ $^ $(CMOCKA_LIBS) $(LIB_LIBS)

-include $(LIB_OBJS:.o=.d) $(BUILD)/src/daemon/main.d \
	$(TOOL_NAMES:%=$(BUILD)/src/tools/%.d) $(TOOL_PARTS:.o=.d)
-include $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/unit/%.d)

# ---------------------------------------------------------------- run
run: all
	@echo
	@echo "anchord is starting with etc/anchord.conf (Ctrl-C stops it)."
	@echo "In another terminal, ask it for a local name over UDP, TCP and TLS:"
	@echo "    dig @127.0.0.1 -p 8053 www.home.anchord.test"
	@echo "    dig @127.0.0.1 -p 8053 +tcp www.home.anchord.test"
	@echo "    kdig @127.0.0.1 -p 8853 +tls-ca=build/state/ca.pem \\"
	@echo "         +tls-hostname=dns.home.anchord.test www.home.anchord.test"
	@echo "    kdig @127.0.0.1 -p 8443 +https +tls-ca=build/state/ca.pem \\"
	@echo "         +tls-hostname=dns.home.anchord.test www.home.anchord.test"
	@echo
	$(BUILD)/anchord -c etc/anchord.conf

# ---------------------------------------------------------------- tests
deps-test:
	@contrib/install-deps.sh test

check: deps-test all $(UNIT_BINS)
	@$(MAKE) --no-print-directory check-vectors check-unit check-contrib \
		check-integration check-fuzz

# The test vectors in tests/vectors are verbatim copies of the shared,
# official ones; where the shared folder exists, they must still be equal.
SHARED_VECTORS ?= ../shared/vectors
check-vectors:
	@if [ -d $(SHARED_VECTORS) ]; then for f in $(SHARED_VECTORS)/*.json; do \
		cmp $$f tests/vectors/$${f##*/} || exit 1; done; \
		echo "== tests/vectors match $(SHARED_VECTORS)"; fi

check-unit: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; \
		ANCHORD_SRCDIR=$(CURDIR) $$t; done

check-integration: all
	ANCHORD=$(abspath $(BUILD)/anchord) ANCHORD_SANITIZE=$(SANITIZE) \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/integration

# The unit tests and the daemon of the integration suite under valgrind:
# any error or definite leak fails the run (tests/valgrind.supp: errors of
# libraries, each with its reason).
VALGRIND := valgrind -q --error-exitcode=99 --leak-check=full \
	--errors-for-leak-kinds=definite --show-leak-kinds=definite \
	--suppressions=$(CURDIR)/tests/valgrind.supp
check-valgrind: all $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== valgrind $$t"; \
		ANCHORD_SRCDIR=$(CURDIR) $(VALGRIND) $$t >/dev/null; done
	ANCHORD=$(abspath $(BUILD)/anchord) ANCHORD_WRAPPER="$(VALGRIND)" \
		$(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) tests/integration

# Shell tests of contrib/ scripts (the DHCP MUD hooks): no root needed.
CONTRIB_TESTS := tests/contrib/test_mud_hooks.sh
check-contrib:
	@set -e; for t in $(CONTRIB_TESTS); do echo "== $$t"; \
		ANCHORD_SRCDIR=$(CURDIR) sh $$t; done

# ---------------------------------------------------------------- fuzzing
# Fuzz targets always build with clang and libFuzzer into build-fuzz/, with
# ASan+UBSan, independent of SANITIZE.
FUZZ_CC ?= clang
FUZZ_FLAGS := -g -O1 -fno-omit-frame-pointer -fsanitize=address,undefined \
	-fno-sanitize-recover=all
FUZZ_LIB_OBJS := $(LIB_SRCS:%.c=build-fuzz/%.o)

build-fuzz/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) -DFUZZING -std=c11 $(FUZZ_FLAGS) \
		-fsanitize=fuzzer-no-link $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

build-fuzz/libanchord.a: $(FUZZ_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

build-fuzz/fuzz_%: build-fuzz/tests/fuzz/fuzz_%.o build-fuzz/libanchord.a
	$(FUZZ_CC) $(FUZZ_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIB_LIBS)

-include $(FUZZ_LIB_OBJS:.o=.d) \
	$(FUZZ_SRCS:tests/fuzz/%.c=build-fuzz/tests/fuzz/%.d)

fuzz-build: $(FUZZ_BINS)

# The same targets built for source-based coverage (no sanitizers), to
# replay the working corpora and report line coverage of the parsers.
COV_FLAGS := -g -O1 -fprofile-instr-generate -fcoverage-mapping
COV_LIB_OBJS := $(LIB_SRCS:%.c=build-fuzzcov/%.o)
COV_BINS := $(FUZZ_BINS:build-fuzz/%=build-fuzzcov/%)

build-fuzzcov/%.o: %.c config.mk
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(ALL_CPPFLAGS) -DFUZZING -std=c11 $(COV_FLAGS) \
		-fsanitize=fuzzer-no-link $(LIB_CFLAGS) -MMD -MP -c -o $@ $<

build-fuzzcov/libanchord.a: $(COV_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

build-fuzzcov/fuzz_%: build-fuzzcov/tests/fuzz/fuzz_%.o build-fuzzcov/libanchord.a
	$(FUZZ_CC) $(COV_FLAGS) -fsanitize=fuzzer -o $@ $^ $(LIB_LIBS)

-include $(COV_LIB_OBJS:.o=.d) \
	$(FUZZ_SRCS:tests/fuzz/%.c=build-fuzzcov/tests/fuzz/%.d)

fuzz-coverage: $(COV_BINS)
	sh tests/fuzz/coverage.sh $(COV_BINS:build-fuzzcov/%=%)

# check-fuzz replays each seed corpus and fuzzes briefly; make fuzz runs
# long (FUZZ_TIME seconds per target; FUZZ_TARGETS picks some). Both print
# executions and coverage per target and add them to build-fuzz/ledger.tsv;
# make fuzz-ledger totals it.
check-fuzz: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_CHECK_TIME) $(FUZZ_BINS:build-fuzz/%=%)

fuzz: $(FUZZ_BINS)
	sh tests/fuzz/run.sh $(FUZZ_TIME) \
		$(or $(FUZZ_TARGETS),$(FUZZ_BINS:build-fuzz/%=%))

fuzz-ledger:
	@sh tests/fuzz/ledger.sh

# ---------------------------------------------------------------- install
install: all install-units
	install -d $(DESTDIR)$(sbindir) $(DESTDIR)$(bindir) \
		$(DESTDIR)$(mandir)/man1 $(DESTDIR)$(mandir)/man5 \
		$(DESTDIR)$(mandir)/man8 $(DESTDIR)$(sysconfdir)/anchord
	install -m 755 $(BUILD)/anchord $(DESTDIR)$(sbindir)/anchord
	install -m 755 $(BUILD)/anchorctl $(DESTDIR)$(sbindir)/anchorctl
	install -m 755 $(BUILD)/anchor-enroll $(DESTDIR)$(bindir)/anchor-enroll
	install -m 644 man/anchor-enroll.1 $(DESTDIR)$(mandir)/man1/anchor-enroll.1
	install -m 644 man/anchord.8 $(DESTDIR)$(mandir)/man8/anchord.8
	install -m 644 man/anchorctl.8 $(DESTDIR)$(mandir)/man8/anchorctl.8
	install -m 644 man/anchord.conf.5 $(DESTDIR)$(mandir)/man5/anchord.conf.5
	install -m 644 etc/anchord.conf $(DESTDIR)$(sysconfdir)/anchord/anchord.conf.example
	install -m 644 etc/root.key $(DESTDIR)$(sysconfdir)/anchord/root.key
	install -m 644 etc/home.anchord.test.zone \
		$(DESTDIR)$(sysconfdir)/anchord/home.anchord.test.zone
	install -d $(DESTDIR)$(sysconfdir)/anchord/examples
	install -m 644 $(EXAMPLE_CONFS) $(DESTDIR)$(sysconfdir)/anchord/examples/

# The systemd unit, sysusers, tmpfiles and logrotate snippets. systemd also
# reads units under /usr/local/lib; logrotate reads only /etc/logrotate.d,
# so packagers set LOGROTATEDIR=/etc/logrotate.d.
SYSTEMD_UNITDIR ?= $(prefix)/lib/systemd/system
SYSUSERSDIR ?= $(prefix)/lib/sysusers.d
TMPFILESDIR ?= $(prefix)/lib/tmpfiles.d
LOGROTATEDIR ?= $(sysconfdir)/logrotate.d
EXAMPLE_CONFS := $(sort $(wildcard etc/examples/*.conf))

# The unit names the install paths, so it is written on every install.
install-units:
	@mkdir -p $(BUILD)
	sed -e 's|@sbindir@|$(sbindir)|g' -e 's|@sysconfdir@|$(sysconfdir)|g' \
		contrib/anchord.service.in > $(BUILD)/anchord.service
	install -d $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
		$(DESTDIR)$(TMPFILESDIR) $(DESTDIR)$(LOGROTATEDIR)
	install -m 644 $(BUILD)/anchord.service \
		$(DESTDIR)$(SYSTEMD_UNITDIR)/anchord.service
	install -m 644 contrib/anchord.sysusers \
		$(DESTDIR)$(SYSUSERSDIR)/anchord.conf
	install -m 644 contrib/anchord.tmpfiles \
		$(DESTDIR)$(TMPFILESDIR)/anchord.conf
	install -m 644 contrib/anchord.logrotate \
		$(DESTDIR)$(LOGROTATEDIR)/anchord

# ---------------------------------------------------------------- misc
deps:
	contrib/install-deps.sh build

clean:
	rm -rf build build-san build-fuzz build-fuzzcov

distclean: clean
	rm -rf config.mk config.log config.status configure autom4te.cache \
		build-aux aclocal.m4

help:
	@sed -n '2,14p' Makefile

# ---------------------------------------------------------------- benchmarks
# make bench-pake: PAKE operations per second against the bound their
# scalar multiplications set (tests/bench/bench_pake.c says how it counts).
$(BUILD)/bench_pake: tests/bench/bench_pake.c $(LIB)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) \
		$(LIB_LIBS)

bench-pake: $(BUILD)/bench_pake
	$(BUILD)/bench_pake

# make bench-policy: domain sets with a million names: load time, bytes
# per entry, nanoseconds per lookup (tests/bench/bench_domains.c).
$(BUILD)/bench_domains: tests/bench/bench_domains.c $(LIB)
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) $(ALL_LDFLAGS) -o $@ $< $(LIB) \
		$(LIB_LIBS)

bench-policy: $(BUILD)/bench_domains
	$(BUILD)/bench_domains

# make bench-est: EST enrollments per second (tests/bench/bench_est.py).
EST_BENCH_ARGS ?=
bench-est: all
	BUILD=$(abspath $(BUILD)) /usr/bin/python3 tests/bench/bench_est.py \
		$(EST_BENCH_ARGS)

# make bench: anchord against Unbound, Knot Resolver and dnsdist (cached
# qps over UDP, TCP, DoT and DoH, latency at 10,000 qps, uncached
# forwarding, TLS handshakes per second, RSS per idle DoT connection), all
# in a private network namespace with only loopback; one table on stdout,
# CSV under bench/results/. Knobs: BENCH_DURATION, BENCH_RUNS,
# BENCH_TRANSPORTS, BENCH_WORKERS, BENCH_PEERS, BENCH_PARTS,
# BENCH_IDLE_CONNS, BENCH_PROFILE, BENCH_KTHREADS (tests/bench/bench.py
# says what each does). As root.
$(BUILD)/tls_handshakes: tests/bench/tls_handshakes.c config.mk
	$(CC) -std=c11 -D_GNU_SOURCE -g -O2 $(WARN) $(GNUTLS_CFLAGS) \
		$(ALL_LDFLAGS) -o $@ $< $(GNUTLS_LIBS) -lpthread

# the peers and load generators, installed from Debian when missing
bench-deps:
	contrib/install-deps.sh bench

bench: bench-deps all $(BUILD)/tls_handshakes
	BUILD=$(abspath $(BUILD)) unshare --net $(PYTHON) tests/bench/bench.py

# Keep intermediate objects (unit test and fuzz objects) between runs.
.SECONDARY:

.PHONY: all run check check-unit check-contrib check-integration check-fuzz fuzz-ledger fuzz-coverage check-valgrind \
	check-vectors deps-test fuzz fuzz-build install install-units deps clean distclean \
	help bench-pake bench-est bench-policy bench bench-deps
