/*
 * test_data.c - the IDX reader on files the tests write (raw and gzip, valid and
 * malformed), MNIST-style loading, and the DataLoader.
 */
#include "helpers.h"

#include <sys/stat.h>
#include <zlib.h>

/* Write @p n bytes to @p path, gzip-compressed when @p gz. */
static void write_bytes(const char *path, const unsigned char *bytes, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot create %s", path);
        if (n)
            ck_assert_int_eq(gzwrite(f, bytes, (unsigned)n), (int)n);
        ck_assert_int_eq(gzclose(f), Z_OK);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert_msg(f != NULL, "cannot create %s", path);
        ck_assert_uint_eq(fwrite(bytes, 1, n, f), n);
        fclose(f);
    }
}

/* An IDX uint8 file: magic 00 00 08 ndim, big-endian dims, then @p count data bytes
 * (which may differ from the product of the dims, to make malformed files). */
static size_t idx_u8(unsigned char *buf, const uint32_t *dims, int ndim, size_t count)
{
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = 0x08;
    buf[k++] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++) {
        buf[k++] = (unsigned char)(dims[d] >> 24);
        buf[k++] = (unsigned char)(dims[d] >> 16);
        buf[k++] = (unsigned char)(dims[d] >> 8);
        buf[k++] = (unsigned char)dims[d];
    }
    for (size_t i = 0; i < count; i++)
        buf[k++] = (unsigned char)(i * 7 % 256);
    return k;
}

START_TEST(test_idx_valid_raw_and_gzip)
{
    Scope *s = scope_begin();
    char path[512];
    unsigned char buf[256];
    const uint32_t dims[3] = {3, 2, 2};
    size_t n = idx_u8(buf, dims, 3, 12);
    for (int gz = 0; gz < 2; gz++) {
        tmp_path(path, sizeof path, gz ? "u8.idx.gz" : "u8.idx");
        write_bytes(path, buf, n, gz);
        Tensor *t = data_read_idx(path);
        ck_assert_msg(t != NULL, "data_read_idx(%s): %s", path, strata_last_error());
        ck_assert_int_eq(t->ndim, 3);
        ck_assert_int_eq(t->shape[0], 3);
        ck_assert_int_eq(t->shape[1], 2);
        ck_assert_int_eq(t->shape[2], 2);
        for (int i = 0; i < 12; i++) /* byte i is i*7 mod 256, as a float */
            ck_assert_float_eq(t->data[i], (float)(i * 7 % 256));
        remove(path);
    }
    /* int16 and float32 are big-endian: 0xFF 0xFE is -2; 0x3F 0xC0 0 0 is 1.5 */
    const unsigned char i16[] = {0, 0, 0x0B, 1, 0, 0, 0, 2, 0xFF, 0xFE, 0x01, 0x00};
    tmp_path(path, sizeof path, "i16.idx.gz");
    write_bytes(path, i16, sizeof i16, true);
    Tensor *t = data_read_idx(path);
    ck_assert_msg(t != NULL, "data_read_idx: %s", strata_last_error());
    ck_assert_float_eq(t->data[0], -2.0f);
    ck_assert_float_eq(t->data[1], 256.0f);
    remove(path);
    const unsigned char f32[] = {0, 0, 0x0D, 1, 0, 0, 0, 1, 0x3F, 0xC0, 0, 0};
    tmp_path(path, sizeof path, "f32.idx");
    write_bytes(path, f32, sizeof f32, false);
    t = data_read_idx(path);
    ck_assert_msg(t != NULL, "data_read_idx: %s", strata_last_error());
    ck_assert_float_eq(t->data[0], 1.5f);
    remove(path);
    /* int32 and float64, big-endian too: 0xFFFFFFFD is -3; 0xBFD8 0... is -0.375
     * (sign 1, exponent 0x3FD = 1023 - 2, fraction 0.5: -1.5 / 4) and 0x4004 0... is
     * 2.5 (exponent 0x400 = 1023 + 1, fraction 0.25: 1.25 * 2) */
    const unsigned char i32[] = {0, 0, 0x0C, 1, 0, 0, 0, 1, 0xFF, 0xFF, 0xFF, 0xFD};
    tmp_path(path, sizeof path, "i32.idx");
    write_bytes(path, i32, sizeof i32, false);
    t = data_read_idx(path);
    ck_assert_msg(t != NULL, "data_read_idx: %s", strata_last_error());
    ck_assert_float_eq(t->data[0], -3.0f);
    remove(path);
    const unsigned char f64[] = {0, 0, 0x0E, 1, 0, 0, 0, 2, 0xBF, 0xD8, 0, 0, 0, 0, 0, 0,
                                 0x40, 0x04, 0, 0, 0, 0, 0, 0};
    tmp_path(path, sizeof path, "f64.idx.gz");
    write_bytes(path, f64, sizeof f64, true);
    t = data_read_idx(path);
    ck_assert_msg(t != NULL, "data_read_idx: %s", strata_last_error());
    ck_assert_int_eq(t->shape[0], 2);
    ck_assert_float_eq(t->data[0], -0.375f);
    ck_assert_float_eq(t->data[1], 2.5f);
    remove(path);
    scope_end(s);
}
END_TEST

/* Write @p bytes, read it back, expect NULL and @p needle in the message. */
static void expect_malformed(const unsigned char *bytes, size_t n, bool gz, const char *needle)
{
    char path[512];
    tmp_path(path, sizeof path, gz ? "bad.idx.gz" : "bad.idx");
    write_bytes(path, bytes, n, gz);
    strata_clear_error();
    Tensor *t = data_read_idx(path);
    ck_assert_msg(t == NULL, "a malformed file (%s) was accepted", needle);
    ck_assert_error(needle);
    ck_assert_error("data_read_idx");
    ck_assert_error(path);
    remove(path);
}

START_TEST(test_idx_malformed)
{
    Scope *s = scope_begin();
    unsigned char buf[512];
    const uint32_t dims[2] = {4, 3};
    for (int gz = 0; gz < 2; gz++) {
        size_t n = idx_u8(buf, dims, 2, 12);
        buf[1] = 0x01; /* magic 00 01 08 02 */
        expect_malformed(buf, n, gz, "bad magic");
        n = idx_u8(buf, dims, 2, 12);
        buf[2] = 0x07; /* no such dtype */
        expect_malformed(buf, n, gz, "bad magic");
        n = idx_u8(buf, dims, 2, 5); /* 12 declared, 5 present */
        expect_malformed(buf, n, gz, "truncated");
        n = idx_u8(buf, dims, 2, 13); /* one byte too many */
        expect_malformed(buf, n, gz, "trailing");
        expect_malformed(buf, 2, gz, "truncated header");
        expect_malformed(buf, 1, gz, "truncated header");
        expect_malformed(buf, 0, gz, "data_read_idx"); /* an empty file: any message naming it */
        /* sizes whose product (257 x 4294967295 bytes) the file cannot hold: refused with
         * a message, whatever it says ("truncated", "too large", out of memory) */
        const uint32_t huge[2] = {257, 0xFFFFFFFFu};
        n = idx_u8(buf, huge, 2, 0);
        memset(buf + n, 7, 257);
        char path[512];
        tmp_path(path, sizeof path, "huge.idx");
        write_bytes(path, buf, n + 257, gz);
        strata_clear_error();
        ck_assert_msg(data_read_idx(path) == NULL, "a file declaring 1.1 TB was accepted");
        ck_assert_msg(strata_last_error()[0] != '\0', "refused without a message");
        remove(path);
        const uint32_t many[5] = {1, 1, 1, 1, 1};
        n = idx_u8(buf, many, 5, 1);
        expect_malformed(buf, n, gz, "5 dims");
        const uint32_t zero[2] = {0, 3};
        n = idx_u8(buf, zero, 2, 0);
        expect_malformed(buf, n, gz, "size 0");
    }
    ck_assert_ptr_null(data_read_idx("/nonexistent/strata/file.idx"));
    ck_assert_error("cannot open");
    scope_end(s);
}
END_TEST

/* Make dir/train-*.gz with @p n 2x2 images (pixel values 0, 51, 102, 255) and
 * @p labels_n labels 0..labels_n-1. */
static void make_mnist_dir(const char *dir, uint32_t n, uint32_t labels_n)
{
    mkdir(dir, 0700);
    char path[600];
    unsigned char buf[512];
    const uint32_t dims[3] = {n, 2, 2};
    size_t k = idx_u8(buf, dims, 3, 0);
    for (uint32_t i = 0; i < n; i++) {
        buf[k++] = 0;
        buf[k++] = 51;
        buf[k++] = 102;
        buf[k++] = 255;
    }
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_bytes(path, buf, k, true);
    k = idx_u8(buf, &labels_n, 1, 0);
    for (uint32_t i = 0; i < labels_n; i++)
        buf[k++] = (unsigned char)(i % 10);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir); /* plain, no .gz */
    write_bytes(path, buf, k, false);
}

static void remove_mnist_dir(const char *dir)
{
    char path[600];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    remove(path);
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    remove(path);
    rmdir(dir);
}

START_TEST(test_mnist_load)
{
    Scope *s = scope_begin();
    char dir[512];
    tmp_path(dir, sizeof dir, "mnist");
    make_mnist_dir(dir, 5, 5);
    Dataset *ds = data_mnist_load(dir, true, NULL);
    ck_assert_msg(ds != NULL, "data_mnist_load: %s", strata_last_error());
    ck_assert_int_eq(data_dataset_size(ds), 5);
    Tensor *x = data_dataset_inputs(ds), *y = data_dataset_targets(ds);
    ck_assert_int_eq(x->ndim, 4); /* [5, 1, 2, 2] */
    ck_assert_int_eq(x->shape[1], 1);
    ck_assert_int_eq(x->shape[3], 2);
    ck_assert_close(x->data[1], 0.2, 1e-6); /* 51 / 255 */
    ck_assert_close(x->data[3], 1.0, 1e-6);
    ck_assert_float_eq(y->data[3], 3.0f);
    data_dataset_free(ds);
    /* flattened and standardized: (0.2 - 0.5) / 0.25 = -1.2; limit keeps 2 */
    DataMnistOptions o = {true, true, 0.5f, 0.25f, 2};
    ds = data_mnist_load(dir, true, &o);
    ck_assert_msg(ds != NULL, "data_mnist_load: %s", strata_last_error());
    x = data_dataset_inputs(ds);
    ck_assert_int_eq(x->ndim, 2);
    ck_assert_int_eq(x->shape[0], 2);
    ck_assert_int_eq(x->shape[1], 4);
    ck_assert_close(x->data[1], -1.2, 1e-5);
    data_dataset_free(ds);
    /* the test split is absent: a clear error with the fix */
    ck_assert_ptr_null(data_mnist_load(dir, false, NULL));
    ck_assert_error("dataset-fashion-mnist");
    ck_assert_error("t10k-images-idx3-ubyte");
    remove_mnist_dir(dir);
    /* image and label counts that differ */
    make_mnist_dir(dir, 5, 4);
    ck_assert_ptr_null(data_mnist_load(dir, true, NULL));
    ck_assert_error("4 labels");
    remove_mnist_dir(dir);
    /* A shuffled loader's batches hold the dataset's rows bit for bit (the loader may
     * make them from the pixels' bytes): every byte value, rows long enough for
     * vectorized code, standardized and flattened or plain images. */
    static unsigned char buf[16 + 40 * 36];
    const uint32_t dims[3] = {40, 6, 6}, labels_n = 40;
    mkdir(dir, 0700);
    char path[600];
    snprintf(path, sizeof path, "%s/train-images-idx3-ubyte.gz", dir);
    write_bytes(path, buf, idx_u8(buf, dims, 3, 40 * 36), true); /* bytes i * 7 % 256 */
    snprintf(path, sizeof path, "%s/train-labels-idx1-ubyte", dir);
    write_bytes(path, buf, idx_u8(buf, &labels_n, 1, 40), false);
    DataMnistOptions std_flat = {true, true, 0.2860f, 0.3530f, 0};
    for (int k = 0; k < 2; k++) {
        /* the expected rows come from a second copy: asking ds for its inputs would make
         * its loader copy them instead of making them from the bytes */
        Dataset *ref = data_mnist_load(dir, true, k ? &std_flat : NULL);
        ds = data_mnist_load(dir, true, k ? &std_flat : NULL);
        ck_assert_msg(ds && ref, "data_mnist_load: %s", strata_last_error());
        DataLoaderOptions lo = {16, true, 3, false};
        DataLoader *dl = data_loader_new(ds, &lo);
        ck_assert_ptr_nonnull(dl);
        Batch b;
        int64_t n, rows = 0;
        x = data_dataset_inputs(ref);
        y = data_dataset_targets(ref);
        while (data_loader_next(dl, &b)) {
            const int64_t *order = data_loader_order(dl, &n);
            const float *bx = var_data(b.x)->data;
            for (int64_t r = 0; r < b.size; r++, rows++) {
                int64_t idx = order[b.index * 16 + r];
                ck_assert_msg(memcmp(bx + r * 36, x->data + idx * 36, 36 * sizeof(float)) == 0,
                              "batch %lld row %lld is not example %lld", (long long)b.index,
                              (long long)r, (long long)idx);
                ck_assert_float_eq(b.y->data[r], y->data[idx]);
            }
        }
        ck_assert_int_eq(rows, 40);
        data_loader_free(dl);
        /* inputs handed out may be changed in place: the next batches show the change */
        Tensor *own = data_dataset_inputs(ds);
        own->data[5 * 36 + 7] = 1234.0f;
        DataLoaderOptions in_order = {40, false, 1, false};
        dl = data_loader_new(ds, &in_order);
        ck_assert_msg(dl && data_loader_next(dl, &b), "data_loader_next: %s", strata_last_error());
        ck_assert_float_eq(var_data(b.x)->data[5 * 36 + 7], 1234.0f);
        ck_assert_float_eq(var_data(b.x)->data[5 * 36 + 6], x->data[5 * 36 + 6]);
        data_loader_free(dl);
        data_dataset_free(ds);
        data_dataset_free(ref);
    }
    remove_mnist_dir(dir);
    scope_end(s);
}
END_TEST

/* A dataset of n examples: x[i] = [i, 10 i], y[i] = i. */
static Dataset *counting_dataset(int64_t n)
{
    Tensor *x = tensor_empty((int64_t[]){n, 2}, 2);
    Tensor *y = tensor_empty(&n, 1);
    for (int64_t i = 0; i < n; i++) {
        x->data[2 * i] = (float)i;
        x->data[2 * i + 1] = (float)(10 * i);
        y->data[i] = (float)i;
    }
    Dataset *ds = data_tensor_dataset_new(x, y);
    ck_assert_msg(ds != NULL, "data_tensor_dataset_new: %s", strata_last_error());
    return ds;
}

START_TEST(test_loader_batches_and_drop_last)
{
    Scope *s = scope_begin();
    Dataset *ds = counting_dataset(10);
    DataLoaderOptions o = {4, false, 0, false};
    DataLoader *dl = data_loader_new(ds, &o);
    ck_assert_msg(dl != NULL, "data_loader_new: %s", strata_last_error());
    ck_assert_int_eq(data_loader_num_batches(dl), 3);
    const int64_t sizes[3] = {4, 4, 2};
    for (int epoch = 0; epoch < 2; epoch++) {
        Batch b;
        int count = 0;
        while (data_loader_next(dl, &b)) {
            ck_assert_int_lt(count, 3);
            ck_assert_int_eq(b.size, sizes[count]);
            ck_assert_int_eq(b.index, count);
            ck_assert_int_eq(var_data(b.x)->shape[0], sizes[count]);
            ck_assert_int_eq(var_data(b.x)->shape[1], 2);
            ck_assert(!b.x->requires_grad);
            for (int64_t i = 0; i < b.size; i++) { /* in order without shuffling */
                ck_assert_float_eq(b.y->data[i], (float)(4 * count + i));
                ck_assert_float_eq(var_data(b.x)->data[2 * i + 1], (float)(10 * (4 * count + i)));
            }
            count++;
        }
        ck_assert_int_eq(count, 3);
        ck_assert_int_eq(data_loader_epoch(dl), epoch + 1);
    }
    data_loader_free(dl);
    /* drop_last drops the short batch */
    o.drop_last = true;
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_num_batches(dl), 2);
    Batch b;
    int count = 0;
    while (data_loader_next(dl, &b)) {
        ck_assert_int_eq(b.size, 4);
        count++;
    }
    ck_assert_int_eq(count, 2);
    data_loader_free(dl);
    o.batch_size = 0;
    ck_assert_ptr_null(data_loader_new(ds, &o));
    ck_assert_error("batch_size");
    data_dataset_free(ds);
    /* targets of several columns (a regression's [N, 3]) are gathered row by row too */
    Tensor *x3 = tensor_empty((int64_t[]){5, 2}, 2), *y3 = tensor_empty((int64_t[]){5, 3}, 2);
    ck_assert(x3 && y3);
    for (int i = 0; i < 10; i++)
        x3->data[i] = (float)i;
    for (int i = 0; i < 15; i++)
        y3->data[i] = (float)(100 + i);
    ds = data_tensor_dataset_new(x3, y3);
    ck_assert_msg(ds != NULL, "data_tensor_dataset_new: %s", strata_last_error());
    o.batch_size = 2;
    o.shuffle = true;
    o.seed = 4;
    o.drop_last = false;
    dl = data_loader_new(ds, &o);
    ck_assert_ptr_nonnull(dl);
    int64_t seen = 0;
    while (data_loader_next(dl, &b)) {
        ck_assert_int_eq(b.y->ndim, 2);
        ck_assert_int_eq(b.y->shape[1], 3);
        for (int64_t i = 0; i < b.size; i++, seen++) {
            int64_t row = (int64_t)var_data(b.x)->data[2 * i] / 2; /* which example */
            for (int c = 0; c < 3; c++)
                ck_assert_msg(b.y->data[3 * i + c] == (float)(100 + 3 * row + c),
                              "batch %lld, row %lld (example %lld): target column %d is %g, "
                              "expected %g", (long long)b.index, (long long)i, (long long)row,
                              c, (double)b.y->data[3 * i + c], (double)(100 + 3 * row + c));
        }
    }
    ck_assert_int_eq(seen, 5);
    data_loader_free(dl);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* The labels of one epoch, in order, into out[0..n-1]. */
static void epoch_order(DataLoader *dl, float *out, int64_t n)
{
    Batch b;
    int64_t k = 0;
    while (data_loader_next(dl, &b))
        for (int64_t i = 0; i < b.size; i++) {
            ck_assert_int_lt(k, n);
            out[k++] = b.y->data[i];
            /* x follows y: x[i] = [y, 10 y] */
            ck_assert_float_eq(var_data(b.x)->data[2 * i], b.y->data[i]);
        }
    ck_assert_int_eq(k, n);
}

START_TEST(test_loader_seeded_shuffle)
{
    Scope *s = scope_begin();
    const int64_t n = 50;
    Dataset *ds = counting_dataset(n);
    DataLoaderOptions o = {8, true, 1234, false};
    DataLoader *a = data_loader_new(ds, &o), *b = data_loader_new(ds, &o);
    o.seed = 99;
    DataLoader *c = data_loader_new(ds, &o);
    ck_assert(a && b && c);
    float ea0[50], ea1[50], eb0[50], eb1[50], ec0[50];
    strata_manual_seed(7);
    uint64_t rng = strata_rng_get_state();
    epoch_order(a, ea0, n);
    epoch_order(a, ea1, n);
    ck_assert_msg(strata_rng_get_state() == rng, "the loader disturbed the global generator");
    strata_manual_seed(8); /* the global seed does not matter */
    epoch_order(b, eb0, n);
    epoch_order(b, eb1, n);
    epoch_order(c, ec0, n);
    ck_assert_msg(memcmp(ea0, eb0, sizeof ea0) == 0 && memcmp(ea1, eb1, sizeof ea1) == 0,
                  "the same seed gave different orders");
    ck_assert_msg(memcmp(ea0, ea1, sizeof ea0) != 0, "epochs 0 and 1 had the same order");
    ck_assert_msg(memcmp(ea0, ec0, sizeof ea0) != 0, "seeds 1234 and 99 gave the same order");
    /* coverage: each index exactly once per epoch, and actually shuffled */
    int seen[50] = {0};
    int moved = 0;
    for (int64_t i = 0; i < n; i++) {
        seen[(int)ea1[i]]++;
        moved += ea1[i] != (float)i;
    }
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(seen[i] == 1, "index %lld appeared %d times", (long long)i, seen[i]);
    ck_assert_int_gt(moved, 10);
    /* set_epoch replays an epoch */
    ck_assert_int_eq(data_loader_set_epoch(a, 1), 0);
    float again[50];
    epoch_order(a, again, n);
    ck_assert(memcmp(again, ea1, sizeof again) == 0);
    data_loader_free(a);
    data_loader_free(b);
    data_loader_free(c);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

START_TEST(test_loader_owns_its_batches)
{
    /* No scope is open around data_loader_next here: the batch still must not leak. */
    Scope *s = scope_begin();
    Dataset *ds = counting_dataset(9);
    scope_end(s);
    DataLoaderOptions o = {4, true, 5, false};
    DataLoader *dl = data_loader_new(ds, &o);
    ck_assert_ptr_nonnull(dl);
    size_t live = strata_mem_stats().bytes_live;
    Batch b;
    ck_assert(data_loader_next(dl, &b));
    ck_assert(data_loader_next(dl, &b)); /* the first batch is released here */
    data_loader_free(dl);                /* and the second here */
    ck_assert_uint_le(strata_mem_stats().bytes_live, live);
    data_dataset_free(ds);
}
END_TEST

void add_data_tests(Suite *s)
{
    GRADED(s, test_idx_valid_raw_and_gzip, 3);
    GRADED(s, test_idx_malformed, 4);
    GRADED(s, test_mnist_load, 3);
    GRADED(s, test_loader_batches_and_drop_last, 3);
    GRADED(s, test_loader_seeded_shuffle, 3);
    GRADED(s, test_loader_owns_its_batches, 1);
}
