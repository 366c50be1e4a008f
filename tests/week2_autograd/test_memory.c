/*
 * test_memory.c - the graph's memory: a training-like step leaves no byte behind, backward
 * frees what it saved unless asked to keep it, and deep graphs neither overflow the C
 * stack in backward nor when they are freed (both run on a 256 KiB stack, where
 * recursing once per node would crash).
 */
#include "common.h"

#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#define HAVE_VALGRIND_H 1
#endif
#endif

#define SMALL_STACK (256 * 1024)

typedef struct Job {
    void (*fn)(struct Job *job);
    int ok;          /* set by fn */
    double value;    /* set by fn */
    char error[512]; /* set by fn on failure */
} Job;

/*
 * The small stack is a ucontext on this thread (not a pthread: the allocator's
 * thread-local caches and the scopes stay this thread's), mapped with a PROT_NONE guard
 * page below it, so overflowing it is a clean SIGSEGV (the test fails) rather than a
 * silent overwrite of the heap.
 */
static ucontext_t caller_ctx, job_ctx;
static Job *current_job;

static void job_entry(void)
{
    current_job->fn(current_job); /* returning resumes caller_ctx (uc_link) */
}

/* Run job->fn on a 256 KiB stack; assertions stay outside, in the test itself. */
static void run_on_small_stack(Job *job)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *map = mmap(NULL, SMALL_STACK + page, PROT_READ | PROT_WRITE,
                              MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    ck_assert_msg(map != MAP_FAILED, "mmap of the small stack failed");
    ck_assert_int_eq(mprotect(map, page, PROT_NONE), 0); /* the guard page */
    ck_assert_int_eq(getcontext(&job_ctx), 0);
    job_ctx.uc_stack.ss_sp = map + page;
    job_ctx.uc_stack.ss_size = SMALL_STACK;
    job_ctx.uc_link = &caller_ctx;
    makecontext(&job_ctx, job_entry, 0);
    current_job = job;
#ifdef HAVE_VALGRIND_H
    unsigned id = VALGRIND_STACK_REGISTER(map + page, map + page + SMALL_STACK);
#endif
    ck_assert_int_eq(swapcontext(&caller_ctx, &job_ctx), 0);
#ifdef HAVE_VALGRIND_H
    VALGRIND_STACK_DEREGISTER(id);
#endif
    munmap(map, SMALL_STACK + page);
}

static void fail_job(Job *job)
{
    job->ok = 0;
    snprintf(job->error, sizeof job->error, "%s", strata_last_error());
}

/* y = x * 1.0001, 10 000 times: dy/dx = 1.0001^10000 (float32 factor). */
static void deep_chain_backward(Job *job)
{
    Scope *s = scope_begin();
    Var *x = var_new(tensor_scalar(1.0f), true);
    Var *y = x;
    for (int i = 0; i < 10000 && y; i++)
        y = var_mul_scalar(y, 1.0001f);
    if (!y || var_backward(y) != 0 || !var_grad(x)) {
        fail_job(job);
    } else {
        job->ok = 1;
        job->value = tensor_item(var_grad(x));
    }
    scope_end(s);
}

START_TEST(test_deep_chain_backward)
{
    BEGIN;
    Job job = {.fn = deep_chain_backward};
    run_on_small_stack(&job);
    ck_assert_msg(job.ok, "a 10 000-op chain failed: \"%s\"", job.error);
    double expected = pow((double)1.0001f, 10000.0);
    ck_assert_msg(fabs(job.value - expected) <= 5e-3 * expected,
                  "d/dx of x * 1.0001^10000 = %.6g, expected %.6g", job.value, expected);
    END;
}
END_TEST

/* A 20 000-op chain held only by its last Var: dropping that reference frees all of it
 * (each Var is held by the next one's node) without recursing once per node. */
static void deep_chain_free(Job *job)
{
    Scope *outer = scope_begin();
    Var *x = var_new(tensor_scalar(0.5f), true);
    Scope *inner = scope_begin();
    Var *y = x;
    for (int i = 0; i < 20000 && y; i++)
        y = var_add_scalar(y, 1.0f);
    var_retain(y);
    scope_end(inner); /* now the chain lives only through y */
    job->ok = y != NULL;
    if (!y)
        fail_job(job);
    else
        job->value = tensor_item(var_data(y));
    var_release(y); /* frees 20 000 nodes */
    scope_end(outer);
}

START_TEST(test_deep_chain_free)
{
    BEGIN;
    Job job = {.fn = deep_chain_free};
    run_on_small_stack(&job);
    ck_assert_msg(job.ok, "building a 20 000-op chain failed: \"%s\"", job.error);
    ck_assert_float_eq_tol(job.value, 20000.5, 1e-1);
    END; /* every byte of the chain is back */
}
END_TEST

/* A training-like step (forward, backward, reading the grads) inside a scope leaves the
 * counting allocator exactly where it started once the scope ends. */
START_TEST(test_step_leaves_nothing)
{
    StrataMemStats before = strata_mem_stats();
    Scope *s = scope_begin();
    strata_manual_seed(3);
    Var *x = OKV(var_new(OK(tensor_randn(SHAPE(8, 16), 2)), false));
    Var *w = OKV(var_new(OK(tensor_randn(SHAPE(4, 16), 2)), true));
    Var *b = OKV(var_new(OK(tensor_zeros(SHAPE(4), 1)), true));
    Var *h = OKV(var_relu(OKV(var_linear(x, w, b))));
    Var *loss = OKV(var_mean(OKV(var_log_softmax(h, 1)), NULL, 0, false));
    OK0(var_backward(loss));
    ck_assert_ptr_nonnull(var_grad(w));
    ck_assert_ptr_nonnull(var_grad(b));
    scope_end(s);
    StrataMemStats after = strata_mem_stats();
    ck_assert_msg(after.bytes_live == before.bytes_live,
                  "%zd bytes still live after the step's scope ended",
                  (ssize_t)(after.bytes_live - before.bytes_live));
}
END_TEST

/* y = sum(tanh(tanh(x))) with x [128, 128] (64 KiB per tensor) and only y kept: the
 * two tanh outputs are saved for backward. backward frees them (-128 KiB) and makes
 * x.grad (+64 KiB): live bytes fall. With retain_graph nothing is freed: they rise. */
START_TEST(test_backward_frees_the_graph)
{
    BEGIN;
    Var *x = OKV(var_new(OK(tensor_randn(SHAPE(128, 128), 2)), true));
    for (int keep = 0; keep < 2; keep++) {
        Scope *inner = scope_begin();
        Var *y = OKV(var_sum(OKV(var_tanh(OKV(var_tanh(x)))), NULL, 0, false));
        var_retain(y);
        scope_end(inner);
        var_zero_grad(x, true);
        size_t before = strata_mem_stats().bytes_live;
        OK0(var_backward_ex(y, NULL, keep));
        size_t after = strata_mem_stats().bytes_live;
        if (keep)
            ck_assert_msg(after > before + 32768, "retain_graph: live bytes went from %zu "
                          "to %zu; the saved tensors must stay and x.grad be added",
                          before, after);
        else
            ck_assert_msg(after + 32768 < before, "live bytes went from %zu to %zu: "
                          "backward should free the saved tensors it no longer needs",
                          before, after);
        var_release(y);
    }
    END;
}
END_TEST

void add_memory_tests(Suite *s)
{
    GRADED(s, test_deep_chain_backward, 4);
    GRADED(s, test_deep_chain_free, 3);
    GRADED(s, test_step_leaves_nothing, 4);
    GRADED(s, test_backward_frees_the_graph, 3);
}
