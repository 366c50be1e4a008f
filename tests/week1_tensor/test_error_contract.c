/*
 * test_error_contract.c - week 1's failure paths: what your ops do when memory runs out
 * half way. Each walk fails the call's 1st, 2nd, ... allocation in turn (tests/harness/
 * faultwalk.h): every time the op must return its failure value (NULL, -1) with a
 * message, free what it had made and leave its inputs as they were; with nothing
 * failing it must then give the right values. (strata_malloc records the message
 * "out of memory"; a NULL from a call inside keeps it, as for any NULL argument.)
 */
#include "common.h"
#include "faultwalk.h"

typedef struct Ops {
    Tensor *a, *b;
    float out[4];
    char text[256];
} Ops;

/* softmax(a @ b, 1), summed over dim 0, concatenated with itself; then its repr */
static int ops_call(void *ctx)
{
    Ops *o = ctx;
    Tensor *s = tensor_sum(tensor_softmax(tensor_matmul(o->a, o->b), 1), DIMS(0), 1, false);
    Tensor *c = tensor_cat((Tensor *[]){s, s}, 2, 0);
    char *text = tensor_repr(c);
    if (!text)
        return -1;
    for (int i = 0; i < 4; i++)
        o->out[i] = c->data[i];
    snprintf(o->text, sizeof o->text, "%s", text);
    strata_free(text);
    return 0;
}

static uint64_t ops_state(void *ctx)
{
    Ops *o = ctx;
    return fw_hash_tensor(fw_hash_tensor(FW_HASH_INIT, o->a), o->b);
}

START_TEST(test_ops_out_of_memory)
{
    BEGIN;
    /* a @ b = [[0, 0], [0, 0]] for a = 0: softmax rows [0.5, 0.5], summed over the two
     * rows: [1, 1]; concatenated: [1, 1, 1, 1] */
    Ops o = {MK(DATA(0, 0, 0, 0, 0, 0), 2, 3), MK(DATA(1, 2, 3, 4, 5, 6), 3, 2), {0}, ""};
    size_t points = FW_WALK_ALLOC("matmul, softmax, sum, cat, repr", ops_call, ops_state, &o);
    ck_assert_uint_gt(points, 4);
    for (int i = 0; i < 4; i++)
        ck_assert_close(o.out[i], 1.0f, 1e-6);
    ck_assert_msg(strstr(o.text, "tensor("), "repr: \"%s\"", o.text);
    END;
}
END_TEST

typedef struct Overlap {
    Tensor *t;
} Overlap;

/* t[0:2] = t[2:4]: the source shares the target's memory, so a copy is made first */
static int overlap_call(void *ctx)
{
    Tensor *t = ((Overlap *)ctx)->t;
    Scope *s = scope_begin();
    Tensor *dst = tensor_narrow(t, 0, 0, 2), *src = tensor_narrow(t, 0, 2, 2);
    int rc = dst && src ? tensor_copy_(dst, src) : -1;
    scope_end(s);
    return rc;
}

static uint64_t overlap_state(void *ctx) { return fw_hash_tensor(FW_HASH_INIT, ((Overlap *)ctx)->t); }

START_TEST(test_inplace_copy_out_of_memory)
{
    BEGIN;
    Overlap o = {MK(DATA(1, 2, 3, 4), 4)};
    FW_WALK_ALLOC("tensor_copy_ of an overlapping view", overlap_call, overlap_state, &o);
    ck_assert_float_eq(o.t->data[0], 3);
    ck_assert_float_eq(o.t->data[1], 4);
    ck_assert_float_eq(o.t->data[2], 3);
    ck_assert_float_eq(o.t->data[3], 4);
    END;
}
END_TEST

void add_error_contract_tests(Suite *s)
{
    GRADED(s, test_ops_out_of_memory, 2);
    GRADED(s, test_inplace_copy_out_of_memory, 1);
}
