/*
 * test_rng_threads.c - the seeded generator, the thread count and parallel loops
 * (tensor/core.c, tensor/threads.c).
 */
#define _GNU_SOURCE /* sched_setaffinity() on every thread, CPU_SET() */
#include "runtime.h"

#include <dirent.h>
#include <sched.h>
#include <stdlib.h>
#include <time.h>

/* ------------------------------------------------------------- random generator --- */

START_TEST(test_rng_same_seed)
{
    BEGIN;
    uint32_t first[16], again[16], other[16];
    strata_manual_seed(42);
    for (int i = 0; i < 16; i++)
        first[i] = strata_rng_u32();
    strata_manual_seed(42);
    for (int i = 0; i < 16; i++)
        again[i] = strata_rng_u32();
    strata_manual_seed(43);
    for (int i = 0; i < 16; i++)
        other[i] = strata_rng_u32();
    int differ = 0;
    for (int i = 0; i < 16; i++) {
        ck_assert_uint_eq(first[i], again[i]);
        differ += first[i] != other[i];
    }
    ck_assert_int_gt(differ, 8);

    /* get/set state replays uniform and normal draws */
    uint64_t state = strata_rng_get_state();
    double u = strata_rng_uniform(), n = strata_rng_normal();
    strata_rng_set_state(state);
    ck_assert(strata_rng_uniform() == u);
    ck_assert(strata_rng_normal() == n);
    END;
}
END_TEST

START_TEST(test_rng_uniform_stats)
{
    BEGIN;
    strata_manual_seed(1);
    const int n = 100000;
    double sum = 0, sq = 0;
    for (int i = 0; i < n; i++) {
        double u = strata_rng_uniform();
        ck_assert_msg(u >= 0.0 && u < 1.0, "uniform draw %g outside [0, 1)", u);
        sum += u;
        sq += u * u;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* U(0,1): mean 1/2, variance 1/12 = 0.0833; sd of the mean ~ 0.001 */
    ck_assert_close(mean, 0.5, 0.01);
    ck_assert_close(var, 1.0 / 12.0, 0.005);
    END;
}
END_TEST

START_TEST(test_rng_normal_stats)
{
    BEGIN;
    strata_manual_seed(2);
    const int n = 100000;
    double sum = 0, sq = 0;
    int beyond3 = 0;
    for (int i = 0; i < n; i++) {
        double x = strata_rng_normal();
        ck_assert(isfinite(x));
        sum += x;
        sq += x * x;
        beyond3 += fabs(x) > 3.0;
    }
    double mean = sum / n, var = sq / n - mean * mean;
    /* N(0,1): sd of the mean ~ 0.003, of the variance ~ 0.0045; P(|x|>3) = 0.0027 */
    ck_assert_close(mean, 0.0, 0.02);
    ck_assert_close(var, 1.0, 0.03);
    ck_assert_int_lt(beyond3, 600);
    ck_assert_int_gt(beyond3, 100);
    END;
}
END_TEST

START_TEST(test_randperm)
{
    BEGIN;
    int64_t perm[50], again[50];
    strata_manual_seed(5);
    strata_randperm(perm, 50);
    strata_manual_seed(5);
    strata_randperm(again, 50);
    int seen[50] = {0}, moved = 0;
    for (int i = 0; i < 50; i++) {
        ck_assert(perm[i] >= 0 && perm[i] < 50);
        seen[perm[i]]++;
        moved += perm[i] != i;
        ck_assert_int_eq(perm[i], again[i]);
    }
    for (int i = 0; i < 50; i++)
        ck_assert_int_eq(seen[i], 1);
    ck_assert_int_gt(moved, 25);
    int64_t one = 99;
    strata_randperm(&one, 1);
    ck_assert_int_eq(one, 0);
    strata_randperm(NULL, 0);
    END;
}
END_TEST

START_TEST(test_threads)
{
    BEGIN;
    strata_set_num_threads(2);
    ck_assert_int_eq(strata_get_num_threads(), 2);
    strata_set_num_threads(0);
    ck_assert_int_eq(strata_get_num_threads(), 1);
    strata_set_num_threads(-3);
    ck_assert_int_eq(strata_get_num_threads(), 1);
    END;
}
END_TEST

/* What each chunk of a parallel loop saw: its bounds, its thread, and a mark on every
 * item. Chunks are indexed by their number, so threads never write the same entry. */
#define MAX_LOGGED 4096
typedef struct {
    int64_t begin[MAX_LOGGED], end[MAX_LOGGED];
    int calls[MAX_LOGGED], thread[MAX_LOGGED];
    int *seen; /* per item: how many chunks handled it */
    int inner_chunks[MAX_LOGGED];
} ChunkLog;

static void log_chunk(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    ChunkLog *log = ctx;
    log->begin[chunk] = begin;
    log->end[chunk] = end;
    log->calls[chunk]++;
    log->thread[chunk] = thread;
    for (int64_t i = begin; i < end; i++)
        log->seen[i]++;
    /* a loop inside a chunk runs on this thread alone, as one chunk */
    log->inner_chunks[chunk] = strata_parallel_chunks(1 << 20, 1) * 10 +
                               strata_parallel_threads(1 << 20, 1);
}

/* log_chunk, after a 0.5 ms sleep (the core is free meanwhile for the other thread). */
static void sleepy_log_chunk(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    struct timespec pause = {0, 500000};
    nanosleep(&pause, NULL);
    log_chunk(ctx, begin, end, chunk, thread);
}

/*
 * strata_parallel_for: every item exactly once, chunk c = [n*c/K, n*(c+1)/K) with
 * K = strata_parallel_chunks() set by the thread count and the grain alone (one chunk
 * on one thread, a few per thread otherwise), each chunk run once by a thread below
 * strata_parallel_threads(), the caller's chunks first in order, nested loops serial,
 * empty loops harmless.
 */
START_TEST(test_parallel_for)
{
    BEGIN;
    int before = strata_get_num_threads();
    const int64_t n = 1001;
    static int seen[1001];
    static ChunkLog log;
    for (int threads = 1; threads <= 3; threads++) {
        strata_set_num_threads(threads);
        int k = strata_parallel_chunks(n, 1), t = strata_parallel_threads(n, 1);
        ck_assert_int_eq(t, threads);
        if (threads == 1)
            ck_assert_int_eq(k, 1);
        else
            ck_assert_msg(k > threads && k <= n, "%d threads: %d chunks", threads, k);
        for (int round = 0; round < 20; round++) { /* who runs what varies; chunks not */
            memset(&log, 0, sizeof log);
            log.seen = seen;
            memset(seen, 0, sizeof seen);
            strata_parallel_for(n, 1, log_chunk, &log);
            for (int64_t i = 0; i < n; i++)
                ck_assert_msg(seen[i] == 1, "%d threads: item %lld handled %d times", threads,
                              (long long)i, seen[i]);
            for (int c = 0; c < k; c++) {
                ck_assert_int_eq(log.calls[c], 1);
                ck_assert_int_eq(log.begin[c], n * c / k);
                ck_assert_int_eq(log.end[c], n * (c + 1) / k);
                ck_assert_int_lt(log.thread[c], t);
                ck_assert_int_eq(log.inner_chunks[c], 11); /* 1 chunk on 1 thread */
            }
        }
    }
    /* the caller takes chunks from the front, the other threads from the back: the
     * caller's are always chunks 0 .. a-1. Slow chunks (they sleep) give the worker time
     * to take some; a try in which it took none shows nothing, so up to ten tries. */
    strata_set_num_threads(2);
    int k = strata_parallel_chunks(n, 1), shared = 0;
    for (int tries = 0; tries < 10 && !shared; tries++) {
        memset(&log, 0, sizeof log);
        log.seen = seen;
        memset(seen, 0, sizeof seen);
        strata_parallel_for(n, 1, sleepy_log_chunk, &log);
        int mine = 0;
        while (mine < k && log.thread[mine] == 0)
            mine++;
        for (int c = mine; c < k; c++)
            ck_assert_msg(log.thread[c] == 1, "chunk %d of %d ran on thread %d after the "
                          "caller's first %d", c, k, log.thread[c], mine);
        shared = mine < k;
    }
    ck_assert_msg(shared, "the worker took no chunk of ten slow loops");
    /* the grain caps the chunks: 1001 items at >= 600 each make one chunk, on one
     * thread; at >= 400 each, two chunks */
    strata_set_num_threads(3);
    ck_assert_int_eq(strata_parallel_chunks(n, 600), 1);
    ck_assert_int_eq(strata_parallel_threads(n, 600), 1);
    ck_assert_int_eq(strata_parallel_chunks(n, 400), 2);
    ck_assert_int_eq(strata_parallel_threads(n, 400), 2);
    ck_assert_int_eq(strata_parallel_threads(0, 1), 1);
    memset(&log, 0, sizeof log);
    log.seen = seen;
    strata_parallel_for(0, 1, log_chunk, &log);
    ck_assert_int_eq(log.calls[0], 0);
    strata_clear_error();
    strata_parallel_for(5, 1, NULL, NULL); /* an error, not a crash */
    ck_assert_msg(strstr(strata_last_error(), "strata_parallel_for") != NULL,
                  "a NULL body should be reported, got \"%s\"", strata_last_error());
    strata_set_num_threads(before);
    END;
}
END_TEST

/*
 * strata_parallel_grain: a grain at least the one asked for with which every thread gets
 * the same number of chunks where the items allow it, else the grain as asked.
 */
START_TEST(test_parallel_grain)
{
    BEGIN;
    int before = strata_get_num_threads();
    strata_set_num_threads(2);
    /* 200,704 items at >= 65,536 each: 3 chunks, evened out to 2 */
    int64_t g = strata_parallel_grain(200704, 65536);
    ck_assert_int_ge(g, 65536);
    ck_assert_int_eq(strata_parallel_chunks(200704, g), 2);
    ck_assert_int_eq(strata_parallel_threads(200704, g), 2);
    /* already 4 chunks on 2 threads: as asked */
    ck_assert_int_eq(strata_parallel_grain(262144, 65536), 65536);
    /* 1001 items at >= 200 on 3 threads: 5 chunks -> 3 */
    strata_set_num_threads(3);
    g = strata_parallel_grain(1001, 200);
    ck_assert_int_eq(strata_parallel_chunks(1001, g), 3);
    /* 10 items on 4 threads: 10 chunks of one; no grain makes 8, so as asked */
    strata_set_num_threads(4);
    ck_assert_int_eq(strata_parallel_grain(10, 1), 1);
    /* one thread: one chunk whatever the grain */
    strata_set_num_threads(1);
    ck_assert_int_eq(strata_parallel_grain(200704, 65536), 65536);
    strata_set_num_threads(before);
    END;
}
END_TEST

/*
 * strata_spin_verdict: a waiting thread stops spinning when its spin was interrupted
 * (checked first), when it shares the core of the thread it waits for (known cores
 * only), when its budget is spent; else it spins on.
 */
START_TEST(test_spin_verdict)
{
    BEGIN;
    const int64_t until = 1000000; /* ns */
    /* a 20 us gap between two looks is still a spin; one more ns is an interruption,
     * whatever else holds */
    ck_assert_int_eq(strata_spin_verdict(500000, 480000, until, 0, 1), STRATA_SPIN_ON);
    ck_assert_int_eq(strata_spin_verdict(500000, 479999, until, 0, 1), STRATA_SPIN_INTERRUPTED);
    ck_assert_int_eq(strata_spin_verdict(2000000, 1970000, until, 3, 3),
                     STRATA_SPIN_INTERRUPTED);
    /* on the awaited thread's core: stop, even with budget left */
    ck_assert_int_eq(strata_spin_verdict(500000, 499000, until, 3, 3), STRATA_SPIN_SHARED_CORE);
    ck_assert_int_eq(strata_spin_verdict(2000000, 1999000, until, 0, 0),
                     STRATA_SPIN_SHARED_CORE);
    /* unknown cores (-1) are never the same core */
    ck_assert_int_eq(strata_spin_verdict(500000, 499000, until, -1, -1), STRATA_SPIN_ON);
    ck_assert_int_eq(strata_spin_verdict(500000, 499000, until, 2, -1), STRATA_SPIN_ON);
    /* the budget: spinning up to until, not past it */
    ck_assert_int_eq(strata_spin_verdict(until, until - 1000, until, 0, 1), STRATA_SPIN_ON);
    ck_assert_int_eq(strata_spin_verdict(until + 1, until - 1000, until, 0, 1),
                     STRATA_SPIN_SPENT);
    END;
}
END_TEST

/* Set the CPU affinity of every thread of this process (the pool's workers too). */
static int pin_all_threads(const cpu_set_t *set)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.')
            continue;
        if (sched_setaffinity((pid_t)atoi(e->d_name), sizeof *set, set) != 0)
            rc = -1;
    }
    closedir(d);
    return rc;
}

/* A chunk that takes a while and gives its core away meanwhile (a sleep), then marks
 * its items. */
static void sleepy_chunk(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    int *seen = ctx;
    (void)chunk;
    (void)thread;
    struct timespec pause = {0, 100000}; /* 0.1 ms */
    nanosleep(&pause, NULL);
    for (int64_t i = begin; i < end; i++)
        seen[i]++;
}

/*
 * The wait rules at work: with every thread of the process on one core, two threads
 * always share it, so no wait may spin out its budget (each ends as soon as it looks:
 * interrupted, or on the core of the thread it waits for), and the loops' results stay
 * whole. Without the shared-core rule, a worker whose caller sleeps in a chunk spins its
 * whole budget on the core they share.
 */
START_TEST(test_parallel_waits_on_one_core)
{
    BEGIN;
    cpu_set_t before_set, one;
    ck_assert_int_eq(sched_getaffinity(0, sizeof before_set, &before_set), 0);
    int cpu = -1;
    for (int c = 0; c < CPU_SETSIZE && cpu < 0; c++)
        if (CPU_ISSET(c, &before_set))
            cpu = c;
    ck_assert_int_ge(cpu, 0);
    CPU_ZERO(&one);
    CPU_SET(cpu, &one);
    int before = strata_get_num_threads();
    strata_set_num_threads(2);
    static int seen[64];
    /* every thread on one core (a worker started later inherits it), then one loop, so
     * that any wait begun before is over and every thread knows the caller's core */
    ck_assert_int_eq(pin_all_threads(&one), 0);
    strata_parallel_for(64, 16, sleepy_chunk, seen);
    int64_t start[STRATA_SPIN_VERDICTS], end[STRATA_SPIN_VERDICTS];
    strata_pool_wait_counts(start);
    for (int round = 0; round < 30; round++) {
        memset(seen, 0, sizeof seen);
        strata_parallel_for(64, 16, sleepy_chunk, seen); /* 4 chunks on 2 threads */
        for (int i = 0; i < 64; i++)
            ck_assert_int_eq(seen[i], 1);
    }
    strata_pool_wait_counts(end);
    pin_all_threads(&before_set);
    strata_set_num_threads(before);
    int64_t stopped = (end[STRATA_SPIN_INTERRUPTED] - start[STRATA_SPIN_INTERRUPTED]) +
                      (end[STRATA_SPIN_SHARED_CORE] - start[STRATA_SPIN_SHARED_CORE]);
    ck_assert_msg(stopped > 0, "threads sharing one core never stopped a spin early");
    ck_assert_msg(end[STRATA_SPIN_SPENT] == start[STRATA_SPIN_SPENT],
                  "%lld waits spun their whole budget on a core shared with the thread "
                  "they waited for", (long long)(end[STRATA_SPIN_SPENT] - start[STRATA_SPIN_SPENT]));
    END;
}
END_TEST

/* A chunk that takes 0.2 ms on the caller and stands still for 20 ms on a worker (as a
 * worker whose core the system gave away would), noting who ran it. 20 ms is far
 * longer than the caller's seven chunks take even under valgrind, so the caller waits. */
static void stalling_chunk(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    int *ran_on = ctx;
    (void)begin;
    (void)end;
    struct timespec pause = {0, thread == 0 ? 200000 : 20000000};
    nanosleep(&pause, NULL);
    ran_on[chunk] = thread + 1;
}

/* Like stalling_chunk, but 0.2 ms on every thread. */
static void even_chunk(void *ctx, int64_t begin, int64_t end, int chunk, int thread)
{
    int *ran_on = ctx;
    (void)begin;
    (void)end;
    struct timespec pause = {0, 200000};
    nanosleep(&pause, NULL);
    ran_on[chunk] = thread + 1;
}

/* Whether any of @p n chunks ran on a worker (thread > 0). */
static bool ran_on_worker(const int *ran_on, int n)
{
    for (int c = 0; c < n; c++)
        if (ran_on[c] > 1)
            return true;
    return false;
}

/*
 * Workers that make a loop slower than its caller alone would have been (their chunks
 * stood still while the caller waited) sit out the next loops, which the caller runs
 * alone, in order, with the same chunks; after a while they take part again.
 *
 * The sit-out lasts a few milliseconds of wall time, so a loaded machine (or valgrind,
 * which runs one thread at a time) can let it pass before the next loop starts, and a
 * worker may not take a chunk at all: the test tries a stalled loop and the loop after
 * it up to ten times, and needs one try in which the next loop ran alone. Without the
 * rule no try ever does.
 */
START_TEST(test_parallel_workers_sit_out)
{
    BEGIN;
    int before = strata_get_num_threads();
    strata_set_num_threads(2);
    const int64_t n = 8;
    int ran_on[8];
    ck_assert_int_eq(strata_parallel_chunks(n, 1), 8);
    bool stalled = false, sat_out = false;
    for (int tries = 0; tries < 10 && !sat_out; tries++) {
        /* a loop in which a worker took a chunk and stalled it: 7 chunks on the caller
         * in 1.4 ms, then a wait for the worker's, against 1.6 ms alone */
        memset(ran_on, 0, sizeof ran_on);
        strata_parallel_for(n, 1, stalling_chunk, ran_on);
        if (!ran_on_worker(ran_on, 8))
            continue;
        stalled = true;
        /* the next loop runs on the caller alone, every chunk once */
        int64_t alone = strata_pool_loops_alone();
        memset(ran_on, 0, sizeof ran_on);
        strata_parallel_for(n, 1, even_chunk, ran_on);
        if (strata_pool_loops_alone() == alone + 1) {
            sat_out = true;
            for (int c = 0; c < 8; c++)
                ck_assert_msg(ran_on[c] == 1,
                              "chunk %d ran on thread %d while the workers sat out", c,
                              ran_on[c] - 1);
        }
    }
    ck_assert_msg(stalled, "no worker ever took a chunk");
    ck_assert_msg(sat_out, "after a worker stalled a loop, the workers never sat out the next");
    /* they come back: at most a second after the last sit-out began (the longest) */
    bool back = false;
    for (int waited_ms = 0; waited_ms < 3000 && !back; waited_ms += 20) {
        struct timespec pause = {0, 20000000};
        nanosleep(&pause, NULL);
        memset(ran_on, 0, sizeof ran_on);
        strata_parallel_for(n, 1, even_chunk, ran_on);
        back = ran_on_worker(ran_on, 8);
    }
    ck_assert_msg(back, "the workers never took part again");
    strata_set_num_threads(before);
    END;
}
END_TEST

void add_rng_thread_tests(Suite *s)
{
    GRADED(s, test_rng_same_seed, 1);
    GRADED(s, test_rng_uniform_stats, 1);
    GRADED(s, test_rng_normal_stats, 1);
    GRADED(s, test_randperm, 1);
    GRADED(s, test_threads, 1);
    GRADED(s, test_parallel_for, 1);
    GRADED(s, test_parallel_grain, 1);
    GRADED(s, test_spin_verdict, 1);
    GRADED(s, test_parallel_waits_on_one_core, 1);
    GRADED(s, test_parallel_workers_sit_out, 1);
}
