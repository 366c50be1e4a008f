/*
 * test_hooks.c - forward pre-hooks and hooks: order, replacing inputs and outputs,
 * removal, failures, hooks on children.
 */
#include "nn_test.h"

typedef struct HookLog {
    char text[256];
} HookLog;

static void log_append(HookLog *log, const char *word)
{
    strncat(log->text, word, sizeof log->text - strlen(log->text) - 1);
}

static int pre_a(Module *m, Var **inputs, int n, void *user)
{
    (void)m, (void)inputs, (void)n;
    log_append(user, "preA ");
    return 0;
}

static int pre_b(Module *m, Var **inputs, int n, void *user)
{
    (void)m, (void)inputs, (void)n;
    log_append(user, "preB ");
    return 0;
}

static Var *post_a(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m, (void)inputs, (void)n;
    log_append(user, "postA ");
    return output;
}

static Var *post_b(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m, (void)inputs, (void)n;
    log_append(user, "postB ");
    return output;
}

/* Replace the input by 2 * input. */
static int double_input(Module *m, Var **inputs, int n, void *user)
{
    (void)m, (void)n, (void)user;
    inputs[0] = var_mul_scalar(inputs[0], 2.0f);
    return inputs[0] ? 0 : -1;
}

/* Replace the output by output + 10. */
static Var *add_ten(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m, (void)inputs, (void)n, (void)user;
    return var_add_scalar(output, 10.0f);
}

static Var *failing_hook(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)m, (void)inputs, (void)n, (void)output, (void)user;
    strata_set_error("failing_hook: refused");
    return NULL;
}

/* Records the type of every module it is attached to. */
static Var *record_type(Module *m, Var *const *inputs, int n, Var *output, void *user)
{
    (void)inputs, (void)n;
    log_append(user, nn_module_type_name(m));
    log_append(user, " ");
    return output;
}

START_TEST(test_hook_order)
{
    Scope *s = scope_begin();
    Module *relu = MUST(nn_relu());
    HookLog log = {""};
    /* Registered interleaved; each kind runs in its registration order. */
    ck_assert_int_gt(nn_register_forward_hook(relu, post_a, &log), 0);
    ck_assert_int_gt(nn_register_forward_pre_hook(relu, pre_a, &log), 0);
    ck_assert_int_gt(nn_register_forward_hook(relu, post_b, &log), 0);
    ck_assert_int_gt(nn_register_forward_pre_hook(relu, pre_b, &log), 0);
    float xv[2] = {-1, 2};
    int64_t xs[1] = {2};
    ck_assert_ok(nn_forward(relu, make_var(xv, xs, 1, false)));
    ck_assert_str_eq(log.text, "preA preB postA postB ");
    scope_end(s);
    nn_module_free(relu);
}
END_TEST

START_TEST(test_hook_replaces_input_and_output)
{
    Scope *s = scope_begin();
    Module *relu = MUST(nn_relu());
    int64_t pre = nn_register_forward_pre_hook(relu, double_input, NULL);
    int64_t post = nn_register_forward_hook(relu, add_ten, NULL);
    ck_assert(pre > 0 && post > 0 && pre != post);
    float xv[3] = {-1, 2, 3};
    int64_t xs[1] = {3};
    Var *x = make_var(xv, xs, 1, true);
    Var *y = nn_forward(relu, x);
    /* relu(2x) + 10 = [10, 14, 16] */
    float expected[3] = {10, 14, 16};
    ck_assert_ok(y);
    assert_values(y->data, expected, 3, 1e-6, "hooked output");
    /* The replacements are part of the graph: d/dx sum(relu(2x) + 10) = [0, 2, 2]. */
    ck_assert_status(var_backward(var_sum(y, NULL, 0, false)));
    float grad[3] = {0, 2, 2};
    assert_values(var_grad(x), grad, 3, 1e-6, "gradient through hooks");
    scope_end(s);
    nn_module_free(relu);
}
END_TEST

START_TEST(test_hook_removal)
{
    Scope *s = scope_begin();
    Module *relu = MUST(nn_relu());
    HookLog log = {""};
    int64_t a = nn_register_forward_pre_hook(relu, pre_a, &log);
    int64_t b = nn_register_forward_hook(relu, post_b, &log);
    float xv[1] = {1};
    int64_t xs[1] = {1};
    Var *x = make_var(xv, xs, 1, false);
    ck_assert_ok(nn_forward(relu, x));
    ck_assert_status(nn_remove_hook(relu, a));
    ck_assert_ok(nn_forward(relu, x));
    ck_assert_str_eq(log.text, "preA postB postB ");
    /* Removing twice, or an unknown handle, is an error naming the handle. */
    ck_assert_int_eq(nn_remove_hook(relu, a), -1);
    ck_assert_error("no hook with handle");
    ck_assert_int_eq(nn_remove_hook(relu, 999), -1);
    ck_assert_error("999");
    ck_assert_status(nn_remove_hook(relu, b));
    ck_assert_ok(nn_forward(relu, x));
    ck_assert_str_eq(log.text, "preA postB postB ");
    /* Handles are not reused after removal. */
    int64_t c = nn_register_forward_hook(relu, post_a, &log);
    ck_assert(c != a && c != b);
    scope_end(s);
    nn_module_free(relu);
}
END_TEST

START_TEST(test_hook_failure)
{
    Scope *s = scope_begin();
    Module *lin = MUST(nn_linear(2, 2, true));
    ck_assert_int_gt(nn_register_forward_hook(lin, failing_hook, NULL), 0);
    float xv[2] = {1, 2};
    int64_t xs[2] = {1, 2};
    ck_assert_ptr_null(nn_forward(lin, make_var(xv, xs, 2, false)));
    ck_assert_error("failing_hook: refused");
    ck_assert_int_eq(nn_register_forward_hook(lin, NULL, NULL), -1);
    scope_end(s);
    nn_module_free(lin);
}
END_TEST

START_TEST(test_hooks_on_children)
{
    Scope *s = scope_begin();
    Module *net = MUST(nn_sequential(3, nn_linear(2, 3, true), nn_relu(),
                                     nn_linear(3, 1, true)));
    HookLog log = {""};
    NnNamedModules *mods = nn_named_modules(net);
    ck_assert_ok(mods);
    for (int i = 0; i < mods->count; i++)
        ck_assert_int_gt(nn_register_forward_hook(mods->modules[i], record_type, &log), 0);
    nn_named_modules_free(mods);
    float xv[2] = {1, 2};
    int64_t xs[2] = {1, 2};
    ck_assert_ok(nn_forward(net, make_var(xv, xs, 2, false)));
    /* Children finish before their parent. */
    ck_assert_str_eq(log.text, "Linear ReLU Linear Sequential ");
    scope_end(s);
    nn_module_free(net);
}
END_TEST

void add_hook_tests(Suite *s)
{
    GRADED(s, test_hook_order, 3);
    GRADED(s, test_hook_replaces_input_and_output, 3);
    GRADED(s, test_hook_removal, 3);
    GRADED(s, test_hook_failure, 2);
    GRADED(s, test_hooks_on_children, 2);
}
