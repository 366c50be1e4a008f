/*
 * io.c - the file calls strata makes, behind one small set of wrappers, so a test can
 * make any of them fail on purpose (docs/bad-input.md, "Fault injection").
 *
 * Every wrapper first counts one I/O point; the point chosen with strata_io_fail_at()
 * then fails the way real files fail: a write that stops half way (a full disk), a
 * read that ends early (a file cut short), or an error with nothing moved (ENOSPC,
 * EIO). Without injection each wrapper is the C library call it names.
 */
#include "tensor_internal.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static atomic_size_t io_points;
static atomic_size_t io_fail_at;
static atomic_int io_fault = STRATA_IO_OK;
static atomic_bool io_fail_persistent;

void strata_io_fail_at(size_t n, StrataIoFault fault, bool persistent)
{
    atomic_store(&io_fail_at, 0); /* disarmed while the counter restarts */
    atomic_store(&io_points, 0);
    atomic_store(&io_fault, (int)fault);
    atomic_store(&io_fail_persistent, persistent);
    atomic_store(&io_fail_at, fault == STRATA_IO_OK ? 0 : n);
}

size_t strata_io_points(void) { return atomic_load(&io_points); }

StrataIoFault strata_io_point(void)
{
    size_t k = atomic_fetch_add(&io_points, 1) + 1;
    size_t at = atomic_load(&io_fail_at);
    if (at != 0 && (k == at || (k > at && atomic_load(&io_fail_persistent))))
        return (StrataIoFault)atomic_load(&io_fault);
    return STRATA_IO_OK;
}

int strata_io_errno(StrataIoFault fault)
{
    /* a short write is what a full disk gives; other calls cannot be "short" */
    return fault == STRATA_IO_ENOSPC || fault == STRATA_IO_SHORT ? ENOSPC : EIO;
}

FILE *strata_fopen(const char *path, const char *mode)
{
    StrataIoFault fault = strata_io_point();
    if (fault != STRATA_IO_OK) {
        errno = fault == STRATA_IO_ENOSPC ? ENOSPC : EIO;
        return NULL;
    }
    return fopen(path, mode);
}

int strata_fwrite(const void *data, size_t n, FILE *f)
{
    StrataIoFault fault = strata_io_point();
    if (fault == STRATA_IO_SHORT) {
        fwrite(data, 1, n / 2, f); /* half of it reaches the file */
        errno = ENOSPC;
        return -1;
    }
    if (fault != STRATA_IO_OK) {
        errno = strata_io_errno(fault);
        return -1;
    }
    if (n && fwrite(data, 1, n, f) != n)
        return -1; /* errno from the C library */
    return 0;
}

size_t strata_fread(void *data, size_t n, FILE *f)
{
    StrataIoFault fault = strata_io_point();
    if (fault == STRATA_IO_SHORT)
        return fread(data, 1, n / 2, f); /* as if the file ended half way */
    if (fault != STRATA_IO_OK) {
        errno = EIO;
        return 0;
    }
    return fread(data, 1, n, f);
}

ptrdiff_t strata_getline(char **line, size_t *capacity, FILE *f)
{
    StrataIoFault fault = strata_io_point();
    if (fault != STRATA_IO_OK) { /* a text line cut short could still parse: an error */
        errno = EIO;
        return -2;
    }
    /* getline() without its malloc: the line lives on the counting allocator (the
     * caller frees it with strata_free()), so it is counted, and a test can make its
     * growth fail like any other allocation. One lock for the whole line, as getline(). */
    size_t len = 0;
    int c = EOF;
    bool out_of_memory = false;
    errno = 0;
    flockfile(f);
    while ((c = getc_unlocked(f)) != EOF) {
        if (len + 2 > *capacity || !*line) { /* room for c and the NUL */
            size_t cap = *capacity >= 64 ? 2 * *capacity : 128;
            char *grown = strata_realloc(*line, cap);
            if (!grown) {
                out_of_memory = true;
                break;
            }
            *line = grown;
            *capacity = cap;
        }
        (*line)[len++] = (char)c;
        if (c == '\n')
            break;
    }
    bool failed = ferror(f) != 0;
    funlockfile(f);
    if (out_of_memory) {
        errno = ENOMEM; /* strata_malloc's "out of memory" message is in the slot */
        return -2;
    }
    if (failed) {
        if (errno == 0)
            errno = EIO;
        return -2;
    }
    if (len == 0)
        return -1; /* the end of the file */
    (*line)[len] = '\0';
    return (ptrdiff_t)len;
}

int strata_fflush(FILE *f)
{
    StrataIoFault fault = strata_io_point();
    if (fault != STRATA_IO_OK) {
        errno = strata_io_errno(fault);
        return EOF;
    }
    return fflush(f);
}

int strata_fclose(FILE *f)
{
    StrataIoFault fault = strata_io_point();
    int rc = fclose(f); /* the stream is gone either way, as with a real failure */
    if (fault != STRATA_IO_OK) {
        errno = strata_io_errno(fault);
        return EOF;
    }
    return rc;
}

int strata_rename(const char *from, const char *to)
{
    StrataIoFault fault = strata_io_point();
    if (fault != STRATA_IO_OK) {
        errno = fault == STRATA_IO_ENOSPC ? ENOSPC : EIO;
        return -1;
    }
    return rename(from, to);
}

const char *strata_strerror(int err)
{
    return err == ENOMEM ? "out of memory" : strerror(err);
}
