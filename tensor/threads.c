/*
 * threads.c - strata's own thread pool: strata_parallel_for() and the thread count.
 * Read docs/memory-and-errors.md ("Threads") first: this file implements that page.
 *
 * A parallel loop cuts its items into a fixed number of chunks (set by the item count,
 * the grain and the thread count, never by timing) and the threads claim chunks one at
 * a time from a shared counter: whoever is free takes the next one (the caller from the
 * front, the workers from the back: see the claim word below). On a quiet machine
 * every thread gets about the same share. On a busy one (a browser, another job, a
 * compiler) the operating system takes a core away from one of our threads now and
 * then, and the others simply take that thread's chunks, instead of waiting for it at
 * the end of a fixed range of their own.
 *
 * Waiting is bounded: a thread with nothing to do spins for up to 100 microseconds
 * (the next loop usually starts that soon, and waking a sleeping thread costs a system
 * call and a late start), then sleeps on a condition variable, which gives its core to whoever needs it:
 * often the very thread it waits for. Spinning pays only while every waiting thread has
 * a core of its own, so a waiter sleeps at once when it is not so: when it runs on the
 * same core as the thread it waits for (the system has stacked two of our threads on one
 * core, and the spin would only keep the other from running), or when its spin was
 * interrupted (the clock jumped between two looks: the system gave this core to another
 * program for a while, so some program wants it). On a busy machine the threads then
 * hand the cores over at once instead of spinning on them.
 *
 * And a worker that does not get a core costs more than it brings: the caller waits at
 * the end of each loop for the chunk the worker took and cannot finish. So the caller
 * keeps account of the time the workers saved it (its own chunks against the rest) and,
 * when they have lately cost more than they saved, runs the next loops alone for a while
 * (judge_workers()): the number of threads follows the cores the machine actually has
 * free. The chunks are the same either way, and so are the results.
 *
 * Results never depend on which thread ran which chunk: a kernel that sums over its
 * items keeps one partial sum per chunk (its `chunk` argument) and adds them up in
 * chunk order after the loop. So a run is reproducible bit for bit for a given thread
 * count, however the machine's load hands out the chunks.
 */
#define _GNU_SOURCE /* sched_getcpu() and CPU_COUNT(): extensions of Linux's C library */
#include "tensor_internal.h"

#include <cblas.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* Chunks per thread in a loop: enough that a thread which loses its core for a while
 * leaves only a small part of the loop to the others, few enough that each chunk's
 * own cost (a call, a BLAS call's packing) stays small. */
#define CHUNKS_PER_THREAD 4

/* How long an idle thread spins before it sleeps: long enough to bridge the serial
 * stretches between the loops of a training step (the MLP's longest is 50-100 us: the
 * last layer, the loss, the start of backward), since a sleeping thread costs the next
 * loop a system call and a late start of 10-20 us. A spin that cannot pay ends sooner
 * (strata_spin_verdict()). */
#define SPIN_NS 100000

/* A gap this long between two looks at the clock in a spin means the thread was not
 * running in between (a look takes a microsecond or two): the system gave its core to
 * someone else. */
#define PREEMPTED_NS 20000

/* How long the workers sit out when they have made loops slower (judge_workers()):
 * 10 ms at first, twice as long each time again before they save time, at most 1 s. */
#define SIT_OUT_MIN_NS 10000000
#define SIT_OUT_MAX_NS 1000000000

/* Most chunks one loop has (the claim word below keeps 12 bits for them). */
#define MAX_CHUNKS 4095

/* ------------------------------------------------------------- the thread count --- */

/*
 * strata calls BLAS from each of its own threads, so OpenBLAS itself runs one thread
 * per call: its own pool would otherwise put threads x threads workers on the cores,
 * and its idle workers spin (sched_yield) for a long while after each call, taking time
 * from strata's.
 */
static atomic_int num_threads;
static pthread_once_t threads_once = PTHREAD_ONCE_INIT;

/* Cores this process may run on (its affinity mask: taskset, a container's cpuset). */
static int cores_available(void)
{
#ifdef CPU_COUNT
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0 && CPU_COUNT(&set) > 0)
        return CPU_COUNT(&set);
#endif
    return STRATA_MAX_THREADS;
}

static void threads_init(void)
{
    /* OpenBLAS's count honours OPENBLAS_NUM_THREADS; the affinity mask bounds it. */
    int n = openblas_get_num_threads(), cores = cores_available();
    atomic_store(&num_threads, n < cores ? n : cores);
    openblas_set_num_threads(1);
}

void strata_set_num_threads(int n)
{
    pthread_once(&threads_once, threads_init);
    atomic_store(&num_threads, n < 1 ? 1 : n > STRATA_MAX_THREADS ? STRATA_MAX_THREADS : n);
    openblas_set_num_threads(1); /* in case a caller changed it directly */
}

int strata_get_num_threads(void)
{
    pthread_once(&threads_once, threads_init);
    int n = atomic_load_explicit(&num_threads, memory_order_relaxed);
    return n < 1 ? 1 : n;
}

/* ----------------------------------------------------------------------- the pool --- */

/*
 * The job being run, and one 64-bit word through which threads claim its chunks:
 *
 *     bits 32..63  the job's number (each loop gets the next one)
 *     bits 24..31  how many threads may take part (the scratch the kernel sized)
 *     bits 12..23  one past the last chunk not yet handed out
 *     bits  0..11  the first chunk not yet handed out
 *
 * The caller takes chunks from the front (0, 1, ...), the workers from the back (the
 * last, the one before, ...), until the two meet. So on two threads each thread runs
 * one end of every loop, the same end each time: a worker that updates the second half
 * of a weight matrix in one step multiplies by that half in the next, which is still in
 * its core's cache, instead of fetching it from the other core's. Which thread runs
 * which chunk never changes a result (see the top of this file).
 *
 * A thread claims a chunk with one compare-and-swap that checks, all at once, that the
 * job is still the one it saw and that chunks are left. Having claimed one, it may read
 * the job's other fields: the job cannot end (and be replaced) before that chunk is done.
 */
#define WORD(job, slots, end, next)                                                      \
    (((uint64_t)(job) << 32) | ((uint64_t)(slots) << 24) | ((uint64_t)(end) << 12) |     \
     (uint64_t)(next))
#define WORD_JOB(w) ((uint32_t)((w) >> 32))
#define WORD_SLOTS(w) ((int)(((w) >> 24) & 0xff))
#define WORD_END(w) ((int)(((w) >> 12) & 0xfff))
#define WORD_NEXT(w) ((int)((w) & 0xfff))

static struct {
    /* the job: written by its caller before the claim word publishes it */
    StrataRangeFn fn;
    void *ctx;
    int64_t n;
    int chunks;
    _Atomic uint64_t claim;
    atomic_int finished;          /* chunks of this job done */
    atomic_bool busy;             /* a caller owns the pool (one loop at a time) */
    /* sleeping and waking */
    pthread_mutex_t lock;
    pthread_cond_t work;          /* idle workers sleep here */
    pthread_cond_t done;          /* a caller waiting for the last chunk sleeps here */
    atomic_int sleepers;          /* workers asleep on work */
    atomic_bool caller_asleep;
    atomic_bool stop;             /* at exit: workers leave */
    /* the core each thread runs on while it runs chunks, or -1 (slot 0: the caller,
     * whose core is noted when it starts a loop) */
    atomic_int cpu[STRATA_MAX_THREADS];
    /* the workers: thread i runs as slot i (the caller is slot 0) */
    int started;
    pthread_t threads[STRATA_MAX_THREADS];
} pool = {.lock = PTHREAD_MUTEX_INITIALIZER,
          .work = PTHREAD_COND_INITIALIZER,
          .done = PTHREAD_COND_INITIALIZER};

/* Set while this thread runs a chunk: a loop started inside one runs serially. */
static _Thread_local bool in_loop;

/*
 * A thread of ours does not survive fork(): a child whose parent had started workers
 * would wait forever for them. So such a child runs every loop on its calling thread
 * (the Check runner and the crash tests fork).
 */
static atomic_bool threads_lost;
static pthread_once_t fork_once = PTHREAD_ONCE_INIT;

static void pool_after_fork(void)
{
    if (pool.started > 0)
        atomic_store(&threads_lost, true);
}

static void fork_handler_install(void) { pthread_atfork(NULL, NULL, pool_after_fork); }

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* A hint to the core that this is a spin loop (it saves power and frees the sibling
 * hyper-thread). */
static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* The core this thread runs on now, or -1 where the system does not say. */
static int current_cpu(void)
{
#ifdef __linux__
    return sched_getcpu();
#else
    return -1;
#endif
}

/* How the spins of the pool's threads ended (strata_pool_wait_counts()). */
static atomic_llong wait_ends[STRATA_SPIN_VERDICTS];

StrataSpinVerdict strata_spin_verdict(int64_t now, int64_t last_look, int64_t until,
                                      int my_cpu, int awaited_cpu)
{
    if (now - last_look > PREEMPTED_NS)
        return STRATA_SPIN_INTERRUPTED;
    if (my_cpu >= 0 && my_cpu == awaited_cpu)
        return STRATA_SPIN_SHARED_CORE;
    if (now > until)
        return STRATA_SPIN_SPENT;
    return STRATA_SPIN_ON;
}

void strata_pool_wait_counts(int64_t counts[STRATA_SPIN_VERDICTS])
{
    for (int i = 0; i < STRATA_SPIN_VERDICTS; i++)
        counts[i] = atomic_load_explicit(&wait_ends[i], memory_order_relaxed);
}

/* A look at the clock in a spin (every few dozen turns): whether to go on spinning.
 * Counts the verdict that ends it. */
static bool keep_spinning(int64_t *last, int64_t until, int awaited_cpu)
{
    int64_t t = now_ns();
    StrataSpinVerdict v = strata_spin_verdict(t, *last, until, current_cpu(), awaited_cpu);
    *last = t;
    if (v == STRATA_SPIN_ON)
        return true;
    atomic_fetch_add_explicit(&wait_ends[v], 1, memory_order_relaxed);
    return false;
}

/* A wait that ended while its thread was spinning: what it waited for came. */
static void count_spin_success(void)
{
    atomic_fetch_add_explicit(&wait_ends[STRATA_SPIN_ON], 1, memory_order_relaxed);
}

/*
 * Whether the workers are worth waking. A loop whose caller ran `mine` of its `chunks`
 * chunks in `own` ns, then waited `waited` ns for the workers' chunks, would have taken
 * about own * chunks / mine ns on the caller alone (its chunks are equal shares of the
 * work): the workers saved the difference, or cost it when negative. They keep a
 * credit of what they saved lately (at most CREDIT_MAX_NS); a loop they made slower
 * draws on it, and when it is used up (a busy machine: their chunks crawl or stand
 * still while the caller waits) they sit out the next loops, which the caller runs
 * alone, for sit_out ns: twice as long each time it happens again before they saved
 * anything, back to the shortest once they save time. A short stall on a quiet machine
 * is paid from the credit. Only the caller that owns the pool reads and writes these.
 */
#define CREDIT_MAX_NS 1000000
static _Atomic int64_t sit_out_until; /* CLOCK_MONOTONIC ns */
static int64_t sit_out = SIT_OUT_MIN_NS, credit;
static atomic_llong loops_alone;

static void judge_workers(int64_t own, int64_t waited, int mine, int chunks, int64_t end)
{
    if (mine <= 0 || mine >= chunks)
        return; /* the workers took nothing, or all: no measure of what they saved */
    int64_t saved = own * chunks / mine - (own + waited);
    credit = credit + saved < CREDIT_MAX_NS ? credit + saved : CREDIT_MAX_NS;
    if (credit >= 0) {
        if (saved > 0)
            sit_out = SIT_OUT_MIN_NS;
        return;
    }
    atomic_store_explicit(&sit_out_until, end + sit_out, memory_order_relaxed);
    sit_out = sit_out * 2 < SIT_OUT_MAX_NS ? sit_out * 2 : SIT_OUT_MAX_NS;
    credit = 0;
}

int64_t strata_pool_loops_alone(void)
{
    return atomic_load_explicit(&loops_alone, memory_order_relaxed);
}

/* The caller's core if a helper that still runs chunks of the current loop shares it
 * (slots 1 .. @p slots - 1), else -1. */
static int helper_on_my_core(int slots)
{
    int mine = current_cpu();
    for (int i = 1; i < slots && mine >= 0; i++)
        if (atomic_load_explicit(&pool.cpu[i], memory_order_relaxed) == mine)
            return mine;
    return -1;
}

/* Claim a chunk of job @p job for @p slot (the caller's from the front, a worker's from
 * the back): its index, or -1 when none is left (or the job is no longer the current
 * one). */
static int claim_chunk(uint32_t job, int slot, int *chunks)
{
    uint64_t w = atomic_load_explicit(&pool.claim, memory_order_acquire);
    for (;;) {
        if (WORD_JOB(w) != job || WORD_NEXT(w) >= WORD_END(w))
            return -1;
        uint64_t taken = slot == 0 ? w + 1 : w - ((uint64_t)1 << 12);
        if (atomic_compare_exchange_weak_explicit(&pool.claim, &w, taken,
                                                  memory_order_acq_rel,
                                                  memory_order_acquire)) {
            *chunks = pool.chunks;
            return slot == 0 ? WORD_NEXT(w) : WORD_END(w) - 1;
        }
    }
}

/* Run chunks of job @p job as @p slot until none is left; how many it ran. */
static int run_chunks(uint32_t job, int slot)
{
    int chunks, c, ran = 0;
    in_loop = true;
    if (slot > 0)
        atomic_store_explicit(&pool.cpu[slot], current_cpu(), memory_order_relaxed);
    while ((c = claim_chunk(job, slot, &chunks)) >= 0) {
        int64_t n = pool.n;
        pool.fn(pool.ctx, n * c / chunks, n * (c + 1) / chunks, c, slot);
        ran++;
        /* The last chunk done wakes the caller if it went to sleep. seq_cst pairs with
         * the caller's: either it sees this count, or this sees it asleep. */
        if (atomic_fetch_add(&pool.finished, 1) + 1 == chunks &&
            atomic_load(&pool.caller_asleep)) {
            pthread_mutex_lock(&pool.lock);
            pthread_cond_signal(&pool.done);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    if (slot > 0)
        atomic_store_explicit(&pool.cpu[slot], -1, memory_order_relaxed);
    in_loop = false;
    return ran;
}

/* Wait (spin, then sleep) until a job other than @p seen is published; its word. */
static uint64_t wait_for_job(uint32_t seen)
{
    int64_t last = now_ns(), until = last + SPIN_NS;
    for (int i = 1;; i++) {
        uint64_t w = atomic_load_explicit(&pool.claim, memory_order_acquire);
        if (WORD_JOB(w) != seen || atomic_load_explicit(&pool.stop, memory_order_relaxed)) {
            count_spin_success();
            return w;
        }
        cpu_relax();
        /* the next job comes from the caller: no spinning on its core */
        if (i % 64 == 0 &&
            !keep_spinning(&last, until, atomic_load_explicit(&pool.cpu[0], memory_order_relaxed)))
            break;
    }
    pthread_mutex_lock(&pool.lock);
    atomic_fetch_add(&pool.sleepers, 1); /* seq_cst: pairs with the publisher's check */
    uint64_t w;
    while (WORD_JOB(w = atomic_load(&pool.claim)) == seen && !atomic_load(&pool.stop))
        pthread_cond_wait(&pool.work, &pool.lock);
    atomic_fetch_sub(&pool.sleepers, 1);
    pthread_mutex_unlock(&pool.lock);
    return w;
}

static void *worker_main(void *arg)
{
    int slot = (int)(intptr_t)arg;
    uint32_t seen = WORD_JOB(atomic_load(&pool.claim));
    for (;;) {
        uint64_t w = wait_for_job(seen);
        if (atomic_load(&pool.stop))
            return NULL;
        seen = WORD_JOB(w);
        if (slot < WORD_SLOTS(w))
            run_chunks(seen, slot);
    }
}

/* At exit: wake every worker, let it leave, and join it (so nothing is left behind for
 * a leak checker). A forked child has no workers to join. */
static void pool_shutdown(void)
{
    if (atomic_load(&threads_lost) || pool.started == 0)
        return;
    pthread_mutex_lock(&pool.lock);
    atomic_store(&pool.stop, true);
    pthread_cond_broadcast(&pool.work);
    pthread_mutex_unlock(&pool.lock);
    for (int i = 1; i <= pool.started; i++)
        pthread_join(pool.threads[i], NULL);
    pool.started = 0;
}

/* Make sure workers 1 .. slots-1 exist (the caller owns the pool). Returns how many
 * slots can run: fewer when a thread cannot be created (the loop still completes). */
static int pool_grow(int slots)
{
    if (pool.started == 0) {
        atexit(pool_shutdown);
        atomic_store(&pool.cpu[0], -1); /* the caller's, noted at each loop */
    }
    while (pool.started < slots - 1) {
        int slot = pool.started + 1;
        atomic_store(&pool.cpu[slot], -1); /* runs no chunk yet */
        if (pthread_create(&pool.threads[slot], NULL, worker_main, (void *)(intptr_t)slot) != 0)
            break;
        pool.started = slot;
    }
    return pool.started + 1 < slots ? pool.started + 1 : slots;
}

/* Whether loops on this thread run serially (nested, or workers lost to a fork). */
static bool serial_here(void)
{
    return in_loop || atomic_load_explicit(&threads_lost, memory_order_relaxed);
}

int strata_parallel_chunks(int64_t n, int64_t grain)
{
    int64_t t = serial_here() ? 1 : strata_get_num_threads();
    if (t == 1)
        return 1;
    if (grain < 1)
        grain = 1;
    int64_t chunks = t * CHUNKS_PER_THREAD;
    if (chunks > n / grain)
        chunks = n / grain;
    if (chunks > MAX_CHUNKS)
        chunks = MAX_CHUNKS;
    return chunks < 1 ? 1 : (int)chunks;
}

int strata_parallel_threads(int64_t n, int64_t grain)
{
    int64_t t = serial_here() ? 1 : strata_get_num_threads();
    int chunks = strata_parallel_chunks(n, grain);
    return t < chunks ? (int)t : chunks;
}

int64_t strata_parallel_grain(int64_t n, int64_t grain)
{
    int64_t t = strata_parallel_threads(n, grain);
    int64_t chunks = strata_parallel_chunks(n, grain);
    if (t <= 1 || chunks % t == 0)
        return grain;
    /* Fewer, larger chunks: the largest multiple of t below, which a grain of n/chunks
     * gives unless the items are too few to cut that evenly. */
    chunks -= chunks % t;
    int64_t even = n / chunks;
    return strata_parallel_chunks(n, even) == chunks ? even : grain;
}

void strata_parallel_for(int64_t n, int64_t grain, StrataRangeFn fn, void *ctx)
{
    STRATA_CHECK_ARG(fn, );
    if (n <= 0)
        return;
    int chunks = strata_parallel_chunks(n, grain);
    int slots = strata_parallel_threads(n, grain);
    if (chunks == 1) {
        fn(ctx, 0, n, 0, 0);
        return;
    }
    /* Another thread of the program runs a loop now, or the workers sit out: the same
     * chunks, in order, here (the same results; the pool runs one loop at a time). */
    bool sitting_out = now_ns() < atomic_load_explicit(&sit_out_until, memory_order_relaxed);
    if (sitting_out || atomic_exchange(&pool.busy, true)) {
        bool was = in_loop;
        in_loop = true;
        for (int c = 0; c < chunks; c++)
            fn(ctx, n * c / chunks, n * (c + 1) / chunks, c, 0);
        in_loop = was;
        if (sitting_out)
            atomic_fetch_add_explicit(&loops_alone, 1, memory_order_relaxed);
        return;
    }
    pthread_once(&fork_once, fork_handler_install);
    slots = pool_grow(slots);
    /* Publish the job, then wake the workers that sleep (seq_cst: a worker either sees
     * the new job before it sleeps, or is counted in sleepers here). */
    int64_t start = now_ns();
    pool.fn = fn;
    pool.ctx = ctx;
    pool.n = n;
    pool.chunks = chunks;
    atomic_store_explicit(&pool.cpu[0], current_cpu(), memory_order_relaxed);
    atomic_store(&pool.finished, 0);
    uint32_t job = WORD_JOB(atomic_load(&pool.claim)) + 1;
    atomic_store(&pool.claim, WORD(job, slots, chunks, 0));
    if (atomic_load(&pool.sleepers) > 0) {
        pthread_mutex_lock(&pool.lock);
        pthread_cond_broadcast(&pool.work);
        pthread_mutex_unlock(&pool.lock);
    }
    int mine = run_chunks(job, 0);
    /* Every chunk is claimed; wait for the ones other threads still run. */
    int64_t last = now_ns(), until = last + SPIN_NS, own = last - start;
    bool spinning = true;
    for (int i = 1; atomic_load_explicit(&pool.finished, memory_order_acquire) < chunks; i++) {
        cpu_relax();
        if (i % 64 == 0 && !keep_spinning(&last, until, helper_on_my_core(slots))) {
            spinning = false;
            pthread_mutex_lock(&pool.lock);
            atomic_store(&pool.caller_asleep, true);
            while (atomic_load(&pool.finished) < chunks)
                pthread_cond_wait(&pool.done, &pool.lock);
            atomic_store(&pool.caller_asleep, false);
            pthread_mutex_unlock(&pool.lock);
        }
    }
    if (spinning)
        count_spin_success();
    int64_t end = now_ns();
    judge_workers(own, end - (own + start), mine, chunks, end);
    atomic_store(&pool.busy, false);
}
