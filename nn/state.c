/*
 * state.c - state dicts (ordered name -> tensor maps), loading one into a module
 * (validate everything, then copy), and safetensors files.
 *
 * The safetensors format (https://github.com/huggingface/safetensors):
 *
 *     [8 bytes]  N, the header length, unsigned little-endian
 *     [N bytes]  a JSON object: {"__metadata__": {"k": "v"},
 *                                "name": {"dtype": "F32", "shape": [2, 3],
 *                                         "data_offsets": [begin, end]}, ...}
 *                padded with spaces so the data starts 8-byte aligned
 *     [rest]     the data buffer; each tensor's bytes are [begin, end) of it, row-major
 *                little-endian, and together they cover the buffer without holes.
 */
#include "nn_internal.h"

#include <cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* --------------------------------------------------------------- the container --- */

NnStateDict *nn_state_dict_new(void) { return strata_calloc(1, sizeof(NnStateDict)); }

void nn_state_dict_free(NnStateDict *sd)
{
    if (!sd)
        return;
    for (int i = 0; i < sd->num_tensors; i++) {
        strata_free(sd->names[i]);
        tensor_release(sd->tensors[i]);
    }
    for (int i = 0; i < sd->num_meta; i++) {
        strata_free(sd->meta_keys[i]);
        strata_free(sd->meta_values[i]);
    }
    strata_free(sd->names);
    strata_free(sd->tensors);
    strata_free(sd->meta_keys);
    strata_free(sd->meta_values);
    strata_free(sd);
}

static int find_name(char *const *names, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(names[i], name) == 0)
            return i;
    return -1;
}

int nn_state_dict_set(NnStateDict *sd, const char *name, Tensor *t)
{
    STRATA_CHECK_ARG(sd, -1);
    STRATA_CHECK_ARG(name, -1);
    STRATA_CHECK_ARG(t, -1);
    int i = find_name(sd->names, sd->num_tensors, name);
    if (i >= 0) { /* replace in place, keeping the order */
        tensor_retain(t);
        tensor_release(sd->tensors[i]);
        sd->tensors[i] = t;
        return 0;
    }
    int cap_names = sd->cap_tensors, cap_tensors = sd->cap_tensors;
    if (nn_grow((void **)&sd->names, &cap_names, sd->num_tensors + 1, sizeof(char *)) < 0 ||
        nn_grow((void **)&sd->tensors, &cap_tensors, sd->num_tensors + 1,
                sizeof(Tensor *)) < 0)
        return -1;
    sd->cap_tensors = cap_names < cap_tensors ? cap_names : cap_tensors;
    char *copy = strata_strdup(name);
    if (!copy)
        return -1;
    tensor_retain(t);
    sd->names[sd->num_tensors] = copy;
    sd->tensors[sd->num_tensors] = t;
    sd->num_tensors++;
    return 0;
}

/* The tensor called @p name, or NULL without an error: the lookups of this file, for
 * which an absent key is an answer, not a failure. */
static Tensor *lookup(const NnStateDict *sd, const char *name)
{
    int i = find_name(sd->names, sd->num_tensors, name);
    return i >= 0 ? sd->tensors[i] : NULL;
}

bool nn_state_dict_contains(const NnStateDict *sd, const char *name)
{
    return sd && name && find_name(sd->names, sd->num_tensors, name) >= 0;
}

Tensor *nn_state_dict_get(const NnStateDict *sd, const char *name)
{
    STRATA_CHECK_ARG(sd, NULL);
    STRATA_CHECK_ARG(name, NULL);
    Tensor *t = lookup(sd, name);
    if (!t)
        strata_set_error("nn_state_dict_get: no tensor '%s' in the state dict (%d tensors)",
                         name, sd->num_tensors);
    return t;
}

int nn_state_dict_set_meta(NnStateDict *sd, const char *key, const char *value)
{
    STRATA_CHECK_ARG(sd, -1);
    STRATA_CHECK_ARG(key, -1);
    STRATA_CHECK_ARG(value, -1);
    char *v = strata_strdup(value);
    if (!v)
        return -1;
    int i = find_name(sd->meta_keys, sd->num_meta, key);
    if (i >= 0) {
        strata_free(sd->meta_values[i]);
        sd->meta_values[i] = v;
        return 0;
    }
    int cap_k = sd->cap_meta, cap_v = sd->cap_meta;
    char *k = strata_strdup(key);
    if (!k || nn_grow((void **)&sd->meta_keys, &cap_k, sd->num_meta + 1, sizeof(char *)) < 0 ||
        nn_grow((void **)&sd->meta_values, &cap_v, sd->num_meta + 1, sizeof(char *)) < 0) {
        strata_free(k);
        strata_free(v);
        return -1;
    }
    sd->cap_meta = cap_k < cap_v ? cap_k : cap_v;
    sd->meta_keys[sd->num_meta] = k;
    sd->meta_values[sd->num_meta] = v;
    sd->num_meta++;
    return 0;
}

const char *nn_state_dict_get_meta(const NnStateDict *sd, const char *key)
{
    if (!sd || !key)
        return NULL;
    int i = find_name(sd->meta_keys, sd->num_meta, key);
    return i >= 0 ? sd->meta_values[i] : NULL;
}

void nn_keys_clear(NnKeys *keys)
{
    if (!keys)
        return;
    for (int i = 0; i < keys->count; i++)
        strata_free(keys->keys[i]);
    strata_free(keys->keys);
    keys->keys = NULL;
    keys->count = 0;
}

/* SOLUTION BEGIN week=3 step=8 tier=stretch */
/* Append a copy of @p key; 0 or -1. */
static int keys_add(NnKeys *keys, const char *key)
{
    char **grown = strata_realloc(keys->keys, (size_t)(keys->count + 1) * sizeof(char *));
    if (!grown)
        return -1;
    keys->keys = grown;
    keys->keys[keys->count] = strata_strdup(key);
    if (!keys->keys[keys->count])
        return -1;
    keys->count++;
    return 0;
}

/* Append "'a', 'b'" for the keys to @p text. */
/* The keys, quoted, until about @p budget characters; then "... and N more", so that
 * the message (the error slot holds 1 KB) never ends cut mid-word. */
static void list_keys(StrataText *text, const NnKeys *keys, size_t budget)
{
    size_t start = text->len;
    for (int i = 0; i < keys->count; i++) {
        if (i > 0 && text->len - start + strlen(keys->keys[i]) + 4 > budget) {
            strata_text_printf(text, ", ... and %d more", keys->count - i);
            return;
        }
        strata_text_printf(text, "%s'%s'", i ? ", " : "", keys->keys[i]);
    }
}
/* SOLUTION END */

/* ----------------------------------------------------- a module's state dict --- */

/* The (name, tensor) pairs of the state dict, in order: each module's parameters, then
 * its persistent buffers, then its children's (PyTorch's _save_to_state_dict order). */
static int collect_state(const Module *m, const char *prefix, NnStateDict *sd)
{
    /* SOLUTION BEGIN week=3 step=8 tier=stretch fail=-1 */
    char name[1024];
    for (int i = 0; i < m->num_params; i++) {
        if (!m->params[i].var)
            continue; /* an absent optional parameter is not part of the state */
        snprintf(name, sizeof name, "%s%s", prefix, m->params[i].name);
        if (nn_state_dict_set(sd, name, m->params[i].var->data) < 0)
            return -1;
    }
    for (int i = 0; i < m->num_buffers; i++) {
        if (!m->buffers[i].tensor || !m->buffers[i].persistent)
            continue;
        snprintf(name, sizeof name, "%s%s", prefix, m->buffers[i].name);
        if (nn_state_dict_set(sd, name, m->buffers[i].tensor) < 0)
            return -1;
    }
    for (int i = 0; i < m->num_children; i++) {
        char sub[1024];
        snprintf(sub, sizeof sub, "%s%s.", prefix, m->children[i].name);
        if (collect_state(m->children[i].module, sub, sd) < 0)
            return -1;
    }
    return 0;
    /* SOLUTION END */
}

NnStateDict *nn_state_dict(const Module *m)
{
    STRATA_CHECK_ARG(m, NULL);
    NnStateDict *sd = nn_state_dict_new();
    if (!sd)
        return NULL;
    if (collect_state(m, "", sd) < 0) {
        nn_state_dict_free(sd);
        return NULL;
    }
    return sd;
}

int nn_load_state_dict(Module *m, const NnStateDict *sd, bool strict, NnKeys *missing,
                       NnKeys *unexpected)
{
    if (missing)
        memset(missing, 0, sizeof *missing);
    if (unexpected)
        memset(unexpected, 0, sizeof *unexpected);
    STRATA_CHECK_ARG(m, -1);
    STRATA_CHECK_ARG(sd, -1);
    /* SOLUTION BEGIN week=3 step=8 tier=stretch fail=-1 */
    NnStateDict *own = nn_state_dict(m); /* the model's tensors, under their names */
    if (!own)
        return -1;
    NnKeys miss = {0, NULL}, extra = {0, NULL};
    int status = 0;
    char shape_file[128], shape_model[128];

    /* 1. Validate: every model key present with the right shape, no stray keys. */
    for (int i = 0; i < own->num_tensors && status == 0; i++) {
        Tensor *src = lookup(sd, own->names[i]);
        if (!src) {
            status = keys_add(&miss, own->names[i]);
        } else if (!tensor_same_shape(src, own->tensors[i])) {
            strata_set_error("nn_load_state_dict: size mismatch for '%s': the state dict "
                             "has shape %s, the model has %s (nothing was loaded)",
                             own->names[i],
                             tensor_shape_str(src, shape_file, sizeof shape_file),
                             tensor_shape_str(own->tensors[i], shape_model,
                                              sizeof shape_model));
            status = -1;
        }
    }
    for (int i = 0; i < sd->num_tensors && status == 0; i++)
        if (!lookup(own, sd->names[i]))
            status = keys_add(&extra, sd->names[i]);
    if (status == 0 && strict && (miss.count || extra.count)) {
        StrataText text = {0};
        strata_text_printf(&text, "nn_load_state_dict: error loading the state dict into %s:",
                       m->type->name);
        if (miss.count) {
            strata_text_printf(&text, " missing keys: ");
            list_keys(&text, &miss, 300);
            strata_text_printf(&text, extra.count ? ";" : "");
        }
        if (extra.count) {
            strata_text_printf(&text, " unexpected keys: ");
            list_keys(&text, &extra, 300);
        }
        strata_set_error("%s (nothing was loaded)", text.failed ? "" : text.data);
        strata_text_clear(&text);
        status = -1;
    }

    /* 2. Only now copy, into the model's own tensors (so Vars stay the same objects). */
    for (int i = 0; i < own->num_tensors && status == 0; i++) {
        Tensor *src = lookup(sd, own->names[i]);
        if (src && src != own->tensors[i] && tensor_copy_(own->tensors[i], src) < 0)
            status = -1;
    }
    nn_state_dict_free(own);
    if (missing)
        *missing = miss;
    else
        nn_keys_clear(&miss);
    if (unexpected)
        *unexpected = extra;
    else
        nn_keys_clear(&extra);
    return status;
    /* SOLUTION END */
}

/* ------------------------------------------------------------ safetensors files --- */

/* SOLUTION BEGIN week=3 step=8 tier=stretch */
/* Write @p n bytes, or record an error naming @p path. */
static int write_all(FILE *f, const void *data, size_t n, const char *path)
{
    if (strata_fwrite(data, n, f) < 0) {
        strata_set_error("nn_safetensors_save: cannot write '%s': %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* The JSON header for @p sd (data laid out in order), padded to a multiple of 8. */
static char *build_header(const NnStateDict *sd, size_t *header_len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root)
        return NULL;
    if (sd->num_meta) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta && i < sd->num_meta; i++)
            cJSON_AddStringToObject(meta, sd->meta_keys[i], sd->meta_values[i]);
    }
    size_t offset = 0;
    for (int i = 0; i < sd->num_tensors; i++) {
        const Tensor *t = sd->tensors[i];
        cJSON *entry = cJSON_AddObjectToObject(root, sd->names[i]);
        if (!entry)
            break;
        cJSON_AddStringToObject(entry, "dtype", "F32");
        cJSON *shape = cJSON_AddArrayToObject(entry, "shape");
        for (int d = 0; shape && d < t->ndim; d++)
            cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        size_t bytes = (size_t)tensor_numel(t) * sizeof(float);
        cJSON *offsets = cJSON_AddArrayToObject(entry, "data_offsets");
        if (offsets) {
            cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)offset));
            cJSON_AddItemToArray(offsets, cJSON_CreateNumber((double)(offset + bytes)));
        }
        offset += bytes;
    }
    char *json = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    if (!json) {
        strata_set_error("nn_safetensors_save: out of memory building the header");
        return NULL;
    }
    size_t len = strlen(json);
    size_t padded = (len + 7) / 8 * 8;
    char *header = strata_malloc(padded + 1);
    if (header) {
        memcpy(header, json, len);
        memset(header + len, ' ', padded - len);
        header[padded] = '\0';
        *header_len = padded;
    }
    cJSON_free(json); /* cJSON_Print's string is cJSON's own */
    return header;
}

/* Write the header length (little-endian), the header and every tensor's data. */
static int write_file(FILE *f, const NnStateDict *sd, const char *header, size_t len,
                      const char *path)
{
    unsigned char n[8];
    for (int i = 0; i < 8; i++)
        n[i] = (unsigned char)((uint64_t)len >> (8 * i));
    if (write_all(f, n, 8, path) < 0 || write_all(f, header, len, path) < 0)
        return -1;
    for (int i = 0; i < sd->num_tensors; i++) {
        Scope *s = scope_begin();
        Tensor *c = tensor_contiguous(sd->tensors[i]); /* row-major floats */
        int status = c ? write_all(f, c->data, (size_t)tensor_numel(c) * sizeof(float), path)
                       : -1;
        scope_end(s);
        if (status < 0)
            return -1;
    }
    return 0;
}
/* SOLUTION END */

int nn_safetensors_save(const NnStateDict *sd, const char *path)
{
    STRATA_CHECK_ARG(sd, -1);
    STRATA_CHECK_ARG(path, -1);
    /* SOLUTION BEGIN week=3 step=8 tier=stretch fail=-1 */
    size_t header_len = 0;
    char *header = build_header(sd, &header_len);
    if (!header)
        return -1;
    /* Write beside the target, then rename: a crash never leaves half a file. */
    size_t plen = strlen(path);
    char *tmp = strata_malloc(plen + 5);
    if (!tmp) {
        strata_free(header);
        return -1;
    }
    memcpy(tmp, path, plen);
    memcpy(tmp + plen, ".tmp", 5);
    int status = -1;
    FILE *f = strata_fopen(tmp, "wb");
    if (!f) {
        strata_set_error("nn_safetensors_save: cannot create '%s': %s", tmp, strerror(errno));
    } else {
        status = write_file(f, sd, header, header_len, tmp);
        if (strata_fclose(f) != 0 && status == 0) {
            strata_set_error("nn_safetensors_save: cannot write '%s': %s", tmp,
                             strerror(errno));
            status = -1;
        }
        if (status == 0 && strata_rename(tmp, path) != 0) {
            strata_set_error("nn_safetensors_save: cannot rename '%s' to '%s': %s", tmp, path,
                             strerror(errno));
            status = -1;
        }
        if (status < 0)
            remove(tmp);
    }
    strata_free(tmp);
    strata_free(header);
    return status;
    /* SOLUTION END */
}

/* SOLUTION BEGIN week=3 step=8 tier=stretch */
/* The whole file in counted memory, or NULL with an error. */
static unsigned char *read_file(const char *path, size_t *size)
{
    FILE *f = strata_fopen(path, "rb");
    if (!f) {
        strata_set_error("nn_safetensors_load: cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    unsigned char *data = NULL;
    long n = -1;
    if (fseek(f, 0, SEEK_END) == 0)
        n = ftell(f);
    if (n < 0 || fseek(f, 0, SEEK_SET) != 0) {
        strata_set_error("nn_safetensors_load: cannot read '%s'", path);
    } else if ((data = strata_malloc((size_t)n + 1)) != NULL &&
               strata_fread(data, (size_t)n, f) != (size_t)n) {
        strata_set_error("nn_safetensors_load: cannot read '%s': %s", path,
                         ferror(f) || errno ? strerror(errno) : "it ends early");
        strata_free(data);
        data = NULL;
    }
    /* The matching close of strata_fopen (the I/O fault injection counts it). A close
     * that fails after a good read fails the load: the caller sees every file call. */
    if (strata_fclose(f) != 0 && data) {
        strata_set_error("nn_safetensors_load: cannot read '%s': %s", path, strerror(errno));
        strata_free(data);
        data = NULL;
    }
    *size = (size_t)n;
    return data;
}

/* Bytes per element of a safetensors dtype, 0 if unknown. */
static size_t dtype_size(const char *dtype)
{
    static const struct { const char *name; size_t size; } table[] = {
        {"F32", 4}, {"F64", 8}, {"F16", 2}, {"BF16", 2}, {"I64", 8}, {"I32", 4},
        {"I16", 2}, {"I8", 1}, {"U8", 1}, {"BOOL", 1},
    };
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if (strcmp(table[i].name, dtype) == 0)
            return table[i].size;
    return 0;
}

/* IEEE half to float. */
static float half_to_float(uint16_t h)
{
    int sign = (h >> 15) & 1, exponent = (h >> 10) & 31, mantissa = h & 1023;
    float value;
    if (exponent == 0)
        value = ldexpf((float)mantissa, -24);
    else if (exponent == 31)
        value = mantissa ? NAN : INFINITY;
    else
        value = ldexpf((float)(mantissa + 1024), exponent - 25);
    return sign ? -value : value;
}

/* Little-endian bytes of one element of @p dtype as a float. */
static float element(const unsigned char *p, const char *dtype)
{
    uint64_t bits = 0;
    size_t size = dtype_size(dtype);
    for (size_t i = 0; i < size; i++)
        bits |= (uint64_t)p[i] << (8 * i);
    if (strcmp(dtype, "F32") == 0) {
        uint32_t b = (uint32_t)bits;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    if (strcmp(dtype, "F64") == 0) {
        double d;
        memcpy(&d, &bits, 8);
        return (float)d;
    }
    if (strcmp(dtype, "F16") == 0)
        return half_to_float((uint16_t)bits);
    if (strcmp(dtype, "BF16") == 0) {
        uint32_t b = (uint32_t)bits << 16;
        float f;
        memcpy(&f, &b, 4);
        return f;
    }
    if (strcmp(dtype, "I64") == 0)
        return (float)(int64_t)bits;
    if (strcmp(dtype, "I32") == 0)
        return (float)(int32_t)(uint32_t)bits;
    if (strcmp(dtype, "I16") == 0)
        return (float)(int16_t)(uint16_t)bits;
    if (strcmp(dtype, "I8") == 0)
        return (float)(int8_t)(uint8_t)bits;
    return (float)bits; /* U8, BOOL */
}

/* One tensor entry of the header: checks it and fills the dict. */
static int parse_entry(const cJSON *entry, const unsigned char *data, size_t data_size,
                       NnStateDict *sd, size_t *begin_out, size_t *end_out, const char *path)
{
    const char *name = entry->string;
    const cJSON *dtype = cJSON_GetObjectItemCaseSensitive(entry, "dtype");
    const cJSON *shape = cJSON_GetObjectItemCaseSensitive(entry, "shape");
    const cJSON *offsets = cJSON_GetObjectItemCaseSensitive(entry, "data_offsets");
    if (!cJSON_IsObject(entry) || !cJSON_IsString(dtype) || !cJSON_IsArray(shape) ||
        !cJSON_IsArray(offsets) || cJSON_GetArraySize(offsets) != 2) {
        strata_set_error("nn_safetensors_load: '%s': corrupt header: entry '%s' needs "
                         "\"dtype\", \"shape\" and two \"data_offsets\"", path, name);
        return -1;
    }
    size_t esize = dtype_size(dtype->valuestring);
    if (esize == 0) {
        strata_set_error("nn_safetensors_load: '%s': tensor '%s' has unsupported dtype '%s'",
                         path, name, dtype->valuestring);
        return -1;
    }
    int64_t dims[TENSOR_MAX_DIMS];
    int ndim = cJSON_GetArraySize(shape);
    if (ndim > TENSOR_MAX_DIMS) {
        strata_set_error("nn_safetensors_load: '%s': tensor '%s' has %d dims (at most %d)",
                         path, name, ndim, TENSOR_MAX_DIMS);
        return -1;
    }
    double numel = 1;
    for (int d = 0; d < ndim; d++) {
        const cJSON *s = cJSON_GetArrayItem(shape, d);
        /* A size of 2^63 or more (or inf) does not fit the int64_t below: converting it is
         * undefined behaviour (found by fuzz_safetensors: a shape of 2.2e25). */
        if (!cJSON_IsNumber(s) || s->valuedouble < 0 || s->valuedouble != floor(s->valuedouble) ||
            s->valuedouble >= 9223372036854775808.0) {
            strata_set_error("nn_safetensors_load: '%s': corrupt header: bad shape of '%s'",
                             path, name);
            return -1;
        }
        dims[d] = (int64_t)s->valuedouble;
        numel *= s->valuedouble;
    }
    double b = cJSON_GetArrayItem(offsets, 0)->valuedouble;
    double e = cJSON_GetArrayItem(offsets, 1)->valuedouble;
    if (!(b >= 0 && e >= b && e <= (double)data_size)) {
        strata_set_error("nn_safetensors_load: '%s': tensor '%s' has data_offsets [%.0f, %.0f] "
                         "outside the %zu data bytes (truncated file?)", path, name, b, e,
                         data_size);
        return -1;
    }
    if (e - b != numel * (double)esize) {
        strata_set_error("nn_safetensors_load: '%s': tensor '%s' has %.0f bytes for %.0f "
                         "elements of %s", path, name, e - b, numel, dtype->valuestring);
        return -1;
    }
    if (lookup(sd, name)) {
        strata_set_error("nn_safetensors_load: '%s': corrupt header: tensor '%s' appears "
                         "twice", path, name);
        return -1;
    }
    Scope *s = scope_begin();
    Tensor *t = tensor_empty(dims, ndim);
    int status = -1;
    if (t) {
        const unsigned char *p = data + (size_t)b;
        if (strcmp(dtype->valuestring, "F32") == 0) /* the common case: one copy */
            memcpy(t->data, p, (size_t)(e - b));
        else
            for (int64_t i = 0; i < (int64_t)numel; i++)
                t->data[i] = element(p + (size_t)i * esize, dtype->valuestring);
        status = nn_state_dict_set(sd, name, t);
    }
    scope_end(s);
    *begin_out = (size_t)b;
    *end_out = (size_t)e;
    return status;
}

static int compare_ranges(const void *a, const void *b)
{
    const size_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0] ? 1 : (x[1] > y[1]) - (x[1] < y[1]);
}

/* The tensors must tile the data buffer exactly (the spec forbids holes and overlap). */
static int check_coverage(size_t *ranges, int n, size_t data_size, const char *path)
{
    qsort(ranges, (size_t)n, 2 * sizeof(size_t), compare_ranges);
    size_t at = 0;
    for (int i = 0; i < n; i++) {
        if (ranges[2 * i] != at) {
            strata_set_error("nn_safetensors_load: '%s': corrupt file: tensor data %s at "
                             "byte %zu", path, ranges[2 * i] < at ? "overlaps" : "has a hole",
                             at);
            return -1;
        }
        at = ranges[2 * i + 1];
    }
    if (at != data_size) {
        strata_set_error("nn_safetensors_load: '%s': corrupt file: %zu data bytes but the "
                         "tensors cover %zu", path, data_size, at);
        return -1;
    }
    return 0;
}

/* Parse the header and the data of a file read into memory. */
static NnStateDict *parse_file(const unsigned char *file, size_t size, const char *path)
{
    if (size < 8) {
        strata_set_error("nn_safetensors_load: '%s' is truncated: %zu bytes, less than the "
                         "8-byte header length", path, size);
        return NULL;
    }
    uint64_t len = 0;
    for (int i = 0; i < 8; i++)
        len |= (uint64_t)file[i] << (8 * i);
    if (len > size - 8) {
        strata_set_error("nn_safetensors_load: '%s' is truncated or corrupt: header length "
                         "%llu but only %zu bytes follow", path, (unsigned long long)len,
                         size - 8);
        return NULL;
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts((const char *)file + 8, (size_t)len, &end, 0);
    bool trailing_ok = root != NULL;
    for (const char *p = end; root && p < (const char *)file + 8 + len; p++)
        trailing_ok = trailing_ok && (*p == ' ' || *p == '\n' || *p == '\t' || *p == '\r');
    if (!root || !cJSON_IsObject(root) || !trailing_ok) {
        strata_set_error("nn_safetensors_load: '%s': corrupt header: not a JSON object", path);
        cJSON_Delete(root);
        return NULL;
    }
    const unsigned char *data = file + 8 + len;
    size_t data_size = size - 8 - (size_t)len;
    NnStateDict *sd = nn_state_dict_new();
    int n = cJSON_GetArraySize(root);
    size_t *ranges = strata_malloc((size_t)n * 2 * sizeof(size_t) + 1);
    int count = 0, status = sd && ranges ? 0 : -1;
    for (const cJSON *entry = root->child; entry && status == 0; entry = entry->next) {
        if (strcmp(entry->string, "__metadata__") == 0) {
            for (const cJSON *kv = entry->child; kv && status == 0; kv = kv->next) {
                if (!cJSON_IsString(kv)) {
                    strata_set_error("nn_safetensors_load: '%s': corrupt header: metadata "
                                     "'%s' is not a string", path, kv->string);
                    status = -1;
                } else {
                    status = nn_state_dict_set_meta(sd, kv->string, kv->valuestring);
                }
            }
            continue;
        }
        status = parse_entry(entry, data, data_size, sd, &ranges[2 * count],
                             &ranges[2 * count + 1], path);
        count++;
    }
    if (status == 0)
        status = check_coverage(ranges, count, data_size, path);
    strata_free(ranges);
    cJSON_Delete(root);
    if (status < 0) {
        nn_state_dict_free(sd);
        return NULL;
    }
    return sd;
}
/* SOLUTION END */

NnStateDict *nn_safetensors_load(const char *path)
{
    STRATA_CHECK_ARG(path, NULL);
    /* SOLUTION BEGIN week=3 step=8 tier=stretch fail=NULL */
    size_t size = 0;
    unsigned char *file = read_file(path, &size);
    if (!file)
        return NULL;
    NnStateDict *sd = parse_file(file, size, path);
    strata_free(file);
    return sd;
    /* SOLUTION END */
}

int nn_save(const Module *m, const char *path)
{
    STRATA_CHECK_ARG(m, -1);
    STRATA_CHECK_ARG(path, -1);
    NnStateDict *sd = nn_state_dict(m);
    int status = sd ? nn_safetensors_save(sd, path) : -1;
    nn_state_dict_free(sd);
    return status;
}

int nn_load(Module *m, const char *path, bool strict)
{
    STRATA_CHECK_ARG(m, -1);
    STRATA_CHECK_ARG(path, -1);
    NnStateDict *sd = nn_safetensors_load(path);
    int status = sd ? nn_load_state_dict(m, sd, strict, NULL, NULL) : -1;
    nn_state_dict_free(sd);
    return status;
}
