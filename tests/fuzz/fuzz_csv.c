/*
 * fuzz_csv.c - libFuzzer harness for data_csv_load, the CSV dataset reader.
 * The first byte picks the options (label by index or by name, the delimiter); the rest
 * is the file. Any input must give a dataset or NULL with a message.
 */
#include "fuzz_common.h"
#include "optim.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    DataCsvOptions opts = {0};
    if (size > 0) {
        uint8_t sel = data[0];
        data++;
        size--;
        opts.label_index = (int)(sel & 7) - 4;                      /* -4..3 */
        opts.label_column = (sel & 8) ? "label" : NULL;
        opts.delimiter = (sel & 16) ? ';' : ((sel & 32) ? '\t' : '\0');
    }
    const char *path = fuzz_write_file(data, size, ".csv");
    strata_clear_error();
    Dataset *ds = data_csv_load(path, &opts);
    if (!ds && strata_last_error()[0] == '\0')
        abort();
    if (ds) {
        /* what was loaded must be consistent */
        Tensor *x = data_dataset_inputs(ds), *y = data_dataset_targets(ds);
        if (!x || !y || x->shape[0] != data_dataset_size(ds) || y->shape[0] != x->shape[0])
            abort();
    }
    data_dataset_free(ds);
    unlink(path);
    return 0;
}
