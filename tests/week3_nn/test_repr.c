/*
 * test_repr.c - nn_repr() against PyTorch's strings, compared literally (each expected
 * string is what `print(repr(module))` shows in PyTorch 2.x).
 */
#include "nn_test.h"

/* Assert nn_repr(m) == expected, then free m. */
static void check_repr(Module *m, const char *expected)
{
    ck_assert_msg(m != NULL, "constructor failed: %s", strata_last_error());
    char *text = nn_repr(m);
    ck_assert_msg(text != NULL, "nn_repr failed: %s", strata_last_error());
    ck_assert_msg(strcmp(text, expected) == 0, "repr is\n%s\nexpected\n%s", text, expected);
    strata_free(text);
    nn_module_free(m);
}

START_TEST(test_repr_sequential)
{
    Scope *scope = scope_begin();
    check_repr(nn_sequential(2, nn_linear(784, 128, true), nn_relu()),
               "Sequential(\n"
               "  (0): Linear(in_features=784, out_features=128, bias=True)\n"
               "  (1): ReLU()\n"
               ")");
    check_repr(nn_sequential(0), "Sequential()");
    scope_end(scope);
}
END_TEST

START_TEST(test_repr_layers)
{
    Scope *scope = scope_begin();
    check_repr(nn_linear(4, 2, false), "Linear(in_features=4, out_features=2, bias=False)");
    check_repr(nn_conv2d(1, 6, 5, 1, 0, 1, true),
               "Conv2d(1, 6, kernel_size=(5, 5), stride=(1, 1))");
    check_repr(nn_conv2d(3, 8, 3, 2, 1, 2, false),
               "Conv2d(3, 8, kernel_size=(3, 3), stride=(2, 2), padding=(1, 1), "
               "dilation=(2, 2), bias=False)");
    check_repr(nn_max_pool2d(2, 0, 0),
               "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)");
    check_repr(nn_avg_pool2d(3, 1, 1), "AvgPool2d(kernel_size=3, stride=1, padding=1)");
    check_repr(nn_batch_norm1d(10),
               "BatchNorm1d(10, eps=1e-05, momentum=0.1, affine=True, "
               "track_running_stats=True)");
    check_repr(nn_batch_norm(2, 16, 1e-3f, 0.01f, false, true),
               "BatchNorm2d(16, eps=0.001, momentum=0.01, affine=False, "
               "track_running_stats=True)");
    check_repr(nn_layer_norm((int64_t[]){10}, 1, 1e-5f, true),
               "LayerNorm((10,), eps=1e-05, elementwise_affine=True)");
    check_repr(nn_layer_norm((int64_t[]){3, 4}, 2, 1e-6f, false),
               "LayerNorm((3, 4), eps=1e-06, elementwise_affine=False)");
    check_repr(nn_embedding(10, 3), "Embedding(10, 3)");
    check_repr(nn_dropout(0.5f), "Dropout(p=0.5, inplace=False)");
    check_repr(nn_dropout(0.1f), "Dropout(p=0.1, inplace=False)");
    check_repr(nn_flatten(1, -1), "Flatten(start_dim=1, end_dim=-1)");
    check_repr(nn_identity(), "Identity()");
    scope_end(scope);
}
END_TEST

START_TEST(test_repr_activations_and_losses)
{
    Scope *scope = scope_begin();
    check_repr(nn_relu(), "ReLU()");
    check_repr(nn_leaky_relu(0.01f), "LeakyReLU(negative_slope=0.01)");
    check_repr(nn_leaky_relu(1.0f), "LeakyReLU(negative_slope=1.0)");
    check_repr(nn_sigmoid(), "Sigmoid()");
    check_repr(nn_tanh(), "Tanh()");
    check_repr(nn_gelu(), "GELU(approximate='none')");
    check_repr(nn_softmax(1), "Softmax(dim=1)");
    check_repr(nn_log_softmax(-1), "LogSoftmax(dim=-1)");
    check_repr(nn_cross_entropy_module(NN_REDUCTION_MEAN, 0.1f), "CrossEntropyLoss()");
    check_repr(nn_mse_loss_module(NN_REDUCTION_SUM), "MSELoss()");
    check_repr(nn_bce_with_logits_loss_module(NN_REDUCTION_MEAN), "BCEWithLogitsLoss()");
    scope_end(scope);
}
END_TEST

START_TEST(test_repr_nested)
{
    Scope *scope = scope_begin();
    check_repr(nn_sequential(3,
                             nn_sequential(2, nn_conv2d(1, 4, 3, 1, 1, 1, true), nn_relu()),
                             nn_flatten(1, -1), nn_linear(16, 2, true)),
               "Sequential(\n"
               "  (0): Sequential(\n"
               "    (0): Conv2d(1, 4, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))\n"
               "    (1): ReLU()\n"
               "  )\n"
               "  (1): Flatten(start_dim=1, end_dim=-1)\n"
               "  (2): Linear(in_features=16, out_features=2, bias=True)\n"
               ")");
    scope_end(scope);
}
END_TEST

START_TEST(test_repr_containers)
{
    Scope *scope = scope_begin();
    Module *list = MUST(nn_module_list());
    for (int i = 0; i < 3; i++)
        ck_assert_status(nn_module_list_append(list, nn_linear(2, 2, true)));
    ck_assert_status(nn_module_list_append(list, nn_relu()));
    ck_assert_status(nn_module_list_append(list, nn_linear(2, 2, true)));
    /* PyTorch 2 compresses runs of identical children in a ModuleList. */
    check_repr(list, "ModuleList(\n"
                     "  (0-2): 3 x Linear(in_features=2, out_features=2, bias=True)\n"
                     "  (3): ReLU()\n"
                     "  (4): Linear(in_features=2, out_features=2, bias=True)\n"
                     ")");
    check_repr(nn_module_list(), "ModuleList()");
    Module *dict = MUST(nn_module_dict());
    ck_assert_status(nn_module_dict_set(dict, "act", nn_relu()));
    ck_assert_status(nn_module_dict_set(dict, "proj", nn_linear(2, 3, false)));
    check_repr(dict, "ModuleDict(\n"
                     "  (act): ReLU()\n"
                     "  (proj): Linear(in_features=2, out_features=3, bias=False)\n"
                     ")");
    check_repr(nn_multihead_attention(8, 2, true),
               "MultiheadAttention(\n"
               "  (out_proj): NonDynamicallyQuantizableLinear(in_features=8, "
               "out_features=8, bias=True)\n"
               ")");
    scope_end(scope);
}
END_TEST

START_TEST(test_fprint)
{
    Scope *scope = scope_begin();
    char path[256];
    tmp_path(path, sizeof path, "repr.txt");
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    Module *m = MUST(nn_tanh());
    ck_assert_status(nn_fprint(f, m));
    fclose(f);
    char buf[64] = "";
    f = fopen(path, "r");
    ck_assert(fgets(buf, sizeof buf, f) != NULL);
    fclose(f);
    ck_assert_str_eq(buf, "Tanh()\n");
    remove(path);
    nn_module_free(m);
    scope_end(scope);
}
END_TEST

void add_repr_tests(Suite *s)
{
    GRADED(s, test_repr_sequential, 3);
    GRADED(s, test_repr_layers, 4);
    GRADED(s, test_repr_activations_and_losses, 2);
    GRADED(s, test_repr_nested, 3);
    GRADED(s, test_repr_containers, 3);
    GRADED(s, test_fprint, 1);
}
