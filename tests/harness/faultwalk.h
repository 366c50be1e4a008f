/**
 * @file faultwalk.h
 * @brief Walk a call's failure paths in a graded test: fail its 1st, 2nd, ... allocation
 *        (or file call) until it completes, checking the error contract at each.
 *
 * At every point N the call must return its failure value with a message, leave the
 * counting allocator where it was (no leak) and leave the state the test hashes as it
 * was; then, with nothing failing, it must succeed. A stub fails the walk (it never
 * succeeds), and so does a failure path that reports success, leaks or half-updates.
 * Uses only the runtime's injection knobs (tensor.h: strata_alloc_fail_at(),
 * strata_io_fail_at()); the whole-stack driver is tests/fault_injection.
 *
 * @code
 * static int call(void *ctx) { return var_backward(ctx); }
 * static uint64_t state(void *ctx) { return fw_hash_tensor(FW_HASH_INIT, var_grad(w)); }
 * FW_WALK_ALLOC("var_backward", call, state, root);
 * @endcode
 */
#ifndef STRATA_FAULTWALK_H
#define STRATA_FAULTWALK_H

#include "harness.h"
#include "tensor.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

/** FNV-1a's offset basis: the hash of nothing. */
#define FW_HASH_INIT 1469598103934665603ULL

/** Hash @p n bytes into @p h (FNV-1a). */
static inline uint64_t fw_hash_bytes(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++)
        h = (h ^ p[i]) * 1099511628211ULL;
    return h;
}

/** Hash a tensor's shape and values (element by element: any strides); NULL hashes too. */
static inline uint64_t fw_hash_tensor(uint64_t h, const Tensor *t)
{
    if (!t)
        return fw_hash_bytes(h, "null", 4);
    h = fw_hash_bytes(h, t->shape, (size_t)t->ndim * sizeof t->shape[0]);
    int64_t idx[TENSOR_MAX_DIMS] = {0}, n = tensor_numel(t);
    for (int64_t i = 0; i < n; i++) {
        float v = tensor_get(t, idx);
        h = fw_hash_bytes(h, &v, sizeof v);
        for (int d = t->ndim - 1; d >= 0; d--) {
            if (++idx[d] < t->shape[d])
                break;
            idx[d] = 0;
        }
    }
    return h;
}

/** Hash a file's content ("absent" when there is none). */
static inline uint64_t fw_hash_file(uint64_t h, const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return fw_hash_bytes(h, "absent", 6);
    unsigned char buf[4096];
    size_t got;
    while ((got = fread(buf, 1, sizeof buf, f)) > 0)
        h = fw_hash_bytes(h, buf, got);
    fclose(f);
    return fw_hash_bytes(h, "eof", 3);
}

/** The call under test: 0 on success, nonzero on failure (a NULL result is a failure). */
typedef int (*FwCall)(void *ctx);
/** A hash of everything the call must leave unchanged when it fails. */
typedef uint64_t (*FwState)(void *ctx);

/** @cond */
static inline int fw_one(const char *what, FwCall call, FwState state, void *ctx, int io,
                         size_t n, int fault, int persistent, const char *file, int line)
{
    char how[96];
    snprintf(how, sizeof how, "%s %zu%s%s", io ? "file call" : "allocation", n,
             io ? (fault == STRATA_IO_SHORT ? " (cut short)" : fault == STRATA_IO_ENOSPC
                                                             ? " (ENOSPC)" : " (EIO)")
                : "",
             persistent ? " and every later one" : "");
    uint64_t before = state ? state(ctx) : 0;
    size_t live = strata_mem_stats().bytes_live;
    Scope *s = scope_begin();
    strata_clear_error();
    if (io)
        strata_io_fail_at(n, (StrataIoFault)fault, persistent);
    else
        strata_alloc_fail_at(n, persistent);
    int rc = call(ctx);
    int reached = (io ? strata_io_points() : strata_alloc_points()) >= n;
    strata_alloc_fail_at(0, false);
    strata_io_fail_at(0, STRATA_IO_OK, false);
    char message[512];
    snprintf(message, sizeof message, "%s", strata_last_error());
    scope_end(s);
    if (!reached) {
        ck_assert_msg(rc == 0, "%s:%d: %s fails with nothing made to fail: %s", file, line,
                      what, message);
        return 0;
    }
    ck_assert_msg(rc != 0, "%s:%d: %s: %s failed, but the call reported success", file, line,
                  what, how);
    ck_assert_msg(message[0] != '\0', "%s:%d: %s: %s failed: no error message", file, line,
                  what, how);
    size_t after = strata_mem_stats().bytes_live;
    ck_assert_msg(after == live, "%s:%d: %s: %s failed (\"%s\"): %zu bytes live before, %zu "
                  "after", file, line, what, how, message, live, after);
    ck_assert_msg(!state || state(ctx) == before, "%s:%d: %s: %s failed (\"%s\"): the call "
                  "changed what it was given", file, line, what, how, message);
    return 1;
}

static inline size_t fw_walk(const char *what, FwCall call, FwState state, void *ctx, int io,
                             const char *file, int line)
{
    static const int kinds[] = {STRATA_IO_SHORT, STRATA_IO_ENOSPC, STRATA_IO_EIO};
    for (size_t n = 1;; n++)
        for (int k = 0; k < (io ? 3 : 1); k++) {
            /* the call that gets through ends the walk (it has fewer than n points) */
            if (!fw_one(what, call, state, ctx, io, n, kinds[k], 0, file, line))
                return n - 1;
            fw_one(what, call, state, ctx, io, n, kinds[k], 1, file, line);
        }
}
/** @endcond */

/** Walk every allocation of @p call; returns how many it makes. */
#define FW_WALK_ALLOC(what, call, state, ctx) \
    fw_walk((what), (call), (state), (ctx), 0, __FILE__, __LINE__)
/** Walk every file call of @p call, each cut short, ENOSPC and EIO; returns how many. */
#define FW_WALK_IO(what, call, state, ctx) \
    fw_walk((what), (call), (state), (ctx), 1, __FILE__, __LINE__)

#endif
