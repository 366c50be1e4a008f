/*
 * test_module.c - the Module core: registration and its order, dotted names, lookups,
 * errors, absent optional parameters, modes, zero_grad, apply, counting, a user-defined
 * module, and memory.
 */
#include "nn_test.h"

/* ------------------------------------------------- a user-defined module type --- */

/* The two-layer MLP block of the handout: fc2(gelu(fc1(x))). */
typedef struct BlockState {
    int64_t dim, hidden;
} BlockState;

static Var *block_forward(Module *self, Var *x)
{
    Var *h = nn_forward(nn_get_submodule(self, "fc1"), x);
    h = nn_forward(nn_get_submodule(self, "act"), h);
    return nn_forward(nn_get_submodule(self, "fc2"), h);
}

static int block_extra_repr(const Module *self, char *buf, size_t size)
{
    const BlockState *s = nn_module_state(self);
    return snprintf(buf, size, "dim=%lld, hidden=%lld", (long long)s->dim,
                    (long long)s->hidden);
}

static void block_free(void *state) { strata_free(state); }

static const ModuleType MLP_BLOCK = {"MLPBlock", block_forward, NULL, block_extra_repr,
                                     block_free};

static Module *mlp_block(int64_t dim, int64_t hidden)
{
    BlockState *s = strata_malloc(sizeof *s);
    s->dim = dim;
    s->hidden = hidden;
    Module *m = nn_module_new(&MLP_BLOCK, s);
    if (nn_register_module(m, "fc1", nn_linear(dim, hidden, true)) < 0 ||
        nn_register_module(m, "act", nn_gelu()) < 0 ||
        nn_register_module(m, "fc2", nn_linear(hidden, dim, true)) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

/* A bare module type with no forward, for registration tests. */
static const ModuleType BARE = {"Bare", NULL, NULL, NULL, NULL};

static void assert_names(char **names, int count, const char *const *expected, int n,
                         const char *what)
{
    ck_assert_msg(count == n, "%s: %d names, expected %d", what, count, n);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(names[i], expected[i]) == 0, "%s[%d] is '%s', expected '%s'",
                      what, i, names[i], expected[i]);
}

/* ------------------------------------------------------------------------ tests --- */

START_TEST(test_registration_order)
{
    Scope *s = scope_begin();
    Module *m = MUST(nn_module_new(&BARE, NULL));
    int64_t two[1] = {2}, three[1] = {3};
    /* Registered out of alphabetical order: listings must keep this order. */
    ck_assert_ok(nn_add_parameter(m, "zeta", two, 1));
    ck_assert_ok(nn_add_parameter(m, "alpha", three, 1));
    ck_assert_ok(nn_add_buffer(m, "stats", two, 1, true));
    ck_assert_ok(nn_add_buffer(m, "cache", two, 1, false));
    ck_assert_status(nn_register_module(m, "second", nn_relu()));
    ck_assert_status(nn_register_module(m, "first", nn_tanh()));

    NnNamedVars *params = nn_named_parameters(m);
    ck_assert_ok(params);
    const char *pnames[] = {"zeta", "alpha"};
    assert_names(params->names, params->count, pnames, 2, "named_parameters");
    ck_assert_int_eq(params->vars[1]->data->shape[0], 3);
    ck_assert(params->vars[0]->requires_grad);
    nn_named_vars_free(params);

    NnNamedTensors *buffers = nn_named_buffers(m);
    ck_assert_ok(buffers);
    const char *bnames[] = {"stats", "cache"};
    assert_names(buffers->names, buffers->count, bnames, 2, "named_buffers");
    ck_assert(buffers->persistent[0] && !buffers->persistent[1]);
    nn_named_tensors_free(buffers);

    NnNamedModules *children = nn_named_children(m);
    ck_assert_ok(children);
    const char *cnames[] = {"second", "first"};
    assert_names(children->names, children->count, cnames, 2, "named_children");
    ck_assert_str_eq(nn_module_type_name(children->modules[1]), "Tanh");
    nn_named_modules_free(children);
    ck_assert_int_eq(nn_num_children(m), 2);
    ck_assert_str_eq(nn_module_type_name(nn_child_at(m, -1)), "Tanh");
    scope_end(s);
    nn_module_free(m);
}
END_TEST

START_TEST(test_dotted_names)
{
    Scope *s = scope_begin();
    Module *root = MUST(nn_module_new(&BARE, NULL));
    ck_assert_status(nn_register_module(root, "layer1", nn_linear(3, 4, true)));
    Module *blocks = MUST(nn_module_list());
    ck_assert_status(nn_register_module(root, "blocks", blocks));
    ck_assert_status(nn_module_list_append(blocks, mlp_block(4, 8)));
    ck_assert_status(nn_module_list_append(blocks, mlp_block(4, 8)));

    NnNamedVars *params = nn_named_parameters(root);
    ck_assert_ok(params);
    const char *expected[] = {
        "layer1.weight", "layer1.bias", "blocks.0.fc1.weight", "blocks.0.fc1.bias",
        "blocks.0.fc2.weight", "blocks.0.fc2.bias", "blocks.1.fc1.weight",
        "blocks.1.fc1.bias", "blocks.1.fc2.weight", "blocks.1.fc2.bias"};
    assert_names(params->names, params->count, expected, 10, "named_parameters");
    /* Lookup by dotted name finds the very same Var. */
    ck_assert_ptr_eq(nn_get_parameter(root, "blocks.1.fc2.bias"), params->vars[9]);
    nn_named_vars_free(params);

    NnNamedModules *mods = nn_named_modules(root);
    ck_assert_ok(mods);
    const char *mnames[] = {"", "layer1", "blocks", "blocks.0", "blocks.0.fc1",
                            "blocks.0.act", "blocks.0.fc2", "blocks.1", "blocks.1.fc1",
                            "blocks.1.act", "blocks.1.fc2"};
    assert_names(mods->names, mods->count, mnames, 11, "named_modules");
    ck_assert_ptr_eq(mods->modules[0], root);
    ck_assert_ptr_eq(mods->modules[3], nn_get_submodule(root, "blocks.0"));
    nn_named_modules_free(mods);
    ck_assert_ptr_eq(nn_get_submodule(root, ""), root);
    ck_assert_str_eq(nn_module_type_name(nn_get_submodule(root, "blocks.1.act")), "GELU");
    scope_end(s);
    nn_module_free(root);
}
END_TEST

START_TEST(test_lookup_errors)
{
    Scope *scope = scope_begin();
    Module *root = MUST(nn_sequential(1, nn_linear(2, 2, true)));
    strata_clear_error();
    ck_assert_ptr_null(nn_get_parameter(root, "0.gamma"));
    ck_assert_error("no parameter '0.gamma'");
    ck_assert_ptr_null(nn_get_parameter(root, "7.weight"));
    ck_assert_error("no submodule '7'");
    ck_assert_ptr_null(nn_get_buffer(root, "0.running_mean"));
    ck_assert_error("no buffer");
    ck_assert_ptr_null(nn_get_submodule(root, "0.inner"));
    ck_assert_error("no submodule");
    ck_assert_ptr_null(nn_child_at(root, 3));
    ck_assert_error("out of range");
    strata_clear_error();
    ck_assert_ptr_null(nn_get_parameter(NULL, "x"));
    ck_assert_error("'m' is NULL");
    nn_module_free(root);
    scope_end(scope);
}
END_TEST

START_TEST(test_registration_errors)
{
    Scope *s = scope_begin();
    Module *m = MUST(nn_module_new(&BARE, NULL));
    int64_t two[1] = {2};
    ck_assert_ok(nn_add_parameter(m, "weight", two, 1));
    /* A name is unique across parameters, buffers and children. */
    ck_assert_int_eq(nn_register_buffer(m, "weight", tensor_zeros(two, 1), true), -1);
    ck_assert_error("already used by a parameter");
    ck_assert_int_eq(nn_register_parameter(m, "a.b", var_new(tensor_zeros(two, 1), true)), -1);
    ck_assert_error("contain no '.'");
    ck_assert_int_eq(nn_register_parameter(m, "", var_new(tensor_zeros(two, 1), true)), -1);
    ck_assert_error("non-empty");
    /* The result of an op is not a leaf. */
    Var *leaf = var_new(tensor_ones(two, 1), true);
    ck_assert_int_eq(nn_register_parameter(m, "derived", var_mul_scalar(leaf, 2.0f)), -1);
    ck_assert_error("leaf");
    /* Nothing was added by the failures. */
    ck_assert_int_eq(m->num_params, 1);
    ck_assert_int_eq(m->num_buffers, 0);
    /* A child name clashing with a parameter: refused, and the child is freed for us. */
    ck_assert_int_eq(nn_register_module(m, "weight", nn_relu()), -1);
    ck_assert_error("already used");
    ck_assert_int_eq(m->num_children, 0);
    scope_end(s);
    nn_module_free(m);
}
END_TEST

START_TEST(test_child_ownership_errors)
{
    Scope *scope = scope_begin();
    Module *a = MUST(nn_module_new(&BARE, NULL));
    Module *b = MUST(nn_module_new(&BARE, NULL));
    Module *relu = MUST(nn_relu());
    ck_assert_status(nn_register_module(a, "act", relu));
    /* A child already owned elsewhere is refused and left where it is. */
    ck_assert_int_eq(nn_register_module(b, "act", relu), -1);
    ck_assert_error("already belongs");
    ck_assert_ptr_eq(nn_get_submodule(a, "act"), relu);
    /* No cycles. */
    ck_assert_status(nn_register_module(a, "b", b));
    ck_assert_int_eq(nn_register_module(b, "loop", a), -1);
    ck_assert_error("cycle");
    /* Freeing a child directly is refused: its parent frees it. */
    nn_module_free(relu);
    ck_assert_error("free the root module");
    ck_assert_ptr_eq(nn_get_submodule(a, "act"), relu);
    /* A NULL child (a failed constructor) keeps the constructor's message. */
    strata_clear_error();
    ck_assert_int_eq(nn_register_module(a, "bad", nn_linear(0, 3, true)), -1);
    ck_assert_error("nn_linear");
    nn_module_free(a);
    scope_end(scope);
}
END_TEST

START_TEST(test_absent_optional_parameter)
{
    Scope *s = scope_begin();
    Module *lin = MUST(nn_linear(3, 2, false));
    NnNamedVars *params = nn_named_parameters(lin);
    ck_assert_ok(params);
    const char *names[] = {"weight"};
    assert_names(params->names, params->count, names, 1, "named_parameters");
    nn_named_vars_free(params);
    /* The slot exists: looking it up is not an error, it is just absent. */
    strata_clear_error();
    ck_assert_ptr_null(nn_get_parameter(lin, "bias"));
    ck_assert_str_eq(strata_last_error(), "");
    /* The state dict skips it (as PyTorch), so a dict with a bias is unexpected. */
    NnStateDict *sd = nn_state_dict(lin);
    ck_assert_ok(sd);
    ck_assert_int_eq(sd->num_tensors, 1);
    ck_assert_str_eq(sd->names[0], "weight");
    int64_t two[1] = {2};
    ck_assert_status(nn_state_dict_set(sd, "bias", tensor_zeros(two, 1)));
    NnKeys missing, unexpected;
    ck_assert_int_eq(nn_load_state_dict(lin, sd, true, &missing, &unexpected), -1);
    ck_assert_error("unexpected keys: 'bias'");
    ck_assert_int_eq(unexpected.count, 1);
    ck_assert_int_eq(missing.count, 0);
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    nn_state_dict_free(sd);
    /* Forward works without the bias: y = x W^T. */
    float xv[3] = {1, 2, 3};
    int64_t xs[2] = {1, 3};
    Var *y = nn_forward(lin, make_var(xv, xs, 2, false));
    ck_assert_ok(y);
    const float *w = lin->params[0].var->data->data;
    float expected[2] = {w[0] + 2 * w[1] + 3 * w[2], w[3] + 2 * w[4] + 3 * w[5]};
    assert_values(y->data, expected, 2, 1e-5, "Linear without bias");
    scope_end(s);
    nn_module_free(lin);
}
END_TEST

START_TEST(test_train_eval_recursive)
{
    Scope *scope = scope_begin();
    Module *net = MUST(nn_sequential(2, nn_sequential(1, nn_dropout(0.5f)), nn_relu()));
    Module *inner = nn_get_submodule(net, "0.0");
    ck_assert(nn_is_training(net) && nn_is_training(inner));
    nn_eval(net);
    ck_assert(!nn_is_training(net));
    ck_assert(!nn_is_training(nn_get_submodule(net, "0")));
    ck_assert(!nn_is_training(inner));
    nn_train(net, true);
    ck_assert(nn_is_training(inner));
    nn_module_free(net);
    scope_end(scope);
}
END_TEST

START_TEST(test_zero_grad)
{
    Scope *s = scope_begin();
    Module *net = MUST(nn_sequential(2, nn_linear(3, 2, true), nn_linear(2, 1, true)));
    int64_t shape[2] = {4, 3};
    strata_manual_seed(1);
    Var *loss = var_sum(nn_forward(net, randn_var(shape, 2, false)), NULL, 0, false);
    ck_assert_ok(loss);
    ck_assert_status(var_backward(loss));
    Var *w = nn_get_parameter(net, "0.weight");
    ck_assert_ok(var_grad(w));
    nn_zero_grad(net, false); /* zeros, kept */
    ck_assert_ok(var_grad(w));
    float zeros[6] = {0};
    assert_values(var_grad(w), zeros, 6, 0, "zeroed grad");
    nn_zero_grad(net, true); /* dropped */
    ck_assert_ptr_null(var_grad(w));
    ck_assert_ptr_null(var_grad(nn_get_parameter(net, "1.bias")));
    scope_end(s);
    nn_module_free(net);
}
END_TEST

/* apply: record each module's type name; fail at "Tanh" when asked to. */
typedef struct ApplyLog {
    char text[256];
    bool fail_on_tanh;
} ApplyLog;

static int log_module(Module *m, void *ctx)
{
    ApplyLog *log = ctx;
    if (log->fail_on_tanh && strcmp(nn_module_type_name(m), "Tanh") == 0) {
        strata_set_error("log_module: stop at Tanh");
        return -1;
    }
    strncat(log->text, nn_module_type_name(m), sizeof log->text - strlen(log->text) - 2);
    strcat(log->text, " ");
    return 0;
}

START_TEST(test_apply_order)
{
    Scope *scope = scope_begin();
    Module *net = MUST(nn_sequential(3, nn_linear(2, 2, true),
                                     nn_sequential(2, nn_relu(), nn_tanh()), nn_sigmoid()));
    ApplyLog log = {"", false};
    ck_assert_status(nn_apply(net, log_module, &log));
    /* Children first, then the module itself (PyTorch's Module.apply). */
    ck_assert_str_eq(log.text, "Linear ReLU Tanh Sequential Sigmoid Sequential ");
    ApplyLog stop = {"", true};
    ck_assert_int_eq(nn_apply(net, log_module, &stop), -1);
    ck_assert_error("stop at Tanh");
    ck_assert_str_eq(stop.text, "Linear ReLU ");
    nn_module_free(net);
    scope_end(scope);
}
END_TEST

START_TEST(test_num_parameters)
{
    Scope *scope = scope_begin();
    Module *net = MUST(nn_sequential(3, nn_linear(784, 128, true), nn_relu(),
                                     nn_linear(128, 10, true)));
    /* 784*128 + 128 + 128*10 + 10 = 100352 + 128 + 1280 + 10 = 101770 */
    ck_assert_int_eq(nn_num_parameters(net, false), 101770);
    ck_assert_status(var_requires_grad_(nn_get_parameter(net, "0.weight"), false));
    ck_assert_int_eq(nn_num_parameters(net, true), 101770 - 100352);
    int count = 0;
    Var **params = nn_parameters(net, &count);
    ck_assert_ok(params);
    ck_assert_int_eq(count, 4);
    ck_assert_ptr_eq(params[2], nn_get_parameter(net, "2.weight"));
    strata_free(params);
    nn_module_free(net);
    scope_end(scope);
}
END_TEST

START_TEST(test_shared_parameter)
{
    Scope *s = scope_begin();
    Module *a = MUST(nn_linear(3, 3, false));
    Module *b = MUST(nn_module_new(&BARE, NULL));
    /* Tie b.weight to a's weight: the module retains it, so both can be freed. */
    ck_assert_status(nn_register_parameter(b, "weight", nn_get_parameter(a, "weight")));
    Module *root = MUST(nn_module_new(&BARE, NULL));
    ck_assert_status(nn_register_module(root, "a", a));
    ck_assert_status(nn_register_module(root, "b", b));
    /* Listed once by named_parameters (remove_duplicate), twice in the state dict. */
    NnNamedVars *params = nn_named_parameters(root);
    ck_assert_ok(params);
    ck_assert_int_eq(params->count, 1);
    ck_assert_str_eq(params->names[0], "a.weight");
    nn_named_vars_free(params);
    ck_assert_int_eq(nn_num_parameters(root, false), 9);
    NnStateDict *sd = nn_state_dict(root);
    ck_assert_ok(sd);
    ck_assert_int_eq(sd->num_tensors, 2);
    ck_assert_str_eq(sd->names[1], "b.weight");
    nn_state_dict_free(sd);
    scope_end(s);
    nn_module_free(root);
}
END_TEST

START_TEST(test_user_defined_module)
{
    Scope *s = scope_begin();
    strata_manual_seed(3);
    Module *block = MUST(mlp_block(2, 3));
    NnNamedVars *params = nn_named_parameters(block);
    ck_assert_ok(params);
    const char *names[] = {"fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"};
    assert_names(params->names, params->count, names, 4, "MLPBlock parameters");
    nn_named_vars_free(params);

    /* Forward against a naive computation: fc2(gelu(fc1(x))), gelu(z) = z Phi(z). */
    float xv[2] = {0.5f, -1.0f};
    int64_t xs[2] = {1, 2};
    Var *y = nn_forward(block, make_var(xv, xs, 2, false));
    ck_assert_ok(y);
    const float *w1 = nn_get_parameter(block, "fc1.weight")->data->data;
    const float *b1 = nn_get_parameter(block, "fc1.bias")->data->data;
    const float *w2 = nn_get_parameter(block, "fc2.weight")->data->data;
    const float *b2 = nn_get_parameter(block, "fc2.bias")->data->data;
    double h[3];
    for (int j = 0; j < 3; j++) {
        double z = w1[j * 2] * xv[0] + w1[j * 2 + 1] * xv[1] + b1[j];
        h[j] = z * 0.5 * (1.0 + erf(z / sqrt(2.0)));
    }
    float expected[2];
    for (int i = 0; i < 2; i++)
        expected[i] = (float)(w2[i * 3] * h[0] + w2[i * 3 + 1] * h[1] + w2[i * 3 + 2] * h[2] +
                              b2[i]);
    assert_values(y->data, expected, 2, 1e-5, "MLPBlock forward");
    /* Its repr uses its extra_repr and its children. */
    char *text = nn_repr(block);
    ck_assert_ok(text);
    ck_assert_str_eq(text, "MLPBlock(\n"
                           "  dim=2, hidden=3\n"
                           "  (fc1): Linear(in_features=2, out_features=3, bias=True)\n"
                           "  (act): GELU(approximate='none')\n"
                           "  (fc2): Linear(in_features=3, out_features=2, bias=True)\n"
                           ")");
    strata_free(text);
    /* Gradients flow to every parameter of the user's module. */
    int64_t shape[2] = {3, 2};
    Var *x = randn_var(shape, 2, true);
    Var *xs_[1] = {x};
    check_module_gradients(block, xs_, 1);
    scope_end(s);
    nn_module_free(block);
}
END_TEST

START_TEST(test_forward_errors)
{
    Scope *s = scope_begin();
    Module *list = MUST(nn_module_list());
    float xv[4] = {1, 2, 3, 4};
    int64_t xs[2] = {2, 2};
    Var *x = make_var(xv, xs, 2, false);
    ck_assert_ptr_null(nn_forward(list, x));
    ck_assert_error("ModuleList has no forward");
    Module *lin = MUST(nn_linear(3, 2, true));
    ck_assert_ptr_null(nn_forward(lin, x));
    ck_assert_error("Linear: expected input [..., 3], got [2, 2]");
    /* A one-input module refuses two inputs (each of the shape it takes), and says so. */
    float x3v[6] = {1, 2, 3, 4, 5, 6};
    int64_t x3s[2] = {2, 3};
    Var *x3 = make_var(x3v, x3s, 2, false);
    EXPECT_NULL_ERR(nn_forward_n(lin, (Var *[]){x3, x3}, 2), "nn_forward", NULL);
    /* A NULL input keeps the first message. */
    strata_set_error("earlier failure");
    ck_assert_ptr_null(nn_forward(lin, NULL));
    ck_assert_error("earlier failure");
    /* A loss module takes two inputs. */
    Module *mse = MUST(nn_mse_loss_module(NN_REDUCTION_MEAN));
    ck_assert_ptr_null(nn_forward(mse, x));
    ck_assert_error("takes (input, target)");
    scope_end(s);
    nn_module_free(list);
    nn_module_free(lin);
    nn_module_free(mse);
}
END_TEST

START_TEST(test_forward_memory)
{
    Module *net = MUST(nn_sequential(4, nn_linear(8, 16, true), nn_relu(),
                                     nn_batch_norm1d(16), nn_linear(16, 4, true)));
    size_t before = strata_mem_stats().bytes_live;
    /* Inside a scope: a full training step leaves nothing behind. */
    for (int step = 0; step < 3; step++) {
        Scope *s = scope_begin();
        int64_t shape[2] = {5, 8};
        float target_values[5] = {0, 1, 2, 3, 0};
        int64_t ts[1] = {5};
        Var *loss = nn_cross_entropy(nn_forward(net, randn_var(shape, 2, false)),
                                     make_tensor(target_values, ts, 1));
        ck_assert_ok(loss);
        ck_assert_status(var_backward(loss));
        nn_zero_grad(net, true);
        scope_end(s);
        ck_assert_int_eq(scope_depth_objects(), 0);
    }
    ck_assert_msg(strata_mem_stats().bytes_live == before,
                  "bytes live %zu after the steps, %zu before",
                  strata_mem_stats().bytes_live, before);
    /* Without a scope: the caller releases the result and nothing else is left. */
    int64_t shape[2] = {2, 8};
    Tensor *xt = tensor_randn(shape, 2);
    Var *x = var_new(xt, false);
    tensor_release(xt);
    Var *y = nn_forward(net, x);
    ck_assert_ok(y);
    var_release(y);
    var_release(x);
    ck_assert_msg(strata_mem_stats().bytes_live == before,
                  "bytes live %zu after an unscoped forward, %zu before",
                  strata_mem_stats().bytes_live, before);
    nn_module_free(net);
}
END_TEST

void add_module_tests(Suite *s)
{
    GRADED(s, test_registration_order, 3);
    GRADED(s, test_dotted_names, 4);
    GRADED(s, test_lookup_errors, 2);
    GRADED(s, test_registration_errors, 2);
    GRADED(s, test_child_ownership_errors, 2);
    GRADED(s, test_absent_optional_parameter, 2);
    GRADED(s, test_train_eval_recursive, 2);
    GRADED(s, test_zero_grad, 2);
    GRADED(s, test_apply_order, 2);
    GRADED(s, test_num_parameters, 2);
    GRADED(s, test_shared_parameter, 2);
    GRADED(s, test_user_defined_module, 4);
    GRADED(s, test_forward_errors, 2);
    GRADED(s, test_forward_memory, 3);
}
