/*
 * test_files.c - corrupt and missing files: safetensors (nn/), IDX and MNIST (optim/).
 * Each test also checks the file itself was left as it was (loading never writes).
 */
#include "rb.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

static const float two[2] = {1.5f, -2.0f};

/* Load a safetensors file that must fail, and check it is unchanged afterwards. */
#define ST_FAILS(input, path, k1, k2)                                                     \
    do {                                                                                  \
        size_t n_;                                                                        \
        unsigned char *before_ = rb_read((path), &n_);                                    \
        ROW_FAILS("nn", "nn_safetensors_load(path)", (input),                             \
                  nn_safetensors_load(path) == NULL, (k1), (k2));                         \
        if (before_) {                                                                    \
            rb_assert_file_same((path), before_, n_);                                     \
            free(before_);                                                                \
        }                                                                                 \
    } while (0)

START_TEST(st_missing_file)
{
    BEGIN;
    ST_FAILS("no such file", rb_path("none.safetensors"), "none.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_shorter_than_length_field)
{
    BEGIN;
    const char *p = rb_path("short.safetensors");
    rb_write(p, "\x10\x00\x00", 3);
    ST_FAILS("a 3-byte file (the length field needs 8)", p, "short.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_header_length_beyond_file)
{
    BEGIN;
    const char *p = rb_path("len.safetensors");
    unsigned char buf[8 + 16] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    memcpy(buf + 8, "{}              ", 16);
    rb_write(p, buf, sizeof buf);
    ST_FAILS("header length 2147483647, file of 24 bytes", p, "len.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_header_length_huge)
{
    BEGIN;
    const char *p = rb_path("huge.safetensors");
    unsigned char buf[8 + 8] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    memcpy(buf + 8, "{}      ", 8);
    rb_write(p, buf, sizeof buf);
    ST_FAILS("header length 2^64 - 1 (overflows)", p, "huge.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_bad_json)
{
    BEGIN;
    const char *p = rb_path("json.safetensors");
    rb_write_safetensors(p, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2", two, 8);
    ST_FAILS("header JSON cut off: {\"a\": {\"dtype\": \"F32\", \"shape\": [2", p, "JSON", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_header_not_object)
{
    BEGIN;
    const char *p = rb_path("array.safetensors");
    rb_write_safetensors(p, "[1, 2, 3]", NULL, 0);
    ST_FAILS("header JSON is an array", p, "array.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_truncated_payload)
{
    BEGIN;
    const char *p = rb_path("trunc.safetensors");
    rb_write_safetensors(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                         two, 4);
    ST_FAILS("tensor a declares 8 bytes, 4 present", p, "trunc.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_offsets_out_of_range)
{
    BEGIN;
    const char *p = rb_path("range.safetensors");
    rb_write_safetensors(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,16]}}",
                         two, 8);
    ST_FAILS("data_offsets [8, 16] in an 8-byte payload", p, "range.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_offsets_overlap)
{
    BEGIN;
    const char *p = rb_path("overlap.safetensors");
    rb_write_safetensors(p,
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                         "\"b\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":[4,8]}}",
                         two, 8);
    ST_FAILS("a at [0, 8], b at [4, 8]", p, "overlap", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_offsets_reversed)
{
    BEGIN;
    const char *p = rb_path("rev.safetensors");
    rb_write_safetensors(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[8,0]}}",
                         two, 8);
    ST_FAILS("data_offsets [8, 0] (end before begin)", p, "rev.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_shape_disagrees_with_offsets)
{
    BEGIN;
    const char *p = rb_path("size.safetensors");
    rb_write_safetensors(p, "{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}",
                         two, 8);
    ST_FAILS("shape [3] (12 bytes) with data_offsets [0, 8]", p, "size.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_unknown_dtype)
{
    BEGIN;
    const char *p = rb_path("dtype.safetensors");
    rb_write_safetensors(p, "{\"a\":{\"dtype\":\"Q7\",\"shape\":[2],\"data_offsets\":[0,8]}}",
                         two, 8);
    ST_FAILS("dtype \"Q7\"", p, "Q7", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_huge_declared_shape)
{
    BEGIN;
    const char *p = rb_path("dims.safetensors");
    rb_write_safetensors(p,
                         "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],"
                         "\"data_offsets\":[0,8]}}",
                         two, 8);
    ST_FAILS("shape [2^32, 2^32] with 8 bytes of data", p, "dims.safetensors", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(st_shape_beyond_int64)
{
    /* fuzz_safetensors' finding (tests/fuzz/corpus/safetensors/regression-shape-beyond-
     * int64): a JSON size of 2.2e25 was converted to int64_t (undefined behaviour). */
    BEGIN;
    const char *p = rb_path("int64.safetensors");
    rb_write_safetensors(p,
                         "{\"weight\":{\"dtype\":\"F16\",\"shape\":[22222222222222222222222222,6],"
                         "\"data_offsets\":[0,24]}}",
                         two, 8);
    ST_FAILS("shape [22222222222222222222222222, 6] (beyond int64)", p, "bad shape", "weight");
    rb_dir_remove();
    END;
}
END_TEST

/* --------------------------------------------------------------------------- IDX -- */

#define IDX_FAILS(input, path, k1, k2)                                                    \
    do {                                                                                  \
        size_t n_;                                                                        \
        unsigned char *before_ = rb_read((path), &n_);                                    \
        int64_t live_ = (int64_t)strata_mem_stats().bytes_live;                           \
        ROW_FAILS("optim", "data_read_idx(path)", (input), data_read_idx(path) == NULL,   \
                  (k1), (k2));                                                            \
        ck_assert_int_eq((int64_t)strata_mem_stats().bytes_live, live_);                  \
        if (before_) {                                                                    \
            rb_assert_file_same((path), before_, n_);                                     \
            free(before_);                                                                \
        }                                                                                 \
    } while (0)

START_TEST(idx_missing_file)
{
    BEGIN;
    IDX_FAILS("no such file", rb_path("none-idx1-ubyte"), "cannot open", "none-idx1-ubyte");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_bad_magic)
{
    BEGIN;
    const char *p = rb_path("magic.idx");
    rb_write(p, "\x01\x02\x08\x01\x00\x00\x00\x01\x05", 9);
    IDX_FAILS("magic 0x01020801", p, "bad magic", "0x01020801");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_unknown_dtype)
{
    BEGIN;
    const char *p = rb_path("dtype.idx");
    rb_write(p, "\x00\x00\x07\x01\x00\x00\x00\x01\x05", 9);
    IDX_FAILS("type byte 0x07", p, "bad magic", "0x00000701");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_truncated_header)
{
    BEGIN;
    const char *p = rb_path("head.idx");
    rb_write(p, "\x00\x00\x08\x03\x00\x00\x00\x02\x00", 9);
    IDX_FAILS("3 dims declared, 5 of 12 size bytes present", p, "truncated header", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_truncated_data)
{
    BEGIN;
    const char *p = rb_path("data.idx");
    rb_write_idx(p, 0x08, 2, (const uint32_t[]){3, 4}, "abcdefgh", 8);
    IDX_FAILS("[3, 4] uint8 declared (12 bytes), 8 present", p, "truncated data", "only 8");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_huge_declared_dims)
{
    /* The fuzzer's finding (tests/fuzz/corpus/idx/regression-huge-dims): dims
     * 2 x 16777216 x 4608 of 17 bytes made data_read_idx allocate 154 GB. */
    BEGIN;
    static const unsigned char crash[] = {
        0x00, 0x00, 0x08, 0x03, 0x00, 0x00, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x12, 0x00, 0x00, 0x01, 0x02, 0x01, 0x04, 0x05, 0x06, 0x07,
        0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11};
    const char *p = rb_path("huge.idx");
    rb_write(p, crash, sizeof crash);
    strata_mem_reset_peak();
    IDX_FAILS("dims 2 x 16777216 x 4608 (154 GB) with 17 bytes of data", p, "truncated data",
              "154618822656");
    ck_assert_uint_lt(strata_mem_stats().bytes_peak, (size_t)64 << 20);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_gzip_truncated)
{
    BEGIN;
    const char *p = rb_path("cut.idx.gz");
    gzFile g = gzopen(p, "wb");
    ck_assert_ptr_nonnull(g);
    static const unsigned char head[] = {0, 0, 8, 2, 0, 0, 0x10, 0, 0, 0, 0x10, 0};
    static unsigned char body[1000];
    gzwrite(g, head, sizeof head);
    gzwrite(g, body, sizeof body);
    gzclose(g);
    IDX_FAILS("gzip, [4096, 4096] uint8 declared (16 MB), 1000 bytes present", p,
              "truncated data", "only 1000");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_trailing_bytes)
{
    BEGIN;
    const char *p = rb_path("trail.idx");
    rb_write_idx(p, 0x08, 1, (const uint32_t[]){2}, "abc", 3);
    IDX_FAILS("[2] uint8 declared, 3 bytes present", p, "trailing", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_zero_dim)
{
    BEGIN;
    const char *p = rb_path("zero.idx");
    rb_write_idx(p, 0x08, 2, (const uint32_t[]){0, 4}, NULL, 0);
    IDX_FAILS("dims [0, 4]", p, "size 0", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(idx_too_many_dims)
{
    BEGIN;
    const char *p = rb_path("ndim.idx");
    rb_write(p, "\x00\x00\x08\x09", 4);
    IDX_FAILS("9 dims declared", p, "9 dims", NULL);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(mnist_missing_files)
{
    BEGIN;
    ROW_FAILS("optim", "data_mnist_load(dir, true, NULL)", "an empty directory",
              data_mnist_load(rb_dir(), true, NULL) == NULL, "train-images-idx3-ubyte",
              "dataset-fashion-mnist");
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(mnist_counts_differ)
{
    BEGIN;
    static unsigned char img[3 * 2 * 2], lab[2];
    rb_write_idx(rb_path("t10k-images-idx3-ubyte"), 0x08, 3, (const uint32_t[]){3, 2, 2},
                 img, sizeof img);
    rb_write_idx(rb_path("t10k-labels-idx1-ubyte"), 0x08, 1, (const uint32_t[]){2}, lab,
                 sizeof lab);
    ROW_FAILS("optim", "data_mnist_load(dir, false, NULL)", "3 images, 2 labels",
              data_mnist_load(rb_dir(), false, NULL) == NULL, "3", "2");
    rb_dir_remove();
    END;
}
END_TEST

void add_file_rows(Suite *s)
{
    GRADED(s, st_missing_file, 1);
    GRADED(s, st_shorter_than_length_field, 1);
    GRADED(s, st_header_length_beyond_file, 1);
    GRADED(s, st_header_length_huge, 1);
    GRADED(s, st_bad_json, 1);
    GRADED(s, st_header_not_object, 1);
    GRADED(s, st_truncated_payload, 1);
    GRADED(s, st_offsets_out_of_range, 1);
    GRADED(s, st_offsets_overlap, 1);
    GRADED(s, st_offsets_reversed, 1);
    GRADED(s, st_shape_disagrees_with_offsets, 1);
    GRADED(s, st_unknown_dtype, 1);
    GRADED(s, st_huge_declared_shape, 1);
    GRADED(s, st_shape_beyond_int64, 1);
    GRADED(s, idx_missing_file, 1);
    GRADED(s, idx_bad_magic, 1);
    GRADED(s, idx_unknown_dtype, 1);
    GRADED(s, idx_truncated_header, 1);
    GRADED(s, idx_truncated_data, 1);
    GRADED(s, idx_huge_declared_dims, 1);
    GRADED(s, idx_gzip_truncated, 1);
    GRADED(s, idx_trailing_bytes, 1);
    GRADED(s, idx_zero_dim, 1);
    GRADED(s, idx_too_many_dims, 1);
    GRADED(s, mnist_missing_files, 1);
    GRADED(s, mnist_counts_differ, 1);
}
