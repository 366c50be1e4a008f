/*
 * test_nn.c - bad input to nn/ (week 3): forward shapes, registration, hooks, losses,
 * loading state dicts (wrong shapes, unknown and missing keys), save and load paths.
 */
#include "rb.h"

#include <stdlib.h>
#include <unistd.h>

#define L "nn"

START_TEST(linear_forward_wrong_features)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 5), 2)), false));
    ROW_FAILS(L, "nn_forward(mlp, x)", "Linear(4, 3) first, x [2, 5]",
              nn_forward(m, x) == NULL, "[2, 5]", NULL);
    rb_assert_module_same(m, snap);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(linear_zero_features)
{
    BEGIN;
    ROW_FAILS(L, "nn_linear(0, 3, true)", "in_features 0", nn_linear(0, 3, true) == NULL,
              "nn_linear", "0");
    END;
}
END_TEST

START_TEST(dropout_bad_probability)
{
    BEGIN;
    ROW_FAILS(L, "nn_dropout(1.5)", "p outside [0, 1]", nn_dropout(1.5f) == NULL,
              "nn_dropout", "1.5");
    END;
}
END_TEST

START_TEST(forward_null_module)
{
    BEGIN;
    Var *x = OKV(var_new(OK(tensor_ones(SHAPE(2, 4), 2)), false));
    ROW_FAILS(L, "nn_forward(NULL, x)", "m NULL", nn_forward(NULL, x) == NULL, "nn_forward",
              "NULL");
    END;
}
END_TEST

START_TEST(forward_null_input_keeps_root_cause)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    Var *a = OKV(var_new(OK(tensor_ones(SHAPE(2, 3), 2)), false));
    Var *b = OKV(var_new(OK(tensor_ones(SHAPE(5, 4), 2)), false));
    ROW_FAILS(L, "nn_forward(mlp, var_matmul(a, b))", "a [2, 3], b [5, 4]: the input is NULL",
              nn_forward(m, var_matmul(a, b)) == NULL, "var_matmul", "align");
    rb_assert_module_same(m, snap);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

static Var *identity_hook(Module *module, Var *const *inputs, int n, Var *output, void *user)
{
    (void)module;
    (void)inputs;
    (void)n;
    (void)user;
    return output;
}

START_TEST(hook_removed_twice)
{
    BEGIN;
    Module *m = rb_mlp();
    int64_t h = nn_register_forward_hook(m, identity_hook, NULL);
    ck_assert_int_gt(h, 0);
    ck_assert_int_eq(nn_remove_hook(m, h), 0);
    ROW_FAILS(L, "nn_remove_hook(m, h), a second time", "h already removed",
              nn_remove_hook(m, h) == -1, "nn_remove_hook", "no hook");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(register_duplicate_parameter)
{
    BEGIN;
    Module *lin = nn_linear(2, 2, true);
    ck_assert_ptr_nonnull(lin);
    NnStateDict *snap = rb_snap_module(lin);
    Var *p = OKV(var_new(OK(tensor_ones(SHAPE(2), 1)), true));
    ROW_FAILS(L, "nn_register_parameter(linear, \"bias\", p)", "a second \"bias\"",
              nn_register_parameter(lin, "bias", p) == -1, "bias", NULL);
    rb_assert_module_same(lin, snap);
    nn_state_dict_free(snap);
    nn_module_free(lin);
    END;
}
END_TEST

START_TEST(register_child_already_owned)
{
    BEGIN;
    Module *m = rb_mlp();
    Module *other = nn_module_list();
    ck_assert_ptr_nonnull(other);
    Module *child = nn_child_at(m, 0);
    ck_assert_ptr_nonnull(child);
    ROW_FAILS(L, "nn_register_module(other, \"x\", child)", "child already owned by mlp",
              nn_register_module(other, "x", child) == -1, "nn_register_module", NULL);
    ck_assert_int_eq(nn_num_children(other), 0);
    ck_assert_int_eq(nn_num_children(m), 3);
    nn_module_free(other);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(child_index_out_of_range)
{
    BEGIN;
    Module *m = rb_mlp();
    ROW_FAILS(L, "nn_child_at(mlp, 3)", "3 children", nn_child_at(m, 3) == NULL,
              "nn_child_at", "3");
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(cross_entropy_target_out_of_range)
{
    BEGIN;
    Var *logits = OKV(var_new(OK(tensor_zeros(SHAPE(2, 3), 2)), true));
    Tensor *target = MK(DATA(0, 3), 2);
    ROW_FAILS(L, "nn_cross_entropy(logits, target)", "logits [2, 3], target {0, 3}",
              nn_cross_entropy(logits, target) == NULL, "3", NULL);
    ck_assert_ptr_null(var_grad(logits));
    END;
}
END_TEST

START_TEST(mse_loss_shape_mismatch)
{
    BEGIN;
    Var *in = OKV(var_new(OK(tensor_zeros(SHAPE(2, 3), 2)), true));
    Tensor *target = OK(tensor_zeros(SHAPE(3, 2), 2));
    ROW_FAILS(L, "nn_mse_loss(input, target, NN_REDUCTION_MEAN)", "input [2, 3], target [3, 2]",
              nn_mse_loss(in, target, NN_REDUCTION_MEAN) == NULL, "nn_mse_loss", NULL);
    END;
}
END_TEST

START_TEST(load_state_dict_wrong_shape)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    NnStateDict *sd = rb_snap_module(m);
    ck_assert_int_eq(nn_state_dict_set(sd, "0.bias", OK(tensor_zeros(SHAPE(3), 1))), 0);
    ck_assert_int_eq(nn_state_dict_set(sd, "2.weight", OK(tensor_zeros(SHAPE(3, 2), 2))), 0);
    ROW_FAILS(L, "nn_load_state_dict(m, sd, false, NULL, NULL)",
              "sd[\"2.weight\"] [3, 2], the model's [2, 3]",
              nn_load_state_dict(m, sd, false, NULL, NULL) == -1, "2.weight", "[3, 2]");
    rb_assert_module_same(m, snap); /* 0.bias, valid and first, was not copied either */
    nn_state_dict_free(sd);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(load_state_dict_unknown_key_strict)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    NnStateDict *sd = rb_snap_module(m);
    ck_assert_int_eq(nn_state_dict_set(sd, "0.bias", OK(tensor_zeros(SHAPE(3), 1))), 0);
    ck_assert_int_eq(nn_state_dict_set(sd, "9.extra", OK(tensor_zeros(SHAPE(1), 1))), 0);
    NnKeys missing = {0}, unexpected = {0};
    ROW_FAILS(L, "nn_load_state_dict(m, sd, true, &missing, &unexpected)",
              "sd has an extra key \"9.extra\"",
              nn_load_state_dict(m, sd, true, &missing, &unexpected) == -1, "9.extra", NULL);
    ck_assert_int_eq(unexpected.count, 1);
    ck_assert_int_eq(missing.count, 0);
    rb_assert_module_same(m, snap);
    nn_keys_clear(&missing);
    nn_keys_clear(&unexpected);
    nn_state_dict_free(sd);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(load_state_dict_missing_key_strict)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    NnStateDict *sd = nn_state_dict_new();
    ck_assert_int_eq(nn_state_dict_set(sd, "0.weight", OK(tensor_zeros(SHAPE(3, 4), 2))), 0);
    ROW_FAILS(L, "nn_load_state_dict(m, sd, true, NULL, NULL)",
              "sd holds only \"0.weight\"",
              nn_load_state_dict(m, sd, true, NULL, NULL) == -1, "missing", "0.bias");
    rb_assert_module_same(m, snap);
    nn_state_dict_free(sd);
    nn_state_dict_free(snap);
    nn_module_free(m);
    END;
}
END_TEST

START_TEST(load_missing_file)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    ROW_FAILS(L, "nn_load(m, path, true)", "path does not exist",
              nn_load(m, rb_path("absent.safetensors"), true) == -1, "absent.safetensors",
              NULL);
    rb_assert_module_same(m, snap);
    nn_state_dict_free(snap);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(load_file_of_another_model)
{
    BEGIN;
    Module *m = rb_mlp();
    Module *other = nn_linear(4, 3, true);
    ck_assert_ptr_nonnull(other);
    const char *p = rb_path("other.safetensors");
    ck_assert_int_eq(nn_save(other, p), 0);
    NnStateDict *snap = rb_snap_module(m);
    size_t n;
    unsigned char *before = rb_read(p, &n);
    ROW_FAILS(L, "nn_load(mlp, path, true)", "a file saved from Linear(4, 3) (keys weight, bias)",
              nn_load(m, p, true) == -1, "nn_load", NULL);
    rb_assert_module_same(m, snap);
    rb_assert_file_same(p, before, n);
    free(before);
    nn_state_dict_free(snap);
    nn_module_free(other);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(save_into_missing_directory)
{
    BEGIN;
    Module *m = rb_mlp();
    NnStateDict *snap = rb_snap_module(m);
    const char *p = rb_path("no/such/dir/m.safetensors");
    ROW_FAILS(L, "nn_save(m, path)", "path in a directory that does not exist",
              nn_save(m, p) == -1, "no/such/dir", NULL);
    ck_assert_int_ne(access(p, F_OK), 0);
    rb_assert_module_same(m, snap);
    nn_state_dict_free(snap);
    nn_module_free(m);
    rb_dir_remove();
    END;
}
END_TEST

START_TEST(state_dict_set_null_tensor)
{
    BEGIN;
    NnStateDict *sd = nn_state_dict_new();
    ck_assert_int_eq(nn_state_dict_set(sd, "a", MK(DATA(1), 1)), 0);
    ROW_FAILS(L, "nn_state_dict_set(sd, \"b\", NULL)", "t NULL",
              nn_state_dict_set(sd, "b", NULL) == -1, "nn_state_dict_set", "NULL");
    ck_assert_int_eq(sd->num_tensors, 1);
    nn_state_dict_free(sd);
    END;
}
END_TEST

START_TEST(module_list_append_itself)
{
    /* Found by this table: the refused module was freed, and here it is the list. */
    BEGIN;
    Module *list = nn_module_list();
    ck_assert_ptr_nonnull(list);
    ck_assert_int_eq(nn_module_list_append(list, nn_relu()), 0);
    ROW_FAILS(L, "nn_module_list_append(list, list)", "a list appended to itself",
              nn_module_list_append(list, list) == -1, "cycle", NULL);
    ck_assert_int_eq(nn_module_list_len(list), 1); /* alive and unchanged */
    ck_assert_int_eq(nn_module_list_append(list, nn_tanh()), 0);
    nn_module_free(list);
    END;
}
END_TEST

START_TEST(module_list_append_ancestor)
{
    BEGIN;
    Module *inner = nn_module_list();
    Module *outer = nn_sequential(2, nn_linear(2, 2, true), inner);
    ck_assert_ptr_nonnull(outer);
    NnStateDict *snap = rb_snap_module(outer);
    ROW_FAILS(L, "nn_module_list_append(inner, outer)", "outer = Sequential(Linear, inner)",
              nn_module_list_append(inner, outer) == -1, "cycle", NULL);
    ck_assert_int_eq(nn_num_children(outer), 2);
    ck_assert_int_eq(nn_module_list_len(inner), 0);
    rb_assert_module_same(outer, snap);
    nn_state_dict_free(snap);
    nn_module_free(outer);
    END;
}
END_TEST

START_TEST(module_dict_set_itself)
{
    BEGIN;
    Module *dict = nn_module_dict();
    ck_assert_ptr_nonnull(dict);
    ck_assert_int_eq(nn_module_dict_set(dict, "fc", nn_linear(2, 2, false)), 0);
    ROW_FAILS(L, "nn_module_dict_set(dict, \"self\", dict)", "a dict put into itself",
              nn_module_dict_set(dict, "self", dict) == -1, "cycle", NULL);
    ck_assert(nn_module_dict_contains(dict, "fc"));
    ck_assert(!nn_module_dict_contains(dict, "self"));
    nn_module_free(dict);
    END;
}
END_TEST

void add_nn_rows(Suite *s)
{
    GRADED(s, linear_forward_wrong_features, 1);
    GRADED(s, linear_zero_features, 1);
    GRADED(s, dropout_bad_probability, 1);
    GRADED(s, forward_null_module, 1);
    GRADED(s, forward_null_input_keeps_root_cause, 1);
    GRADED(s, hook_removed_twice, 1);
    GRADED(s, register_duplicate_parameter, 1);
    GRADED(s, register_child_already_owned, 1);
    GRADED(s, child_index_out_of_range, 1);
    GRADED(s, cross_entropy_target_out_of_range, 1);
    GRADED(s, mse_loss_shape_mismatch, 1);
    GRADED(s, load_state_dict_wrong_shape, 1);
    GRADED(s, load_state_dict_unknown_key_strict, 1);
    GRADED(s, load_state_dict_missing_key_strict, 1);
    GRADED(s, load_missing_file, 1);
    GRADED(s, load_file_of_another_model, 1);
    GRADED(s, save_into_missing_directory, 1);
    GRADED(s, state_dict_set_null_tensor, 1);
    GRADED(s, module_list_append_itself, 1);
    GRADED(s, module_list_append_ancestor, 1);
    GRADED(s, module_dict_set_itself, 1);
}
