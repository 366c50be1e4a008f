/*
 * fashion_transformer.c - a small transformer classifier on Fashion-MNIST, the second
 * traditional task of the course strata follows (Clownpiece-torch reached ~85% on MNIST).
 *
 *   build/examples/fashion_transformer                 # the defaults below
 *   build/examples/fashion_transformer --epochs 8 --csv vit.csv
 *
 * The 28 rows of an image are a sequence of 28 tokens of 28 pixels:
 *
 *   x [N, 1, 28, 28] -> [N, 28, 28] -> Linear 28 -> E, + a learned position embedding
 *   [28, E] -> 2 blocks of  h = h + MHA(LN(h));  h = h + MLP(LN(h))  (pre-LayerNorm;
 *   MLP: Linear E -> 2E, GELU, Linear 2E -> E) -> LayerNorm -> mean over the 28 tokens
 *   -> Linear E -> 10.
 *
 * E = 64 with 4 heads (71 370 parameters). Defaults: AdamW lr 2e-3 (weight decay
 * 0.01) with cosine annealing over 5 epochs, batch 128, seed 1; the shared training
 * loop (fashion_common.h) prints each epoch's losses, accuracies and time.
 *
 * The blocks are user modules built from the public API only: a ModuleType with a
 * forward, children registered by name, and a parameter of our own (the position
 * embedding), which is how a course exercise would write them.
 */
#include "fashion_common.h"

#define SEQ_LEN 28    /* image rows = tokens */
#define TOKEN_DIM 28  /* pixels per row = features per token */
#define EMBED 64
#define HEADS 4
#define MLP_HIDDEN (2 * EMBED)
#define BLOCKS 2

/* ---- one pre-LayerNorm transformer block ---------------------------------------- */

static Var *block_forward(Module *self, Var *h)
{
    /* h [N, L, E] */
    Var *a = nn_forward(nn_get_submodule(self, "ln1"), h);
    a = nn_forward_n(nn_get_submodule(self, "attn"), (Var *[]){a, a, a}, 3);
    h = var_add(h, a);
    Var *m = nn_forward(nn_get_submodule(self, "ln2"), h);
    m = nn_forward(nn_get_submodule(self, "fc1"), m);
    m = nn_forward(nn_get_submodule(self, "act"), m);
    m = nn_forward(nn_get_submodule(self, "fc2"), m);
    return var_add(h, m);
}

static int block_extra_repr(const Module *self, char *buf, size_t size)
{
    (void)self;
    return snprintf(buf, size, "pre_norm=True, embed_dim=%d, mlp_hidden=%d", EMBED,
                    MLP_HIDDEN);
}

static const ModuleType BLOCK_TYPE = {"TransformerBlock", block_forward, NULL,
                                      block_extra_repr, NULL};

static Module *transformer_block(void)
{
    Module *m = nn_module_new(&BLOCK_TYPE, NULL);
    const int64_t e[1] = {EMBED};
    if (!m || nn_register_module(m, "ln1", nn_layer_norm(e, 1, 1e-5f, true)) < 0 ||
        nn_register_module(m, "attn", nn_multihead_attention(EMBED, HEADS, true)) < 0 ||
        nn_register_module(m, "ln2", nn_layer_norm(e, 1, 1e-5f, true)) < 0 ||
        nn_register_module(m, "fc1", nn_linear(EMBED, MLP_HIDDEN, true)) < 0 ||
        nn_register_module(m, "act", nn_gelu()) < 0 ||
        nn_register_module(m, "fc2", nn_linear(MLP_HIDDEN, EMBED, true)) < 0) {
        nn_module_free(m);
        return NULL;
    }
    return m;
}

/* ---- the classifier --------------------------------------------------------------- */

static Var *classifier_forward(Module *self, Var *x)
{
    /* x [N, 1, 28, 28] (or [N, 784]) -> tokens [N, 28, 28] */
    int64_t n = var_data(x)->shape[0];
    const int64_t seq[3] = {n, SEQ_LEN, TOKEN_DIM};
    Var *h = nn_forward(nn_get_submodule(self, "embed"), var_reshape(x, seq, 3));
    h = var_add(h, nn_get_parameter(self, "pos")); /* [N, L, E] + [L, E] broadcasts */
    Module *blocks = nn_get_submodule(self, "blocks");
    for (int i = 0; i < nn_module_list_len(blocks); i++)
        h = nn_forward(nn_module_list_get(blocks, i), h);
    h = nn_forward(nn_get_submodule(self, "norm"), h);
    const int dims[1] = {1};
    h = var_mean(h, dims, 1, false); /* mean-pool the tokens: [N, E] */
    return nn_forward(nn_get_submodule(self, "head"), h);
}

static const ModuleType CLASSIFIER_TYPE = {"RowTransformer", classifier_forward, NULL, NULL,
                                           NULL};

static Module *row_transformer(void)
{
    Module *m = nn_module_new(&CLASSIFIER_TYPE, NULL);
    const int64_t e[1] = {EMBED};
    const int64_t pos_shape[2] = {SEQ_LEN, EMBED};
    Var *pos = NULL;
    if (!m || nn_register_module(m, "embed", nn_linear(TOKEN_DIM, EMBED, true)) < 0 ||
        !(pos = nn_add_parameter(m, "pos", pos_shape, 2)) ||
        nn_init_normal_(var_data(pos), 0.0f, 0.02f) < 0 ||
        nn_register_module(m, "blocks", nn_module_list()) < 0)
        goto fail;
    for (int i = 0; i < BLOCKS; i++)
        if (nn_module_list_append(nn_get_submodule(m, "blocks"), transformer_block()) < 0)
            goto fail;
    if (nn_register_module(m, "norm", nn_layer_norm(e, 1, 1e-5f, true)) < 0 ||
        nn_register_module(m, "head", nn_linear(EMBED, 10, true)) < 0)
        goto fail;
    return m;
fail:
    nn_module_free(m);
    return NULL;
}

int main(int argc, char **argv)
{
    FashionConfig c = fashion_defaults("fashion_transformer");
    c.epochs = 5;
    c.lr = 2e-3f;
    c.weight_decay = 0.01f;
    c.optimizer = "adamw";
    int status;
    if (!fashion_start(&c, argc, argv, &status))
        return status;
    Module *model = row_transformer();
    if (model && !c.quiet)
        nn_fprint(stdout, model);
    return fashion_main(&c, model);
}
