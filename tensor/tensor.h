/**
 * @file tensor.h
 * @brief Week 1: strided float32 tensors, the error slot, the memory model.
 *
 * This is the bottom layer of strata. It knows nothing of gradients.
 * Everything above (autograd, nn, optim, modular) is built from these calls.
 *
 * Conventions used by every function in this file:
 * - **Errors.** A function that fails returns NULL (or a negative status) and records
 *   a message in the thread-local error slot, readable with strata_last_error().
 *   A function given a NULL tensor returns NULL and keeps the message already in the
 *   slot, so a nested expression reports its root cause.
 * - **Ownership.** Every function that returns a `Tensor *` returns a fresh object (a
 *   view is a fresh object sharing storage). If a scope is open (scope_begin()) the
 *   scope holds that reference and releases it at scope_end(); otherwise the caller
 *   owns it and calls tensor_release(). tensor_retain() keeps an object alive past its
 *   scope. See docs/memory-and-errors.md.
 * - **Dims.** A negative dim counts from the end, as in PyTorch (-1 is the last dim).
 * - **Indices** (index_select, gather, argmax, ...) are float32 tensors holding integers
 *   (exact up to 2^24), because strata stores float32 only.
 */
#ifndef STRATA_TENSOR_H
#define STRATA_TENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup tensor Week 1: tensor
 * @brief Strided float32 arrays, views, broadcasting, BLAS-backed kernels, and the
 *        runtime every layer shares (errors, objects, scopes, the counting allocator).
 * @{
 */

/**
 * @def STRATA_API
 * @brief Marks a declaration as part of strata's public API. The libraries are built
 *        with hidden visibility (-fvisibility=hidden), so libstrata.so exports the
 *        functions (and the one table) declared with this mark in the installed headers,
 *        and nothing else: the helpers the layers share (*_internal.h) stay inside.
 *        `make exports-check` holds the shared library to exactly this list.
 */
#if defined(__GNUC__) || defined(__clang__)
#define STRATA_API __attribute__((visibility("default")))
#else
#define STRATA_API
#endif

/** Largest number of dimensions a tensor may have. */
#define TENSOR_MAX_DIMS 8

/* ------------------------------------------------------------------------------------ */
/** @name Errors
 *  One thread-local slot holds the last error message. A message stays "unread" until
 *  strata_last_error() returns it; only an unread message is kept as the root cause of
 *  a NULL passed in later (see strata_error_null() and docs/memory-and-errors.md).
 *  @{ */

/**
 * @brief The last error message recorded on this thread, which from now on counts as
 *        read (handled): a NULL argument reported after this gets its own message.
 * @return A borrowed string, empty ("") when no error has been recorded. Valid until
 *         the next error is recorded or strata_clear_error() is called.
 */
STRATA_API const char *strata_last_error(void);

/**
 * @brief Whether the slot holds a message that strata_last_error() has not returned yet
 *        (a failure nobody has looked at). Does not mark it read.
 */
STRATA_API bool strata_error_pending(void);

/** @brief Empty the error slot, so the next failure's message is the one reported. */
STRATA_API void strata_clear_error(void);

/**
 * @brief Record an error message (printf-style), replacing the slot's content. The new
 *        message is unread.
 * @param[in] fmt printf format; by convention "function: what went wrong".
 */
STRATA_API void strata_set_error(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2)))
#endif
    ;

/**
 * @brief Record "function: argument 'name' is NULL" unless an unread message is in the
 *        slot (the NULL is then most likely the result of that failure, whose message
 *        names the root cause). A message already read with strata_last_error() was
 *        handled by the caller and is replaced.
 * @param[in] function the name of the function that got the NULL.
 * @param[in] argument the parameter's name.
 */
STRATA_API void strata_error_null(const char *function, const char *argument);

/**
 * @brief Return @p fail from the calling function, recording "function: argument 'x' is
 *        NULL" (keeping an earlier message, see strata_error_null()), when @p x is NULL.
 *        Every layer validates its pointer arguments with it: one line per argument,
 *        `STRATA_CHECK_ARG(t, NULL);`, with @p fail empty in a void function. The
 *        function is named by `__func__` and the argument by its spelling (`#x`).
 */
#define STRATA_CHECK_ARG(x, fail)                                                       \
    do {                                                                                \
        if (!(x)) {                                                                     \
            strata_error_null(__func__, #x);                                            \
            return fail;                                                                \
        }                                                                               \
    } while (0)

/**
 * @brief Record "<function>: not implemented yet (week N)". Used by handout stubs.
 * @param[in] function the unimplemented function's name (pass `__func__`).
 * @param[in] week the week whose handout asks for it.
 */
STRATA_API void strata_not_implemented(const char *function, int week);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name File I/O, with failure injection
 *  strata reads and writes files (safetensors, checkpoints, metrics logs, IDX and CSV
 *  data, the L2L store) only through these wrappers, so a test can make any call fail
 *  the way real files fail and check that nothing is lost (docs/bad-input.md, "Fault
 *  injection"). Without injection each is the C library call it is named after.
 *  @{ */

/** How an injected I/O failure fails. */
typedef enum StrataIoFault {
    STRATA_IO_OK = 0, /**< no failure */
    STRATA_IO_SHORT,  /**< a write stops half way (errno ENOSPC), a read ends half way (as at
                           the end of the file); calls that move no data fail with ENOSPC */
    STRATA_IO_ENOSPC, /**< the call fails with ENOSPC, nothing moved (a read: EIO) */
    STRATA_IO_EIO     /**< the call fails with EIO, nothing moved */
} StrataIoFault;

/**
 * @brief Make file calls fail on purpose. Every wrapper call (and every place strata
 *        touches a file another way: zlib's reads, the L2L store's open, map and sync) is
 *        one I/O point; this call restarts their numbering at 1 and makes point @p n fail
 *        as @p fault says (and every later one when @p persistent). Process-wide.
 * @param[in] n the point that fails, from 1; 0 (or @p fault STRATA_IO_OK) turns it off.
 * @param[in] fault how it fails.
 * @param[in] persistent false: only point @p n fails; true: @p n and every later one.
 */
STRATA_API void strata_io_fail_at(size_t n, StrataIoFault fault, bool persistent);

/** @brief I/O points passed since the last strata_io_fail_at() (or program start). */
STRATA_API size_t strata_io_points(void);

/**
 * @brief Count one I/O point and say how it must fail (STRATA_IO_OK: not at all). The
 *        wrappers below call it; code that reaches a file another way (zlib, mmap) calls
 *        it before each operation and simulates the failure.
 */
STRATA_API StrataIoFault strata_io_point(void);

/** @brief The errno an injected @p fault reports (ENOSPC or EIO). */
STRATA_API int strata_io_errno(StrataIoFault fault);

/** @brief fopen(); NULL with errno set on failure. */
STRATA_API FILE *strata_fopen(const char *path, const char *mode);

/**
 * @brief Write all @p n bytes (fwrite).
 * @return 0, or -1 with errno set when not every byte was written (some may have been).
 */
STRATA_API int strata_fwrite(const void *data, size_t n, FILE *f);

/**
 * @brief Read up to @p n bytes (fread).
 * @return The bytes read: fewer than @p n at the end of the file or on an error (then
 *         errno is set); a caller that needs all @p n treats fewer as a failure.
 */
STRATA_API size_t strata_fread(void *data, size_t n, FILE *f);

/**
 * @brief Read one line, as POSIX getline() does, into a buffer on the counting
 *        allocator: *@p line (NULL or from strata_malloc(), @p capacity bytes) grows with
 *        strata_realloc() and the caller frees it with strata_free(). An injected I/O
 *        failure of any kind is a read error here (a line cut short may still parse).
 * @return Its length (with the newline, if any); -1 at the end of the file; -2 on a read
 *         error (errno set) or when the buffer cannot grow (errno ENOMEM, the allocator's
 *         "out of memory" message recorded).
 */
STRATA_API ptrdiff_t strata_getline(char **line, size_t *capacity, FILE *f);

/** @brief fflush(); EOF with errno set on failure. */
STRATA_API int strata_fflush(FILE *f);

/** @brief fclose() (the stream is closed either way); EOF with errno set on failure,
 *         which for a written file means its data may not all be there. */
STRATA_API int strata_fclose(FILE *f);

/** @brief rename(); -1 with errno set on failure (nothing renamed). */
STRATA_API int strata_rename(const char *from, const char *to);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name The counting allocator
 *  Every byte strata allocates goes through these, so tests can check that a training
 *  step inside a scope leaves nothing behind, and the L2L trainer can measure its
 *  working set.
 *  @{ */

/** Allocation statistics, see strata_mem_stats(). */
typedef struct StrataMemStats {
    size_t bytes_live;  /**< bytes currently allocated and not freed */
    size_t bytes_peak;  /**< high-water mark of bytes_live since the last reset */
    size_t allocs;      /**< number of allocations since the program started */
    size_t frees;       /**< number of frees since the program started */
    size_t bytes_cached;/**< freed blocks kept for reuse (not counted in bytes_live) */
} StrataMemStats;

/**
 * @brief Allocate counted memory (like malloc).
 * @param[in] size bytes wanted; 0 gives a valid unique pointer.
 * @return Memory the caller frees with strata_free(), or NULL with an error recorded.
 */
STRATA_API void *strata_malloc(size_t size);

/** @brief Like strata_malloc() but zero-filled; NULL on overflow of n * size. */
STRATA_API void *strata_calloc(size_t n, size_t size);

/**
 * @brief Resize counted memory (like realloc).
 * @param[in] ptr memory from strata_malloc() or NULL.
 * @param[in] size new size in bytes.
 * @return The new block (the old one is freed), or NULL with @p ptr left untouched.
 */
STRATA_API void *strata_realloc(void *ptr, size_t size);

/** @brief Free memory from strata_malloc()/strata_calloc(); NULL is ignored. */
STRATA_API void strata_free(void *ptr);

/** @brief The current allocation statistics (totals over all threads). */
STRATA_API StrataMemStats strata_mem_stats(void);

/**
 * @brief Give every cached block back to the C library. Freed blocks are kept for reuse
 *        (small ones up to 1 KiB in per-thread free lists, large ones of 16 KiB or more
 *        in a shared cache of up to 1 GiB) so a training step neither calls malloc nor
 *        page-faults on its buffers; this empties the calling thread's lists and the
 *        shared cache (it also runs at exit).
 */
STRATA_API void strata_mem_trim(void);

/** @brief Set bytes_peak to bytes_live, to measure the peak of what follows. */
STRATA_API void strata_mem_reset_peak(void);

/**
 * @brief Make allocations fail on purpose, to test failure paths (docs/bad-input.md,
 *        "Fault injection"). Every request strata_malloc(), strata_calloc() or
 *        strata_realloc() makes for fresh memory is one allocation point; this call
 *        restarts their numbering at 1 and makes point @p n fail (NULL, with the message
 *        "strata_malloc: out of memory ... (injected failure ...)"), and every point after
 *        it too when @p persistent. Process-wide (all threads count).
 * @param[in] n the point that fails, from 1; 0 turns injection off (counting goes on).
 * @param[in] persistent false: only point @p n fails; true: @p n and every later one.
 *
 * @code
 * for (size_t n = 1;; n++) {          // fail each allocation of the call in turn
 *     strata_alloc_fail_at(n, false);
 *     Tensor *y = tensor_matmul(a, b);
 *     bool reached = strata_alloc_points() >= n;
 *     strata_alloc_fail_at(0, false);
 *     if (!reached) break;            // the call made fewer than n allocations
 *     assert(y == NULL);              // ... and each failure returned NULL
 * }
 * @endcode
 */
STRATA_API void strata_alloc_fail_at(size_t n, bool persistent);

/** @brief Allocation points passed since the last strata_alloc_fail_at() (or program start). */
STRATA_API size_t strata_alloc_points(void);

/**
 * @brief Count one allocation point and say whether it must fail. strata_malloc() calls
 *        it; a test may call it from another library's allocator (for example hooks
 *        given to cJSON_InitHooks()) to fail that library's allocations in the same
 *        numbering.
 * @return true when injection says this allocation fails.
 */
STRATA_API bool strata_alloc_point(void);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Objects and scopes
 *  Tensors (and autograd's Vars) are reference counted. A scope collects the objects
 *  created while it is open and releases them when it ends (an autorelease pool).
 *  @{ */

/**
 * @brief The header every reference-counted object starts with.
 * Upper layers embed it as their first field and give a destroy function.
 */
typedef struct StrataObject {
    int refcount;                                 /**< live references */
    long scope_slot;                              /**< slot in the scope stack, or -1 */
    void (*destroy)(struct StrataObject *object); /**< frees the object at refcount 0 */
} StrataObject;

/**
 * @brief Initialise an object's header with one reference and hand that reference to
 *        the innermost open scope, if any.
 * @param[out] object the header to fill.
 * @param[in] destroy called when the last reference goes.
 */
STRATA_API void strata_object_init(StrataObject *object, void (*destroy)(StrataObject *object));

/** @brief Add a reference. NULL is ignored. */
STRATA_API void strata_object_retain(StrataObject *object);

/**
 * @brief Drop a reference you own (one you retained, or the creation reference when no
 *        scope was open); at zero, take the object out of its scope and destroy it.
 *        Releasing a scope-held object whose count is 1 frees it early (safe); never
 *        release a reference a scope holds while others hold more (scope_end() will).
 *        NULL is ignored.
 */
STRATA_API void strata_object_release(StrataObject *object);

/**
 * @brief Hand a reference you own to the innermost open scope (an autorelease), the way
 *        a function returns a result it computed inside its own inner scope:
 *        @code
 *        Scope *s = scope_begin();
 *        Tensor *tmp = tensor_exp(x);            // temporaries: owned by s
 *        Tensor *out = tensor_add(tmp, y);
 *        tensor_retain(out);                     // keep the result past s
 *        scope_end(s);                           // frees tmp
 *        strata_object_autorelease(&out->base);  // caller's scope now owns out
 *        return out;
 *        @endcode
 *        With no scope open, or if the object already has a scope, nothing changes
 *        (the caller owns the reference). NULL is ignored.
 */
STRATA_API void strata_object_autorelease(StrataObject *object);

/** An open scope (autorelease pool); see scope_begin(). */
typedef struct Scope Scope;

/**
 * @brief Open a scope: objects created until scope_end() are owned by it.
 * @return A handle to pass to scope_end(). Never NULL (a sentinel on allocation failure).
 */
STRATA_API Scope *scope_begin(void);

/**
 * @brief Close @p scope (and any scope opened inside it and not yet closed), releasing
 *        the reference each collected object still holds. Objects retained elsewhere
 *        survive. NULL, or a scope already closed, is ignored.
 * @param[in] scope the handle scope_begin() returned.
 */
STRATA_API void scope_end(Scope *scope);

/** @brief Number of objects currently held by open scopes on this thread. */
STRATA_API size_t scope_depth_objects(void);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name The random generator
 *  One thread-local generator (PCG32 core, Box-Muller normals in double): the same seed
 *  gives the same stream on every platform.
 *  @{ */

/** @brief Seed the generator of this thread (default seed 0 at program start). */
STRATA_API void strata_manual_seed(uint64_t seed);

/** @brief The generator's state (to replay a random stream later). */
STRATA_API uint64_t strata_rng_get_state(void);

/** @brief Restore a state returned by strata_rng_get_state(). */
STRATA_API void strata_rng_set_state(uint64_t state);

/** @brief A uniform integer in [0, 2^32). */
STRATA_API uint32_t strata_rng_u32(void);

/** @brief A uniform float in [0, 1). */
STRATA_API double strata_rng_uniform(void);

/** @brief A standard normal sample. */
STRATA_API double strata_rng_normal(void);

/**
 * @brief Fill @p perm with a uniformly random permutation of 0..n-1 (Fisher-Yates).
 * @param[out] perm array of @p n entries.
 * @param[in] n length.
 */
STRATA_API void strata_randperm(int64_t *perm, int64_t n);
/** @} */

/**
 * @brief Set the number of threads strata's kernels use (strata_parallel_for(); BLAS
 *        calls are split among them, and OpenBLAS itself is kept to one thread).
 *        Do not change it while another thread of the program runs a kernel.
 * @param[in] n threads (>= 1); values < 1 are taken as 1, values above
 *        STRATA_MAX_THREADS as STRATA_MAX_THREADS.
 */
STRATA_API void strata_set_num_threads(int n);

/** @brief The thread count set by strata_set_num_threads() (default: the count OpenBLAS
 *         starts with, which is every core unless OPENBLAS_NUM_THREADS says otherwise,
 *         but no more than the cores this process may run on, its affinity mask). */
STRATA_API int strata_get_num_threads(void);

/** Most threads strata_parallel_for() runs at once. */
#define STRATA_MAX_THREADS 64

/** Fewest elements of a cheap elementwise loop (a few operations per element) worth a
 *  chunk of their own: fewer cost more to hand over than they take to compute. */
#define STRATA_GRAIN_ELEMENTS ((int64_t)1 << 16)

/**
 * @brief The body of a parallel loop: handle the items [begin, end), one chunk.
 * @param ctx the caller's context, shared by every chunk (read it; write only the
 *        parts that belong to this chunk or to @p thread).
 * @param begin first item of this chunk.
 * @param end one past the last item.
 * @param chunk which chunk this is, 0 .. strata_parallel_chunks()-1 (an index for
 *        per-chunk partial sums: the caller adds them up in chunk order).
 * @param thread which thread runs it, 0 .. strata_parallel_threads()-1 (an index for
 *        per-thread scratch; a thread runs one chunk at a time).
 */
typedef void (*StrataRangeFn)(void *ctx, int64_t begin, int64_t end, int chunk, int thread);

/**
 * @brief How many chunks strata_parallel_for() cuts @p n items into: 1 on one thread
 *        (and in a loop body, and in a child forked after its parent ran a loop), else
 *        a few per thread, but no more than n / @p grain (at least 1). Callers size
 *        per-chunk partial sums with it.
 * @param[in] n items.
 * @param[in] grain fewest items worth a chunk of their own (values < 1 count as 1).
 * @return The number of chunks, 1 .. 4095.
 */
STRATA_API int strata_parallel_chunks(int64_t n, int64_t grain);

/**
 * @brief How many threads strata_parallel_for() runs @p n items on: the thread count
 *        (strata_get_num_threads()), but no more than strata_parallel_chunks(n, grain).
 *        Callers size per-thread scratch with it.
 * @param[in] n items.
 * @param[in] grain fewest items worth a chunk of their own (values < 1 count as 1).
 * @return The number of threads, 1 .. STRATA_MAX_THREADS.
 */
STRATA_API int strata_parallel_threads(int64_t n, int64_t grain);

/**
 * @brief A grain for @p n items, at least @p grain, with which every thread gets the
 *        same number of chunks: strata_parallel_chunks() becomes a multiple of
 *        strata_parallel_threads() where it can (n / grain = 3 chunks on two threads
 *        would keep one thread idle for a third of the loop; two do not). For loops
 *        whose results do not depend on the chunks (elementwise updates, bands of a
 *        product): a sum kept per chunk would change with them.
 * @param[in] n items.
 * @param[in] grain fewest items worth a chunk of their own (values < 1 count as 1).
 * @return The grain to pass to strata_parallel_for() (@p grain when no larger one
 *         evens the chunks out).
 */
STRATA_API int64_t strata_parallel_grain(int64_t n, int64_t grain);

/**
 * @brief Run @p fn over the items [0, n), cut into K = strata_parallel_chunks(n, grain)
 *        chunks, chunk c being [n*c/K, n*(c+1)/K), on strata_parallel_threads(n, grain)
 *        threads (the calling thread among them), and return when all are done.
 *
 * The threads claim the chunks one at a time from a shared counter (the calling thread
 * from the first chunk up, the others from the last one down), so a thread that
 * loses its core to another process leaves its share to the others instead of holding
 * them up. Which thread runs which chunk depends on timing; the chunks themselves
 * depend only on n, grain and the thread count. A kernel that sums across its items
 * keeps one partial sum per chunk and adds them in chunk order after the loop: the same
 * bits on every run with the same thread count. Idle threads spin for up to 100
 * microseconds, then sleep. OpenBLAS runs one thread per call (strata's threads are the
 * parallelism), so a chunk may call cblas itself.
 *
 * @p fn must not fail and must not touch the error slot or the scope stack (both are
 * per thread): allocate and check everything before the loop. A parallel loop started
 * inside a chunk runs serially on that thread (as one chunk), and so does every loop of
 * a child forked after its parent ran one (threads do not survive fork()). Two threads
 * of the program may run loops at the same time: the pool takes one, the other runs the
 * same chunks in order on its own thread.
 * n <= 0 does nothing; a NULL @p fn does nothing but set an error naming "fn".
 * @param[in] n items.
 * @param[in] grain fewest items worth a chunk (see strata_parallel_chunks()).
 * @param[in] fn the loop body.
 * @param[in] ctx passed to every call of @p fn.
 */
STRATA_API void strata_parallel_for(int64_t n, int64_t grain, StrataRangeFn fn, void *ctx);

/* ------------------------------------------------------------------------------------ */
/** @name The Tensor type
 *  @{ */

/** Reference-counted float32 buffer shared by a tensor and its views. */
typedef struct TensorStorage {
    StrataObject base; /**< reference count and scope slot (storages are never scoped) */
    float *data;       /**< the elements */
    size_t numel;      /**< number of floats in @ref data */
} TensorStorage;

/**
 * @brief A strided view of float32 storage.
 * Element (i0, ..., ik) lives at `data[i0*strides[0] + ... + ik*strides[k]]`.
 */
typedef struct Tensor {
    StrataObject base;               /**< reference count and scope slot */
    float *data;                     /**< first element: storage->data + offset */
    int ndim;                        /**< number of dims, 0 for a scalar */
    int64_t shape[TENSOR_MAX_DIMS];  /**< size of each dim */
    int64_t strides[TENSOR_MAX_DIMS];/**< elements to skip to step one along each dim */
    int64_t offset;                  /**< index of data[0] within storage->data */
    TensorStorage *storage;          /**< the shared buffer (retained) */
} Tensor;

/** @brief Add a reference to @p t (to keep it past its scope). NULL is ignored. */
STRATA_API void tensor_retain(Tensor *t);

/** @brief Drop a reference; the tensor is freed when none remain. NULL is ignored. */
STRATA_API void tensor_release(Tensor *t);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Creation
 *  Every function here returns a new contiguous tensor (see the ownership rule at the
 *  top of this file), or NULL with an error: negative sizes, more than TENSOR_MAX_DIMS
 *  dims, or a total size that overflows.
 *  @{ */

/** @brief Uninitialised tensor of the given @p shape (@p ndim dims, 0 for a scalar). */
STRATA_API Tensor *tensor_empty(const int64_t *shape, int ndim);
/** @brief Tensor of zeros. */
STRATA_API Tensor *tensor_zeros(const int64_t *shape, int ndim);
/** @brief Tensor of ones. */
STRATA_API Tensor *tensor_ones(const int64_t *shape, int ndim);
/** @brief Tensor filled with @p value. */
STRATA_API Tensor *tensor_full(const int64_t *shape, int ndim, float value);
/** @brief A 0-d tensor holding @p value. */
STRATA_API Tensor *tensor_scalar(float value);
/**
 * @brief 1-D tensor start, start+step, ... stopping before @p end (as torch.arange).
 * @return NULL if @p step is 0 or has the wrong sign for the range.
 */
STRATA_API Tensor *tensor_arange(double start, double end, double step);
/** @brief 1-D tensor of @p steps evenly spaced values from @p start to @p end inclusive. */
STRATA_API Tensor *tensor_linspace(double start, double end, int64_t steps);
/**
 * @brief Copy @p data (row-major, tensor_numel elements) into a new tensor of @p shape.
 * @param[in] data the values; NULL is an error.
 * @param[in] shape the size of each dim.
 * @param[in] ndim number of dims (0 for a scalar).
 */
STRATA_API Tensor *tensor_from_data(const float *data, const int64_t *shape, int ndim);
/** @brief Uniform samples in [0, 1) from the seeded generator. */
STRATA_API Tensor *tensor_rand(const int64_t *shape, int ndim);
/** @brief Standard normal samples from the seeded generator. */
STRATA_API Tensor *tensor_randn(const int64_t *shape, int ndim);
/** @brief 1 with probability @p p, else 0 (p in [0, 1]). */
STRATA_API Tensor *tensor_bernoulli(const int64_t *shape, int ndim, float p);
/** @brief A contiguous copy of @p t with its own storage (torch.clone). */
STRATA_API Tensor *tensor_clone(const Tensor *t);
/** @brief Zeros with the shape of @p t. */
STRATA_API Tensor *tensor_zeros_like(const Tensor *t);
/** @brief Ones with the shape of @p t. */
STRATA_API Tensor *tensor_ones_like(const Tensor *t);
/** @brief @p value everywhere, with the shape of @p t. */
STRATA_API Tensor *tensor_full_like(const Tensor *t, float value);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Shape and element access
 *  @{ */

/** @brief Number of elements (1 for a scalar); 0 for NULL. */
STRATA_API int64_t tensor_numel(const Tensor *t);
/**
 * @brief Size of dim @p dim (negative counts from the end).
 * @return The size, or -1 with an error if @p dim is out of range.
 */
STRATA_API int64_t tensor_size(const Tensor *t, int dim);
/** @brief Whether the elements are laid out row-major without gaps. */
STRATA_API bool tensor_is_contiguous(const Tensor *t);
/** @brief Whether @p a and @p b have the same shape. */
STRATA_API bool tensor_same_shape(const Tensor *a, const Tensor *b);
/**
 * @brief The single value of a one-element tensor.
 * @return The value, or NAN with an error if @p t has more than one element.
 */
STRATA_API float tensor_item(const Tensor *t);
/**
 * @brief Element at the multi-index @p index (one entry per dim).
 * @return The value, or NAN with an error if an index is out of range.
 */
STRATA_API float tensor_get(const Tensor *t, const int64_t *index);
/**
 * @brief Store @p value at the multi-index @p index.
 * @return 0, or -1 with an error if an index is out of range.
 */
STRATA_API int tensor_set(Tensor *t, const int64_t *index, float value);
/**
 * @brief Copy the elements, in row-major order, into @p out.
 * @param[in] t the tensor (any strides).
 * @param[out] out room for tensor_numel(t) floats.
 * @return 0, or -1 with an error.
 */
STRATA_API int tensor_to_array(const Tensor *t, float *out);
/**
 * @brief Whether |a - b| <= atol + rtol * |b| elementwise (shapes must match; NaNs differ).
 */
STRATA_API bool tensor_allclose(const Tensor *a, const Tensor *b, float rtol, float atol);
/**
 * @brief Write the shape as "[2, 3]" into @p buf (at most @p size bytes, NUL-terminated).
 * @return @p buf, for use in messages.
 */
STRATA_API char *tensor_shape_str(const Tensor *t, char *buf, size_t size);
/**
 * @brief The shape two shapes broadcast to (NumPy rules).
 * @param[in] a, a_ndim the first shape and its number of dims.
 * @param[in] b, b_ndim the second shape and its number of dims.
 * @param[out] out room for TENSOR_MAX_DIMS sizes.
 * @param[out] out_ndim number of dims of the result.
 * @return 0, or -1 with an error naming both shapes when they do not broadcast.
 */
STRATA_API int tensor_broadcast_shape(const int64_t *a, int a_ndim, const int64_t *b, int b_ndim,
                                      int64_t *out, int *out_ndim);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Views
 *  These share @p t's storage (no copy), except tensor_reshape() and
 *  tensor_contiguous() when the strides demand one, as in PyTorch.
 *  @{ */

/** @brief View with a new shape; one size may be -1. NULL if the strides do not allow a view. */
STRATA_API Tensor *tensor_view(const Tensor *t, const int64_t *shape, int ndim);
/** @brief Like tensor_view(), copying only when a view is impossible. */
STRATA_API Tensor *tensor_reshape(const Tensor *t, const int64_t *shape, int ndim);
/** @brief @p t itself if contiguous (as a new view object), else a contiguous copy. */
STRATA_API Tensor *tensor_contiguous(const Tensor *t);
/** @brief Swap dims @p dim0 and @p dim1. */
STRATA_API Tensor *tensor_transpose(const Tensor *t, int dim0, int dim1);
/** @brief Reorder dims: result dim i is @p t's dim @p dims[i] (a permutation of ndim dims). */
STRATA_API Tensor *tensor_permute(const Tensor *t, const int *dims);
/** @brief Remove dim @p dim if its size is 1 (otherwise an unchanged view, as PyTorch). */
STRATA_API Tensor *tensor_squeeze(const Tensor *t, int dim);
/** @brief Remove every dim of size 1. */
STRATA_API Tensor *tensor_squeeze_all(const Tensor *t);
/** @brief Insert a dim of size 1 at @p dim (in [-ndim-1, ndim]). */
STRATA_API Tensor *tensor_unsqueeze(const Tensor *t, int dim);
/** @brief Elements @p start .. @p start + @p length - 1 along @p dim. */
STRATA_API Tensor *tensor_narrow(const Tensor *t, int dim, int64_t start, int64_t length);
/**
 * @brief Python's t[..., start:end:step, ...] along @p dim (step > 0; start/end are
 *        clamped to the dim and may be negative, as in Python).
 */
STRATA_API Tensor *tensor_slice(const Tensor *t, int dim, int64_t start, int64_t end, int64_t step);
/** @brief Index @p index along @p dim, removing that dim (t[..., index, ...]). */
STRATA_API Tensor *tensor_select(const Tensor *t, int dim, int64_t index);
/**
 * @brief Broadcast @p t to @p shape without copying (stride 0 on expanded dims);
 *        a size of -1 keeps the existing size.
 */
STRATA_API Tensor *tensor_expand(const Tensor *t, const int64_t *shape, int ndim);
/** @brief Merge dims @p start_dim .. @p end_dim into one (a view when possible). */
STRATA_API Tensor *tensor_flatten(const Tensor *t, int start_dim, int end_dim);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Elementwise
 *  Binary ops broadcast their operands (NumPy rules) and return a new contiguous
 *  tensor; comparisons return 1.0 or 0.0.
 *  @{ */

STRATA_API Tensor *tensor_add(const Tensor *a, const Tensor *b);     /**< @brief a + b */
STRATA_API Tensor *tensor_sub(const Tensor *a, const Tensor *b);     /**< @brief a - b */
STRATA_API Tensor *tensor_mul(const Tensor *a, const Tensor *b);     /**< @brief a * b */
STRATA_API Tensor *tensor_div(const Tensor *a, const Tensor *b);     /**< @brief a / b */
STRATA_API Tensor *tensor_pow(const Tensor *a, const Tensor *b);     /**< @brief a ^ b (powf) */
STRATA_API Tensor *tensor_maximum(const Tensor *a, const Tensor *b); /**< @brief max(a, b); NaN wins */
STRATA_API Tensor *tensor_minimum(const Tensor *a, const Tensor *b); /**< @brief min(a, b); NaN wins */
STRATA_API Tensor *tensor_eq(const Tensor *a, const Tensor *b);      /**< @brief a == b */
STRATA_API Tensor *tensor_ne(const Tensor *a, const Tensor *b);      /**< @brief a != b */
STRATA_API Tensor *tensor_lt(const Tensor *a, const Tensor *b);      /**< @brief a < b */
STRATA_API Tensor *tensor_le(const Tensor *a, const Tensor *b);      /**< @brief a <= b */
STRATA_API Tensor *tensor_gt(const Tensor *a, const Tensor *b);      /**< @brief a > b */
STRATA_API Tensor *tensor_ge(const Tensor *a, const Tensor *b);      /**< @brief a >= b */
/** @brief cond != 0 ? a : b, all three broadcast together. */
STRATA_API Tensor *tensor_where(const Tensor *cond, const Tensor *a, const Tensor *b);

STRATA_API Tensor *tensor_add_scalar(const Tensor *t, float s);      /**< @brief t + s */
STRATA_API Tensor *tensor_mul_scalar(const Tensor *t, float s);      /**< @brief t * s */
STRATA_API Tensor *tensor_pow_scalar(const Tensor *t, float e);      /**< @brief t ^ e */

STRATA_API Tensor *tensor_neg(const Tensor *t);     /**< @brief -t */
STRATA_API Tensor *tensor_abs(const Tensor *t);     /**< @brief |t| */
STRATA_API Tensor *tensor_sign(const Tensor *t);    /**< @brief -1, 0 or 1 */
STRATA_API Tensor *tensor_exp(const Tensor *t);     /**< @brief e^t */
STRATA_API Tensor *tensor_log(const Tensor *t);     /**< @brief natural log (-inf at 0, NaN below) */
STRATA_API Tensor *tensor_sqrt(const Tensor *t);    /**< @brief square root */
STRATA_API Tensor *tensor_rsqrt(const Tensor *t);   /**< @brief 1 / sqrt(t) */
STRATA_API Tensor *tensor_sin(const Tensor *t);     /**< @brief sine */
STRATA_API Tensor *tensor_cos(const Tensor *t);     /**< @brief cosine */
STRATA_API Tensor *tensor_tanh(const Tensor *t);    /**< @brief hyperbolic tangent */
STRATA_API Tensor *tensor_sigmoid(const Tensor *t); /**< @brief 1 / (1 + e^-t), stable for large |t| */
STRATA_API Tensor *tensor_relu(const Tensor *t);    /**< @brief max(t, 0) */
/** @brief GELU, exact form t * Phi(t) with the normal CDF via erf (PyTorch's default). */
STRATA_API Tensor *tensor_gelu(const Tensor *t);
/** @brief t if t > 0 else slope * t. */
STRATA_API Tensor *tensor_leaky_relu(const Tensor *t, float slope);
/**
 * @brief min(max(t, lo), hi); pass -INFINITY / INFINITY for no bound. PyTorch's edge
 *        rules: NaN elements stay NaN; lo > hi gives hi everywhere; a NaN bound gives NaN
 *        everywhere.
 */
STRATA_API Tensor *tensor_clamp(const Tensor *t, float lo, float hi);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name In-place updates (what optimizers and accumulators need)
 *  @p other broadcasts to @p t's shape; @p t's shape never changes.
 *  @return 0, or -1 with an error and @p t unchanged.
 *  @{ */

STRATA_API int tensor_add_(Tensor *t, const Tensor *other);      /**< @brief t += other */
STRATA_API int tensor_sub_(Tensor *t, const Tensor *other);      /**< @brief t -= other */
STRATA_API int tensor_mul_(Tensor *t, const Tensor *other);      /**< @brief t *= other */
STRATA_API int tensor_div_(Tensor *t, const Tensor *other);      /**< @brief t /= other */
STRATA_API int tensor_axpy_(Tensor *t, float alpha, const Tensor *x); /**< @brief t += alpha * x */
STRATA_API int tensor_add_scalar_(Tensor *t, float s);           /**< @brief t += s */
STRATA_API int tensor_mul_scalar_(Tensor *t, float s);           /**< @brief t *= s */
STRATA_API int tensor_clamp_(Tensor *t, float lo, float hi);     /**< @brief t = clamp(t, lo, hi), tensor_clamp()'s rules */
STRATA_API int tensor_fill_(Tensor *t, float value);             /**< @brief t = value everywhere */
STRATA_API int tensor_zero_(Tensor *t);                          /**< @brief t = 0 */
STRATA_API int tensor_copy_(Tensor *t, const Tensor *src);       /**< @brief t = src (broadcast) */
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Reductions
 *  @p dims lists the dims to reduce (@p ndims of them, negative allowed, no repeats);
 *  @p ndims == 0 reduces every dim. With @p keepdim the reduced dims stay with size 1.
 *  Sums accumulate in double.
 *  @{ */

STRATA_API Tensor *tensor_sum(const Tensor *t, const int *dims, int ndims, bool keepdim);  /**< @brief sum */
STRATA_API Tensor *tensor_mean(const Tensor *t, const int *dims, int ndims, bool keepdim); /**< @brief mean */
/** @brief Variance; @p unbiased divides by n-1 (torch's default), else by n. */
STRATA_API Tensor *tensor_var(const Tensor *t, const int *dims, int ndims, bool unbiased, bool keepdim);
/** @brief Standard deviation, sqrt of tensor_var(). */
STRATA_API Tensor *tensor_std(const Tensor *t, const int *dims, int ndims, bool unbiased, bool keepdim);
/** @brief log(sum(exp(t))) computed stably (the max is subtracted first). */
STRATA_API Tensor *tensor_logsumexp(const Tensor *t, const int *dims, int ndims, bool keepdim);
/**
 * @brief Max along @p dim, and where it is.
 * @param[in] t the tensor.
 * @param[in] dim the dim to reduce (negative counts from the end).
 * @param[in] keepdim keep the reduced dim with size 1.
 * @param[out] indices if not NULL, receives the argmax (the first one on ties, as
 *             PyTorch's CPU kernel), a new tensor under the usual ownership rule.
 * @return The max values. NaN propagates (a NaN is the max).
 */
STRATA_API Tensor *tensor_max(const Tensor *t, int dim, bool keepdim, Tensor **indices);
/** @brief Min along @p dim (first index on ties); see tensor_max(). */
STRATA_API Tensor *tensor_min(const Tensor *t, int dim, bool keepdim, Tensor **indices);
/** @brief Max of all elements as a 0-d tensor. */
STRATA_API Tensor *tensor_max_all(const Tensor *t);
/** @brief Min of all elements as a 0-d tensor. */
STRATA_API Tensor *tensor_min_all(const Tensor *t);
/** @brief Index of the max along @p dim (first on ties). */
STRATA_API Tensor *tensor_argmax(const Tensor *t, int dim, bool keepdim);
/** @brief Index of the min along @p dim (first on ties). */
STRATA_API Tensor *tensor_argmin(const Tensor *t, int dim, bool keepdim);
/** @brief Softmax along @p dim, stable (exp(t - max) / sum). */
STRATA_API Tensor *tensor_softmax(const Tensor *t, int dim);
/** @brief log(softmax(t)) along @p dim, computed as t - logsumexp(t). */
STRATA_API Tensor *tensor_log_softmax(const Tensor *t, int dim);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Matrix products
 *  @{ */

/**
 * @brief Matrix product with torch.matmul's rules: 1-D x 1-D is a dot product; 2-D x 2-D
 *        a matrix product; a 1-D operand is promoted (and the added dim removed after);
 *        batch dims broadcast. Runs on cblas_sgemm; an operand that is a transposed or
 *        otherwise BLAS-compatible strided view is passed without copying.
 * @return A new tensor, or NULL with "tensor_matmul: shapes [..] and [..] do not align".
 */
STRATA_API Tensor *tensor_matmul(const Tensor *a, const Tensor *b);

/**
 * @brief A pass over a rectangle of a product's output that tensor_matmul_then() runs
 *        right after computing it: rows [row0, row1) and columns [col0, col1).
 * @param ctx the caller's context, shared by every band (it must not write to it: bands
 *        run at the same time on several threads).
 * @param out the output matrix the band belongs to, row-major with @p ld floats per row
 *        (a batched product's matrices come one at a time or stacked as more rows).
 * @param ld floats per row of @p out: the product's column count.
 * @param row0, row1 the band's rows.
 * @param col0, col1 the band's columns.
 */
typedef void (*TensorBandFn)(void *ctx, float *out, int64_t ld, int64_t row0, int64_t row1,
                             int64_t col0, int64_t col1);

/**
 * @brief tensor_matmul(), with @p then run on each band of the output once it is
 *        computed, on the thread that computed it, while the band is in that core's
 *        cache (a bias and an activation added there cost no second trip through
 *        memory). The product's bits are tensor_matmul()'s; every output element is in
 *        exactly one band.
 * @param a, b the operands, as tensor_matmul().
 * @param then the pass (NULL: the plain product).
 * @param ctx passed to @p then.
 * @return A new tensor, or NULL with tensor_matmul()'s errors (the message names
 *         tensor_matmul_then).
 */
STRATA_API Tensor *tensor_matmul_then(const Tensor *a, const Tensor *b, TensorBandFn then,
                                      void *ctx);

/**
 * @brief The naive triple loop (double accumulation) for 2-D operands: the reference
 *        the tests compare tensor_matmul() against. Slow; not for training.
 */
STRATA_API Tensor *tensor_matmul_naive(const Tensor *a, const Tensor *b);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Indexing, joining
 *  @{ */

/** @brief Rows of @p t along @p dim picked by the 1-D @p index (torch.index_select). */
STRATA_API Tensor *tensor_index_select(const Tensor *t, int dim, const Tensor *index);
/** @brief out[i][j] = t[index[i][j]][j] for dim 0, and so on (torch.gather). */
STRATA_API Tensor *tensor_gather(const Tensor *t, int dim, const Tensor *index);
/**
 * @brief A copy of @p t with @p src added at @p index along @p dim
 *        (out-of-place torch.scatter_add: out[index[i][j]][j] += src[i][j] for dim 0).
 */
STRATA_API Tensor *tensor_scatter_add(const Tensor *t, int dim, const Tensor *index, const Tensor *src);
/**
 * @brief One-hot encoding: shape of @p index plus a last dim of @p num_classes
 *        (-1: max index + 1). Indices outside [0, num_classes) are an error.
 */
STRATA_API Tensor *tensor_one_hot(const Tensor *index, int64_t num_classes);
/** @brief A copy of @p t with @p value where @p mask (broadcast to t) is nonzero. */
STRATA_API Tensor *tensor_masked_fill(const Tensor *t, const Tensor *mask, float value);
/** @brief Join @p n tensors along existing dim @p dim (other sizes must match). */
STRATA_API Tensor *tensor_cat(Tensor *const *tensors, int n, int dim);
/** @brief Join @p n same-shaped tensors along a new dim @p dim. */
STRATA_API Tensor *tensor_stack(Tensor *const *tensors, int n, int dim);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Convolution and pooling helpers
 *  Inputs are [N, C, H, W]. Output size along H is
 *  floor((H + 2*padding - dilation*(kernel-1) - 1) / stride) + 1, likewise for W.
 *  @{ */

/** The geometry of a 2-D sliding window. */
typedef struct Window2d {
    int kernel_h;   /**< window height */
    int kernel_w;   /**< window width */
    int stride_h;   /**< vertical step between windows (>= 1) */
    int stride_w;   /**< horizontal step between windows (>= 1) */
    int padding_h;  /**< zero rows added above and below (>= 0) */
    int padding_w;  /**< zero columns added left and right (>= 0) */
    int dilation_h; /**< vertical spacing between window taps (>= 1) */
    int dilation_w; /**< horizontal spacing between window taps (>= 1) */
} Window2d;

/** @brief A square window: kernel k, the given stride and padding, dilation 1. */
STRATA_API Window2d window2d(int kernel, int stride, int padding);

/**
 * @brief Unfold sliding windows into columns (torch.nn.functional.unfold).
 * @return [N, C*kh*kw, L] where L = out_h * out_w; row c*kh*kw + i*kw + j holds tap (i, j)
 *         of channel c. NULL if the window does not fit.
 */
STRATA_API Tensor *tensor_im2col(const Tensor *input, Window2d w);
/**
 * @brief The adjoint of tensor_im2col(): sum columns back into an image
 *        (torch.nn.functional.fold) of [N, C, height, width].
 */
STRATA_API Tensor *tensor_col2im(const Tensor *cols, int64_t channels, int64_t height, int64_t width,
                                 Window2d w);
/**
 * @brief 2-D convolution (cross-correlation, as PyTorch) by im2col and one GEMM per
 *        chunk of images. The reference computes 3x3 convolutions of stride 1 and
 *        dilation 1 with at least 16 input and output channels by Winograd's
 *        F(2x2, 3x3) instead (2.25x fewer multiplies; same values within float
 *        rounding).
 * @param[in] input [N, C_in, H, W]
 * @param[in] weight [C_out, C_in, kh, kw] (kh, kw must match @p w)
 * @param[in] bias [C_out] or NULL
 * @param[in] w the window (stride, padding, dilation).
 * @return [N, C_out, out_h, out_w]
 */
STRATA_API Tensor *tensor_conv2d(const Tensor *input, const Tensor *weight, const Tensor *bias,
                                 Window2d w);
/**
 * @brief The gradients of tensor_conv2d(), from the gradient of its output. With
 *        cols = im2col(input) [N, K, L] (K = C_in*kh*kw, L = out_h*out_w), weight as
 *        W [C_out, K] and grad_output as g [N, C_out, L]:
 *        grad_weight = sum_n g[n] cols[n]^T, grad_input = col2im(W^T g[n]) for each n,
 *        grad_bias = g summed over N, out_h and out_w. The batch runs in chunks of images
 *        spread over strata_get_num_threads() threads. Convolutions tensor_conv2d()
 *        computes by Winograd get their input and weight gradients the same way.
 * @param[in] grad_output [N, C_out, out_h, out_w]
 * @param[in] input the forward pass's input [N, C_in, H, W].
 * @param[in] weight the forward pass's weight [C_out, C_in, kh, kw].
 * @param[in] w the forward pass's window.
 * @param[out] grad_input receives a new [N, C_in, H, W] tensor; NULL skips it.
 * @param[out] grad_weight receives a new tensor shaped like @p weight; NULL skips it.
 * @param[out] grad_bias receives a new [C_out] tensor; NULL skips it.
 * @return 0, or -1 with an error (NULL argument, shapes that do not fit, no memory);
 *         then every requested output is set to NULL.
 */
STRATA_API int tensor_conv2d_backward(const Tensor *grad_output, const Tensor *input,
                                      const Tensor *weight, Window2d w, Tensor **grad_input,
                                      Tensor **grad_weight, Tensor **grad_bias);
/**
 * @brief Max pooling; padding counts as -inf. Each window is scanned in row-major
 *        order of its taps (top row first, left to right) and a larger value or a NaN
 *        takes over, as PyTorch's CPU kernel: a tie keeps the first of the equal values
 *        (after a ReLU, a window of zeros picks its first position inside the plane),
 *        and a window holding only -inf picks its first tap inside the plane (never a
 *        padded position).
 * @param[in] input [N, C, H, W]
 * @param[in] w the window.
 * @param[out] indices if not NULL, receives for each output the flat index h*W + w of
 *             the chosen input element within its [H, W] plane (as PyTorch).
 * @return [N, C, out_h, out_w]
 */
STRATA_API Tensor *tensor_max_pool2d(const Tensor *input, Window2d w, Tensor **indices);
/**
 * @brief Gradient of max pooling: route each @p grad_output element to the input
 *        position @p indices names. @p input_shape is [N, C, H, W].
 */
STRATA_API Tensor *tensor_max_pool2d_backward(const Tensor *grad_output, const Tensor *indices,
                                              const int64_t *input_shape);
/**
 * @brief Max pooling of ReLU(@p input) in one pass, equal bit for bit to
 *        tensor_max_pool2d(tensor_relu(input), w, indices) without making the ReLU'd
 *        copy (fused for the 2x2, stride-2 window; any other runs the two ops).
 * @param[in] input [N, C, H, W]
 * @param[in] w the window.
 * @param[out] indices receives the chosen positions, as tensor_max_pool2d() (required:
 *             backward needs them).
 * @return [N, C, out_h, out_w], or NULL with an error.
 */
STRATA_API Tensor *tensor_relu_max_pool2d(const Tensor *input, Window2d w,
                                          Tensor **indices);
/**
 * @brief Gradient of tensor_relu_max_pool2d(): each @p grad_output element goes to the
 *        input position @p indices names unless its @p pooled value is <= 0 (where
 *        ReLU's backward stops it; a NaN passes, as PyTorch's), as
 *        tensor_max_pool2d_backward() followed by ReLU's backward.
 * @param[in] grad_output, pooled, indices [N, C, out_h, out_w] each.
 * @param[in] input_shape [N, C, H, W] of the forward pass's input.
 * @return [N, C, H, W], or NULL with an error (shapes that differ, an index outside
 *         its plane).
 */
STRATA_API Tensor *tensor_relu_max_pool2d_backward(const Tensor *grad_output,
                                                   const Tensor *pooled,
                                                   const Tensor *indices,
                                                   const int64_t *input_shape);
/**
 * @brief A convolution, then ReLU and max pooling, in one pass: equal bit for bit to
 *        tensor_relu_max_pool2d(tensor_conv2d(input, weight, bias, conv), pool,
 *        indices), without writing the convolution's output whole (fused for the 2x2,
 *        stride-2 pooling window: each few images' output is pooled while it is in
 *        cache; any other window runs the two ops).
 * @param[in] input, weight, bias, conv as tensor_conv2d().
 * @param[in] pool the pooling window.
 * @param[out] indices receives the chosen positions within the convolution's output
 *             planes, as tensor_max_pool2d() (required: backward needs them).
 * @return [N, C_out, out_h, out_w] pooled, or NULL with an error.
 */
STRATA_API Tensor *tensor_conv2d_relu_max_pool2d(const Tensor *input, const Tensor *weight,
                                                 const Tensor *bias, Window2d conv,
                                                 Window2d pool, Tensor **indices);
/**
 * @brief Gradients of tensor_conv2d_relu_max_pool2d(): equal bit for bit to
 *        tensor_relu_max_pool2d_backward() into the convolution's output shape, then
 *        tensor_conv2d_backward(), without writing the convolution's output gradient
 *        whole where the convolution allows (Winograd's 2x2 tiles are the windows).
 * @param[in] grad_output, pooled, indices [N, C_out, out_h, out_w] each: the pooled
 *            gradient, and the forward's pooled values and chosen positions.
 * @param[in] input, weight, conv the forward's convolution operands.
 * @param[out] grad_input, grad_weight, grad_bias receive the gradients as
 *             tensor_conv2d_backward() (each may be NULL when not wanted).
 * @return 0, or -1 with an error (shapes that differ, an index outside its plane).
 */
STRATA_API int tensor_conv2d_relu_max_pool2d_backward(const Tensor *grad_output,
                                                      const Tensor *pooled,
                                                      const Tensor *indices,
                                                      const Tensor *input,
                                                      const Tensor *weight, Window2d conv,
                                                      Tensor **grad_input,
                                                      Tensor **grad_weight,
                                                      Tensor **grad_bias);
/**
 * @brief Average pooling; the divisor counts padded zeros (PyTorch's default
 *        count_include_pad=True).
 */
STRATA_API Tensor *tensor_avg_pool2d(const Tensor *input, Window2d w);
/** @brief Gradient of average pooling for an input of @p input_shape [N, C, H, W]. */
STRATA_API Tensor *tensor_avg_pool2d_backward(const Tensor *grad_output, const int64_t *input_shape,
                                              Window2d w);
/** @} */

/* ------------------------------------------------------------------------------------ */
/** @name Printing
 *  @{ */

/**
 * @brief PyTorch's text for the tensor (torch/_tensor_str.py with default options),
 *        e.g. "tensor([[1.5000, 2.0000],\n        [3.0000, 4.0000]])". As in PyTorch,
 *        all-integer values print as "1.", a wide range or tiny values switch to
 *        "1.0000e-05", a 0-d tensor is "tensor(3.5000)", an empty one "tensor([])"
 *        (with ", size=(0, 3)" when not 1-D), and tensors over 1000 elements are
 *        elided with "..." (3 items at each edge of every dim).
 * @return A string the caller frees with strata_free(), or NULL with an error.
 */
STRATA_API char *tensor_repr(const Tensor *t);
/** @brief Write tensor_repr() and a newline to @p stream. @return 0 or -1. */
STRATA_API int tensor_fprint(FILE *stream, const Tensor *t);
/** @brief tensor_fprint() to stdout. */
STRATA_API int tensor_print(const Tensor *t);
/** @} */

/** @} */ /* end of group tensor */

#ifdef __cplusplus
}
#endif

#endif /* STRATA_TENSOR_H */
