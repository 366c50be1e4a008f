/*
 * test_state.c - state dicts, loading them (strict, non-strict, shape mismatches that
 * change nothing), safetensors files (round trips, the byte layout, metadata, corrupt and
 * truncated files, atomic writes) and a second implementation of the format in Python.
 */
#include "nn_test.h"

#include <cJSON.h>
#include <stdint.h>

/* A small model with parameters and all three kinds of buffer. */
static Module *small_model(void)
{
    Module *m = nn_sequential(3, nn_linear(3, 4, true), nn_batch_norm1d(4),
                              nn_linear(4, 2, false));
    ck_assert_msg(m != NULL, "small_model: %s", strata_last_error());
    return m;
}

/* Copy every value of @p m's state into a malloc'd array (a snapshot to compare). */
static float *snapshot(const Module *m, int64_t *count)
{
    NnStateDict *sd = nn_state_dict(m);
    ck_assert_ok(sd);
    int64_t n = 0;
    for (int i = 0; i < sd->num_tensors; i++)
        n += tensor_numel(sd->tensors[i]);
    float *values = malloc((size_t)n * sizeof *values + 1);
    int64_t at = 0;
    for (int i = 0; i < sd->num_tensors; i++) {
        ck_assert(tensor_to_array(sd->tensors[i], values + at) == 0);
        at += tensor_numel(sd->tensors[i]);
    }
    nn_state_dict_free(sd);
    *count = n;
    return values;
}

static void assert_same_state(const Module *a, const Module *b, const char *what)
{
    int64_t na, nb;
    float *va = snapshot(a, &na), *vb = snapshot(b, &nb);
    ck_assert_int_eq(na, nb);
    for (int64_t i = 0; i < na; i++)
        ck_assert_msg(va[i] == vb[i], "%s: value %lld differs (%g vs %g)", what, (long long)i,
                      (double)va[i], (double)vb[i]);
    free(va);
    free(vb);
}

static void assert_state_equals(const Module *m, const float *values, int64_t n,
                                const char *what)
{
    int64_t count;
    float *now = snapshot(m, &count);
    ck_assert_int_eq(count, n);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg(now[i] == values[i], "%s: value %lld changed", what, (long long)i);
    free(now);
}

static long file_size(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fclose(f);
    return n;
}

/* Write @p n bytes to @p path. */
static void write_bytes(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert(fwrite(data, 1, n, f) == n);
    fclose(f);
}

/* A file with an 8-byte little-endian length and the given header, then @p data_len
 * bytes of zeros. */
static void write_safetensors(const char *path, const char *header, size_t data_len)
{
    size_t len = strlen(header);
    unsigned char *buf = calloc(8 + len + data_len, 1);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(buf + 8, header, len);
    write_bytes(path, buf, 8 + len + data_len);
    free(buf);
}

START_TEST(test_state_dict_names)
{
    Scope *scope = scope_begin();
    Module *m = small_model();
    Tensor *extra = nn_add_buffer(nn_get_submodule(m, "1"), "scratch", (int64_t[]){4}, 1,
                                  false);
    ck_assert_ok(extra);
    NnStateDict *sd = nn_state_dict(m);
    ck_assert_ok(sd);
    /* Parameters then persistent buffers, module by module; "scratch" is not persistent. */
    const char *expected[] = {"0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                              "1.running_var", "1.num_batches_tracked", "2.weight"};
    ck_assert_int_eq(sd->num_tensors, 8);
    for (int i = 0; i < 8; i++)
        ck_assert_msg(strcmp(sd->names[i], expected[i]) == 0, "key %d is '%s', expected '%s'",
                      i, sd->names[i], expected[i]);
    /* The dict holds the module's own tensors (as PyTorch's state_dict). */
    ck_assert_ptr_eq(sd->tensors[0], nn_get_parameter(m, "0.weight")->data);
    ck_assert_ptr_eq(nn_state_dict_get(sd, "1.running_var"), nn_get_buffer(m, "1.running_var"));
    ck_assert_ptr_null(nn_state_dict_get(sd, "1.scratch"));
    ck_assert_int_eq(nn_get_buffer(m, "1.num_batches_tracked")->ndim, 0);
    nn_state_dict_free(sd);
    nn_module_free(m);
    scope_end(scope);
}
END_TEST

START_TEST(test_file_round_trip)
{
    char path[256];
    tmp_path(path, sizeof path, "round.safetensors");
    Scope *s = scope_begin();
    strata_manual_seed(10);
    Module *a = small_model();
    /* Make the buffers interesting: one training step of BatchNorm. */
    int64_t xs[2] = {6, 3};
    Var *x = randn_var(xs, 2, false);
    ck_assert_ok(nn_forward(a, x));
    strata_manual_seed(99);
    Module *b = small_model();
    ck_assert_status(nn_save(a, path));
    ck_assert_status(nn_load(b, path, true));
    assert_same_state(a, b, "after nn_load");
    /* The same function: eval-mode outputs agree exactly. */
    nn_eval(a);
    nn_eval(b);
    Var *ya = nn_forward(a, x), *yb = nn_forward(b, x);
    ck_assert_ok(ya);
    ck_assert_ok(yb);
    ck_assert(tensor_allclose(ya->data, yb->data, 0, 0));
    /* The temporary file is gone after the rename. */
    char tmp[300];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    ck_assert_int_eq(file_size(tmp), -1);
    scope_end(s);
    remove(path);
    nn_module_free(a);
    nn_module_free(b);
}
END_TEST

/* The header entry @p name is {"dtype": "F32", "shape": @p shape, "data_offsets": [b, e]}. */
static void check_entry(const cJSON *header, const char *name, const int64_t *shape, int ndim,
                        int64_t b, int64_t e)
{
    const cJSON *entry = cJSON_GetObjectItemCaseSensitive(header, name);
    ck_assert_msg(cJSON_IsObject(entry), "the header has no entry \"%s\"", name);
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    ck_assert_msg(cJSON_IsString(dtype) && strcmp(dtype->valuestring, "F32") == 0,
                  "%s: dtype is not \"F32\"", name);
    const cJSON *dims = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    ck_assert_msg(cJSON_IsArray(dims) && cJSON_GetArraySize(dims) == ndim,
                  "%s: shape is not an array of %d sizes", name, ndim);
    for (int d = 0; d < ndim; d++) {
        const cJSON *v = cJSON_GetArrayItem(dims, d);
        ck_assert_msg(cJSON_IsNumber(v) && v->valuedouble == (double)shape[d],
                      "%s: shape[%d] is not %lld", name, d, (long long)shape[d]);
    }
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    ck_assert_msg(cJSON_IsArray(offsets) && cJSON_GetArraySize(offsets) == 2,
                  "%s: data_offsets is not a pair", name);
    const cJSON *first = cJSON_GetArrayItem(offsets, 0), *last = cJSON_GetArrayItem(offsets, 1);
    ck_assert_msg(cJSON_IsNumber(first) && cJSON_IsNumber(last) &&
                      first->valuedouble == (double)b && last->valuedouble == (double)e,
                  "%s: data_offsets are not [%lld, %lld]", name, (long long)b, (long long)e);
}

START_TEST(test_file_layout)
{
    Scope *scope = scope_begin();
    char path[256];
    tmp_path(path, sizeof path, "layout.safetensors");
    Module *lin = MUST(nn_linear(3, 2, true));
    ck_assert_status(nn_save(lin, path));
    long size = file_size(path);
    FILE *f = fopen(path, "rb");
    ck_assert(f != NULL);
    unsigned char *bytes = malloc((size_t)size);
    ck_assert(fread(bytes, 1, (size_t)size, f) == (size_t)size);
    fclose(f);
    uint64_t n = 0;
    for (int i = 0; i < 8; i++)
        n |= (uint64_t)bytes[i] << (8 * i);
    /* 8-byte length, a JSON header padded to 8 bytes, then 6 + 2 floats of data. */
    ck_assert_int_eq(n % 8, 0);
    ck_assert_int_eq((long)(8 + n + 8 * 4), size);
    ck_assert_int_eq(bytes[8], '{');
    /* The header is JSON: compared as parsed (spacing and key order are the writer's). */
    cJSON *header = cJSON_ParseWithLength((const char *)bytes + 8, (size_t)n);
    ck_assert_msg(header != NULL, "the header is not JSON: %.*s", (int)n,
                  (const char *)bytes + 8);
    check_entry(header, "weight", (const int64_t[]){2, 3}, 2, 0, 24);
    check_entry(header, "bias", (const int64_t[]){2}, 1, 24, 32);
    cJSON_Delete(header);
    float data[8];
    memcpy(data, bytes + 8 + n, sizeof data);
    assert_values(nn_get_parameter(lin, "weight")->data, data, 6, 0, "weight bytes");
    assert_values(nn_get_parameter(lin, "bias")->data, data + 6, 2, 0, "bias bytes");
    free(bytes);
    remove(path);
    nn_module_free(lin);
    scope_end(scope);
}
END_TEST

START_TEST(test_metadata_round_trip)
{
    char path[256];
    tmp_path(path, sizeof path, "meta.safetensors");
    Scope *s = scope_begin();
    NnStateDict *sd = nn_state_dict_new();
    ck_assert_ok(sd);
    float v[3] = {1.5f, -2, 3};
    int64_t shape[1] = {3};
    ck_assert_status(nn_state_dict_set(sd, "values", make_tensor(v, shape, 1)));
    ck_assert_status(nn_state_dict_set(sd, "scalar", tensor_scalar(7)));
    ck_assert_status(nn_state_dict_set_meta(sd, "format", "pt"));
    ck_assert_status(nn_state_dict_set_meta(sd, "epoch", "12"));
    ck_assert_status(nn_safetensors_save(sd, path));
    NnStateDict *back = nn_safetensors_load(path);
    ck_assert_ok(back);
    ck_assert_int_eq(back->num_tensors, 2);
    assert_values(nn_state_dict_get(back, "values"), v, 3, 0, "values");
    ck_assert_int_eq(nn_state_dict_get(back, "scalar")->ndim, 0);
    ck_assert_str_eq(nn_state_dict_get_meta(back, "epoch"), "12");
    ck_assert_str_eq(nn_state_dict_get_meta(back, "format"), "pt");
    ck_assert_ptr_null(nn_state_dict_get_meta(back, "missing"));
    nn_state_dict_free(back);
    nn_state_dict_free(sd);
    scope_end(s);
    remove(path);
}
END_TEST

START_TEST(test_load_strict_missing)
{
    Scope *s = scope_begin();
    Module *a = small_model(), *b = small_model();
    int64_t n;
    float *before = snapshot(b, &n);
    NnStateDict *sd = nn_state_dict(a);
    ck_assert_ok(sd);
    /* Drop "0.bias" by building a dict without it. */
    NnStateDict *partial = nn_state_dict_new();
    for (int i = 0; i < sd->num_tensors; i++)
        if (strcmp(sd->names[i], "0.bias") != 0)
            ck_assert_status(nn_state_dict_set(partial, sd->names[i], sd->tensors[i]));
    NnKeys missing, unexpected;
    ck_assert_int_eq(nn_load_state_dict(b, partial, true, &missing, &unexpected), -1);
    ck_assert_error("missing keys: '0.bias'");
    ck_assert_int_eq(missing.count, 1);
    ck_assert_str_eq(missing.keys[0], "0.bias");
    ck_assert_int_eq(unexpected.count, 0);
    assert_state_equals(b, before, n, "after a failed strict load");
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    /* Non-strict: loads the rest and reports the missing key. */
    ck_assert_status(nn_load_state_dict(b, partial, false, &missing, &unexpected));
    ck_assert_int_eq(missing.count, 1);
    ck_assert(tensor_allclose(nn_get_parameter(b, "0.weight")->data,
                              nn_get_parameter(a, "0.weight")->data, 0, 0));
    /* The missing one kept its old values. */
    ck_assert(!tensor_allclose(nn_get_parameter(b, "0.bias")->data,
                               nn_get_parameter(a, "0.bias")->data, 0, 0));
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    nn_state_dict_free(partial);
    nn_state_dict_free(sd);
    free(before);
    scope_end(s);
    nn_module_free(a);
    nn_module_free(b);
}
END_TEST

START_TEST(test_load_unexpected)
{
    Scope *s = scope_begin();
    Module *a = small_model(), *b = small_model();
    int64_t n;
    float *before = snapshot(b, &n);
    NnStateDict *sd = nn_state_dict(a);
    ck_assert_status(nn_state_dict_set(sd, "3.weight", tensor_zeros((int64_t[]){2}, 1)));
    ck_assert_status(nn_state_dict_set(sd, "extra", tensor_scalar(1)));
    NnKeys missing, unexpected;
    ck_assert_int_eq(nn_load_state_dict(b, sd, true, &missing, &unexpected), -1);
    ck_assert_error("unexpected keys: '3.weight', 'extra'");
    assert_state_equals(b, before, n, "after a failed strict load");
    ck_assert_int_eq(unexpected.count, 2);
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    ck_assert_status(nn_load_state_dict(b, sd, false, &missing, &unexpected));
    ck_assert_int_eq(missing.count, 0);
    ck_assert_int_eq(unexpected.count, 2);
    ck_assert_str_eq(unexpected.keys[1], "extra");
    assert_same_state(a, b, "after a non-strict load");
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    /* NULL lists are allowed. */
    ck_assert_status(nn_load_state_dict(b, sd, false, NULL, NULL));
    nn_state_dict_free(sd);
    free(before);
    scope_end(s);
    nn_module_free(a);
    nn_module_free(b);
}
END_TEST

START_TEST(test_load_shape_mismatch_changes_nothing)
{
    Scope *s = scope_begin();
    Module *a = small_model(), *b = small_model();
    int64_t n;
    float *before = snapshot(b, &n);
    NnStateDict *sd = nn_state_dict(a);
    /* The last key has the wrong shape; every earlier key is fine. */
    ck_assert_status(nn_state_dict_set(sd, "2.weight", tensor_zeros((int64_t[]){4, 2}, 2)));
    ck_assert_int_eq(nn_load_state_dict(b, sd, false, NULL, NULL), -1);
    ck_assert_error("size mismatch for '2.weight'");
    ck_assert_error("[4, 2]");
    ck_assert_error("[2, 4]");
    assert_state_equals(b, before, n, "after a shape mismatch");
    nn_state_dict_free(sd);
    free(before);
    scope_end(s);
    nn_module_free(a);
    nn_module_free(b);
}
END_TEST

START_TEST(test_corrupt_files)
{
    Scope *scope = scope_begin();
    char path[256];
    tmp_path(path, sizeof path, "corrupt.safetensors");
    Module *m = small_model();
    int64_t n;
    float *before = snapshot(m, &n);

    remove(path);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("cannot open");
    ck_assert_error(path);

    write_bytes(path, "abc", 3);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("truncated");

    /* A header length larger than the file. */
    write_safetensors(path, "{}", 0);
    FILE *f = fopen(path, "r+b");
    fputc(0x7f, f);
    fclose(f);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("header length");

    write_safetensors(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2], ", 8);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("corrupt header");

    write_safetensors(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [2]}}", 8);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("data_offsets");

    write_safetensors(path, "{\"w\": {\"dtype\": \"C64\", \"shape\": [2], "
                            "\"data_offsets\": [0, 16]}}", 16);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("unsupported dtype 'C64'");

    write_safetensors(path, "{\"w\": {\"dtype\": \"F32\", \"shape\": [3], "
                            "\"data_offsets\": [0, 8]}}", 8);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("8 bytes for 3 elements");

    write_safetensors(path, "{\"a\": {\"dtype\": \"F32\", \"shape\": [2], "
                            "\"data_offsets\": [0, 8]}, \"b\": {\"dtype\": \"F32\", "
                            "\"shape\": [2], \"data_offsets\": [4, 12]}}", 12);
    ck_assert_ptr_null(nn_safetensors_load(path));
    ck_assert_error("overlaps");

    /* A real file cut short: the tensors point past the end. */
    ck_assert_status(nn_save(m, path));
    long size = file_size(path);
    ck_assert_int_eq(truncate(path, size - 4), 0);
    ck_assert_int_eq(nn_load(m, path, true), -1);
    ck_assert_error("truncated");
    assert_state_equals(m, before, n, "after loading a truncated file");
    free(before);
    remove(path);
    nn_module_free(m);
    scope_end(scope);
}
END_TEST

START_TEST(test_save_errors_are_atomic)
{
    Scope *scope = scope_begin();
    char path[256];
    tmp_path(path, sizeof path, "atomic.safetensors");
    Module *m = small_model();
    ck_assert_status(nn_save(m, path));
    long size = file_size(path);
    /* A save into a missing directory fails with the path in the message. */
    ck_assert_int_eq(nn_save(m, "/nonexistent-strata-dir/x.safetensors"), -1);
    ck_assert_error("/nonexistent-strata-dir/x.safetensors.tmp");
    /* Saving again over an existing file replaces it whole. */
    ck_assert_status(nn_save(m, path));
    ck_assert_int_eq(file_size(path), size);
    remove(path);
    nn_module_free(m);
    scope_end(scope);
}
END_TEST

/* The ~20-line reader/writer in Python: checks strata's file, writes one for strata. It
 * finds the tensors in data order: nn.h fixes the order of the data, not of the JSON
 * header's keys (a JSON object has none; the spec ties nothing to it). */
static const char *PYTHON_SCRIPT =
    "import json, struct, sys\n"
    "src, dst = sys.argv[1], sys.argv[2]\n"
    "raw = open(src, 'rb').read()\n"
    "n, = struct.unpack('<Q', raw[:8])\n"
    "header = json.loads(raw[8:8 + n])\n"
    "data = raw[8 + n:]\n"
    "names = [k for k in header if k != '__metadata__']\n"
    "names.sort(key=lambda k: header[k]['data_offsets'][0])\n"
    "assert names == ['weight', 'bias'], names\n"
    "w = header['weight']\n"
    "assert w['dtype'] == 'F32' and w['shape'] == [2, 3], w\n"
    "b0, b1 = w['data_offsets']\n"
    "vals = struct.unpack('<6f', data[b0:b1])\n"
    "assert vals == (1.0, 2.0, 3.0, 4.0, 5.0, 6.0), vals\n"
    "out = {'__metadata__': {'by': 'python'},\n"
    "       'weight': {'dtype': 'F32', 'shape': [2, 3], 'data_offsets': [0, 24]},\n"
    "       'bias': {'dtype': 'F64', 'shape': [2], 'data_offsets': [24, 40]},\n"
    "       'steps': {'dtype': 'I64', 'shape': [], 'data_offsets': [40, 48]}}\n"
    "blob = struct.pack('<6f', *[2 * v for v in vals]) + struct.pack('<2d', 0.5, -0.25)\n"
    "blob += struct.pack('<q', 42)\n"
    "h = json.dumps(out).encode()\n"
    "h += b' ' * (-len(h) % 8)\n"
    "open(dst, 'wb').write(struct.pack('<Q', len(h)) + h + blob)\n";

/*
 * Every dtype nn.h says the loader reads, converted to float32, from bytes written here
 * by hand (little-endian). The data is laid out largest element first, so each tensor
 * is aligned to its element size, and the header lists the tensors in the opposite
 * order: the spec ties nothing to the header's order, the offsets say where each is.
 */
START_TEST(test_load_every_dtype)
{
    Scope *scope = scope_begin();
    char path[256];
    tmp_path(path, sizeof path, "dtypes.safetensors");
    static const unsigned char data[46] = {
        0, 0, 0, 0, 0, 0, 0xE8, 0x3F,                   /* f64 [0, 8):   0.75 */
        0xFD, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, /* i64 [8, 16):  -3 */
        0xF9, 0xFF, 0xFF, 0xFF, 0xA0, 0x86, 0x01, 0x00, /* i32 [16, 24): -7, 100000 */
        0, 0, 0, 0x40,                                  /* f32 [24, 28): 2 */
        0x00, 0x3C, 0x00, 0xC1, 0x01, 0x00,             /* f16 [28, 34): 1, -2.5, 2^-24 */
        0xC0, 0x3F, 0x20, 0xBE,                         /* bf16 [34, 38): 1.5, -0.15625 */
        0xD4, 0xFE, 0xD2, 0x04,                         /* i16 [38, 42): -300, 1234 */
        0x80, 0x05,                                     /* i8 [42, 44):  -128, 5 */
        0xC8, 0x07,                                     /* u8 [44, 46):  200, 7 */
    };
    char header[1024];
    int len = snprintf(header, sizeof header,
                       "{\"u8\": {\"dtype\": \"U8\", \"shape\": [2], \"data_offsets\": [44, 46]}, "
                       "\"i8\": {\"dtype\": \"I8\", \"shape\": [2], \"data_offsets\": [42, 44]}, "
                       "\"i16\": {\"dtype\": \"I16\", \"shape\": [2], \"data_offsets\": [38, 42]}, "
                       "\"bf16\": {\"dtype\": \"BF16\", \"shape\": [2], \"data_offsets\": [34, 38]}, "
                       "\"f16\": {\"dtype\": \"F16\", \"shape\": [3], \"data_offsets\": [28, 34]}, "
                       "\"f32\": {\"dtype\": \"F32\", \"shape\": [1], \"data_offsets\": [24, 28]}, "
                       "\"i32\": {\"dtype\": \"I32\", \"shape\": [2], \"data_offsets\": [16, 24]}, "
                       "\"i64\": {\"dtype\": \"I64\", \"shape\": [1], \"data_offsets\": [8, 16]}, "
                       "\"f64\": {\"dtype\": \"F64\", \"shape\": [1], \"data_offsets\": [0, 8]}}");
    while (len % 8) /* pad with spaces, as the format allows, so the data is 8-aligned */
        header[len++] = ' ';
    unsigned char file[8 + sizeof header + sizeof data];
    for (int i = 0; i < 8; i++)
        file[i] = (unsigned char)((uint64_t)len >> (8 * i));
    memcpy(file + 8, header, (size_t)len);
    memcpy(file + 8 + len, data, sizeof data);
    write_bytes(path, file, 8 + (size_t)len + sizeof data);

    NnStateDict *sd = nn_safetensors_load(path);
    ck_assert_ok(sd);
    ck_assert_int_eq(sd->num_tensors, 9);
    assert_values(nn_state_dict_get(sd, "f64"), (float[]){0.75f}, 1, 0, "F64");
    assert_values(nn_state_dict_get(sd, "i64"), (float[]){-3}, 1, 0, "I64");
    assert_values(nn_state_dict_get(sd, "i32"), (float[]){-7, 100000}, 2, 0, "I32");
    assert_values(nn_state_dict_get(sd, "f32"), (float[]){2}, 1, 0, "F32");
    assert_values(nn_state_dict_get(sd, "f16"), (float[]){1, -2.5f, 0x1p-24f}, 3, 0,
                  "F16 (the last one subnormal)");
    assert_values(nn_state_dict_get(sd, "bf16"), (float[]){1.5f, -0.15625f}, 2, 0, "BF16");
    assert_values(nn_state_dict_get(sd, "i16"), (float[]){-300, 1234}, 2, 0, "I16");
    assert_values(nn_state_dict_get(sd, "i8"), (float[]){-128, 5}, 2, 0, "I8");
    assert_values(nn_state_dict_get(sd, "u8"), (float[]){200, 7}, 2, 0, "U8");
    nn_state_dict_free(sd);
    remove(path);
    scope_end(scope);
}
END_TEST

START_TEST(test_python_interop)
{
    if (system("python3 -c 'import json, struct' > /dev/null 2>&1") != 0) {
        printf("note: python3 is not available; the cross-implementation check was skipped\n");
        return;
    }
    char src[256], dst[256], script[256], cmd[1024];
    tmp_path(src, sizeof src, "py-src.safetensors");
    tmp_path(dst, sizeof dst, "py-dst.safetensors");
    tmp_path(script, sizeof script, "reader.py");
    write_bytes(script, PYTHON_SCRIPT, strlen(PYTHON_SCRIPT));
    Scope *s = scope_begin();
    Module *lin = MUST(nn_linear(3, 2, true));
    float w[6] = {1, 2, 3, 4, 5, 6};
    ck_assert_status(tensor_copy_(nn_get_parameter(lin, "weight")->data,
                                  make_tensor(w, (int64_t[]){2, 3}, 2)));
    ck_assert_status(nn_save(lin, src));
    snprintf(cmd, sizeof cmd, "python3 %s %s %s 2>&1", script, src, dst);
    ck_assert_msg(system(cmd) == 0, "the Python reader rejected strata's file (%s)", cmd);
    /* What Python wrote: F32, F64 and I64 tensors, read back as float32. */
    NnStateDict *sd = nn_safetensors_load(dst);
    ck_assert_ok(sd);
    float w2[6] = {2, 4, 6, 8, 10, 12}, b2[2] = {0.5f, -0.25f}, steps[1] = {42};
    assert_values(nn_state_dict_get(sd, "weight"), w2, 6, 0, "weight from Python");
    assert_values(nn_state_dict_get(sd, "bias"), b2, 2, 0, "F64 bias from Python");
    assert_values(nn_state_dict_get(sd, "steps"), steps, 1, 0, "I64 from Python");
    ck_assert_str_eq(nn_state_dict_get_meta(sd, "by"), "python");
    nn_state_dict_free(sd);
    ck_assert_status(nn_load(lin, dst, false));
    assert_values(nn_get_parameter(lin, "weight")->data, w2, 6, 0, "loaded weight");
    scope_end(s);
    remove(src);
    remove(dst);
    remove(script);
    nn_module_free(lin);
}
END_TEST

void add_state_tests(Suite *s)
{
    GRADED(s, test_state_dict_names, 3);
    GRADED(s, test_file_round_trip, 4);
    GRADED(s, test_file_layout, 3);
    GRADED(s, test_metadata_round_trip, 2);
    GRADED(s, test_load_strict_missing, 3);
    GRADED(s, test_load_unexpected, 3);
    GRADED(s, test_load_shape_mismatch_changes_nothing, 3);
    GRADED(s, test_corrupt_files, 4);
    GRADED(s, test_save_errors_are_atomic, 2);
    GRADED(s, test_python_interop, 3);
    GRADED(s, test_load_every_dtype, 2);
}
