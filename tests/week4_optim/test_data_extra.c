/*
 * test_data_extra.c - the CSV dataset, transforms, samplers and collate functions, and
 * the IDX image dataset.
 */
#include "helpers.h"

#include <zlib.h>

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "cannot create %s", path);
    fputs(text, f);
    fclose(f);
}

/* Load @p text as CSV and expect failure with @p needle in the message. */
static void expect_csv_error(const char *text, const DataCsvOptions *o, const char *needle)
{
    char path[512];
    tmp_path(path, sizeof path, "bad.csv");
    write_text(path, text);
    strata_clear_error();
    Dataset *ds = data_csv_load(path, o);
    ck_assert_msg(ds == NULL, "malformed CSV accepted (%s)", needle);
    ck_assert_error(needle);
    ck_assert_error("data_csv_load");
    remove(path);
}

START_TEST(test_csv_dataset)
{
    Scope *s = scope_begin();
    char path[512];
    tmp_path(path, sizeof path, "data.csv");
    write_text(path, "x1, label ,x2\n1.5,0,2\n\n -3 ,1, 4e1\r\n5,2,6\n");
    /* the label by name: x = [[1.5, 2], [-3, 40], [5, 6]], y = [0, 1, 2] */
    DataCsvOptions o = {"label", 0, ','};
    Dataset *ds = data_csv_load(path, &o);
    ck_assert_msg(ds != NULL, "data_csv_load: %s", strata_last_error());
    ck_assert_int_eq(data_dataset_size(ds), 3);
    Tensor *x = data_dataset_inputs(ds), *y = data_dataset_targets(ds);
    ck_assert_int_eq(x->shape[1], 2);
    const float want_x[6] = {1.5f, 2.0f, -3.0f, 40.0f, 5.0f, 6.0f};
    for (int i = 0; i < 6; i++)
        ck_assert_float_eq(x->data[i], want_x[i]);
    ck_assert_float_eq(y->data[2], 2.0f);
    data_dataset_free(ds);
    /* the default label is the last column */
    ds = data_csv_load(path, NULL);
    ck_assert_msg(ds != NULL, "data_csv_load: %s", strata_last_error());
    ck_assert_float_eq(data_dataset_targets(ds)->data[1], 40.0f);
    ck_assert_float_eq(data_dataset_inputs(ds)->data[3], 1.0f); /* row 1: [-3, 1] */
    data_dataset_free(ds);
    remove(path);
    /* malformed files: line numbers count the header as line 1 and blank lines too */
    expect_csv_error("a,b,c\n1,2,3\n4,5\n", NULL, "line 3: 2 fields, expected 3");
    expect_csv_error("a,b,c\n1,2,3\n\n4,abc,6\n", NULL, "line 4, column 'b': 'abc' is not a number");
    expect_csv_error("a,b,c\n1,,3\n", NULL, "column 'b'");
    expect_csv_error("a,b\n1,2\n", &(DataCsvOptions){"target", 0, ','}, "no column named 'target'");
    expect_csv_error("a,b\n", NULL, "no data rows");
    expect_csv_error("", NULL, "empty");
    ck_assert_ptr_null(data_csv_load("/nonexistent/x.csv", NULL));
    ck_assert_error("cannot open");
    scope_end(s);
}
END_TEST

/* A dataset of n 1x3x3 images, image i holding 9i + 0..8, label i. */
static Dataset *image_dataset(int64_t n)
{
    Tensor *x = tensor_empty((int64_t[]){n, 1, 3, 3}, 4);
    Tensor *y = tensor_empty(&n, 1);
    for (int64_t i = 0; i < n; i++) {
        for (int k = 0; k < 9; k++)
            x->data[9 * i + k] = (float)(9 * i + k + 1); /* +1: no zero pixels */
        y->data[i] = (float)i;
    }
    Dataset *ds = data_tensor_dataset_new(x, y);
    ck_assert_msg(ds != NULL, "data_tensor_dataset_new: %s", strata_last_error());
    return ds;
}

START_TEST(test_transforms_flip_normalize_flatten)
{
    Scope *s = scope_begin();
    Dataset *ds = image_dataset(4);
    DataTransform *parts[3] = {data_transform_random_hflip(1.0f),
                               data_transform_normalize(1.0f, 2.0f), data_transform_flatten()};
    DataTransform *t = data_transform_compose(parts, 3);
    ck_assert_msg(t != NULL, "compose: %s", strata_last_error());
    ck_assert_int_eq(data_dataset_set_transform(ds, t), 0);
    DataLoaderOptions o = {.batch_size = 4};
    DataLoader *dl = data_loader_new(ds, &o);
    Batch b;
    ck_assert(data_loader_next(dl, &b));
    Tensor *x = var_data(b.x);
    ck_assert_int_eq(x->ndim, 2); /* flattened: [4, 9] */
    ck_assert_int_eq(x->shape[1], 9);
    /* image 1 row 0 is [10, 11, 12]; flipped [12, 11, 10]; normalized (v - 1) / 2 */
    ck_assert_float_eq(x->data[9 + 0], 5.5f);
    ck_assert_float_eq(x->data[9 + 1], 5.0f);
    ck_assert_float_eq(x->data[9 + 2], 4.5f);
    /* the dataset itself is untouched */
    ck_assert_float_eq(data_dataset_inputs(ds)->data[9], 10.0f);
    data_loader_free(dl);
    /* a crop needs images: refused on flat examples (and the transform is freed) */
    Dataset *flat = data_tensor_dataset_new(tensor_zeros((int64_t[]){2, 5}, 2),
                                            tensor_zeros((int64_t[]){2}, 1));
    ck_assert_int_eq(data_dataset_set_transform(flat, data_transform_random_crop(1)), -1);
    ck_assert_error("random_crop");
    ck_assert_ptr_null(data_transform_normalize(0.0f, 0.0f));
    ck_assert_error("std");
    data_dataset_free(flat);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* data_transform_apply on one example, as the loader calls it: it rewrites the numel of
 * the shape it is given and nothing after (a guard row follows), returns 0, and a flip
 * mirrors every row of every plane, here 4 wide (3-wide rows keep their middle). */
START_TEST(test_transform_apply_one_example)
{
    Scope *s = scope_begin();
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)(i + 1); /* the example 1..8, [2, 1, 4]; the guard 9..16 */
    int64_t shape[3] = {2, 1, 4};
    int ndim = 3;
    uint64_t rng = 5;
    DataTransform *flip = data_transform_random_hflip(1.0f), *norm = data_transform_normalize(1.0f, 2.0f);
    ck_assert(flip && norm);
    ck_assert_int_eq(data_transform_apply(flip, x, shape, &ndim, &rng), 0);
    const float flipped[8] = {4, 3, 2, 1, 8, 7, 6, 5};
    for (int i = 0; i < 8; i++)
        ck_assert_msg(x[i] == flipped[i], "flip: element %d is %g, expected %g", i,
                      (double)x[i], (double)flipped[i]);
    ck_assert_int_eq(data_transform_apply(norm, x, shape, &ndim, &rng), 0);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(x[i] == (flipped[i] - 1.0f) / 2.0f, "normalize: element %d is %g", i,
                      (double)x[i]);
    ck_assert_int_eq(ndim, 3);
    ck_assert_int_eq(shape[0] * shape[1] * shape[2], 8);
    DataTransform *crop = data_transform_random_crop(0); /* a window of the whole image */
    ck_assert_ptr_nonnull(crop);
    ck_assert_int_eq(data_transform_apply(crop, x, shape, &ndim, &rng), 0);
    for (int i = 8; i < 16; i++)
        ck_assert_msg(x[i] == (float)(i + 1), "the element %d after the example was changed "
                      "to %g", i, (double)x[i]);
    data_transform_free(flip);
    data_transform_free(norm);
    data_transform_free(crop);
    scope_end(s);
}
END_TEST

START_TEST(test_random_crop_seeded)
{
    Scope *s = scope_begin();
    Dataset *ds = image_dataset(48);
    ck_assert_int_eq(data_dataset_set_transform(ds, data_transform_random_crop(1)), 0);
    DataLoaderOptions o = {.batch_size = 48, .shuffle = false, .seed = 3};
    DataLoader *a = data_loader_new(ds, &o), *b = data_loader_new(ds, &o);
    Batch ba, bb;
    ck_assert(data_loader_next(a, &ba));
    ck_assert(data_loader_next(b, &bb));
    const float *xa = var_data(ba.x)->data, *xb = var_data(bb.x)->data;
    ck_assert_msg(memcmp(xa, xb, 48 * 9 * sizeof(float)) == 0, "same seed, different crops");
    int shifted = 0;
    int rows_seen[3] = {0, 0, 0}, cols_seen[3] = {0, 0, 0}; /* offsets -1, 0, 1 */
    for (int i = 0; i < 48; i++) {
        /* the output must be the input shifted by some (oy, ox) in {-1, 0, 1}^2, zero
         * where the shift reaches outside */
        const float *img = xa + 9 * i;
        bool found = false;
        for (int oy = -1; oy <= 1 && !found; oy++)
            for (int ox = -1; ox <= 1 && !found; ox++) {
                bool ok = true;
                for (int r = 0; r < 3 && ok; r++)
                    for (int c = 0; c < 3 && ok; c++) {
                        int sr = r + oy, sc = c + ox;
                        float want = sr >= 0 && sr < 3 && sc >= 0 && sc < 3
                                         ? (float)(9 * i + 3 * sr + sc + 1) : 0.0f;
                        ok = img[3 * r + c] == want;
                    }
                if (ok) {
                    found = true;
                    shifted += oy != 0 || ox != 0;
                    rows_seen[oy + 1]++;
                    cols_seen[ox + 1]++;
                }
            }
        ck_assert_msg(found, "image %d is not a padded crop of its input", i);
    }
    ck_assert_int_gt(shifted, 20); /* 8 of 9 offsets move the image */
    /* the window is uniform over the 3 x 3 positions: 48 draws see every row offset and
     * every column offset (each missed with probability (2/3)^48 < 1e-8) */
    for (int k = 0; k < 3; k++)
        ck_assert_msg(rows_seen[k] > 0 && cols_seen[k] > 0, "no crop with row offset %d (%d) "
                      "or column offset %d (%d) in 48 draws", k - 1, rows_seen[k], k - 1,
                      cols_seen[k]);
    /* the next epoch draws other crops */
    ck_assert(!data_loader_next(a, &ba));
    ck_assert(data_loader_next(a, &ba));
    ck_assert(memcmp(var_data(ba.x)->data, xb, 48 * 9 * sizeof(float)) != 0);
    data_loader_free(a);
    data_loader_free(b);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

/* Even indices only, in reverse order. */
static int64_t evens_reversed(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                              void *ctx)
{
    (void)capacity;
    (void)epoch;
    int *calls = ctx;
    (*calls)++;
    int64_t k = 0;
    for (int64_t i = n - 1; i >= 0; i--)
        if (i % 2 == 0)
            order[k++] = i;
    return k;
}

static int64_t out_of_range(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                            void *ctx)
{
    (void)capacity;
    (void)epoch;
    (void)ctx;
    order[0] = n;
    return 1;
}

/* An epoch with no examples: a valid order (a subset may be empty). */
static int64_t empty_order(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                           void *ctx)
{
    (void)order;
    (void)capacity;
    (void)n;
    (void)epoch;
    (void)ctx;
    return 0;
}

/* x = the index itself as a [count, 1] tensor, y = 2 * index. */
static int index_collate(const Dataset *ds, const int64_t *indices, int64_t count, Tensor **x,
                         Tensor **y, void *ctx)
{
    (void)ds;
    (void)ctx;
    *x = tensor_empty((int64_t[]){count, 1}, 2);
    *y = tensor_empty(&count, 1);
    if (!*x || !*y)
        return -1;
    for (int64_t i = 0; i < count; i++) {
        (*x)->data[i] = (float)indices[i];
        (*y)->data[i] = 2.0f * (float)indices[i];
    }
    return 0;
}

/* A collate function that reports success but builds nothing. */
static int empty_collate(const Dataset *ds, const int64_t *indices, int64_t count, Tensor **x,
                         Tensor **y, void *ctx)
{
    (void)ds;
    (void)indices;
    (void)count;
    (void)ctx;
    *x = NULL;
    *y = NULL;
    return 0;
}

/* A collate function whose "batch" is two scalars: no first dim to be the batch's. */
static int scalar_collate(const Dataset *ds, const int64_t *indices, int64_t count, Tensor **x,
                          Tensor **y, void *ctx)
{
    (void)ds;
    (void)indices;
    (void)count;
    (void)ctx;
    *x = tensor_scalar(1.0f);
    *y = tensor_scalar(2.0f);
    return *x && *y ? 0 : -1;
}

/* A sampler that says it wrote one index more than there is room for. */
static int64_t over_capacity(int64_t *order, int64_t capacity, int64_t n, int64_t epoch,
                             void *ctx)
{
    (void)epoch;
    (void)ctx;
    for (int64_t i = 0; i < n && i < capacity; i++)
        order[i] = i;
    return capacity + 1;
}

START_TEST(test_sampler_and_collate)
{
    Scope *s = scope_begin();
    Dataset *ds = image_dataset(10);
    DataLoaderOptions o = {.batch_size = 2, .shuffle = true, .seed = 1};
    DataLoader *dl = data_loader_new(ds, &o);
    int calls = 0;
    ck_assert_int_eq(data_loader_set_sampler(dl, evens_reversed, &calls), 0);
    ck_assert_int_eq(data_loader_set_collate(dl, index_collate, NULL), 0);
    ck_assert_int_eq(data_loader_num_batches(dl), 3); /* 5 indices: 8 6 | 4 2 | 0 */
    const float want[5] = {8, 6, 4, 2, 0};
    Batch b;
    int k = 0;
    while (data_loader_next(dl, &b))
        for (int64_t i = 0; i < b.size; i++, k++) {
            ck_assert_int_lt(k, 5);
            ck_assert_float_eq(var_data(b.x)->data[i], want[k]);
            ck_assert_float_eq(b.y->data[i], 2.0f * want[k]);
        }
    ck_assert_int_eq(k, 5);
    ck_assert_int_ge(calls, 1);
    /* an index outside the dataset stops the epoch with an error */
    ck_assert_int_eq(data_loader_set_sampler(dl, out_of_range, NULL), 0);
    ck_assert(!data_loader_next(dl, &b));
    ck_assert_error("outside");
    data_loader_free(dl);
    /* an empty order is an epoch without batches, not an error */
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_set_sampler(dl, empty_order, NULL), 0);
    ck_assert(!data_loader_next(dl, &b));
    ck_assert_msg(!data_loader_failed(dl), "an empty order failed: %s", strata_last_error());
    data_loader_free(dl);
    /* a collate function that "succeeds" without a batch: no batch, failed, a message */
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_set_collate(dl, empty_collate, NULL), 0);
    strata_clear_error();
    ck_assert(!data_loader_next(dl, &b));
    ck_assert(data_loader_failed(dl));
    ck_assert_error("collate");
    data_loader_free(dl);
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_set_collate(dl, scalar_collate, NULL), 0);
    strata_clear_error();
    ck_assert(!data_loader_next(dl, &b));
    ck_assert(data_loader_failed(dl));
    ck_assert_error("collate");
    data_loader_free(dl);
    /* a sampler returning more indices than its capacity is refused, not read past */
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_set_sampler(dl, over_capacity, NULL), 0);
    strata_clear_error();
    ck_assert(!data_loader_next(dl, &b));
    ck_assert(data_loader_failed(dl));
    ck_assert_msg(strata_last_error()[0] != '\0', "a failed batch without a message");
    data_loader_free(dl);
    /* a sampler's failure is the loader's: no batch, failed, the sampler's message */
    dl = data_loader_new(ds, &o);
    ck_assert_int_eq(data_loader_set_sampler(dl, refusing_sampler, NULL), 0);
    ck_assert(!data_loader_next(dl, &b));
    ck_assert(data_loader_failed(dl));
    ck_assert_error("refusing_sampler");
    data_loader_free(dl);
    data_dataset_free(ds);
    scope_end(s);
}
END_TEST

START_TEST(test_idx_image_dataset)
{
    Scope *s = scope_begin();
    char ip[512], lp[512];
    tmp_path(ip, sizeof ip, "img.idx.gz");
    tmp_path(lp, sizeof lp, "lab.idx");
    const unsigned char images[] = {0, 0, 8, 3, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2,
                                    0, 255, 51, 102};
    gzFile g = gzopen(ip, "wb");
    ck_assert_ptr_nonnull(g);
    gzwrite(g, images, sizeof images);
    gzclose(g);
    const unsigned char labels[] = {0, 0, 8, 1, 0, 0, 0, 2, 7, 3};
    FILE *f = fopen(lp, "wb");
    ck_assert_ptr_nonnull(f);
    fwrite(labels, 1, sizeof labels, f);
    fclose(f);
    Dataset *ds = data_idx_dataset(ip, lp);
    ck_assert_msg(ds != NULL, "data_idx_dataset: %s", strata_last_error());
    Tensor *x = data_dataset_inputs(ds);
    ck_assert_int_eq(x->ndim, 4); /* [2, 1, 1, 2] */
    ck_assert_int_eq(x->shape[1], 1);
    ck_assert_close(x->data[1], 1.0, 1e-7);
    ck_assert_close(x->data[2], 0.2, 1e-7);
    ck_assert_float_eq(data_dataset_targets(ds)->data[0], 7.0f);
    data_dataset_free(ds);
    /* the labels file as images: wrong dims */
    ck_assert_ptr_null(data_idx_dataset(lp, lp));
    ck_assert_error("expected images");
    remove(ip);
    remove(lp);
    scope_end(s);
}
END_TEST

void add_data_extra_tests(Suite *s)
{
    GRADED(s, test_csv_dataset, 3);
    GRADED(s, test_transforms_flip_normalize_flatten, 2);
    GRADED(s, test_random_crop_seeded, 2);
    GRADED(s, test_transform_apply_one_example, 1);
    GRADED(s, test_sampler_and_collate, 2);
    GRADED(s, test_idx_image_dataset, 1);
}
