/*
 * alloc.c - the counting allocator: every byte strata allocates goes through
 * strata_malloc()/strata_free(), which count the bytes live and the peak and keep
 * small per-thread caches of freed blocks. See docs/memory-and-errors.md.
 */
#include "tensor.h"

#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/*
 * Under valgrind, what memcheck cannot see by itself: the bytes of a block past what its
 * caller asked for (sizes are rounded up to 64 bytes, or to pages) and a freed block
 * waiting in one of the caches below are marked unaddressable, so a write one past the
 * end or a use after free is reported as it would be for malloc's own blocks. Without
 * valgrind's header, and when not running under valgrind, these do nothing.
 */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define STRATA_MEMCHECK 1
#endif
#endif
#ifndef STRATA_MEMCHECK
#define VALGRIND_MAKE_MEM_NOACCESS(addr, len) ((void)(addr), (void)(len), 0)
#define VALGRIND_MAKE_MEM_UNDEFINED(addr, len) ((void)(addr), (void)(len), 0)
#endif

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

/* The caller's bytes of @p block: they follow the 64-byte header. */
static unsigned char *block_user(BlockHeader *block)
{
    return (unsigned char *)block + ALLOC_ALIGN;
}

/* The end of what malloc gave for @p block (block_new()'s request). */
static unsigned char *block_end(BlockHeader *block)
{
    return (unsigned char *)block->raw + ALLOC_ALIGN - 1 + ALLOC_ALIGN + block->capacity;
}

/* For memcheck: @p size bytes handed out, not yet written; the rest of the block off
 * limits. */
static void memcheck_hand_out(BlockHeader *block, size_t size)
{
    unsigned char *user = block_user(block);
    (void)VALGRIND_MAKE_MEM_UNDEFINED(user, size);
    (void)VALGRIND_MAKE_MEM_NOACCESS(user + size, (size_t)(block_end(block) - user) - size);
}

/* For memcheck: a freed block kept for reuse is off limits until handed out again. */
static void memcheck_keep(BlockHeader *block)
{
    unsigned char *user = block_user(block);
    (void)VALGRIND_MAKE_MEM_NOACCESS(user, (size_t)(block_end(block) - user));
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
 *
 * CACHE_SLOTS must exceed the large blocks one step frees: a plain step of a 64-layer
 * MLP frees several hundred, and with 256 slots it page-faulted 1,500-4,600 times per
 * step (its time varied by 2x with what ran before it, which is what made L2L's
 * benchmark ratios jump between microbatch sizes). A lookup scans the slots from the
 * newest, where a loop's next request usually sits.
 */
#define CACHE_MIN_BYTES 16384
#define CACHE_PAGE 4096
#define CACHE_SLOTS 2048
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
    memcheck_hand_out(block, size);
    return block_user(block);
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
    memcheck_keep(block);
    if (!small_put(block) && !cache_put(block))
        block_free(block);
}

void *strata_realloc(void *ptr, size_t size)
{
    if (!ptr)
        return strata_malloc(size);
    BlockHeader *block = header_of(ptr);
    if (size <= block->capacity && capacity_for(size) == block->capacity) {
        /* Same capacity: only the accounting changes (and, for memcheck, where the
         * caller's bytes end: added ones are unwritten, removed ones off limits). */
        unsigned char *user = block_user(block);
        if (size > block->size)
            (void)VALGRIND_MAKE_MEM_UNDEFINED(user + block->size, size - block->size);
        else
            (void)VALGRIND_MAKE_MEM_NOACCESS(user + size, block->size - size);
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
