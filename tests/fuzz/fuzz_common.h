/*
 * fuzz_common.h - shared by the libFuzzer harnesses: the parsers under test read files,
 * so each input is written to a private temporary file first.
 */
#ifndef STRATA_FUZZ_COMMON_H
#define STRATA_FUZZ_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* Write @p data to a per-process file and return its path (static buffer). */
static const char *fuzz_write_file(const uint8_t *data, size_t size, const char *suffix)
{
    static char path[256];
    /* /dev/shm when there is one: a file per input is slow on a disk-backed /tmp */
    snprintf(path, sizeof path, "%s/strata-fuzz-%ld%s",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp", (long)getpid(), suffix);
    FILE *f = fopen(path, "wb");
    if (!f)
        abort(); /* the harness itself is broken, not the parser */
    if (size && fwrite(data, 1, size, f) != size)
        abort();
    fclose(f);
    return path;
}

#endif
