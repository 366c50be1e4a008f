/*
 * fuzz_idx.c - libFuzzer harness for data_read_idx, the IDX (MNIST) reader.
 * Inputs are read both as raw IDX and, through zlib, as gzip when they start with the
 * gzip magic. Any input must give a tensor or NULL with a message.
 */
#include "fuzz_common.h"
#include "optim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write_file(data, size, ".idx");
    strata_clear_error();
    Tensor *t = data_read_idx(path);
    if (!t && strata_last_error()[0] == '\0')
        abort();
    tensor_release(t);
    unlink(path);
    return 0;
}
