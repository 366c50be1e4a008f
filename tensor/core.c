/*
 * core.c - the runtime every layer shares: the error slot, reference-counted objects,
 * scopes (autorelease pools) and the seeded generator. The counting allocator is in
 * alloc.c, the threads in threads.c. Read docs/memory-and-errors.md first: these files
 * implement that page.
 */
#include "tensor.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- the error slot --- */

#define ERROR_SLOT_SIZE 1024

static _Thread_local char error_slot[ERROR_SLOT_SIZE];
/* Whether the message in the slot has been read with strata_last_error() since it was
 * recorded. An unread message is the likely root cause of a NULL that arrives later (the
 * chain that failed is still running); a read one has been handled by the caller, so a
 * later NULL argument is a new failure and gets its own message. */
static _Thread_local bool error_read;

const char *strata_last_error(void)
{
    error_read = true;
    return error_slot;
}

bool strata_error_pending(void) { return error_slot[0] != '\0' && !error_read; }

void strata_clear_error(void)
{
    error_slot[0] = '\0';
    error_read = false;
}

void strata_set_error(const char *fmt, ...)
{
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_slot, sizeof error_slot, fmt, args);
    va_end(args);
    error_read = false;
}

void strata_error_null(const char *function, const char *argument)
{
    /* Keep an unread message: the NULL is most likely that failure's result. */
    if (!strata_error_pending())
        strata_set_error("%s: argument '%s' is NULL", function, argument);
}

void strata_not_implemented(const char *function, int week)
{
    strata_set_error("%s: not implemented yet (week %d)", function, week);
}

/* ------------------------------------------------------------ objects and scopes --- */

/*
 * The scope stack is one array of object pointers per thread. A scope remembers where
 * the stack stood when it opened; scope_end() releases everything above that mark.
 * An object remembers its slot, so releasing it early just empties the slot.
 */
#define MAX_SCOPES 256

struct Scope {
    long base;   /* stack height when the scope opened */
    bool open;
};

static _Thread_local StrataObject **scope_stack;
static _Thread_local long scope_top;
static _Thread_local long scope_capacity;
static _Thread_local Scope scopes[MAX_SCOPES];
static _Thread_local int scope_count;
static _Thread_local Scope closed_sentinel;

static bool scope_push(StrataObject *object)
{
    if (scope_top == scope_capacity) {
        long capacity = scope_capacity ? 2 * scope_capacity : 1024;
        /* Plain realloc: bookkeeping, not tensor memory, so it stays out of the counts. */
        StrataObject **grown = realloc(scope_stack, (size_t)capacity * sizeof *grown);
        if (!grown)
            return false;
        scope_stack = grown;
        scope_capacity = capacity;
    }
    object->scope_slot = scope_top;
    scope_stack[scope_top++] = object;
    return true;
}

void strata_object_init(StrataObject *object, void (*destroy)(StrataObject *object))
{
    object->refcount = 1;
    object->scope_slot = -1;
    object->destroy = destroy;
    /* If the push fails (out of memory) the caller simply owns the reference. */
    if (scope_count > 0)
        scope_push(object);
}

void strata_object_retain(StrataObject *object)
{
    if (object)
        object->refcount++;
}

void strata_object_release(StrataObject *object)
{
    if (!object)
        return;
    if (--object->refcount > 0)
        return;
    if (object->scope_slot >= 0) {
        scope_stack[object->scope_slot] = NULL;
        object->scope_slot = -1;
    }
    object->destroy(object);
}

void strata_object_autorelease(StrataObject *object)
{
    /* Already held by a scope, or no scope to hand it to: the caller keeps it. */
    if (object && object->scope_slot < 0 && scope_count > 0)
        scope_push(object);
}

Scope *scope_begin(void)
{
    if (scope_count == MAX_SCOPES) {
        strata_set_error("scope_begin: more than %d nested scopes", MAX_SCOPES);
        closed_sentinel.open = false;
        return &closed_sentinel;
    }
    Scope *s = &scopes[scope_count++];
    s->base = scope_top;
    s->open = true;
    return s;
}

void scope_end(Scope *scope)
{
    if (!scope || !scope->open || scope < scopes || scope >= scopes + scope_count)
        return;
    /* Release from the top down: later objects usually depend on earlier ones. */
    while (scope_top > scope->base) {
        StrataObject *object = scope_stack[--scope_top];
        if (object) {
            object->scope_slot = -1;
            strata_object_release(object);
        }
    }
    /* Close this scope and any inner ones left open. */
    for (Scope *s = scope; s < scopes + scope_count; s++)
        s->open = false;
    scope_count = (int)(scope - scopes);
    if (scope_count == 0) {
        free(scope_stack);
        scope_stack = NULL;
        scope_capacity = 0;
        scope_top = 0;
    }
}

size_t scope_depth_objects(void)
{
    size_t n = 0;
    for (long i = 0; i < scope_top; i++)
        n += scope_stack[i] != NULL;
    return n;
}

/* ------------------------------------------------------------- random generator --- */

/*
 * PCG32 (O'Neill, pcg-random.org): a 64-bit LCG whose output is permuted. It is
 * small, fast, and gives the same stream on every platform for the same seed.
 */
#define PCG_MULTIPLIER 6364136223846793005ULL
#define PCG_INCREMENT 1442695040888963407ULL

static _Thread_local uint64_t rng_state = 0x853c49e6748fea9bULL;

uint32_t strata_rng_u32(void)
{
    uint64_t old = rng_state;
    rng_state = old * PCG_MULTIPLIER + PCG_INCREMENT;
    uint32_t xorshifted = (uint32_t)(((old >> 18u) ^ old) >> 27u);
    uint32_t rot = (uint32_t)(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((-rot) & 31));
}

void strata_manual_seed(uint64_t seed)
{
    rng_state = 0;
    strata_rng_u32();
    rng_state += seed;
    strata_rng_u32();
}

uint64_t strata_rng_get_state(void) { return rng_state; }

void strata_rng_set_state(uint64_t state) { rng_state = state; }

double strata_rng_uniform(void)
{
    /* 24 random bits: every value is exactly representable as a float. */
    return (strata_rng_u32() >> 8) * (1.0 / 16777216.0);
}

double strata_rng_normal(void)
{
    /* Box-Muller without caching the second value, so the state alone replays it. */
    double u1 = 1.0 - strata_rng_uniform(); /* in (0, 1]: log is finite */
    double u2 = strata_rng_uniform();
    return sqrt(-2.0 * log(u1)) * cos(2.0 * M_PI * u2);
}

void strata_randperm(int64_t *perm, int64_t n)
{
    if (n > 0) /* a NULL array is an error, not a segfault */
        STRATA_CHECK_ARG(perm, );
    for (int64_t i = 0; i < n; i++)
        perm[i] = i;
    for (int64_t i = n - 1; i > 0; i--) {
        /* Unbiased enough for n << 2^32: modulo bias is below n / 2^32. */
        int64_t j = (int64_t)(strata_rng_u32() % (uint64_t)(i + 1));
        int64_t tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
    }
}
