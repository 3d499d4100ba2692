# xdplb - build, test, bench.  `make V=1` shows the commands.
#
#   make            BPF objects, skeletons, build/lbd, build/lbctl, build/lbdecap
#   make deps       install the Debian packages the project needs (idempotent)
#   make test       every selftest; ends with "N passed, N failed, N skipped"
#   make bench      benchmarks, printed as ratios against in-run references;
#                   tables and plots go to build/bench/.  `make bench-PART`
#                   runs one part (selftests/bench/run.sh lists them)
#   make demo       the l2 lab with lbd, three nginx backends and curl clients
#   make fuzz       libFuzzer harnesses (build/fuzz/), each run FUZZ_SECONDS (60)
#   make verify-6.1 every BPF object and the golden-packet tests on Debian 12's
#                   stock 6.1 kernel, booted under qemu (selftests/k61/run.sh)
#   make lint       cppcheck and clang-tidy on the user-space C (tools/lint.sh)
#   make install    binaries, man pages, systemd units, /etc files, completion
#                   (PREFIX=/usr/local, DESTDIR); make uninstall removes them
#   make deb        build/xdplb_VERSION_ARCH.deb (tools/debian/build.sh)
#
# Layout of build/: bpf/*.bpf.o, *.skel.h, obj/ (user space), the
# binaries, bench/ (benchmark results).  Nothing under build/ is committed.

BUILD    ?= build
CLANG    ?= clang
BPFTOOL  ?= bpftool
CC       ?= cc
ARCH     := $(shell uname -m | sed 's/x86_64/x86/;s/aarch64/arm64/')
MULTIARCH := $(shell $(CC) -print-multiarch 2>/dev/null)

CFLAGS   ?= -O2 -g
CFLAGS   += -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iheaders -Iuserspace -I$(BUILD) \
	    $(EXTRA_CFLAGS)
LDLIBS   += -lbpf -lelf -lz -lmnl -lmicrohttpd -lsodium -lm
BPF_CFLAGS := -O2 -g -target bpf -Wall -Werror -D__TARGET_ARCH_$(ARCH) -Iheaders \
	      $(if $(MULTIARCH),-I/usr/include/$(MULTIARCH))

ifeq ($(V),1)
Q :=
msg :=
else
Q := @
msg = @printf '  %-8s %s\n' "$(1)" "$(2)";
endif

BPF_SRCS  := $(wildcard bpf/*.bpf.c)
BPF_OBJS  := $(patsubst bpf/%.bpf.c,$(BUILD)/bpf/%.bpf.o,$(BPF_SRCS))
SKELS     := $(patsubst bpf/%.bpf.c,$(BUILD)/%.skel.h,$(BPF_SRCS))
BPF_HDRS  := $(wildcard bpf/*.h) $(wildcard headers/*.h)

# userspace/*.c is the library both lbd and the tools link; mains are separate.
MAINS     := userspace/lbd.c
LIB_SRCS  := $(filter-out $(MAINS),$(wildcard userspace/*.c))
LIB_OBJS  := $(patsubst %.c,$(BUILD)/obj/%.o,$(LIB_SRCS))
USR_HDRS  := $(wildcard userspace/*.h) $(wildcard headers/*.h)

TEST_SRCS := $(wildcard selftests/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(TEST_SRCS))
BENCH_SRCS := $(wildcard selftests/bench/*.c)
BENCH_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(BENCH_SRCS))

BINS := $(if $(wildcard userspace/lbd.c),$(BUILD)/lbd) \
	$(if $(wildcard tools/lbctl.c),$(BUILD)/lbctl) \
	$(if $(wildcard tools/lbdecap.c),$(BUILD)/lbdecap)

.DELETE_ON_ERROR:
.SECONDARY:
# lbd, lbctl and lbdecap again with AddressSanitizer + UBSan, for the tests.
SAN_FLAGS := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer

.PHONY: all deps test bench demo demo-down clean san fuzz fuzz-build fuzz-seeds lint FORCE

all: $(BPF_OBJS) $(SKELS) $(BINS) $(BUILD)/test_progs $(if $(BENCH_SRCS),$(BUILD)/xdplb-bench)

$(BUILD)/bpf/%.bpf.o: bpf/%.bpf.c $(BPF_HDRS) | $(BUILD)/bpf
	$(call msg,BPF,$@)
	$(Q)$(CLANG) $(BPF_CFLAGS) -c $< -o $@

# the bench builds of the forwarder include its source
$(BUILD)/bpf/bench_fwd.bpf.o $(BUILD)/bpf/bench_nocnt.bpf.o: bpf/xdplb.bpf.c

$(BUILD)/%.skel.h: $(BUILD)/bpf/%.bpf.o
	$(call msg,SKEL,$@)
	$(Q)$(BPFTOOL) gen skeleton $< name $(subst -,_,$*)_bpf > $@

$(BUILD)/obj/%.o: %.c $(USR_HDRS) $(wildcard selftests/*.h selftests/bench/*.h) $(SKELS) | $(BUILD)/bpf
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -c $< -o $@

# The version /metrics reports (xdplb_build_info): rewritten only when it
# changes, so a new commit rebuilds metrics.o and nothing else.
VERSION := $(shell git describe --always --dirty 2>/dev/null || echo unknown)
$(BUILD)/version.h: FORCE | $(BUILD)/bpf
	@printf '#define XDPLB_VERSION "%s"\n' '$(VERSION)' >$@.tmp
	@cmp -s $@.tmp $@ && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/obj/userspace/metrics.o: $(BUILD)/version.h
FORCE:

$(BUILD)/libxdplb.a: $(LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(BUILD)/lbd: $(BUILD)/obj/userspace/lbd.o $(BUILD)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/lbctl $(BUILD)/lbdecap: $(BUILD)/%: $(BUILD)/obj/tools/%.o $(BUILD)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/test_progs: $(TEST_OBJS) $(BUILD)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/xdplb-bench: $(BENCH_OBJS) $(BUILD)/obj/selftests/fixture.o $(BUILD)/obj/selftests/pkt.o \
		$(BUILD)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) $^ $(LDLIBS) -o $@

$(BUILD)/bpf:
	@mkdir -p $@

deps:
	@bash tools/deps.sh

san: $(SKELS)
	$(Q)$(MAKE) --no-print-directory BUILD=$(BUILD)/san CC=clang \
		EXTRA_CFLAGS="$(SAN_FLAGS) -I$(BUILD)" $(patsubst $(BUILD)/%,$(BUILD)/san/%,$(BINS))

test: deps
	$(Q)$(MAKE) --no-print-directory all san fuzz-build k61-build
	@BUILD=$(BUILD) LINT_CFLAGS="$(CFLAGS)" bash selftests/run.sh

bench: deps all
	@BUILD=$(BUILD) bash selftests/bench/run.sh

bench-%: deps all
	@BUILD=$(BUILD) bash selftests/bench/run.sh $*

demo: deps
	$(Q)$(MAKE) --no-print-directory all
	@bash tools/lab/demo.sh

demo-down:
	@bash tools/lab/lab down

# Static analysis with the flags of the build (make test runs it too).
lint: $(SKELS) $(BUILD)/version.h
	@BUILD=$(BUILD) LINT_CFLAGS="$(CFLAGS)" bash tools/lint.sh

clean:
	rm -rf $(BUILD)

# libFuzzer harnesses (selftests/fuzz/): the library again with clang's
# fuzzer instrumentation, ASan and UBSan, in $(BUILD)/fuzz.  `make fuzz` runs
# each for FUZZ_SECONDS on a copy of its corpus (selftests/fuzz/run.sh).
FUZZ_SECONDS ?= 60
FUZZ_DIR    := $(BUILD)/fuzz
FUZZ_SAN    := -fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer
FUZZ_CFLAGS := -O1 -g -std=c11 -Wall -Wextra -Werror -D_GNU_SOURCE -Iheaders -Iuserspace \
	       -Iselftests -I$(BUILD) $(FUZZ_SAN)
FUZZ_LIB_OBJS := $(patsubst %.c,$(FUZZ_DIR)/obj/%.o,$(LIB_SRCS))
FUZZ_BINS   := $(patsubst selftests/fuzz/%.c,$(FUZZ_DIR)/%,$(wildcard selftests/fuzz/fuzz_*.c))

$(FUZZ_DIR)/obj/%.o: %.c $(USR_HDRS) $(wildcard selftests/*.h selftests/fuzz/*.h) $(SKELS)
	$(call msg,CC-FUZZ,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@
$(FUZZ_DIR)/obj/userspace/metrics.o: $(BUILD)/version.h

$(FUZZ_DIR)/libxdplb.a: $(FUZZ_LIB_OBJS)
	$(call msg,AR,$@)
	$(Q)rm -f $@ && ar rcs $@ $^

$(FUZZ_DIR)/fuzz_packet: $(FUZZ_DIR)/obj/selftests/fixture.o $(FUZZ_DIR)/obj/selftests/pkt.o
$(FUZZ_DIR)/fuzz_decap: $(FUZZ_DIR)/obj/selftests/pkt.o
$(FUZZ_DIR)/fuzz_%: $(FUZZ_DIR)/obj/selftests/fuzz/fuzz_%.o $(FUZZ_DIR)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CLANG) $(FUZZ_CFLAGS) -fsanitize=fuzzer $(filter %.o,$^) $(FUZZ_DIR)/libxdplb.a \
		$(LDLIBS) -o $@

fuzz-build: $(FUZZ_BINS)

fuzz: deps
	$(Q)$(MAKE) --no-print-directory fuzz-build
	@BUILD=$(BUILD) bash selftests/fuzz/run.sh $(FUZZ_SECONDS)

# Rewrite the golden-packet seeds of fuzz_packet and fuzz_decap (checked in) from pkt.c.
fuzz-seeds: $(BUILD)/obj/selftests/pkt.o selftests/fuzz/gen_seeds.c
	$(Q)$(CC) $(CFLAGS) -Iselftests $^ -o $(BUILD)/gen_seeds
	$(Q)mkdir -p selftests/fuzz/corpus/fuzz_decap
	$(Q)$(BUILD)/gen_seeds selftests/fuzz/corpus/fuzz_packet selftests/fuzz/corpus/fuzz_decap

# the bench's copy of the forwarder includes it whole
$(BUILD)/bpf/bench_fwd.bpf.o: bpf/xdplb.bpf.c

# The BPF objects on a Debian 12 stock 6.1 kernel, booted under qemu
# (selftests/k61/run.sh): static loader, static golden-packet tests, an
# initramfs of our own.  The kernel package is fetched once into $(BUILD)/k61.
K61_DIR   := $(BUILD)/k61
K61_TESTS := test_progs fixture pkt test_fwd_l2 test_fwd_icmp test_fwd_encap test_decap \
	     test_smoke test_hll
K61_BINS  := $(K61_DIR)/init $(K61_DIR)/loadall $(K61_DIR)/test_progs $(K61_DIR)/mkcpio

.PHONY: verify-6.1 k61-build
$(K61_DIR)/init $(K61_DIR)/mkcpio: $(K61_DIR)/%: selftests/k61/%.c
	$(call msg,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -static $< -o $@

$(K61_DIR)/loadall: selftests/k61/loadall.c
	$(call msg,LINK,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -static $< -lbpf -lelf -lz -o $@

$(K61_DIR)/test_progs: $(patsubst %,$(BUILD)/obj/selftests/%.o,$(K61_TESTS)) $(BUILD)/libxdplb.a
	$(call msg,LINK,$@)
	$(Q)$(CC) $(CFLAGS) -static $^ -lbpf -lelf -lz -lm -o $@

k61-build: $(BPF_OBJS) $(K61_BINS)

verify-6.1: deps
	$(Q)$(MAKE) --no-print-directory k61-build
	@BUILD=$(BUILD) bash selftests/k61/run.sh

# Helpers of the namespace tests (selftests/net/*.c), one binary each in
# $(BUILD)/net/: synflood (test_floods.sh).
NET_HELPERS := $(patsubst selftests/net/%.c,$(BUILD)/net/%,$(wildcard selftests/net/*.c))
all: $(NET_HELPERS)
$(BUILD)/net/%: selftests/net/%.c selftests/pkt.h $(BUILD)/obj/selftests/pkt.o
	$(call msg,CC,$@)
	@mkdir -p $(dir $@)
	$(Q)$(CC) $(CFLAGS) -Iselftests $< $(BUILD)/obj/selftests/pkt.o -lbpf -o $@

# Connection-scale helpers of the outage bench and test (selftests/conn/):
# build/connhold (clients), build/holdd (accept-and-hold server),
# build/bpfstats (BPF run time while a command runs).
CONN_BINS := $(patsubst selftests/conn/%.c,$(BUILD)/%,$(wildcard selftests/conn/*.c))
all: $(CONN_BINS)
$(CONN_BINS): $(BUILD)/%: selftests/conn/%.c selftests/conn/conn.h | $(BUILD)/bpf
	$(call msg,CC,$@)
	$(Q)$(CC) $(CFLAGS) $< -lbpf -o $@

# Installation (README: Install on an entry node).  `make install` puts the
# binaries, man pages, systemd units (generated from tools/systemd/*.in with
# the paths below), configuration, the iproute2 protocol name of lbd's
# routes, bash completion and the examples (lbctl configuration, Prometheus
# rules) under DESTDIR; `make uninstall` removes exactly those files.
# `make deb` builds $(BUILD)/xdplb_VERSION_ARCH.deb (tools/debian/build.sh).
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
MANDIR      ?= $(PREFIX)/share/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
COMPLDIR    ?= $(PREFIX)/share/bash-completion/completions
DOCDIR      ?= $(PREFIX)/share/doc/xdplb
INSTALL_BINS := lbd lbctl lbdecap
UNITS       := lbd@.service lbdecap@.service
INSTALLED   := $(addprefix $(SBINDIR)/,$(INSTALL_BINS)) \
	$(patsubst %,$(MANDIR)/man8/%.8,$(INSTALL_BINS)) $(addprefix $(UNITDIR)/,$(UNITS)) \
	$(SYSCONFDIR)/xdplb/lbd.conf $(SYSCONFDIR)/xdplb/lbdecap.conf \
	$(SYSCONFDIR)/iproute2/rt_protos.d/xdplb.conf $(COMPLDIR)/lbctl \
	$(DOCDIR)/examples/example.conf $(DOCDIR)/examples/xdplb.rules.yml

.PHONY: install uninstall deb
install: $(addprefix $(BUILD)/,$(INSTALL_BINS))
	$(Q)install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(UNITDIR) \
		$(DESTDIR)$(SYSCONFDIR)/xdplb $(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d \
		$(DESTDIR)$(COMPLDIR) $(DESTDIR)$(DOCDIR)/examples
	$(Q)install -m 0755 $(addprefix $(BUILD)/,$(INSTALL_BINS)) $(DESTDIR)$(SBINDIR)/
	$(Q)install -m 0644 $(patsubst %,tools/man/%.8,$(INSTALL_BINS)) $(DESTDIR)$(MANDIR)/man8/
	$(Q)for u in $(UNITS); do \
		sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' \
			tools/systemd/$$u.in >$(DESTDIR)$(UNITDIR)/$$u && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$u || exit 1; done
	$(Q)install -m 0644 tools/etc/lbd.conf tools/etc/lbdecap.conf $(DESTDIR)$(SYSCONFDIR)/xdplb/
	$(Q)install -m 0644 tools/etc/rt_protos.xdplb.conf \
		$(DESTDIR)$(SYSCONFDIR)/iproute2/rt_protos.d/xdplb.conf
	$(Q)install -m 0644 tools/completion/lbctl.bash $(DESTDIR)$(COMPLDIR)/lbctl
	$(Q)install -m 0644 tools/example.conf tools/prometheus/xdplb.rules.yml $(DESTDIR)$(DOCDIR)/examples/

uninstall:
	$(Q)rm -f $(addprefix $(DESTDIR),$(INSTALLED))
	$(Q)rmdir $(DESTDIR)$(SYSCONFDIR)/xdplb $(DESTDIR)$(DOCDIR)/examples $(DESTDIR)$(DOCDIR) \
		2>/dev/null || true

deb:
	$(Q)BUILD=$(BUILD) bash tools/debian/build.sh
