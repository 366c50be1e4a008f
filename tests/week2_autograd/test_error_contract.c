/*
 * test_error_contract.c - week 2's failure paths: what your ops and backward do when
 * memory runs out half way. Each walk fails the call's 1st, 2nd, ... allocation
 * (tests/harness/faultwalk.h): every time the call must return its failure value (NULL,
 * -1) with a message, free what it made, and leave every .grad as it was; with nothing
 * failing it must then succeed with the right values.
 *
 * The usual bug: after a failed allocation a backward function returns 0 (or forgets
 * to return at all), and the engine carries on with a missing gradient. The other one:
 * the engine adds the first layers' gradients into .grad, then fails, and a retry
 * counts them twice: gradients go into .grad only once the whole walk has succeeded.
 */
#include "common.h"
#include "faultwalk.h"

/* loss = sum(x * w + b), x and w [2, 2], b [2] broadcast over the rows:
 *   d loss / d x = w, d loss / d w = x, d loss / d b = [2, 2] (each b[j] is used twice) */
typedef struct Graph {
    Var *x, *w, *b;
} Graph;

static int backward_call(void *ctx)
{
    Graph *g = ctx;
    Var *loss = var_sum(var_add(var_mul(g->x, g->w), g->b), NULL, 0, false);
    return loss ? var_backward(loss) : -1;
}

static uint64_t grads_state(void *ctx)
{
    Graph *g = ctx;
    uint64_t h = fw_hash_tensor(FW_HASH_INIT, var_grad(g->x));
    h = fw_hash_tensor(h, var_grad(g->w));
    return fw_hash_tensor(h, var_grad(g->b));
}

START_TEST(test_backward_out_of_memory)
{
    BEGIN;
    Graph g = {OKV(var_new(MK(DATA(1, 2, 3, 4), 2, 2), true)),
               OKV(var_new(MK(DATA(5, 6, 7, 8), 2, 2), true)),
               OKV(var_new(MK(DATA(0.5f, -0.5f), 2), true))};
    size_t points = FW_WALK_ALLOC("forward and var_backward", backward_call, grads_state, &g);
    ck_assert_uint_gt(points, 0);
    EXPECT_GRAD(g.x, 0, 5, 6, 7, 8);
    EXPECT_GRAD(g.w, 0, 1, 2, 3, 4);
    EXPECT_GRAD(g.b, 0, 2, 2);
    /* Again, with gradients to add to: a failure must not add half of them. */
    FW_WALK_ALLOC("var_backward accumulating", backward_call, grads_state, &g);
    EXPECT_GRAD(g.x, 0, 10, 12, 14, 16);
    EXPECT_GRAD(g.w, 0, 2, 4, 6, 8);
    EXPECT_GRAD(g.b, 0, 4, 4);
    END;
}
END_TEST

/* y = log_softmax(a @ b, 1) concatenated with tanh(a) sixteen times: ops that allocate
 * several times (seventeen parts: more than a small fixed array of inputs may hold) */
typedef struct Ops {
    Var *a, *b;
    float y00;
} Ops;

static int ops_call(void *ctx)
{
    Ops *o = ctx;
    Var *y = var_log_softmax(var_matmul(o->a, o->b), 1);
    Var *t = var_tanh(o->a);
    Var *z = var_cat((Var *[]){y, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t, t}, 17, 1);
    if (!z)
        return -1;
    o->y00 = tensor_get(var_data(z), (const int64_t[]){0, 0});
    return 0;
}

static uint64_t ops_state(void *ctx)
{
    Ops *o = ctx;
    return fw_hash_tensor(fw_hash_tensor(FW_HASH_INIT, var_data(o->a)), var_data(o->b));
}

START_TEST(test_ops_out_of_memory)
{
    BEGIN;
    /* a @ b = [[1, 1], ...] for a = [[1, 0], ...], b = identity: log_softmax of [1, 1]
     * is [-log 2, -log 2] */
    Ops o = {OKV(var_new(MK(DATA(1, 0, 0, 1), 2, 2), true)),
             OKV(var_new(MK(DATA(1, 1, 0, 0), 2, 2), true)), 0};
    ck_assert_uint_gt(FW_WALK_ALLOC("var_matmul, var_log_softmax, var_cat", ops_call,
                                    ops_state, &o), 2);
    ck_assert_close(o.y00, -logf(2.0f), 1e-6);
    END;
}
END_TEST

void add_error_contract_tests(Suite *s)
{
    GRADED(s, test_backward_out_of_memory, 3);
    GRADED(s, test_ops_out_of_memory, 2);
}
