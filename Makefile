# critsim - build, test, benchmark, figures.
#
#   make            build libcritsim.a (library), libcritsim_cli.a (command layer) and ./critsim
#   make run        install missing Debian packages, build, run the main job (headline comparison)
#   make check      install missing Debian packages, build, run every test; ends with "N passed, N failed"
#   make check-science  the nonlinear experiments' effect assertions (not in make check or .ci/run): runs
#                   the CNN deficit sweeps (models/cnn_cp_deficits.ini, cnn_cp_restart.ini and
#                   cnn_cp_window.ini) and tests/science/check_cp_deficits.sh, check_cp_restart.sh,
#                   check_cp_window.sh on their summary_seeds.dat; the inhibition sweeps
#                   (models/cnn_inh_remove.ini and cnn_inh_restart.ini) and tests/science/check_inh.sh on
#                   their final.dat.  Measured 2026-12-05 on two cores shared with other work: 17, 10, 6,
#                   16 and 19 minutes, about 70 minutes in all (sweeps resume)
#   make bench      the performance table: critsim against its PyTorch references, both OpenBLAS
#                   configurations, ratios (tests/bench/table.sh; a few minutes; nothing asserted)
#   make bench-detail  the per-module benchmarks (tests/bench/bench_*.c and the full PyTorch scripts)
#   make figures    regenerate every figure from its model file (PNG and PDF under results/figures)
#   make fuzz       libFuzzer + ASan/UBSan on every reader (tests/fuzz/), FUZZ_SECONDS each [60];
#                   installs Debian's clang when missing
#   make check SANITIZE=1   the whole suite under AddressSanitizer + UndefinedBehaviorSanitizer
#                   (separate build folder build-san, binary build-san/critsim)
#   make man        regenerate the manual pages man/*.1 from the --help texts (tools/mkman.sh)
#   make install    PREFIX=/usr/local DESTDIR=
#   make STATIC_LIBS=0  link GSL, LAPACKE and OpenBLAS into ./critsim dynamically (default: statically
#                   when their archives are installed; start-up, see docs/design.md#blas)
#
# Required flags live in CS_CFLAGS so that `make CFLAGS='-O1 -g -fsanitize=address'` adds to them.
# BLAS: GSL's reference CBLAS is replaced by OpenBLAS (GSL_CBLAS_LIB defined empty), see docs/design.md#blas.

.DELETE_ON_ERROR:
.SUFFIXES:

PREFIX  ?= /usr/local
DESTDIR ?=
CC      ?= cc
CFLAGS  ?= -O2 -g
ARCHFLAGS ?= -march=native
LDFLAGS ?=
BUILD   ?= build
BIN     ?= critsim
SANITIZE ?= 0
SAN_FLAGS := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=undefined
ifeq ($(SANITIZE),1)
BUILD   := build-san
BIN     := build-san/critsim
CFLAGS  += $(SAN_FLAGS)
LDFLAGS += $(SAN_FLAGS)
# leaks are reported; the engines' deliberate exits on usage errors free what they hold
export ASAN_OPTIONS ?= detect_leaks=1:abort_on_error=0:exitcode=99
export UBSAN_OPTIONS ?= print_stacktrace=1:halt_on_error=1:exitcode=99
endif
RESULTS ?= results

# The recipes (here and in plots/*.mk) put paths into shell commands unquoted and into gnuplot's '...'
# strings: RESULTS, BIN, BUILD and every goal named on the command line (a run folder DIR of
# plots/analyze.mk's DIR/fig_svd.png, ...) may hold only letters, digits and . _ / + , @ - (not first),
# so that a quote, $, `, ; or a space in a path cannot break the quoting or run a command.
CS_PATH_CHARS := a b c d e f g h i j k l m n o p q r s t u v w x y z A B C D E F G H I J K L M N O P Q R S T U V \
                 W X Y Z 0 1 2 3 4 5 6 7 8 9 . _ / + , @ -
cs_path_rest  = $(if $(2),$(call cs_path_rest,$(subst $(firstword $(2)),,$(1)),$(wordlist 2,$(words $(2)),$(2))),$(1))
cs_path_bad   = $(or $(if $(strip $(1)),,empty),$(word 2,$(1)),$(filter -%,$(1)),$(strip $(call cs_path_rest,$(1),$(CS_PATH_CHARS))))
cs_check_path = $(if $(call cs_path_bad,$(2)),$(error critsim: $(1) '$(2)' is not a plain path (empty, a leading -, or a character outside letters, digits and . _ / + , @ -): make's recipes pass it to the shell and to gnuplot unquoted; use another folder name))
$(call cs_check_path,RESULTS,$(RESULTS))
$(call cs_check_path,BIN,$(BIN))
$(call cs_check_path,BUILD,$(BUILD))
$(foreach g,$(MAKECMDGOALS),$(call cs_check_path,target,$(g)))

PKGS     := gsl lapacke openblas inih zlib
DEB_PKGS := make gcc pkg-config libgsl-dev libopenblas-dev liblapacke-dev libinih-dev zlib1g-dev \
            gnuplot-nox dataset-fashion-mnist parallel

# deferred (=) so that packages installed by `make deps` in the same invocation are seen
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --define-variable=GSL_CBLAS_LIB= --libs $(PKGS) 2>/dev/null)
CS_CFLAGS  = -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Wshadow -Wno-unused-parameter -Wno-missing-field-initializers \
             -Iinclude -I$(BUILD) $(PKG_CFLAGS)
LDLIBS     = $(PKG_LIBS) -lm -lpthread
# The critsim binary links GSL, LAPACKE and OpenBLAS statically when their archives are installed
# (Debian's -dev packages ship them): resolving OpenBLAS's ~15000 exported symbols and LAPACKE's
# bind-now imports at every start was about half of a process's start-up (docs/design.md#blas).
# STATIC_LIBS=0 links them dynamically, as the test and bench programs always are.
STATIC_LIBS ?= 1
pkg_libdir  = $(patsubst %/,%,$(shell pkg-config --variable=libdir $(1) 2>/dev/null))
STATIC_A    = $(call pkg_libdir,gsl)/libgsl.a $(call pkg_libdir,lapacke)/liblapacke.a \
              $(call pkg_libdir,openblas)/libopenblas.a
BIN_LDLIBS  = $(if $(and $(filter 1,$(STATIC_LIBS)),$(call pkg_libdir,openblas),$(call pkg_libdir,gsl),$(call pkg_libdir,lapacke)),$(if $(filter-out $(wildcard $(STATIC_A)),$(STATIC_A)),$(LDLIBS),$(STATIC_A) $(shell pkg-config --libs inih zlib 2>/dev/null) -lgfortran -lm -lpthread),$(LDLIBS))

# the library (engines, analysis, infrastructure) and the command layer (src/cli: options, the
# registry, one cmd_NAME.c per subcommand, the sweep executor), each an archive; main.c is the program
SRC      := $(wildcard src/*.c)
OBJ      := $(SRC:src/%.c=$(BUILD)/%.o)
CLI_SRC  := $(filter-out src/cli/main.c,$(wildcard src/cli/*.c))
CLI_OBJ  := $(CLI_SRC:src/cli/%.c=$(BUILD)/cli/%.o)
LIBS     := $(BUILD)/libcritsim_cli.a $(BUILD)/libcritsim.a
HDRS     := $(wildcard include/*.h src/cli/*.h)
CMDS     := $(sort $(patsubst src/cli/cmd_%.c,%,$(wildcard src/cli/cmd_*.c)))
TESTS_C  := $(wildcard tests/test_*.c)
TESTS_SH := $(wildcard tests/test_*.sh)
TEST_BIN := $(TESTS_C:tests/%.c=$(BUILD)/tests/%) $(BUILD)/tests/test_fuzz_replay
FUZZ_SRC := $(wildcard tests/fuzz/fuzz_*.c)
FUZZ_NAMES := $(sort $(patsubst tests/fuzz/fuzz_%.c,%,$(FUZZ_SRC)))
BENCH_C  := $(wildcard tests/bench/bench_*.c)
BENCH_BIN:= $(BENCH_C:tests/bench/%.c=$(BUILD)/bench/%)
FIGURES  :=

.PHONY: all run check check-science bench bench-detail figures clean install deps format format-check man fuzz FORCE
all: $(BIN)

# ---- dependencies -------------------------------------------------------------------------
deps:
	@missing=""; for p in $(DEB_PKGS); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "critsim: installing missing Debian packages:$$missing"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq $$missing \
	    || { echo "critsim: apt-get failed; install by hand: apt-get install$$missing" >&2; exit 1; }; \
	else echo "critsim: all Debian packages present ($(words $(DEB_PKGS)) checked)"; fi

# ---- build --------------------------------------------------------------------------------
$(BUILD)/cmds.inc: FORCE
	@mkdir -p $(BUILD)
	@printf '%s\n' $(foreach c,$(CMDS),'CMD($(c))') > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

# build id: a hash of the source tree, in every table's version line ("critsim 0.1.0+ID: NAME"), so
# that sweep --merge can refuse shards of another build; only version.o depends on it
$(BUILD)/buildid.h: FORCE
	@mkdir -p $(BUILD)
	@id=$$(cat Makefile $(sort $(wildcard src/*.c src/cli/*.c include/*.h src/cli/*.h)) | sha256sum | cut -c1-12); \
	  printf '#define CS_BUILD_ID "%s"\n' "$$id" > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@
$(BUILD)/version.o: $(BUILD)/buildid.h

# the library sees include/ only; the command layer's own headers (opts.h, sweep.h) live in src/cli
$(BUILD)/%.o: src/%.c $(wildcard include/*.h) $(wildcard src/*.h)
	@mkdir -p $(BUILD)
	$(CC) $(CS_CFLAGS) $(CFLAGS) $(ARCHFLAGS) -c $< -o $@
$(BUILD)/cli/%.o: src/cli/%.c $(HDRS)
	@mkdir -p $(BUILD)/cli
	$(CC) $(CS_CFLAGS) -Isrc/cli $(CFLAGS) $(ARCHFLAGS) -c $< -o $@
$(BUILD)/cli/registry.o: $(BUILD)/cmds.inc

$(BUILD)/libcritsim.a: $(OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/libcritsim_cli.a: $(CLI_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BIN): $(BUILD)/cli/main.o $(LIBS)
	$(CC) $(CFLAGS) $(ARCHFLAGS) $(LDFLAGS) -o $@ $^ $(BIN_LDLIBS)

$(BUILD)/tests/%: tests/%.c tests/check.h $(LIBS) $(HDRS)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CS_CFLAGS) -Isrc/cli -Itests $(CFLAGS) $(ARCHFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# fuzz harnesses: the replay driver (make check) lists them through fuzz_targets.inc
$(BUILD)/fuzz/fuzz_targets.inc: FORCE
	@mkdir -p $(BUILD)/fuzz
	@printf '%s\n' $(foreach c,$(FUZZ_NAMES),'FUZZ($(c))') > $@.tmp
	@cmp -s $@.tmp $@ 2>/dev/null && rm -f $@.tmp || mv $@.tmp $@

$(BUILD)/tests/test_fuzz_replay: tests/fuzz/replay.c tests/fuzz/common.c tests/fuzz/fuzz.h $(FUZZ_SRC) \
                                 $(BUILD)/fuzz/fuzz_targets.inc $(LIBS) $(HDRS)
	@mkdir -p $(BUILD)/tests
	$(CC) $(CS_CFLAGS) -Isrc/cli -Itests/fuzz -I$(BUILD)/fuzz $(CFLAGS) $(ARCHFLAGS) $(LDFLAGS) -o $@ \
	  tests/fuzz/replay.c tests/fuzz/common.c $(FUZZ_SRC) $(LIBS) $(LDLIBS)

$(BUILD)/bench/%: tests/bench/%.c $(LIBS) $(HDRS)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CS_CFLAGS) -Isrc/cli -Itests $(CFLAGS) $(ARCHFLAGS) $(LDFLAGS) -o $@ $< $(LIBS) $(LDLIBS)

# ---- main job, tests, benchmarks ------------------------------------------------------------
run: deps
	@$(MAKE) --no-print-directory $(BIN)
	@$(MAKE) --no-print-directory main-job

check: deps
	@$(MAKE) --no-print-directory $(BIN) $(TEST_BIN)
	@CRITSIM=./$(BIN) sh tests/run.sh $(TEST_BIN) $(TESTS_SH)

# effect assertions of the nonlinear experiments (issue 11): long sweeps, so never part of make check
check-science: deps
	@$(MAKE) --no-print-directory $(BIN)
	@$(MAKE) --no-print-directory $(RESULTS)/sweep/cnn_cp_deficits/summary_seeds.dat $(RESULTS)/sweep/cnn_cp_restart/summary.dat
	sh tests/science/check_cp_deficits.sh $(RESULTS)/sweep/cnn_cp_deficits/summary_seeds.dat
	sh tests/science/check_cp_restart.sh $(RESULTS)/sweep/cnn_cp_restart/summary_seeds.dat
	@$(MAKE) --no-print-directory $(RESULTS)/sweep/cnn_cp_window/summary.dat
	sh tests/science/check_cp_window.sh $(RESULTS)/sweep/cnn_cp_window/summary_seeds.dat
	@$(MAKE) --no-print-directory $(RESULTS)/sweep/cnn_inh_remove/final.dat
	sh tests/science/check_inh.sh $(RESULTS)/sweep/cnn_inh_remove/final.dat tests/science/inh_remove.txt
	@$(MAKE) --no-print-directory $(RESULTS)/sweep/cnn_inh_restart/final.dat
	sh tests/science/check_inh.sh $(RESULTS)/sweep/cnn_inh_restart/final.dat tests/science/inh_restart.txt

bench: $(BIN) $(BENCH_BIN)
	@CRITSIM=./$(BIN) BENCH=$(BUILD)/bench sh tests/bench/table.sh

bench-detail: $(BIN) $(BENCH_BIN)
	@for b in $(filter-out %/bench_table,$(BENCH_BIN)); do echo "== $$b"; CRITSIM=./$(BIN) OPENBLAS_NUM_THREADS=$${OPENBLAS_NUM_THREADS:-1} $$b || exit 1; done
	@for p in $(wildcard tests/bench/*_torch.py); do \
	  if /usr/bin/python3 -c 'import torch' 2>/dev/null; then echo "== $$p"; /usr/bin/python3 $$p || exit 1; \
	  else echo "== $$p: skipped (PyTorch reference; apt-get install python3-torch to run it)"; fi; done

# ---- fuzzing (clang's libFuzzer; build-fuzz/ holds the instrumented library and the targets) ---------
FUZZ_SECONDS ?= 60
FUZZ_BUILD   := build-fuzz
FUZZ_CFLAGS  := $(SAN_FLAGS)
fuzz:
	@command -v clang >/dev/null 2>&1 || { echo "critsim: installing Debian's clang for make fuzz"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y -qq clang \
	    || { echo "critsim: apt-get failed; install by hand: apt-get install clang" >&2; exit 1; }; }
	@$(MAKE) --no-print-directory BUILD=$(FUZZ_BUILD) CC=clang SANITIZE=0 \
	  CFLAGS='$(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link' $(FUZZ_BUILD)/libcritsim.a $(FUZZ_BUILD)/libcritsim_cli.a
	@rm -rf $(FUZZ_BUILD)/artifacts; mkdir -p $(FUZZ_BUILD)/artifacts
	@for n in $(FUZZ_NAMES); do \
	  clang $(CS_CFLAGS) -Isrc/cli -Itests/fuzz $(FUZZ_CFLAGS) $(ARCHFLAGS) -fsanitize=fuzzer -DFUZZ_LIBFUZZER \
	    -o $(FUZZ_BUILD)/fuzz_$$n tests/fuzz/fuzz_$$n.c tests/fuzz/common.c $(FUZZ_BUILD)/libcritsim_cli.a $(FUZZ_BUILD)/libcritsim.a $(LDLIBS) \
	    || exit 1; \
	done
	@for n in $(FUZZ_NAMES); do \
	  echo "== fuzz_$$n ($(FUZZ_SECONDS) s)"; mkdir -p $(FUZZ_BUILD)/corpus/$$n; \
	  ASAN_OPTIONS=detect_leaks=1 $(FUZZ_BUILD)/fuzz_$$n -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096 \
	    -print_final_stats=1 -artifact_prefix=$(FUZZ_BUILD)/artifacts/$$n- \
	    $(FUZZ_BUILD)/corpus/$$n tests/fuzz/corpus/$$n 2>&1 | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' ; \
	  ls $(FUZZ_BUILD)/artifacts/$$n-* >/dev/null 2>&1 && { echo "critsim: fuzz_$$n found a failing input (see above; replay: $(BUILD)/tests/test_fuzz_replay $$n FILE)" >&2; exit 1; }; \
	done; echo "critsim: fuzzing done, no failing input"

# figure fragments: each plots/NAME.mk adds its targets to FIGURES (and may define main-job)
-include $(wildcard plots/*.mk)

figures: $(BIN) $(FIGURES)
	@echo "figures in $(RESULTS)/figures: $(notdir $(FIGURES))"

# clang-format 14 (Debian package clang-format) with the repository's .clang-format
FORMAT_SRC = $(shell git ls-files '*.c' '*.h' 2>/dev/null)
format:
	clang-format -i $(FORMAT_SRC)
format-check:
	@bad=""; for f in $(FORMAT_SRC); do clang-format "$$f" | cmp -s - "$$f" || bad="$$bad $$f"; done; \
	if [ -n "$$bad" ]; then echo "critsim: not clang-formatted (run make format):$$bad" >&2; exit 1; fi; \
	echo "critsim: $(words $(FORMAT_SRC)) C files clang-formatted"

# manual pages: a pure function of the --help texts; tests/test_cli_docs.sh fails when they are stale
man: $(BIN)
	sh tools/mkman.sh ./$(BIN) man

clean:
	rm -rf $(BUILD) $(BIN) build-san $(FUZZ_BUILD)

install: $(BIN)
	install -d $(DESTDIR)$(PREFIX)/bin $(DESTDIR)$(PREFIX)/share/critsim/models $(DESTDIR)$(PREFIX)/share/critsim/plots
	install -m 755 critsim $(DESTDIR)$(PREFIX)/bin/critsim
	install -m 644 models/* $(DESTDIR)$(PREFIX)/share/critsim/models/ 2>/dev/null || true
	install -m 644 plots/* $(DESTDIR)$(PREFIX)/share/critsim/plots/ 2>/dev/null || true
	install -d $(DESTDIR)$(PREFIX)/share/man/man1 $(DESTDIR)$(PREFIX)/share/doc/critsim
	install -m 644 man/*.1 $(DESTDIR)$(PREFIX)/share/man/man1/
	install -m 644 docs/*.md $(DESTDIR)$(PREFIX)/share/doc/critsim/
