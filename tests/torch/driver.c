/*
 * driver.c - strata's half of the differential test against PyTorch (make test-torch).
 *
 * tests/torch/compare.py writes a file of cases, runs this program on it, runs the same
 * cases through PyTorch and compares. One case, whitespace-separated:
 *
 *   case OP NP p1 .. pNP        the op's name and NP numeric parameters (dims, flags, ...)
 *   NI                          number of tensors that follow
 *   KIND NDIM d1 .. dNDIM v..   NI times: KIND is v (a differentiable input), c (a constant:
 *                               indices, targets, masks) or g (the output gradient, last);
 *                               then the shape and numel values
 *
 * For each case it prints
 *
 *   ok OP
 *   out NDIM d.. v..            strata's forward value
 *   grad NDIM d.. v..           one per v input, in order: d(sum(out * g)) / d input
 *   aux NDIM d.. v..            op-specific extra state (BatchNorm's running statistics)
 *   end
 *
 * or "err OP message" when strata refuses the case. "T:OP" runs OP on the first input
 * transposed (a non-contiguous view). Module ops (layer_norm, batch_norm,
 * embedding, mha) build the module, copy the v inputs into its parameters and report the
 * parameters' gradients in the inputs' places.
 */
#include "nn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 16
#define MAX_PARAMS 16

typedef struct Case {
    char op[64];
    int np;
    double p[MAX_PARAMS];
    int ni;
    char kind[MAX_INPUTS];
    Var *in[MAX_INPUTS];    /* every tensor, as a Var (requires grad for kind v) */
    Var *grad_of[MAX_INPUTS]; /* whose gradient to report for input i (default: in[i]) */
    Tensor *aux[4];
    int naux;
    Module *module;
} Case;

static Tensor *read_tensor(FILE *f)
{
    int ndim = 0;
    int64_t shape[TENSOR_MAX_DIMS];
    if (fscanf(f, "%d", &ndim) != 1 || ndim < 0 || ndim > TENSOR_MAX_DIMS)
        return NULL;
    int64_t numel = 1;
    for (int i = 0; i < ndim; i++) {
        long long d = 0;
        if (fscanf(f, "%lld", &d) != 1)
            return NULL;
        shape[i] = d;
        numel *= d;
    }
    Tensor *t = tensor_empty(shape, ndim);
    if (!t)
        return NULL;
    for (int64_t i = 0; i < numel; i++) {
        char tok[64];
        if (fscanf(f, "%63s", tok) != 1)
            return NULL;
        t->data[i] = strtof(tok, NULL); /* also reads nan, inf, -inf */
    }
    return t;
}

static void print_tensor(const char *tag, const Tensor *t)
{
    printf("%s %d", tag, t->ndim);
    for (int i = 0; i < t->ndim; i++)
        printf(" %lld", (long long)t->shape[i]);
    int64_t n = tensor_numel(t);
    float *buf = malloc(sizeof(float) * (size_t)(n > 0 ? n : 1));
    tensor_to_array(t, buf);
    for (int64_t i = 0; i < n; i++)
        printf(" %.9g", (double)buf[i]);
    printf("\n");
    free(buf);
}

static int ip(const Case *c, int i) { return (int)c->p[i]; }
static Tensor *T(const Case *c, int i) { return var_data(c->in[i]); }
static NnReduction red(double code)
{
    return code == 1 ? NN_REDUCTION_SUM : code == 2 ? NN_REDUCTION_NONE : NN_REDUCTION_MEAN;
}

/* Find a parameter by dotted name ("out_proj.weight"). */
static Var *param(Module *m, const char *dotted)
{
    char buf[128];
    snprintf(buf, sizeof buf, "%s", dotted);
    char *dot;
    char *name = buf;
    while ((dot = strchr(name, '.'))) {
        *dot = '\0';
        m = nn_get_submodule(m, name);
        name = dot + 1;
    }
    return m ? nn_get_parameter(m, name) : NULL;
}

/* Copy v input @p i into the module's parameter @p name, and report that one's grad. */
static int bind(Case *c, int i, const char *name)
{
    Var *p = param(c->module, name);
    if (!p || tensor_copy_(var_data(p), T(c, i)) < 0)
        return -1;
    c->grad_of[i] = p;
    return 0;
}

static Var *run(Case *c)
{
    const char *op = c->op;
    Var **x = c->in;
    /* "T:OP": OP on the first input transposed (its last two dims): a non-contiguous
     * input, while the gradient is still reported for the contiguous leaf. */
    if (!strncmp(op, "T:", 2)) {
        op += 2;
        x[0] = var_transpose(x[0], -2, -1);
        if (!x[0])
            return NULL;
    }
    int dims[MAX_PARAMS];
    int64_t shape[MAX_PARAMS];
    for (int i = 0; i < c->np; i++) {
        dims[i] = (int)c->p[i];
        shape[i] = (int64_t)c->p[i];
    }
    /* unary */
    if (!strcmp(op, "neg")) return var_neg(x[0]);
    if (!strcmp(op, "abs")) return var_abs(x[0]);
    if (!strcmp(op, "exp")) return var_exp(x[0]);
    if (!strcmp(op, "log")) return var_log(x[0]);
    if (!strcmp(op, "sqrt")) return var_sqrt(x[0]);
    if (!strcmp(op, "rsqrt")) return var_rsqrt(x[0]);
    if (!strcmp(op, "sin")) return var_sin(x[0]);
    if (!strcmp(op, "cos")) return var_cos(x[0]);
    if (!strcmp(op, "tanh")) return var_tanh(x[0]);
    if (!strcmp(op, "sigmoid")) return var_sigmoid(x[0]);
    if (!strcmp(op, "relu")) return var_relu(x[0]);
    if (!strcmp(op, "gelu")) return var_gelu(x[0]);
    if (!strcmp(op, "leaky_relu")) return var_leaky_relu(x[0], (float)c->p[0]);
    if (!strcmp(op, "clamp")) return var_clamp(x[0], (float)c->p[0], (float)c->p[1]);
    if (!strcmp(op, "pow_scalar")) return var_pow_scalar(x[0], (float)c->p[0]);
    if (!strcmp(op, "add_scalar")) return var_add_scalar(x[0], (float)c->p[0]);
    if (!strcmp(op, "mul_scalar")) return var_mul_scalar(x[0], (float)c->p[0]);
    /* binary, broadcasting */
    if (!strcmp(op, "add")) return var_add(x[0], x[1]);
    if (!strcmp(op, "sub")) return var_sub(x[0], x[1]);
    if (!strcmp(op, "mul")) return var_mul(x[0], x[1]);
    if (!strcmp(op, "div")) return var_div(x[0], x[1]);
    if (!strcmp(op, "pow")) return var_pow(x[0], x[1]);
    if (!strcmp(op, "maximum")) return var_maximum(x[0], x[1]);
    if (!strcmp(op, "minimum")) return var_minimum(x[0], x[1]);
    if (!strcmp(op, "where")) return var_where(T(c, 0), x[1], x[2]);
    if (!strcmp(op, "masked_fill")) return var_masked_fill(x[0], T(c, 1), (float)c->p[0]);
    /* reductions: p = keepdim, dims... */
    if (!strcmp(op, "sum")) return var_sum(x[0], dims + 1, c->np - 1, ip(c, 0));
    if (!strcmp(op, "mean")) return var_mean(x[0], dims + 1, c->np - 1, ip(c, 0));
    if (!strcmp(op, "logsumexp")) return var_logsumexp(x[0], dims + 1, c->np - 1, ip(c, 0));
    /* var: p = unbiased, keepdim, dims... */
    if (!strcmp(op, "var")) return var_var(x[0], dims + 2, c->np - 2, ip(c, 0), ip(c, 1));
    if (!strcmp(op, "max")) return var_max(x[0], ip(c, 0), ip(c, 1));
    if (!strcmp(op, "min")) return var_min(x[0], ip(c, 0), ip(c, 1));
    if (!strcmp(op, "max_all")) return var_max_all(x[0]);
    if (!strcmp(op, "softmax")) return var_softmax(x[0], ip(c, 0));
    if (!strcmp(op, "log_softmax")) return var_log_softmax(x[0], ip(c, 0));
    /* linear algebra */
    if (!strcmp(op, "matmul")) return var_matmul(x[0], x[1]);
    if (!strcmp(op, "linear")) return var_linear(x[0], x[1], c->ni > 3 ? x[2] : NULL);
    /* views and joins */
    if (!strcmp(op, "transpose")) return var_transpose(x[0], ip(c, 0), ip(c, 1));
    if (!strcmp(op, "permute")) return var_permute(x[0], dims);
    if (!strcmp(op, "reshape")) return var_reshape(x[0], shape, c->np);
    if (!strcmp(op, "expand")) return var_expand(x[0], shape, c->np);
    if (!strcmp(op, "narrow")) return var_narrow(x[0], ip(c, 0), shape[1], shape[2]);
    if (!strcmp(op, "slice")) return var_slice(x[0], ip(c, 0), shape[1], shape[2], shape[3]);
    if (!strcmp(op, "select")) return var_select(x[0], ip(c, 0), shape[1]);
    if (!strcmp(op, "squeeze")) return var_squeeze(x[0], ip(c, 0));
    if (!strcmp(op, "unsqueeze")) return var_unsqueeze(x[0], ip(c, 0));
    if (!strcmp(op, "flatten")) return var_flatten(x[0], ip(c, 0), ip(c, 1));
    if (!strcmp(op, "cat")) return var_cat(x, c->ni - 1, ip(c, 0));
    if (!strcmp(op, "stack")) return var_stack(x, c->ni - 1, ip(c, 0));
    if (!strcmp(op, "index_select")) return var_index_select(x[0], ip(c, 0), T(c, 1));
    if (!strcmp(op, "gather")) return var_gather(x[0], ip(c, 0), T(c, 1));
    /* convolution and pooling: p = stride, padding (conv) or kernel, stride, padding */
    if (!strcmp(op, "conv2d")) {
        Tensor *w = T(c, 1);
        Window2d win = window2d((int)w->shape[2], ip(c, 0), ip(c, 1));
        win.kernel_w = (int)w->shape[3];
        if (c->np > 2) /* p = stride, padding[, dilation] */
            win.dilation_h = win.dilation_w = ip(c, 2);
        return var_conv2d(x[0], x[1], c->ni > 3 ? x[2] : NULL, win);
    }
    if (!strcmp(op, "im2col")) { /* p = kernel, stride, padding, dilation */
        Window2d win = window2d(ip(c, 0), ip(c, 1), ip(c, 2));
        win.dilation_h = win.dilation_w = ip(c, 3);
        return var_im2col(x[0], win);
    }
    if (!strcmp(op, "max_pool2d")) return var_max_pool2d(x[0], window2d(ip(c, 0), ip(c, 1), ip(c, 2)));
    if (!strcmp(op, "avg_pool2d")) return var_avg_pool2d(x[0], window2d(ip(c, 0), ip(c, 1), ip(c, 2)));
    /* losses: p = reduction (0 mean, 1 sum, 2 none)[, label smoothing] */
    if (!strcmp(op, "mse_loss")) return nn_mse_loss(x[0], T(c, 1), red(c->p[0]));
    if (!strcmp(op, "l1_loss")) return nn_l1_loss(x[0], T(c, 1), red(c->p[0]));
    if (!strcmp(op, "cross_entropy"))
        return nn_cross_entropy_loss(x[0], T(c, 1), red(c->p[0]), (float)c->p[1]);
    if (!strcmp(op, "nll_loss")) return nn_nll_loss(x[0], T(c, 1), red(c->p[0]));
    if (!strcmp(op, "bce_loss")) return nn_bce_loss(x[0], T(c, 1), red(c->p[0]));
    if (!strcmp(op, "bce_with_logits")) return nn_bce_with_logits_loss(x[0], T(c, 1), red(c->p[0]));
    /* modules */
    if (!strcmp(op, "layer_norm")) { /* x, weight, bias; p = eps */
        Tensor *w = T(c, 1);
        c->module = nn_layer_norm(w->shape, w->ndim, (float)c->p[0], true);
        if (!c->module || bind(c, 1, "weight") < 0 || bind(c, 2, "bias") < 0)
            return NULL;
        return nn_forward(c->module, x[0]);
    }
    if (!strcmp(op, "batch_norm")) { /* x, weight, bias; p = spatial dims, eps, momentum */
        c->module = nn_batch_norm(ip(c, 0), T(c, 1)->shape[0], (float)c->p[1], (float)c->p[2],
                                  true, true);
        if (!c->module || bind(c, 1, "weight") < 0 || bind(c, 2, "bias") < 0)
            return NULL;
        nn_train(c->module, true);
        Var *y = nn_forward(c->module, x[0]);
        c->aux[c->naux++] = nn_get_buffer(c->module, "running_mean");
        c->aux[c->naux++] = nn_get_buffer(c->module, "running_var");
        return y;
    }
    if (!strcmp(op, "embedding")) { /* indices (c), weight (v) */
        Tensor *w = T(c, 1);
        c->module = nn_embedding(w->shape[0], w->shape[1]);
        if (!c->module || bind(c, 1, "weight") < 0)
            return NULL;
        return nn_forward(c->module, x[0]);
    }
    if (!strcmp(op, "mha")) { /* q, k, v, in_proj_w, in_proj_b, out_w, out_b; p = heads, causal */
        c->module = nn_multihead_attention(T(c, 0)->shape[2], ip(c, 0), true);
        if (!c->module || bind(c, 3, "in_proj_weight") < 0 || bind(c, 4, "in_proj_bias") < 0 ||
            bind(c, 5, "out_proj.weight") < 0 || bind(c, 6, "out_proj.bias") < 0)
            return NULL;
        return nn_multihead_attention_forward(c->module, x[0], x[1], x[2], NULL, ip(c, 1));
    }
    strata_set_error("driver: unknown op '%s'", op);
    return NULL;
}

int main(int argc, char **argv)
{
    FILE *f = argc > 1 ? fopen(argv[1], "r") : stdin;
    if (!f) {
        fprintf(stderr, "driver: cannot open %s\n", argv[1]);
        return 2;
    }
    char word[64];
    while (fscanf(f, "%63s", word) == 1) {
        Case c;
        memset(&c, 0, sizeof c);
        if (strcmp(word, "case") != 0 || fscanf(f, "%63s %d", c.op, &c.np) != 2 ||
            c.np < 0 || c.np > MAX_PARAMS) {
            fprintf(stderr, "driver: malformed case header\n");
            return 2;
        }
        for (int i = 0; i < c.np; i++)
            if (fscanf(f, "%lf", &c.p[i]) != 1)
                return 2;
        if (fscanf(f, "%d", &c.ni) != 1 || c.ni < 1 || c.ni > MAX_INPUTS)
            return 2;
        Scope *s = scope_begin();
        for (int i = 0; i < c.ni; i++) {
            char kind[4];
            Tensor *t = NULL;
            if (fscanf(f, "%3s", kind) != 1 || !(t = read_tensor(f))) {
                fprintf(stderr, "driver: malformed tensor %d of case %s\n", i, c.op);
                return 2;
            }
            c.kind[i] = kind[0];
            c.in[i] = var_new(t, kind[0] == 'v');
            c.grad_of[i] = c.in[i];
        }
        Var *out = run(&c);
        const Tensor *g = var_data(c.in[c.ni - 1]);
        if (!out || var_backward_ex(out, g, false) < 0) {
            printf("err %s %s\n", c.op, strata_last_error());
        } else {
            printf("ok %s\n", c.op);
            print_tensor("out", var_data(out));
            for (int i = 0; i < c.ni; i++) {
                if (c.kind[i] != 'v')
                    continue;
                Tensor *gr = var_grad(c.grad_of[i]);
                if (gr)
                    print_tensor("grad", gr);
                else /* no gradient reached it: zeros */
                    print_tensor("grad", tensor_zeros_like(var_data(c.grad_of[i])));
            }
            for (int i = 0; i < c.naux; i++)
                print_tensor("aux", c.aux[i]);
            printf("end\n");
        }
        fflush(stdout);
        scope_end(s);
        nn_module_free(c.module);
    }
    if (f != stdin)
        fclose(f);
    return 0;
}
