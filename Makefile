# strata: one non-recursive Makefile for the whole stack.
#
# The five layers are built bottom-up, each into its own static library, and all of
# them into one shared library. A layer is compiled with only its own and lower
# layers' include paths, so an upward #include cannot compile (see LAYER_INC below).
#
#   make            build the libraries, tests, examples
#   make test       install missing Debian packages, build, run every graded suite
#   make grade      score the suites (WEEK=N for one week), write results.json
#   make memcheck   every suite under valgrind, failing on any leak or invalid access
#   make handout WEEK=N DEST=dir   cut a student tree from this reference
#   make handout-check             cut, build and grade every week's handout
#   make docs       the API site and the handouts (doc/html), failing on warnings
#   make bench      optimized build, then every benchmark (bench/results.csv)
#   make install PREFIX=/usr/local

.DEFAULT_GOAL := all

CC       ?= gcc
PREFIX   ?= /usr/local
BUILD    ?= build
OPT      ?= -O3 -g
WERROR   ?= -Werror
# strata's threads are its own (tensor/threads.c, pthreads); OpenMP only marks the
# loops that vectorize (`#pragma omp simd`), which needs no OpenMP runtime.
OPENMP ?= -fopenmp-simd
# Hidden visibility: libstrata.so exports only what the public headers declare with
# STRATA_API (tensor/tensor.h); the helpers the layers share through their *_internal.h
# headers stay inside it (the static libraries, and the tests linked to them, still see
# them). `make exports-check` holds the shared library to that list.
CFLAGS_BASE := -std=c11 -D_DEFAULT_SOURCE -D_POSIX_C_SOURCE=200809L -fPIC -fno-math-errno \
               -fvisibility=hidden $(OPENMP) -Wall -Wextra -Wpedantic $(WERROR) $(OPT)
CFLAGS   += $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDFLAGS  += $(OPENMP) $(EXTRA_LDFLAGS)

# These three ask the machine (pkg-config, mpicc) when the Makefile is read, so they are
# only right once the Debian packages are installed. That is why the targets a new user
# types first (train, test, memcheck, grade, install, ...) run `deps` and then do their
# work in a sub-make, which reads this Makefile again (see "targets" below).
CJSON_CFLAGS := $(shell pkg-config --cflags libcjson 2>/dev/null)
CHECK_LIBS   := $(shell pkg-config --libs check 2>/dev/null || echo -lcheck)
SYS_LIBS     := -lopenblas -lcjson -lz -lm -lpthread

# MPI is built only where mpicc exists.
MPICC := $(shell command -v mpicc 2>/dev/null)
# Open MPI's wrapper runs $(CC) too, so the MPI programs are built by the same compiler
# as the libraries they link.
MPI_RUN := OMPI_CC="$(CC)" $(MPICC)

LAYERS := tensor autograd nn optim modular

# The folders of each layer. Week 4 is one library laid out by subsystem: the optimizer
# part at the top of optim/, then data/, train/ and l2l/ (optim/mpi/ is built apart,
# below, only where MPI is installed).
LAYER_DIRS_tensor   := tensor
LAYER_DIRS_autograd := autograd
LAYER_DIRS_nn       := nn
LAYER_DIRS_optim    := optim optim/data optim/train optim/l2l
LAYER_DIRS_modular  := modular

# Include path of each layer: its own folders and everything below, nothing above (so
# the files of one layer include each other's headers by name, and never a higher one's).
LAYER_INC_tensor   := $(addprefix -I,$(LAYER_DIRS_tensor))
LAYER_INC_autograd := $(LAYER_INC_tensor) $(addprefix -I,$(LAYER_DIRS_autograd))
LAYER_INC_nn       := $(LAYER_INC_autograd) $(addprefix -I,$(LAYER_DIRS_nn))
LAYER_INC_optim    := $(LAYER_INC_nn) $(addprefix -I,$(LAYER_DIRS_optim))
LAYER_INC_modular  := $(LAYER_INC_optim) $(addprefix -I,$(LAYER_DIRS_modular))

# The installed headers: each layer's public header, the parts optim.h includes, and
# strata.h. Internal headers (*_internal.h, tensor_math.h) stay in the tree.
PUBLIC_HEADERS := tensor/tensor.h autograd/autograd.h nn/nn.h \
                  optim/optim.h optim/optimizer.h optim/data/data.h optim/train/train.h \
                  optim/l2l/l2l.h modular/modular.h strata.h

# Libraries a layer links, top first (the order static linking needs).
LAYER_LIBS_tensor   := $(BUILD)/lib/libstrata_tensor.a
LAYER_LIBS_autograd := $(BUILD)/lib/libstrata_autograd.a $(LAYER_LIBS_tensor)
LAYER_LIBS_nn       := $(BUILD)/lib/libstrata_nn.a $(LAYER_LIBS_autograd)
LAYER_LIBS_optim    := $(BUILD)/lib/libstrata_optim.a $(LAYER_LIBS_nn)
LAYER_LIBS_modular  := $(BUILD)/lib/libstrata_modular.a $(LAYER_LIBS_optim)

# ------------------------------------------------------------------------ libraries --
define layer_rules
$(1)_SRC := $$(foreach D,$$(LAYER_DIRS_$(1)),$$(wildcard $$(D)/*.c))
$(1)_OBJ := $$(patsubst %.c,$(BUILD)/obj/%.o,$$($(1)_SRC))
$(BUILD)/obj/$(1)/%.o: $(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(CJSON_CFLAGS) $$(LAYER_INC_$(1)) -MMD -MP -c $$< -o $$@
# The same file preprocessed with the same flags, and every header it read (X.i.d):
# what the deployed grader checks in a submission (tests/harness/grade-submission.sh);
# X.mm: the headers it names, missing ones too (for a file that does not preprocess).
$(BUILD)/obj/$(1)/%.i: $(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(CJSON_CFLAGS) $$(LAYER_INC_$(1)) -E -MD -MF $$@.d -MT x $$< -o $$@
$(BUILD)/obj/$(1)/%.mm: $(1)/%.c
	@mkdir -p $$(@D)
	$$(CC) $$(CFLAGS) $$(CJSON_CFLAGS) $$(LAYER_INC_$(1)) -M -MG -MT x $$< -o $$@
$(BUILD)/lib/libstrata_$(1).a: $$($(1)_OBJ) | $(BUILD)/lib
	rm -f $$@ && ar rcs $$@ $$($(1)_OBJ)
lib-$(1): $(BUILD)/lib/libstrata_$(1).a
.PHONY: lib-$(1)
endef
$(foreach L,$(LAYERS),$(eval $(call layer_rules,$(L))))

ALL_OBJ    := $(foreach L,$(LAYERS),$($(L)_OBJ))
STATIC_LIBS := $(foreach L,$(LAYERS),$(BUILD)/lib/libstrata_$(L).a)
SHARED_LIB := $(BUILD)/lib/libstrata.so

$(BUILD)/lib:
	mkdir -p $@

$(SHARED_LIB): $(ALL_OBJ) | $(BUILD)/lib
	$(CC) -shared -o $@ $(ALL_OBJ) $(LDFLAGS) $(SYS_LIBS)

# --------------------------------------------------------------------------- suites --
# tests/weekN_<layer>/*.c plus the harness make one Check binary per week. A week's
# suite sees only the headers of its own layer and those below.
WEEK_DIRS := $(sort $(wildcard tests/week[0-9]_*))
# Suites outside the weekly grade, run by make test and make memcheck all the same:
# tests/runtime_tensor (the runtime students are given: errors, allocator, scopes, RNG),
# tests/bad_input (the bad-input table of docs/bad-input.md, all five layers) and
# tests/fault_injection (allocation and I/O failures injected into calls of every layer),
# tests/fusion (fused kernels, bit for bit against the ops they stand for).
EXTRA_SUITE_DIRS := $(wildcard tests/runtime_tensor tests/bad_input tests/fault_injection \
                               tests/fusion)
# The highest layer a suite may include: for a week's suite (tests/weekN_<layer>...) the
# word after the first underscore; for the others, said here.
SUITE_LAYER_runtime_tensor  := tensor
SUITE_LAYER_bad_input       := modular
SUITE_LAYER_fault_injection := modular
SUITE_LAYER_fusion          := nn
HARNESS_SRC := tests/harness/runner.c
# Every header of the harness (harness.h, strata_test.h, leaks.h, faultwalk.h, ...):
# a suite includes some of them, and an edit to any must rebuild the suites.
HARNESS_HDRS := $(wildcard tests/harness/*.h)
# One suite: $(1) its folder, $(2) its name (build/tests/$(2)), $(3) the layer whose
# libraries and include path it gets.
define suite_rules
$(BUILD)/tests/$(2): $$(wildcard $(1)/*.c) $$(wildcard $(1)/*.h) $(HARNESS_SRC) \
                     $(HARNESS_HDRS) $$(LAYER_LIBS_$(3)) | $(BUILD)/tests
	$$(CC) $$(CFLAGS) $$(CJSON_CFLAGS) $$(LAYER_INC_$(3)) -Itests/harness \
	    -o $$@ $$(wildcard $(1)/*.c) $(HARNESS_SRC) $$(LAYER_LIBS_$(3)) \
	    $$(LDFLAGS) $(CHECK_LIBS) $(SYS_LIBS)
SUITES += $(BUILD)/tests/$(2)
endef
# A suite's layer is the second word of its name (week1_tensor), or SUITE_LAYER_<name>.
suite_layer = $(or $(SUITE_LAYER_$(1)),$(word 2,$(subst _, ,$(1))))
$(foreach D,$(WEEK_DIRS) $(EXTRA_SUITE_DIRS),\
  $(eval $(call suite_rules,$(D),$(notdir $(D)),$(call suite_layer,$(notdir $(D))))))

# Hidden tests: tests/hidden/weekN_<layer>/ holds instructor-only tests of week N (never
# cut into a handout: weeks/cut-handout.sh leaves tests/hidden/ out). Each folder is one
# more suite of its week, build/tests/weekN_<layer>_hidden, graded with the public one
# (docs/grading.md, "Hidden tests").
HIDDEN_DIRS := $(sort $(wildcard tests/hidden/week[0-9]_*))
$(foreach D,$(HIDDEN_DIRS),\
  $(eval $(call suite_rules,$(D),$(notdir $(D))_hidden,$(call suite_layer,$(notdir $(D))))))

$(BUILD)/tests $(BUILD)/examples $(BUILD)/bench $(BUILD)/tools:
	mkdir -p $@

# Course tools (the grader that writes results.json).
$(BUILD)/tools/grade: tests/harness/grade.c | $(BUILD)/tools
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) -o $@ $< -lcjson

# The grader's self-test: a fake suite whose tests crash, hang, exit, flood and leak.
$(BUILD)/tools/selftest_suite: tests/harness/selftest/fake_suite.c \
                               tests/harness/redteam/find_nonce.c $(HARNESS_SRC) \
                               $(HARNESS_HDRS) | $(BUILD)/tools
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) -Itests/harness -o $@ $< $(HARNESS_SRC) \
	    $(LDFLAGS) $(CHECK_LIBS) -lcjson

# --------------------------------------------------------------- examples and bench --
ALL_INC := $(LAYER_INC_modular)
EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%,$(wildcard examples/*.c))
# The examples share small headers (examples/*.h): editing one rebuilds them all.
EXAMPLE_HDRS := $(wildcard examples/*.h)
$(BUILD)/examples/%: examples/%.c $(EXAMPLE_HDRS) $(STATIC_LIBS) | $(BUILD)/examples
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -I. -Iexamples -o $@ $< \
	    $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)

BENCHES := $(patsubst bench/%.c,$(BUILD)/bench/%,$(wildcard bench/*.c))
$(BUILD)/bench/%: bench/%.c $(STATIC_LIBS) | $(BUILD)/bench
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -o $@ $< \
	    $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
# bench_epoch records the CNN epoch's cblas_sgemm calls (its GEMM-only floor): every
# call in it, strata's included, goes through its __wrap_cblas_sgemm.
$(BUILD)/bench/bench_epoch: LDFLAGS += -Wl,--wrap=cblas_sgemm

# `make test-torch` (optional): strata's ops and gradients against PyTorch's on
# random inputs (tests/torch/compare.py), then weights from strata to PyTorch and back
# through safetensors files (tests/torch/interop.py, the user guide's lines); skipped
# with a note where python3-torch is absent. Not part of make test.
$(BUILD)/tests/torch_driver: tests/torch/driver.c $(STATIC_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -o $@ $< $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
$(BUILD)/tests/torch_interop: tests/torch/interop.c $(STATIC_LIBS) | $(BUILD)/tests
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -o $@ $< $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
test-torch: $(BUILD)/tests/torch_driver $(BUILD)/tests/torch_interop
	@sh tests/torch/run.sh $(BUILD)/tests/torch_driver $(BUILD)/tests/torch_interop
.PHONY: test-torch

# -------------------------------------------------------------------- optional: MPI --
# Data-parallel training lives in optim/mpi/ and is compiled with mpicc into its own
# library only where MPI is installed; everything else builds without it.
ifneq ($(MPICC),)
DIST_LIB := $(BUILD)/lib/libstrata_dist.a
DIST_INC := $(LAYER_INC_optim) -Ioptim/mpi
$(BUILD)/obj/optim/mpi/%.o: optim/mpi/%.c | $(BUILD)/obj/optim/mpi
	$(MPI_RUN) $(CFLAGS) $(CJSON_CFLAGS) $(DIST_INC) -MMD -MP -c $< -o $@
$(BUILD)/obj/optim/mpi:
	mkdir -p $@
$(DIST_LIB): $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard optim/mpi/*.c)) | $(BUILD)/lib
	rm -f $@ && ar rcs $@ $^
$(BUILD)/tests/mpi_ddp: tests/mpi/test_ddp.c $(DIST_LIB) $(LAYER_LIBS_optim) | $(BUILD)/tests
	$(MPI_RUN) $(CFLAGS) $(CJSON_CFLAGS) $(DIST_INC) -o $@ $< $(DIST_LIB) \
	    $(LAYER_LIBS_optim) $(LDFLAGS) $(SYS_LIBS)
MPI_TESTS := $(BUILD)/tests/mpi_ddp
DIST_EXAMPLES := $(patsubst examples/%.c,$(BUILD)/examples/%_mpi,$(wildcard examples/fashion_*.c))
$(BUILD)/examples/%_mpi: examples/%.c $(EXAMPLE_HDRS) $(DIST_LIB) $(STATIC_LIBS) | $(BUILD)/examples
	$(MPI_RUN) $(CFLAGS) -DSTRATA_MPI $(CJSON_CFLAGS) $(ALL_INC) -Ioptim/mpi -Iexamples -o $@ $< \
	    $(DIST_LIB) $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
BENCHES += $(if $(wildcard bench/mpi/*.c),$(BUILD)/bench/mpi_scaling)
$(BUILD)/bench/mpi_scaling: bench/mpi/mpi_scaling.c $(DIST_LIB) $(STATIC_LIBS) | $(BUILD)/bench
	$(MPI_RUN) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -Ioptim/mpi -o $@ $< \
	    $(DIST_LIB) $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
endif

# ----------------------------------------------------------- sanitizers and fuzzing --
# `make sanitize` rebuilds every suite with clang's AddressSanitizer and UBSan in
# build/sanitize and runs them; `make fuzz` builds the libFuzzer harnesses of every
# parser of outside data (tests/fuzz/) and runs each for FUZZ_SECONDS.
# Both build without the simd hints (OPENMP=): the kernels run the same code as plain
# loops, so every access is still checked.
SAN_OPT  := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined \
            -fno-sanitize-recover=undefined
FUZZ_OPT := $(SAN_OPT) -fsanitize=fuzzer-no-link
FUZZ_SECONDS ?= 60
FUZZERS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzz/%,$(wildcard tests/fuzz/fuzz_*.c))
$(BUILD)/fuzz:
	mkdir -p $@
$(BUILD)/fuzz/%: tests/fuzz/%.c tests/fuzz/fuzz_common.h tests/harness/grade.c $(STATIC_LIBS) \
                  | $(BUILD)/fuzz
	$(CC) $(CFLAGS) $(CJSON_CFLAGS) $(ALL_INC) -fsanitize=fuzzer -o $@ $< \
	    $(LAYER_LIBS_modular) $(LDFLAGS) $(SYS_LIBS)
suites: $(SUITES)
fuzzers: $(FUZZERS)

sanitize: deps
	@$(MAKE) --no-print-directory BUILD=build/sanitize CC=clang OPT="$(SAN_OPT)" OPENMP= \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" suites
	@ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 UBSAN_OPTIONS=print_stacktrace=1 \
	    CK_TIMEOUT_MULTIPLIER=4 sh tests/harness/run-suites.sh \
	    $(patsubst $(BUILD)/%,build/sanitize/%,$(SUITES))

fuzz: deps
	@$(MAKE) --no-print-directory BUILD=build/fuzz CC=clang OPT="$(FUZZ_OPT)" OPENMP= \
	    EXTRA_LDFLAGS="-fsanitize=address,undefined" fuzzers
	@sh tests/fuzz/run.sh build/fuzz "$(FUZZ_SECONDS)"

# ------------------------------------------------------------------------- targets --
# `make` (all) builds with what is installed; it never installs anything.
all: $(STATIC_LIBS) $(SHARED_LIB) $(SUITES) $(EXAMPLES) $(BUILD)/tools/grade \
     $(DIST_LIB) $(MPI_TESTS) $(DIST_EXAMPLES)

DEPS_STAMP := $(BUILD)/.deps-ok
deps: $(DEPS_STAMP)
$(DEPS_STAMP): .ci/deps
	sh .ci/deps
	mkdir -p $(BUILD) && touch $@

# The commands below first install what is missing (deps), then run their real target
# (the same name with "-after-deps") in a sub-make. The sub-make reads this Makefile
# anew, so pkg-config and mpicc are asked only after the packages are there: one
# `make train` on a fresh machine installs, builds and trains.
AFTER_DEPS := train test memcheck grade grade-submission install
$(AFTER_DEPS): deps
	@$(MAKE) --no-print-directory $@-after-deps

# The text corpus of examples/hello_gpt: the King James Bible (public domain), printed by
# Debian's bible-kjv reader at a fixed line width (examples/data/README.md).
CORPUS := $(BUILD)/data/kjv.txt
corpus: $(CORPUS)
$(CORPUS): $(DEPS_STAMP)
	mkdir -p $(dir $@)
	bible -l80 gen1:1-rev22:21 > $@.tmp && mv $@.tmp $@

# Run every suite (fork mode, per-test time limits); each prints Check's summary line.
test-after-deps: all layering-check exports-check grader-selftest
	$(if $(MPI_TESTS),@sh tests/mpi/run.sh $(MPI_TESTS))
	@sh tests/harness/run-suites.sh $(SUITES)

# The grader's self-test (a fake suite whose tests crash, hang, exit and forge), then
# the red team: attacks on the deployed grader as week-2 submissions, each scoring 0.
grader-selftest: $(BUILD)/tools/grade $(BUILD)/tools/selftest_suite
	@sh tests/harness/selftest/run.sh $(BUILD)
	@MAKE="$(MAKE)" sh tests/harness/redteam/run.sh $(BUILD)

layering-check: $(STATIC_LIBS)
	@sh tests/harness/layering-check.sh $(BUILD)/lib

# libstrata.so exports exactly the functions the installed headers declare (nm -D).
exports-check: $(SHARED_LIB)
	@CC="$(CC)" sh tests/harness/exports-check.sh $(SHARED_LIB) $(PUBLIC_HEADERS)

# MEMCHECK_SUITES=ungraded: only the suites outside the weekly grade (runtime_tensor,
# bad_input, fault_injection). CI runs that, because handout-check then grades the
# reference with its valgrind items, which runs every graded suite (public and hidden)
# under valgrind with the same options and fails on any error or leak.
UNGRADED_SUITES := $(foreach D,$(EXTRA_SUITE_DIRS),$(BUILD)/tests/$(notdir $(D)))
memcheck-after-deps: all
	@sh tests/harness/memcheck.sh $(if $(filter ungraded,$(MEMCHECK_SUITES)),$(UNGRADED_SUITES),$(SUITES))

# Not "all": grade.sh builds each week's suite itself, so one that fails to build
# costs that week only.
grade-after-deps: $(BUILD)/tools/grade
	@MAKE="$(MAKE)" sh tests/harness/grade.sh "$(BUILD)" "$(WEEK)"

# The deployed autograder (Gradescope's run_autograder): grade week WEEK of the student
# tree SUBMISSION in a fresh copy of this one, write RESULTS. docs/grading.md.
grade-submission-after-deps:
	@test -n "$(WEEK)" -a -n "$(SUBMISSION)" -a -n "$(RESULTS)" || { \
	    echo "usage: make grade-submission WEEK=N SUBMISSION=dir RESULTS=path"; exit 2; }
	@MAKE="$(MAKE)" sh tests/harness/grade-submission.sh "$(WEEK)" "$(SUBMISSION)" "$(RESULTS)"

handout:
	@test -n "$(WEEK)" -a -n "$(DEST)" || { echo "usage: make handout WEEK=N DEST=dir [LEVEL=core|full]"; exit 2; }
	@sh weeks/cut-handout.sh "$(WEEK)" "$(DEST)" "$(or $(LEVEL),core)"

handout-check: deps
	@sh weeks/handout-check.sh

# Replay each week's core handout step by step: the score must rise at every step.
replay-check: deps
	@sh weeks/replay-check.sh

# The tiers table (weeks/tiers.txt), each week's stretch tests and checked wording.
tiers:
	@sh weeks/tiers.sh

docs: deps
	@sh docs/build-docs.sh

# make bench also installs Debian's PyTorch (its reference rows are measured in the same
# run); BENCH_TORCH=0 skips both the package and the PyTorch rows.
bench: deps
	@[ "$${BENCH_TORCH:-1}" = 0 ] || sh .ci/deps bench
	@$(MAKE) --no-print-directory BUILD=build/release OPT="-O3 -march=native -DNDEBUG" \
	    build/release/lib/libstrata_modular.a \
	    $(patsubst $(BUILD)/%,build/release/%,$(BENCHES)) \
	    $(patsubst $(BUILD)/%,build/release/%,$(EXAMPLES))
	@sh bench/run.sh build/release

# The main job: train the MLP on Fashion-MNIST. Builds only the trainer (make test
# builds the rest). TRAIN_ARGS is passed to it, e.g. make train TRAIN_ARGS="--epochs 1".
TRAIN_ARGS ?=
train-after-deps: $(BUILD)/examples/fashion_mlp
	$(BUILD)/examples/fashion_mlp $(TRAIN_ARGS)

# Everything installed is built here first (the MPI library too, where mpicc exists).
# The libraries' run path is in strata.pc (Libs: -Wl,-rpath), so a program linked with
# `pkg-config --libs strata` finds libstrata.so under any PREFIX without LD_LIBRARY_PATH.
install-after-deps: $(STATIC_LIBS) $(SHARED_LIB) $(DIST_LIB)
	mkdir -p $(DESTDIR)$(PREFIX)/include/strata $(DESTDIR)$(PREFIX)/lib/pkgconfig
	cp $(PUBLIC_HEADERS) $(DESTDIR)$(PREFIX)/include/strata/
	cp $(STATIC_LIBS) $(SHARED_LIB) $(DESTDIR)$(PREFIX)/lib/
	$(if $(DIST_LIB),cp optim/mpi/optim_dist.h $(DESTDIR)$(PREFIX)/include/strata/ && \
	    cp $(DIST_LIB) $(DESTDIR)$(PREFIX)/lib/)
	sed -e 's|@PREFIX@|$(PREFIX)|' strata.pc.in > $(DESTDIR)$(PREFIX)/lib/pkgconfig/strata.pc

clean:
	rm -rf $(BUILD) build/release doc results.json

.PHONY: suites fuzzers sanitize fuzz all deps corpus test grader-selftest layering-check exports-check memcheck grade grade-submission grade-submission-after-deps handout handout-check replay-check tiers docs bench \
        train install clean $(addsuffix -after-deps,$(AFTER_DEPS))

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
