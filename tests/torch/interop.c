/*
 * interop.c - the C half of tests/torch/interop.py (make test-torch): weights cross
 * between strata and PyTorch through safetensors files, as docs/user-guide.md shows.
 *
 *   torch_interop export DIR   nn_save() a seeded MLP to DIR/strata.safetensors
 *   torch_interop import DIR   nn_load() DIR/torch.safetensors (strict) into the MLP
 *
 * Either way it then prints the MLP's outputs for a fixed input, one line.
 */
#include "modular.h"

#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (argc != 3 || (strcmp(argv[1], "export") != 0 && strcmp(argv[1], "import") != 0)) {
        fprintf(stderr, "usage: torch_interop export|import DIR\n");
        return 2;
    }
    char path[4096];
    bool export = strcmp(argv[1], "export") == 0;
    snprintf(path, sizeof path, "%s/%s", argv[2],
             export ? "strata.safetensors" : "torch.safetensors");
    strata_manual_seed(3);
    Module *m = nn_sequential(3, nn_linear(4, 3, true), nn_relu(), nn_linear(3, 2, true));
    if (!m || (export ? nn_save(m, path) : nn_load(m, path, true)) < 0) {
        fprintf(stderr, "torch_interop: %s\n", strata_last_error());
        return 1;
    }
    Scope *s = scope_begin();
    const float xs[8] = {1, 2, 3, 4, -1, 0.5f, 0.25f, 2};
    Var *y = nn_forward(m, var_new(tensor_from_data(xs, (int64_t[]){2, 4}, 2), false));
    if (!y) {
        fprintf(stderr, "torch_interop: %s\n", strata_last_error());
        return 1;
    }
    for (int i = 0; i < 4; i++)
        printf("%.9g%c", var_data(y)->data[i], i < 3 ? ' ' : '\n');
    scope_end(s);
    nn_module_free(m);
    return 0;
}
