/*
 * rb.c - helpers of the bad-input suite (see rb.h).
 */
#include "rb.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

void rb_row(const char *test, const char *layer, const char *call, const char *input, bool failed,
            const char *expr, const char *k1, const char *k2)
{
    const char *msg = strata_last_error();
    const char *dump = getenv("RB_DUMP");
    if (dump) {
        FILE *f = fopen(dump, "a");
        if (f) {
            /* START_TEST(name) defines name_fn: report the test's own name */
            size_t tl = strlen(test);
            int n = tl > 3 && strcmp(test + tl - 3, "_fn") == 0 ? (int)tl - 3 : (int)tl;
            fprintf(f, "%.*s\t%s\t%s\t%s\t%s\n", n, test, layer, call, input, msg);
            fclose(f);
        }
    }
    ck_assert_msg(failed, "%s: expected a failure (%s), message \"%s\"", call, expr, msg);
    if (k1)
        ck_assert_msg(strstr(msg, k1), "%s: message \"%s\" lacks \"%s\"", call, msg, k1);
    if (k2)
        ck_assert_msg(strstr(msg, k2), "%s: message \"%s\" lacks \"%s\"", call, msg, k2);
}

Tensor *rb_snap(const Tensor *t)
{
    return OK(tensor_clone(t));
}

void rb_assert_same(const Tensor *t, const Tensor *snap, const char *what)
{
    ck_assert_msg(t && snap, "%s: missing tensor", what);
    ck_assert_msg(tensor_same_shape(t, snap), "%s: shape changed", what);
    int64_t n = tensor_numel(t);
    float *a = malloc(sizeof(float) * (size_t)(n ? n : 1));
    float *b = malloc(sizeof(float) * (size_t)(n ? n : 1));
    ck_assert(a && b);
    ck_assert_int_eq(tensor_to_array(t, a), 0);
    ck_assert_int_eq(tensor_to_array(snap, b), 0);
    int same = memcmp(a, b, sizeof(float) * (size_t)n) == 0;
    free(a);
    free(b);
    ck_assert_msg(same, "%s: values changed", what);
}

void rb_assert_dict_same(const NnStateDict *a, const NnStateDict *b)
{
    ck_assert_int_eq(a->num_tensors, b->num_tensors);
    for (int i = 0; i < a->num_tensors; i++) {
        ck_assert_str_eq(a->names[i], b->names[i]);
        rb_assert_same(a->tensors[i], b->tensors[i], a->names[i]);
    }
    ck_assert_int_eq(a->num_meta, b->num_meta);
    for (int i = 0; i < a->num_meta; i++) {
        ck_assert_str_eq(a->meta_keys[i], b->meta_keys[i]);
        ck_assert_str_eq(a->meta_values[i], b->meta_values[i]);
    }
}

static NnStateDict *deep_copy(NnStateDict *sd)
{
    ck_assert_msg(sd != NULL, "state dict: %s", strata_last_error());
    NnStateDict *out = nn_state_dict_new();
    ck_assert_ptr_nonnull(out);
    for (int i = 0; i < sd->num_tensors; i++) {
        Tensor *c = tensor_clone(sd->tensors[i]);
        ck_assert_ptr_nonnull(c);
        ck_assert_int_eq(nn_state_dict_set(out, sd->names[i], c), 0);
    }
    for (int i = 0; i < sd->num_meta; i++)
        ck_assert_int_eq(nn_state_dict_set_meta(out, sd->meta_keys[i], sd->meta_values[i]), 0);
    nn_state_dict_free(sd);
    return out;
}

NnStateDict *rb_snap_module(const Module *m)
{
    return deep_copy(nn_state_dict(m));
}

void rb_assert_module_same(const Module *m, const NnStateDict *snap)
{
    NnStateDict *now = nn_state_dict(m);
    ck_assert_ptr_nonnull(now);
    rb_assert_dict_same(now, snap);
    nn_state_dict_free(now);
}

NnStateDict *rb_snap_optim(const Optimizer *opt)
{
    return deep_copy(optim_state_dict(opt));
}

void rb_assert_optim_same(const Optimizer *opt, const NnStateDict *snap)
{
    NnStateDict *now = optim_state_dict(opt);
    ck_assert_ptr_nonnull(now);
    rb_assert_dict_same(now, snap);
    nn_state_dict_free(now);
}

void rb_assert_var_same(const Var *v, const Tensor *data_snap, const Tensor *grad_snap,
                        bool requires_grad)
{
    rb_assert_same(var_data(v), data_snap, "var data");
    if (grad_snap)
        rb_assert_same(var_grad(v), grad_snap, "var grad");
    else
        ck_assert_msg(var_grad(v) == NULL, "a gradient appeared");
    ck_assert_int_eq(v->requires_grad, requires_grad);
}

static char dir_buf[64];

const char *rb_dir(void)
{
    if (!dir_buf[0]) {
        strcpy(dir_buf, "/tmp/strata-rb-XXXXXX");
        ck_assert_ptr_nonnull(mkdtemp(dir_buf));
    }
    return dir_buf;
}

void rb_dir_remove(void)
{
    if (!dir_buf[0])
        return;
    DIR *d = opendir(dir_buf);
    if (d) {
        struct dirent *e;
        char p[512];
        while ((e = readdir(d))) {
            if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
                continue;
            snprintf(p, sizeof p, "%s/%s", dir_buf, e->d_name);
            unlink(p);
        }
        closedir(d);
    }
    rmdir(dir_buf);
    dir_buf[0] = '\0';
}

const char *rb_path(const char *name)
{
    static char ring[4][512];
    static int next;
    char *p = ring[next++ % 4];
    snprintf(p, 512, "%s/%s", rb_dir(), name);
    return p;
}

void rb_write(const char *path, const void *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    if (size)
        ck_assert_int_eq(fwrite(data, 1, size, f), size);
    fclose(f);
}

unsigned char *rb_read(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    size_t cap = 4096, n = 0;
    unsigned char *buf = malloc(cap);
    ck_assert_ptr_nonnull(buf);
    size_t r;
    while ((r = fread(buf + n, 1, cap - n, f)) > 0) {
        n += r;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
            ck_assert_ptr_nonnull(buf);
        }
    }
    fclose(f);
    *size = n;
    return buf;
}

void rb_assert_file_same(const char *path, const unsigned char *before, size_t size)
{
    size_t n = 0;
    unsigned char *now = rb_read(path, &n);
    ck_assert_msg(now != NULL, "%s vanished", path);
    int same = n == size && memcmp(now, before, size) == 0;
    free(now);
    ck_assert_msg(same, "%s changed", path);
}

void rb_write_safetensors(const char *path, const char *json, const void *payload,
                          size_t payload_size)
{
    size_t jl = strlen(json);
    size_t total = 8 + jl + payload_size;
    unsigned char *buf = malloc(total);
    ck_assert_ptr_nonnull(buf);
    for (int i = 0; i < 8; i++)
        buf[i] = (unsigned char)(((uint64_t)jl >> (8 * i)) & 0xff);
    memcpy(buf + 8, json, jl);
    if (payload_size)
        memcpy(buf + 8 + jl, payload, payload_size);
    rb_write(path, buf, total);
    free(buf);
}

void rb_write_idx(const char *path, int dtype, int ndim, const uint32_t *dims,
                  const void *payload, size_t payload_size)
{
    size_t total = 4 + 4 * (size_t)ndim + payload_size;
    unsigned char *buf = malloc(total);
    ck_assert_ptr_nonnull(buf);
    buf[0] = 0;
    buf[1] = 0;
    buf[2] = (unsigned char)dtype;
    buf[3] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int k = 0; k < 4; k++)
            buf[4 + 4 * d + k] = (unsigned char)(dims[d] >> (24 - 8 * k));
    if (payload_size)
        memcpy(buf + 4 + 4 * ndim, payload, payload_size);
    rb_write(path, buf, total);
    free(buf);
}

Module *rb_mlp(void)
{
    strata_manual_seed(7);
    Module *m = nn_sequential(3, nn_linear(4, 3, true), nn_relu(), nn_linear(3, 2, true));
    ck_assert_msg(m != NULL, "rb_mlp: %s", strata_last_error());
    return m;
}
