/*
 * test_containers.c - Sequential, ModuleList and ModuleDict: forward, naming and
 * renumbering, the list and dict operations, ownership on failure.
 */
#include "nn_test.h"

static void assert_child_names(const Module *m, const char *const *names, int n)
{
    ck_assert_int_eq(nn_num_children(m), n);
    NnNamedModules *children = nn_named_children(m);
    ck_assert_ok(children);
    for (int i = 0; i < n; i++)
        ck_assert_msg(strcmp(children->names[i], names[i]) == 0, "child %d is '%s', expected '%s'",
                      i, children->names[i], names[i]);
    nn_named_modules_free(children);
}

START_TEST(test_sequential_forward)
{
    Scope *s = scope_begin();
    strata_manual_seed(30);
    Module *l1 = MUST(nn_linear(3, 4, true)), *l2 = MUST(nn_linear(4, 2, true));
    Module *net = MUST(nn_sequential(3, l1, nn_tanh(), l2));
    const char *names[] = {"0", "1", "2"};
    assert_child_names(net, names, 3);
    Var *x = randn_var((int64_t[]){5, 3}, 2, false);
    Var *y = nn_forward(net, x);
    ck_assert_ok(y);
    /* The same as calling the layers one after the other. */
    Var *manual = nn_forward(l2, var_tanh(nn_forward(l1, x)));
    ck_assert_ok(manual);
    ck_assert(tensor_allclose(y->data, manual->data, 0, 1e-6f));
    /* An empty Sequential is the identity. */
    Module *empty = MUST(nn_sequential(0));
    Var *same = nn_forward(empty, x);
    ck_assert_ok(same);
    ck_assert(tensor_allclose(same->data, x->data, 0, 0));
    ck_assert_status(nn_sequential_append(empty, nn_relu()));
    ck_assert_int_eq(nn_module_list_len(empty), 1);
    scope_end(s);
    nn_module_free(net);
    nn_module_free(empty);
}
END_TEST

START_TEST(test_sequential_failure_frees_members)
{
    Scope *scope = scope_begin();
    /* A failed constructor among the members: NULL, its message kept, the others freed
     * (valgrind checks that nothing leaks). */
    strata_clear_error();
    Module *net = nn_sequential(3, nn_linear(2, 2, true), nn_linear(-1, 2, true), nn_relu());
    ck_assert_ptr_null(net);
    ck_assert_error("nn_linear");
    scope_end(scope);
}
END_TEST

START_TEST(test_module_list_operations)
{
    Scope *scope = scope_begin();
    Module *list = MUST(nn_module_list());
    ck_assert_int_eq(nn_module_list_len(list), 0);
    Module *a = MUST(nn_relu()), *b = MUST(nn_tanh()), *c = MUST(nn_sigmoid());
    ck_assert_status(nn_module_list_append(list, a));
    ck_assert_status(nn_module_list_append(list, b));
    ck_assert_status(nn_module_list_insert(list, 0, c)); /* [c, a, b] */
    const char *names[] = {"0", "1", "2"};
    assert_child_names(list, names, 3);
    ck_assert_ptr_eq(nn_module_list_get(list, 0), c);
    ck_assert_ptr_eq(nn_module_list_get(list, -1), b);
    ck_assert_ptr_eq(nn_get_submodule(list, "1"), a);
    /* Delete the middle one: [c, b], renumbered. */
    ck_assert_status(nn_module_list_delete(list, 1));
    ck_assert_int_eq(nn_module_list_len(list), 2);
    ck_assert_ptr_eq(nn_get_submodule(list, "1"), b);
    /* Extend with another list: its children move over, it is freed. */
    Module *more = MUST(nn_module_list());
    ck_assert_status(nn_module_list_append(more, nn_linear(2, 2, true)));
    ck_assert_status(nn_module_list_append(more, nn_gelu()));
    ck_assert_status(nn_module_list_extend(list, more));
    const char *four[] = {"0", "1", "2", "3"};
    assert_child_names(list, four, 4);
    ck_assert_int_eq(nn_module_list_len(list), 4);
    ck_assert_str_eq(nn_module_type_name(nn_module_list_get(list, 3)), "GELU");
    /* Iteration is nn_named_children / nn_child_at in order. */
    NnNamedModules *children = nn_named_children(list);
    ck_assert_ok(children);
    ck_assert_str_eq(nn_module_type_name(children->modules[0]), "Sigmoid");
    ck_assert_str_eq(nn_module_type_name(children->modules[2]), "Linear");
    nn_named_modules_free(children);
    /* Parameters of list members have dotted names. */
    ck_assert_ok(nn_get_parameter(list, "2.weight"));
    /* Errors. */
    ck_assert_ptr_null(nn_module_list_get(list, 4));
    ck_assert_error("out of range");
    ck_assert_int_eq(nn_module_list_delete(list, -5), -1);
    ck_assert_error("out of range");
    ck_assert_int_eq(nn_module_list_insert(list, 9, nn_relu()), -1);
    ck_assert_error("out of range");
    ck_assert_int_eq(nn_module_list_delete(list, 4), -1); /* one past the end */
    ck_assert_error("out of range");
    /* Delete the first: [b, Linear, GELU], renumbered. */
    ck_assert_status(nn_module_list_delete(list, 0));
    ck_assert_int_eq(nn_module_list_len(list), 3);
    ck_assert_ptr_eq(nn_module_list_get(list, 0), b);
    ck_assert_str_eq(nn_module_type_name(nn_get_submodule(list, "1")), "Linear");
    Module *relu = MUST(nn_relu());
    ck_assert_int_eq(nn_module_list_append(relu, nn_relu()), -1);
    ck_assert_error("expected a Sequential or ModuleList, got ReLU");
    nn_module_free(relu);
    nn_module_free(list);
    scope_end(scope);
}
END_TEST

START_TEST(test_module_dict_operations)
{
    Scope *scope = scope_begin();
    Module *dict = MUST(nn_module_dict());
    ck_assert_status(nn_module_dict_set(dict, "encoder", nn_linear(4, 3, true)));
    ck_assert_status(nn_module_dict_set(dict, "act", nn_relu()));
    ck_assert_status(nn_module_dict_set(dict, "decoder", nn_linear(3, 4, true)));
    ck_assert(nn_module_dict_contains(dict, "act"));
    ck_assert(!nn_module_dict_contains(dict, "missing"));
    ck_assert_str_eq(nn_module_type_name(nn_module_dict_get(dict, "act")), "ReLU");
    /* Replacing a key keeps its position. */
    ck_assert_status(nn_module_dict_set(dict, "act", nn_tanh()));
    NnKeys keys;
    ck_assert_status(nn_module_dict_keys(dict, &keys));
    ck_assert_int_eq(keys.count, 3);
    ck_assert_str_eq(keys.keys[0], "encoder");
    ck_assert_str_eq(keys.keys[1], "act");
    ck_assert_str_eq(keys.keys[2], "decoder");
    nn_keys_clear(&keys);
    ck_assert_str_eq(nn_module_type_name(nn_module_dict_get(dict, "act")), "Tanh");
    ck_assert_ok(nn_get_parameter(dict, "decoder.bias"));
    /* Delete, then update from another dict (new keys appended, equal keys replaced). */
    ck_assert_status(nn_module_dict_delete(dict, "encoder"));
    ck_assert_int_eq(nn_module_list_len(dict), 2);
    Module *other = MUST(nn_module_dict());
    ck_assert_status(nn_module_dict_set(other, "act", nn_sigmoid()));
    ck_assert_status(nn_module_dict_set(other, "head", nn_linear(4, 1, false)));
    ck_assert_status(nn_module_dict_update(dict, other));
    ck_assert_status(nn_module_dict_keys(dict, &keys));
    ck_assert_int_eq(keys.count, 3);
    ck_assert_str_eq(keys.keys[0], "act");
    ck_assert_str_eq(keys.keys[1], "decoder");
    ck_assert_str_eq(keys.keys[2], "head");
    nn_keys_clear(&keys);
    ck_assert_str_eq(nn_module_type_name(nn_module_dict_get(dict, "act")), "Sigmoid");
    /* Errors. */
    ck_assert_ptr_null(nn_module_dict_get(dict, "encoder"));
    ck_assert_error("no key 'encoder'");
    ck_assert_int_eq(nn_module_dict_delete(dict, "encoder"), -1);
    ck_assert_error("no key");
    ck_assert_int_eq(nn_module_dict_set(dict, "a.b", nn_relu()), -1);
    ck_assert_error("no '.'");
    /* An existing key given a module already in a tree (ownership passes as
     * nn_register_module's: refused and left alone): the dict's own "decoder", or the
     * dict itself. Both stay where they were. */
    Module *decoder = nn_module_dict_get(dict, "decoder");
    EXPECT_FAIL_ERR(nn_module_dict_set(dict, "act", decoder), NULL, NULL);
    EXPECT_FAIL_ERR(nn_module_dict_set(dict, "act", dict), NULL, NULL);
    ck_assert_str_eq(nn_module_type_name(nn_module_dict_get(dict, "act")), "Sigmoid");
    ck_assert_ptr_eq(nn_module_dict_get(dict, "decoder"), decoder);
    ck_assert_int_eq(nn_module_list_len(dict), 3);
    nn_module_free(dict);
    scope_end(scope);
}
END_TEST

void add_container_tests(Suite *s)
{
    GRADED(s, test_sequential_forward, 3);
    GRADED(s, test_sequential_failure_frees_members, 2);
    GRADED(s, test_module_list_operations, 3);
    GRADED(s, test_module_dict_operations, 3);
}
