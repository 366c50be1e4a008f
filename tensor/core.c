/*
 * core.c - the runtime every layer shares: the error slot, the counting allocator,
 * reference-counted objects, scopes (autorelease pools) and the seeded generator (the
 * threads are in threads.c). Read docs/memory-and-errors.md first: this file
 * implements that page.
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

/* ------------------------------------------------------- the counting allocator --- */

/*
 * Each block carries a 64-byte header holding its requested size and its capacity, so
 * strata_free() can subtract the size and the cache can match the capacity. 64 bytes
 * keep the user's pointer 64-byte aligned (cache lines, AVX-512 loads in BLAS).
 */
#define ALLOC_ALIGN 64

typedef struct BlockHeader {
    size_t size;     /* bytes the caller asked for (what the statistics count) */
    size_t capacity; /* bytes usable after the header (what the cache matches) */
    void *raw;       /* what malloc returned; the header is its first 64-byte boundary */
    struct BlockHeader *next; /* link while the block waits in a small-block free list */
} BlockHeader;

/*
 * A block of @p capacity usable bytes after a 64-byte-aligned header. Plain malloc with
 * the alignment done here rather than aligned_alloc: glibc serves small malloc requests
 * from a per-thread cache, while its aligned path splits chunks and spends its time in
 * malloc_consolidate (over a third of a tiny tensor op's time).
 */
static BlockHeader *block_new(size_t capacity)
{
    unsigned char *raw = malloc(ALLOC_ALIGN - 1 + ALLOC_ALIGN + capacity);
    if (!raw)
        return NULL;
    uintptr_t at = ((uintptr_t)raw + ALLOC_ALIGN - 1) / ALLOC_ALIGN * ALLOC_ALIGN;
    BlockHeader *block = (BlockHeader *)(raw + (at - (uintptr_t)raw));
    block->raw = raw;
    block->capacity = capacity;
    return block;
}

static void block_free(BlockHeader *block)
{
    free(block->raw);
}

static atomic_size_t mem_live;
static atomic_size_t mem_peak;
static atomic_size_t mem_allocs;
static atomic_size_t mem_frees;

/* The counters order nothing else in memory, so relaxed atomics suffice (and are cheap). */
static void note_alloc(size_t size)
{
    size_t live = atomic_fetch_add_explicit(&mem_live, size, memory_order_relaxed) + size;
    size_t peak = atomic_load_explicit(&mem_peak, memory_order_relaxed);
    while (live > peak && !atomic_compare_exchange_weak_explicit(
                              &mem_peak, &peak, live, memory_order_relaxed,
                              memory_order_relaxed)) {
    }
    atomic_fetch_add_explicit(&mem_allocs, 1, memory_order_relaxed);
}

static void note_free(size_t size)
{
    atomic_fetch_sub_explicit(&mem_live, size, memory_order_relaxed);
    atomic_fetch_add_explicit(&mem_frees, 1, memory_order_relaxed);
}

/*
 * Small blocks (tensor and Var headers, graph nodes) are recycled through per-thread
 * free lists, one per 64-byte size class: a tiny op then costs a pop and a push, no
 * lock and no trip through the C library. Each list keeps at most SMALL_KEEP blocks.
 */
#define SMALL_MAX 1024
#define SMALL_CLASSES (SMALL_MAX / ALLOC_ALIGN)
#define SMALL_KEEP 1024

static _Thread_local BlockHeader *small_head[SMALL_CLASSES];
static _Thread_local int small_count[SMALL_CLASSES];
static _Thread_local bool small_flush_armed;
static atomic_bool small_trim_registered;

/* A thread's lists die with it: give its blocks back when it exits (a key destructor). */
static pthread_key_t small_flush_key;
static pthread_once_t small_flush_once = PTHREAD_ONCE_INIT;

static void small_flush(void *unused)
{
    (void)unused;
    for (int c = 0; c < SMALL_CLASSES; c++) {
        while (small_head[c]) {
            BlockHeader *block = small_head[c];
            small_head[c] = block->next;
            block_free(block);
        }
        small_count[c] = 0;
    }
}

static void small_flush_key_create(void) { pthread_key_create(&small_flush_key, small_flush); }

static int small_class(size_t capacity) { return (int)(capacity / ALLOC_ALIGN) - 1; }

static BlockHeader *small_take(size_t capacity)
{
    if (capacity > SMALL_MAX)
        return NULL;
    int c = small_class(capacity);
    BlockHeader *block = small_head[c];
    if (block) {
        small_head[c] = block->next;
        small_count[c]--;
    }
    return block;
}

static bool small_put(BlockHeader *block)
{
    if (block->capacity > SMALL_MAX)
        return false;
    int c = small_class(block->capacity);
    if (small_count[c] == SMALL_KEEP)
        return false;
    if (!small_flush_armed) {
        /* The key's destructor runs at this thread's exit (a non-NULL value arms it);
         * the main thread's lists are flushed by strata_mem_trim() at exit instead. */
        pthread_once(&small_flush_once, small_flush_key_create);
        pthread_setspecific(small_flush_key, &small_flush_armed);
        small_flush_armed = true;
        if (!atomic_exchange(&small_trim_registered, true))
            atexit(strata_mem_trim);
    }
    block->next = small_head[c];
    small_head[c] = block;
    small_count[c]++;
    return true;
}

/*
 * The block cache. A training loop repeats the same step, so the same large buffers
 * are allocated and freed every iteration. Giving them back to the C library costs a
 * page fault per 4 KiB the next time (glibc maps big blocks fresh from the kernel), so
 * freed blocks of at least CACHE_MIN_BYTES stay here and serve the next request of the
 * same capacity. Capacities are rounded up to whole pages so near sizes share blocks.
 * The statistics count only blocks in use; strata_mem_trim() empties the cache.
 */
#define CACHE_MIN_BYTES 16384
#define CACHE_PAGE 4096
#define CACHE_SLOTS 256
#define CACHE_MAX_BYTES ((size_t)1 << 30)

static struct {
    pthread_mutex_t lock;
    BlockHeader *blocks[CACHE_SLOTS];
    int count;
    size_t bytes;
    bool trim_at_exit; /* atexit(strata_mem_trim) registered: keeps valgrind's summary clean */
} cache = {.lock = PTHREAD_MUTEX_INITIALIZER};

static size_t capacity_for(size_t size)
{
    if (size == 0)
        return ALLOC_ALIGN; /* every block belongs to a size class */
    if (size < CACHE_MIN_BYTES)
        return (size + ALLOC_ALIGN - 1) / ALLOC_ALIGN * ALLOC_ALIGN;
    return (size + CACHE_PAGE - 1) / CACHE_PAGE * CACHE_PAGE;
}

/* A cached block of exactly @p capacity, or NULL. */
static BlockHeader *cache_take(size_t capacity)
{
    if (capacity < CACHE_MIN_BYTES)
        return NULL;
    BlockHeader *found = NULL;
    pthread_mutex_lock(&cache.lock);
    for (int i = cache.count - 1; i >= 0; i--) {
        if (cache.blocks[i]->capacity == capacity) {
            found = cache.blocks[i];
            cache.count--; /* keep the others in the order they were put */
            memmove(cache.blocks + i, cache.blocks + i + 1,
                    (size_t)(cache.count - i) * sizeof cache.blocks[0]);
            cache.bytes -= capacity;
            break;
        }
    }
    pthread_mutex_unlock(&cache.lock);
    return found;
}

/*
 * Keep @p block for reuse if it is large; return whether kept. When the cache is full
 * the oldest blocks make room: blocks[] is in the order they were put, and what a loop
 * frees now is what its next iteration asks for (a program that moves on from one model
 * to another must not find the cache full of the first one's sizes).
 */
static bool cache_put(BlockHeader *block)
{
    if (block->capacity < CACHE_MIN_BYTES || block->capacity > CACHE_MAX_BYTES)
        return false;
    pthread_mutex_lock(&cache.lock);
    while (cache.count > 0 &&
           (cache.count == CACHE_SLOTS || cache.bytes + block->capacity > CACHE_MAX_BYTES)) {
        BlockHeader *oldest = cache.blocks[0];
        cache.bytes -= oldest->capacity;
        cache.count--;
        memmove(cache.blocks, cache.blocks + 1, (size_t)cache.count * sizeof cache.blocks[0]);
        block_free(oldest);
    }
    cache.blocks[cache.count++] = block;
    cache.bytes += block->capacity;
    if (!cache.trim_at_exit) {
        cache.trim_at_exit = true;
        atexit(strata_mem_trim);
    }
    pthread_mutex_unlock(&cache.lock);
    return true;
}

void strata_mem_trim(void)
{
    small_flush(NULL);
    pthread_mutex_lock(&cache.lock);
    for (int i = 0; i < cache.count; i++)
        block_free(cache.blocks[i]);
    cache.count = 0;
    cache.bytes = 0;
    pthread_mutex_unlock(&cache.lock);
}

/*
 * Allocation failure injection (docs/bad-input.md, "Fault injection"). Every request for
 * fresh memory is one allocation point, numbered from 1 since the last
 * strata_alloc_fail_at(); point fail_at fails (and every later one when persistent), so
 * a test can walk a call's failure paths one by one, as SQLite's tests do. Atomics,
 * because any thread may allocate (though never inside a parallel loop's body).
 */
static atomic_size_t alloc_points;
static atomic_size_t alloc_fail_at;
static atomic_bool alloc_fail_persistent;

void strata_alloc_fail_at(size_t n, bool persistent)
{
    atomic_store(&alloc_fail_at, 0); /* disarmed while the counter restarts */
    atomic_store(&alloc_points, 0);
    atomic_store(&alloc_fail_persistent, persistent);
    atomic_store(&alloc_fail_at, n);
}

size_t strata_alloc_points(void) { return atomic_load(&alloc_points); }

bool strata_alloc_point(void)
{
    size_t k = atomic_fetch_add_explicit(&alloc_points, 1, memory_order_relaxed) + 1;
    size_t at = atomic_load_explicit(&alloc_fail_at, memory_order_relaxed);
    return at != 0 && (k == at || (k > at && atomic_load_explicit(&alloc_fail_persistent,
                                                                  memory_order_relaxed)));
}

void *strata_malloc(size_t size)
{
    if (strata_alloc_point()) {
        strata_set_error("strata_malloc: out of memory allocating %zu bytes (injected failure "
                         "at allocation %zu)", size, strata_alloc_points());
        return NULL;
    }
    if (size > SIZE_MAX - 2 * CACHE_PAGE - ALLOC_ALIGN) {
        strata_set_error("strata_malloc: %zu bytes is too large", size);
        return NULL;
    }
    size_t capacity = capacity_for(size);
    BlockHeader *block = capacity <= SMALL_MAX ? small_take(capacity) : cache_take(capacity);
    if (!block) {
        block = block_new(capacity);
        if (!block) {
            strata_set_error("strata_malloc: out of memory allocating %zu bytes", size);
            return NULL;
        }
    }
    block->size = size;
    note_alloc(size);
    return (unsigned char *)block + ALLOC_ALIGN;
}

void *strata_calloc(size_t n, size_t size)
{
    if (size != 0 && n > SIZE_MAX / size) {
        strata_set_error("strata_calloc: %zu x %zu bytes overflows", n, size);
        return NULL;
    }
    void *p = strata_malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

static BlockHeader *header_of(void *ptr)
{
    return (BlockHeader *)((unsigned char *)ptr - ALLOC_ALIGN);
}

void strata_free(void *ptr)
{
    if (!ptr)
        return;
    BlockHeader *block = header_of(ptr);
    note_free(block->size);
    if (!small_put(block) && !cache_put(block))
        block_free(block);
}

void *strata_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return strata_malloc(size);
    BlockHeader *block = header_of(ptr);
    if (size <= block->capacity && capacity_for(size) == block->capacity) {
        /* Same capacity: only the accounting changes. */
        note_free(block->size);
        block->size = size;
        note_alloc(size);
        return ptr;
    }
    void *fresh = strata_malloc(size);
    if (!fresh)
        return NULL;
    memcpy(fresh, ptr, block->size < size ? block->size : size);
    strata_free(ptr);
    return fresh;
}

StrataMemStats strata_mem_stats(void)
{
    StrataMemStats s;
    s.bytes_live = atomic_load(&mem_live);
    s.bytes_peak = atomic_load(&mem_peak);
    s.allocs = atomic_load(&mem_allocs);
    s.frees = atomic_load(&mem_frees);
    pthread_mutex_lock(&cache.lock);
    s.bytes_cached = cache.bytes;
    pthread_mutex_unlock(&cache.lock);
    return s;
}

void strata_mem_reset_peak(void) { atomic_store(&mem_peak, atomic_load(&mem_live)); }

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
    if (!perm && n > 0) { /* issue 9: a NULL array is an error, not a segfault */
        strata_error_null(__func__, "perm");
        return;
    }
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
