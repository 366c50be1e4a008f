#!/usr/bin/env python3
"""Differential test: strata's ops and gradients against PyTorch's (make test-torch).

Weeks 1 and 2 of the course strata follows grade by running each test on the student's
code and on PyTorch and comparing. This script does that for strata's reference: it
draws random float32 inputs (seeded), writes them with each op's parameters to a case
file, runs build/tests/torch_driver on it (strata's forward value and the gradients of
sum(out * g) for a random output gradient g), runs the same op in PyTorch in float64 on
the same float32 values, and compares.

Tolerances (elementwise, as torch.allclose: |strata - torch| <= atol + rtol * |torch|):
  forward   rtol 1e-4, atol 1e-5
  gradient  rtol 1e-3, atol 1e-4
strata computes in float32 and PyTorch here in float64, so these bound float32 rounding
(a few ulps per op, more through reductions), not a difference in formulas; the last
column of the table is each case's worst |difference| / tolerance (case(..., tol=) could
widen a case's tolerances; none needs to).

Cases: elementwise unary and broadcasting binary ops, where/masked_fill, reductions over
dims with keepdim, softmax/log_softmax, matmul (2-D, batched, broadcast, 1-D), linear,
views and joins, index_select/gather, conv2d, max/avg pooling, the losses (MSE, L1,
cross-entropy with label smoothing and every reduction, NLL, BCE, BCE with logits),
layer_norm, batch_norm in training mode (with its running statistics), embedding,
multi-head attention (cross and causal self); edge cases with PyTorch's conventions
(ties of max/maximum/max-pooling, relu/abs at 0, clamp at its bounds and with min > max,
saturated sigmoid, log(0), sqrt(0), BCE at p = 0 and 1, NaN and +inf through max_all,
relu and softmax, pow at base 0, ignore_index -100, ...); and a set on non-contiguous
(transposed) inputs.

Usage: compare.py DRIVER [--seed N] [--verbose]. Exit status: 0 when every case agrees
(or when PyTorch is not installed: skipped with a note), 1 on a mismatch, 2 on an error.
"""
import math
import os
import subprocess
import sys
import tempfile

try:
    import torch
    import torch.nn.functional as F
except ImportError:
    print("test-torch: skipped: PyTorch is not installed for %s (Debian: apt-get install "
          "python3-torch)" % sys.executable)
    sys.exit(0)

FWD_TOL = (1e-4, 1e-5)
GRAD_TOL = (1e-3, 1e-4)

gen = torch.Generator().manual_seed(0)


def randn(*shape):
    return torch.randn(*shape, generator=gen, dtype=torch.float32)


def uniform(lo, hi, *shape):
    return lo + (hi - lo) * torch.rand(*shape, generator=gen, dtype=torch.float32)


def randint(hi, *shape):
    return torch.randint(0, hi, shape, generator=gen).to(torch.float32)


def V(t):
    return ("v", t)


def C(t):
    return ("c", t)


def D(t):
    return t.to(torch.float64)


CASES = []


def case(label, op, params, inputs, fn, aux=None, tol=None):
    """op and params as the driver reads them; fn(inputs, params) -> torch output,
    taking float64 tensors (v ones require grad); aux(inputs, params) -> extra state."""
    CASES.append(dict(label=label, op=op, params=params, inputs=inputs, fn=fn, aux=aux,
                      tol=tol))


def unary(op, fn, x=None, params=()):
    case(op, op, list(params), [V(randn(3, 5) if x is None else x)], lambda a, p: fn(a[0]))


# ---- elementwise, unary --------------------------------------------------------------
unary("neg", lambda x: -x)
unary("abs", torch.abs)
unary("exp", torch.exp)
unary("log", torch.log, uniform(0.1, 3.0, 3, 5))
unary("sqrt", torch.sqrt, uniform(0.1, 3.0, 3, 5))
unary("rsqrt", torch.rsqrt, uniform(0.1, 3.0, 3, 5))
unary("sin", torch.sin)
unary("cos", torch.cos)
unary("tanh", torch.tanh)
unary("sigmoid", torch.sigmoid, randn(3, 5) * 4)
unary("relu", torch.relu)
unary("gelu", F.gelu, randn(3, 5) * 2)
case("leaky_relu(0.1)", "leaky_relu", [0.1], [V(randn(4, 6))],
     lambda a, p: F.leaky_relu(a[0], 0.1))
case("clamp(-0.5, 0.7)", "clamp", [-0.5, 0.7], [V(randn(4, 6))],
     lambda a, p: torch.clamp(a[0], -0.5, 0.7))
case("pow_scalar(3)", "pow_scalar", [3], [V(randn(4, 6))], lambda a, p: a[0] ** 3)
case("pow_scalar(0.5)", "pow_scalar", [0.5], [V(uniform(0.2, 2, 4, 6))],
     lambda a, p: a[0] ** 0.5)
case("mul_scalar(-2.5)", "mul_scalar", [-2.5], [V(randn(4, 6))], lambda a, p: a[0] * -2.5)

# ---- elementwise, binary with broadcasting ----------------------------------------
case("add [2,3,4]+[3,1]", "add", [], [V(randn(2, 3, 4)), V(randn(3, 1))],
     lambda a, p: a[0] + a[1])
case("sub [4,1]-[1,5]", "sub", [], [V(randn(4, 1)), V(randn(1, 5))], lambda a, p: a[0] - a[1])
case("mul [2,1,4]*[3,1]", "mul", [], [V(randn(2, 1, 4)), V(randn(3, 1))],
     lambda a, p: a[0] * a[1])
case("div [3,4]/[4]", "div", [], [V(randn(3, 4)), V(uniform(0.5, 2, 4))],
     lambda a, p: a[0] / a[1])
case("pow [3,4]^[3,1]", "pow", [], [V(uniform(0.5, 2, 3, 4)), V(randn(3, 1))],
     lambda a, p: a[0] ** a[1])
case("maximum [3,4],[4]", "maximum", [], [V(randn(3, 4)), V(randn(4))],
     lambda a, p: torch.maximum(a[0], a[1]))
case("minimum [3,1],[3,4]", "minimum", [], [V(randn(3, 1)), V(randn(3, 4))],
     lambda a, p: torch.minimum(a[0], a[1]))
case("where(cond, [3,4], [4])", "where", [],
     [C(randint(2, 3, 4)), V(randn(3, 4)), V(randn(4))],
     lambda a, p: torch.where(a[0].bool(), a[1], a[2]))
case("masked_fill(-1)", "masked_fill", [-1.0], [V(randn(3, 4)), C(randint(2, 3, 4))],
     lambda a, p: a[0].masked_fill(a[1].bool(), -1.0))

# ---- reductions ---------------------------------------------------------------------
case("sum dim 1", "sum", [0, 1], [V(randn(3, 4, 5))], lambda a, p: a[0].sum(1))
case("sum dims (0,2) keepdim", "sum", [1, 0, 2], [V(randn(3, 4, 5))],
     lambda a, p: a[0].sum((0, 2), keepdim=True))
case("mean dim -1 keepdim", "mean", [1, -1], [V(randn(3, 4, 5))],
     lambda a, p: a[0].mean(-1, keepdim=True))
case("mean dims (0,1)", "mean", [0, 0, 1], [V(randn(3, 4, 5))], lambda a, p: a[0].mean((0, 1)))
case("var dim 1 unbiased", "var", [1, 0, 1], [V(randn(3, 6, 2))],
     lambda a, p: a[0].var(1, unbiased=True))
case("var dims (0,2) biased keepdim", "var", [0, 1, 0, 2], [V(randn(3, 6, 2))],
     lambda a, p: a[0].var((0, 2), unbiased=False, keepdim=True))
case("logsumexp dim 1", "logsumexp", [0, 1], [V(randn(4, 7) * 3)],
     lambda a, p: torch.logsumexp(a[0], 1))
case("max dim 1", "max", [1, 0], [V(randn(4, 7))], lambda a, p: a[0].max(1).values)
case("min dim 0 keepdim", "min", [0, 1], [V(randn(4, 7))],
     lambda a, p: a[0].min(0, keepdim=True).values)
case("max_all", "max_all", [], [V(randn(4, 7))], lambda a, p: a[0].max())
case("softmax dim 1", "softmax", [1], [V(randn(3, 6, 2) * 3)],
     lambda a, p: torch.softmax(a[0], 1))
case("log_softmax dim -1", "log_softmax", [-1], [V(randn(4, 9) * 5)],
     lambda a, p: torch.log_softmax(a[0], -1))

# ---- matmul ---------------------------------------------------------------------------
case("matmul [5,7]@[7,3]", "matmul", [], [V(randn(5, 7)), V(randn(7, 3))],
     lambda a, p: a[0] @ a[1])
case("matmul [2,4,5]@[2,5,3]", "matmul", [], [V(randn(2, 4, 5)), V(randn(2, 5, 3))],
     lambda a, p: a[0] @ a[1])
case("matmul [2,1,4,5]@[3,5,2] broadcast", "matmul", [],
     [V(randn(2, 1, 4, 5)), V(randn(3, 5, 2))], lambda a, p: a[0] @ a[1])
case("matmul [6]@[6,3]", "matmul", [], [V(randn(6)), V(randn(6, 3))], lambda a, p: a[0] @ a[1])
case("matmul [2,4,6]@[6]", "matmul", [], [V(randn(2, 4, 6)), V(randn(6))],
     lambda a, p: a[0] @ a[1])
case("linear [2,3,5] W[4,5] b[4]", "linear", [],
     [V(randn(2, 3, 5)), V(randn(4, 5)), V(randn(4))],
     lambda a, p: F.linear(a[0], a[1], a[2]))

# ---- views and joins -------------------------------------------------------------
case("transpose(0,2)", "transpose", [0, 2], [V(randn(2, 3, 4))],
     lambda a, p: a[0].transpose(0, 2))
case("permute(2,0,1)", "permute", [2, 0, 1], [V(randn(2, 3, 4))],
     lambda a, p: a[0].permute(2, 0, 1))
case("reshape [6,-1]", "reshape", [6, -1], [V(randn(2, 3, 4))], lambda a, p: a[0].reshape(6, -1))
case("expand [3,2,4]", "expand", [3, 2, 4], [V(randn(2, 1))], lambda a, p: a[0].expand(3, 2, 4))
case("narrow(1, 1, 2)", "narrow", [1, 1, 2], [V(randn(3, 5))], lambda a, p: a[0].narrow(1, 1, 2))
case("slice dim 1 [1:7:2]", "slice", [1, 1, 7, 2], [V(randn(3, 8))],
     lambda a, p: a[0][:, 1:7:2])
case("select(0, 1)", "select", [0, 1], [V(randn(3, 4))], lambda a, p: a[0].select(0, 1))
case("squeeze(1)", "squeeze", [1], [V(randn(3, 1, 4))], lambda a, p: a[0].squeeze(1))
case("unsqueeze(-1)", "unsqueeze", [-1], [V(randn(3, 4))], lambda a, p: a[0].unsqueeze(-1))
case("flatten(1, 2)", "flatten", [1, 2], [V(randn(2, 3, 4, 2))], lambda a, p: a[0].flatten(1, 2))
case("cat dim 1", "cat", [1], [V(randn(2, 3)), V(randn(2, 1)), V(randn(2, 4))],
     lambda a, p: torch.cat(a, 1))
case("stack dim 1", "stack", [1], [V(randn(2, 3)), V(randn(2, 3))],
     lambda a, p: torch.stack(a, 1))
case("index_select dim 0 (repeats)", "index_select", [0],
     [V(randn(5, 3)), C(torch.tensor([4.0, 0.0, 4.0, 2.0]))],
     lambda a, p: a[0].index_select(0, a[1].long()))
case("gather dim 1", "gather", [1], [V(randn(4, 5)), C(randint(5, 4, 3))],
     lambda a, p: a[0].gather(1, a[1].long()))

# ---- convolution and pooling ---------------------------------------------------------
case("conv2d 3x3 stride 1 pad 1", "conv2d", [1, 1],
     [V(randn(2, 3, 6, 6)), V(randn(4, 3, 3, 3)), V(randn(4))],
     lambda a, p: F.conv2d(a[0], a[1], a[2], stride=1, padding=1))
# 3x3, stride 1, >= 16 channels in and out: the reference's Winograd F(2x2, 3x3) path
case("conv2d 3x3 16->16 channels pad 1 (Winograd)", "conv2d", [1, 1],
     [V(randn(2, 16, 7, 6)), V(randn(16, 16, 3, 3)), V(randn(16))],
     lambda a, p: F.conv2d(a[0], a[1], a[2], stride=1, padding=1))
case("conv2d 3x3 16->24 channels pad 0 odd sizes (Winograd)", "conv2d", [1, 0],
     [V(randn(3, 16, 9, 8)), V(randn(24, 16, 3, 3)), V(randn(24))],
     lambda a, p: F.conv2d(a[0], a[1], a[2], stride=1, padding=0))
case("conv2d 3x3 stride 2 pad 0", "conv2d", [2, 0],
     [V(randn(2, 2, 7, 7)), V(randn(3, 2, 3, 3)), V(randn(3))],
     lambda a, p: F.conv2d(a[0], a[1], a[2], stride=2, padding=0))
case("conv2d 2x3 kernel dilation 2, no bias", "conv2d", [1, 1, 2],
     [V(randn(1, 2, 6, 7)), V(randn(3, 2, 2, 3))],
     lambda a, p: F.conv2d(a[0], a[1], None, stride=1, padding=1, dilation=2))
case("im2col k3 s1 p1 (unfold)", "im2col", [3, 1, 1, 1], [V(randn(2, 2, 5, 5))],
     lambda a, p: F.unfold(a[0], 3, dilation=1, padding=1, stride=1))
case("im2col k2 s2 p0 dilation 2", "im2col", [2, 2, 0, 2], [V(randn(1, 3, 7, 6))],
     lambda a, p: F.unfold(a[0], 2, dilation=2, padding=0, stride=2))
case("max_pool2d k2 s2", "max_pool2d", [2, 2, 0], [V(randn(2, 3, 6, 6))],
     lambda a, p: F.max_pool2d(a[0], 2, 2, 0))
case("max_pool2d k3 s2 p1", "max_pool2d", [3, 2, 1], [V(randn(2, 2, 7, 7))],
     lambda a, p: F.max_pool2d(a[0], 3, 2, 1))
case("avg_pool2d k2 s2", "avg_pool2d", [2, 2, 0], [V(randn(2, 3, 6, 6))],
     lambda a, p: F.avg_pool2d(a[0], 2, 2, 0))
case("avg_pool2d k3 s2 p1", "avg_pool2d", [3, 2, 1], [V(randn(2, 2, 7, 7))],
     lambda a, p: F.avg_pool2d(a[0], 3, 2, 1, count_include_pad=True))

# ---- losses -----------------------------------------------------------------------------
RED = ["mean", "sum", "none"]
for r in range(3):
    case("mse_loss " + RED[r], "mse_loss", [r], [V(randn(4, 3)), C(randn(4, 3))],
         lambda a, p: F.mse_loss(a[0], a[1], reduction=RED[int(p[0])]))
case("l1_loss mean", "l1_loss", [0], [V(randn(4, 3)), C(randn(4, 3))],
     lambda a, p: F.l1_loss(a[0], a[1]))
for r, ls in ((0, 0.0), (0, 0.1), (1, 0.2), (2, 0.1)):
    case("cross_entropy %s smoothing %g" % (RED[r], ls), "cross_entropy", [r, ls],
         [V(randn(6, 5) * 2), C(randint(5, 6))],
         lambda a, p: F.cross_entropy(a[0], a[1].long(), reduction=RED[int(p[0])],
                                      label_smoothing=p[1]))
case("nll_loss mean", "nll_loss", [0], [V(randn(6, 5)), C(randint(5, 6))],
     lambda a, p: F.nll_loss(a[0], a[1].long()))
case("nll_loss none", "nll_loss", [2], [V(randn(6, 5)), C(randint(5, 6))],
     lambda a, p: F.nll_loss(a[0], a[1].long(), reduction="none"))
case("bce_loss mean", "bce_loss", [0], [V(uniform(0.05, 0.95, 4, 3)), C(uniform(0, 1, 4, 3))],
     lambda a, p: F.binary_cross_entropy(a[0], a[1]))
case("bce_with_logits mean", "bce_with_logits", [0], [V(randn(4, 3) * 3), C(randint(2, 4, 3))],
     lambda a, p: F.binary_cross_entropy_with_logits(a[0], a[1]))
case("bce_with_logits sum, |x| large", "bce_with_logits", [1],
     [V(torch.tensor([[-40.0, 35.0, 0.5], [60.0, -0.2, -80.0]])), C(uniform(0, 1, 2, 3))],
     lambda a, p: F.binary_cross_entropy_with_logits(a[0], a[1], reduction="sum"))

# ---- normalisation, embedding, attention (modules) ---------------------------------------
case("layer_norm over [5]", "layer_norm", [1e-5],
     [V(randn(2, 3, 5) * 2 + 1), V(1 + 0.1 * randn(5)), V(0.1 * randn(5))],
     lambda a, p: F.layer_norm(a[0], (5,), a[1], a[2], 1e-5))
case("layer_norm over [3,4]", "layer_norm", [1e-5],
     [V(randn(2, 3, 4)), V(1 + 0.1 * randn(3, 4)), V(0.1 * randn(3, 4))],
     lambda a, p: F.layer_norm(a[0], (3, 4), a[1], a[2], 1e-5))


def batch_norm(a, p, state=None):
    c = a[0].shape[1]
    rm = torch.zeros(c, dtype=torch.float64)
    rv = torch.ones(c, dtype=torch.float64)
    y = F.batch_norm(a[0], rm, rv, a[1], a[2], training=True, momentum=p[2], eps=p[1])
    if state is not None:
        state.extend([rm, rv])
    return y


def batch_norm_aux(a, p):
    state = []
    with torch.no_grad():
        batch_norm(a, p, state)
    return state


case("batch_norm1d train [8,4]", "batch_norm", [1, 1e-5, 0.1],
     [V(randn(8, 4) * 2 + 1), V(1 + 0.1 * randn(4)), V(0.1 * randn(4))],
     batch_norm, aux=batch_norm_aux)
case("batch_norm2d train [4,3,3,3]", "batch_norm", [2, 1e-5, 0.1],
     [V(randn(4, 3, 3, 3) + 0.5), V(1 + 0.1 * randn(3)), V(0.1 * randn(3))],
     batch_norm, aux=batch_norm_aux)
case("embedding [2,3] of [7,4]", "embedding", [],
     [C(torch.tensor([[1.0, 6.0, 1.0], [0.0, 3.0, 6.0]])), V(randn(7, 4))],
     lambda a, p: F.embedding(a[0].long(), a[1]))


def mha(a, p):
    q, k, v, iw, ib, ow, ob = a
    e, heads, causal = q.shape[2], int(p[0]), bool(p[1])
    mask = None
    if causal:
        mask = torch.triu(torch.full((q.shape[1], k.shape[1]), -math.inf,
                                     dtype=torch.float64), 1)
    out, _ = F.multi_head_attention_forward(
        q.transpose(0, 1), k.transpose(0, 1), v.transpose(0, 1), e, heads, iw, ib, None, None,
        False, 0.0, ow, ob, training=False, need_weights=False, attn_mask=mask)
    return out.transpose(0, 1)


def mha_inputs(n, l, s, e):
    return [V(randn(n, l, e)), V(randn(n, s, e)), V(randn(n, s, e)),
            V(randn(3 * e, e) * 0.4), V(0.1 * randn(3 * e)), V(randn(e, e) * 0.4),
            V(0.1 * randn(e))]


case("mha E=8 H=2 cross (L=3, S=5)", "mha", [2, 0], mha_inputs(2, 3, 5, 8), mha)
case("mha E=6 H=3 causal self (L=S=4)", "mha", [3, 1], mha_inputs(2, 4, 4, 6), mha)


# ---- edge cases: ties, boundaries, extremes (PyTorch's conventions) ----------------------
T = torch.tensor
case("edge relu/abs at 0", "relu", [], [V(T([[-1.0, 0.0, 2.0, 0.0]]))], lambda a, p: torch.relu(a[0]))
case("edge abs at 0", "abs", [], [V(T([[-1.0, 0.0, 2.0]]))], lambda a, p: a[0].abs())
case("edge clamp at the bounds", "clamp", [-0.5, 0.5], [V(T([-0.5, 0.5, 0.2, 0.9, -2.0]))],
     lambda a, p: a[0].clamp(-0.5, 0.5))
case("edge maximum ties", "maximum", [], [V(T([1.0, 2.0, 3.0])), V(T([1.0, 0.0, 3.0]))],
     lambda a, p: torch.maximum(a[0], a[1]))
case("edge max dim ties", "max", [1, 0], [V(T([[1.0, 3.0, 3.0], [2.0, 2.0, 0.0]]))],
     lambda a, p: a[0].max(1).values)
case("edge max_all ties", "max_all", [], [V(T([[1.0, 3.0], [3.0, 0.0]]))],
     lambda a, p: a[0].max())
case("edge max_pool2d ties", "max_pool2d", [2, 2, 0],
     [V(T([[[[1.0, 1.0, 0.0, 2.0], [1.0, 0.0, 2.0, 2.0]]]]))],
     lambda a, p: F.max_pool2d(a[0], 2, 2, 0))
case("edge max_pool2d overlapping ties", "max_pool2d", [2, 1, 0],
     [V(T([[[[5.0, 5.0, 1.0], [5.0, 0.0, 1.0], [0.0, 0.0, 1.0]]]]))],
     lambda a, p: F.max_pool2d(a[0], 2, 1, 0))
case("edge softmax large logits", "softmax", [1], [V(T([[1000.0, 999.0, -1000.0]]))],
     lambda a, p: torch.softmax(a[0], 1))
case("edge log_softmax -inf entry", "log_softmax", [1], [V(T([[0.0, -math.inf, 1.0]]))],
     lambda a, p: torch.log_softmax(a[0], 1))
case("edge sigmoid/tanh saturated", "sigmoid", [], [V(T([-100.0, -20.0, 20.0, 100.0]))],
     lambda a, p: torch.sigmoid(a[0]))
case("edge pow_scalar(2) negative base", "pow_scalar", [2], [V(T([-3.0, -0.5, 0.0, 2.0]))],
     lambda a, p: a[0] ** 2)
case("edge pow_scalar(0) at 0", "pow_scalar", [0], [V(T([0.0, -2.0, 3.0]))],
     lambda a, p: a[0] ** 0)
case("edge sqrt at 0", "sqrt", [], [V(T([0.0, 4.0]))], lambda a, p: a[0].sqrt())
case("edge var of one element", "var", [1, 0, 0], [V(T([2.0]))], lambda a, p: a[0].var(0))
case("edge log(0)", "log", [], [V(T([0.0, 1.0]))], lambda a, p: a[0].log())
case("edge gelu far tails", "gelu", [], [V(T([-30.0, -8.0, 8.0, 30.0]))],
     lambda a, p: F.gelu(a[0]))
case("edge bce_loss at p=0 and 1", "bce_loss", [1], [V(T([0.0, 1.0, 0.5])), C(T([1.0, 0.0, 1.0]))],
     lambda a, p: F.binary_cross_entropy(a[0], a[1], reduction="sum"))
case("edge cross_entropy one class", "cross_entropy", [0, 0.1],
     [V(T([[2.0], [-1.0]])), C(T([0.0, 0.0]))],
     lambda a, p: F.cross_entropy(a[0], a[1].long(), label_smoothing=0.1))

case("edge clamp min > max (all max)", "clamp", [2.0, 1.0], [V(T([0.0, 1.5, 3.0]))],
     lambda a, p: a[0].clamp(2.0, 1.0))
case("edge softmax +inf entry (all NaN)", "softmax", [1], [V(T([[math.inf, 1.0, 0.0], [0.0, 1.0, 2.0]]))],
     lambda a, p: torch.softmax(a[0], 1))
case("edge log_softmax +inf entry (all NaN)", "log_softmax", [1], [V(T([[math.inf, 1.0, 0.0]]))],
     lambda a, p: torch.log_softmax(a[0], 1))
case("edge pow at base 0", "pow", [], [V(T([0.0, 0.0, 0.0, 2.0])), V(T([0.0, 2.0, 0.5, 0.0]))],
     lambda a, p: a[0] ** a[1])
case("edge max_all NaN", "max_all", [], [V(T([[5.0, math.nan, 5.0], [math.nan, 0.0, 1.0]]))],
     lambda a, p: a[0].max())
case("edge relu NaN", "relu", [], [V(T([[math.nan, -1.0, 0.0, 2.0]]))], lambda a, p: torch.relu(a[0]))
case("edge cross_entropy ignore_index -100", "cross_entropy", [0, 0.2],
     [V(randn(4, 3)), C(T([2.0, -100.0, 0.0, 1.0]))],
     lambda a, p: F.cross_entropy(a[0], a[1].long(), label_smoothing=0.2))
case("edge nll_loss ignore_index -100 none", "nll_loss", [2],
     [V(randn(3, 3)), C(T([-100.0, 1.0, 0.0]))],
     lambda a, p: F.nll_loss(a[0], a[1].long(), reduction="none"))

# ---- non-contiguous inputs: "T:OP" transposes the first input's last two dims first ---
def transposed(label, op, params, inputs, fn):
    case(label + " (x^T)", "T:" + op, params, inputs,
         lambda a, p: fn([a[0].transpose(-2, -1)] + a[1:], p))


transposed("exp", "exp", [], [V(randn(3, 5))], lambda a, p: a[0].exp())
transposed("add [5,3]+[3]", "add", [], [V(randn(3, 5)), V(randn(3))], lambda a, p: a[0] + a[1])
transposed("sum dim 0", "sum", [0, 0], [V(randn(3, 5))], lambda a, p: a[0].sum(0))
transposed("softmax dim 1", "softmax", [1], [V(randn(3, 5))], lambda a, p: a[0].softmax(1))
transposed("max dim 1", "max", [1, 0], [V(randn(3, 5))], lambda a, p: a[0].max(1).values)
transposed("matmul [4,6]@[6,3]", "matmul", [], [V(randn(6, 4)), V(randn(6, 3))],
           lambda a, p: a[0] @ a[1])
transposed("matmul batched [2,4,6]@[6,3]", "matmul", [], [V(randn(2, 6, 4)), V(randn(6, 3))],
           lambda a, p: a[0] @ a[1])
transposed("linear [3,5] W[4,5]", "linear", [], [V(randn(5, 3)), V(randn(4, 5)), V(randn(4))],
           lambda a, p: F.linear(a[0], a[1], a[2]))
transposed("reshape [15]", "reshape", [15], [V(randn(3, 5))], lambda a, p: a[0].reshape(15))
transposed("gather dim 1", "gather", [1], [V(randn(5, 4)), C(randint(5, 4, 2))],
           lambda a, p: a[0].gather(1, a[1].long()))
transposed("cross_entropy", "cross_entropy", [0, 0.1], [V(randn(5, 4)), C(randint(5, 4))],
           lambda a, p: F.cross_entropy(a[0], a[1].long(), label_smoothing=0.1))
transposed("layer_norm over [4]", "layer_norm", [1e-5],
           [V(randn(4, 3)), V(1 + 0.1 * randn(4)), V(0.1 * randn(4))],
           lambda a, p: F.layer_norm(a[0], (4,), a[1], a[2], 1e-5))


# ---- running and comparing ---------------------------------------------------------------
def write_tensor(f, kind, t):
    f.write("%s %d %s %s\n" % (kind, t.dim(), " ".join(str(s) for s in t.shape),
                               " ".join("%.9g" % v for v in t.reshape(-1).tolist())))


def parse_tensor(words):
    ndim = int(words[1])
    shape = [int(w) for w in words[2:2 + ndim]]
    vals = [float(w) for w in words[2 + ndim:]]
    return torch.tensor(vals, dtype=torch.float64).reshape(shape)


def compare(s, t, tol):
    """(ok, max abs error, max error / (atol + rtol |t|))"""
    if tuple(s.shape) != tuple(t.shape):
        return False, math.inf, math.inf
    if s.numel() == 0:
        return True, 0.0, 0.0
    rtol, atol = tol
    both_nan = torch.isnan(s) & torch.isnan(t)
    same_inf = torch.isinf(t) & (s == t)
    diff = (s - t).abs()
    diff = torch.where(both_nan | same_inf, torch.zeros_like(diff), diff)
    diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
    ratio = diff / (atol + rtol * t.abs().nan_to_num(0.0, 0.0, 0.0))
    worst = ratio.max().item()
    return worst <= 1.0, diff.max().item(), worst


def main():
    args = sys.argv[1:]
    verbose = "--verbose" in args
    args = [a for a in args if a != "--verbose"]
    if not args:
        print(__doc__)
        return 2
    driver = args[0]
    torch.set_grad_enabled(True)
    with tempfile.TemporaryDirectory() as tmp:
        spec = os.path.join(tmp, "cases.txt")
        refs = []
        with open(spec, "w") as f:
            for c in CASES:
                a = [D(t).requires_grad_(k == "v") for k, t in c["inputs"]]
                out = c["fn"](a, c["params"])
                g = randn(*out.shape) if out.dim() > 0 else randn(1).reshape(())
                vs = [x for (k, _), x in zip(c["inputs"], a) if k == "v"]
                grads = torch.autograd.grad(out, vs, D(g), allow_unused=True)
                grads = [torch.zeros_like(v) if gr is None else gr for v, gr in zip(vs, grads)]
                aux = c["aux"](a, c["params"]) if c["aux"] else []
                refs.append((out.detach(), [gr.detach() for gr in grads],
                             [x.detach() for x in aux]))
                f.write("case %s %d %s\n%d\n" % (c["op"], len(c["params"]),
                                                 " ".join("%.9g" % p for p in c["params"]),
                                                 len(c["inputs"]) + 1))
                for k, t in c["inputs"]:
                    write_tensor(f, k, t)
                write_tensor(f, "g", g)
        run = subprocess.run([driver, spec], capture_output=True, text=True)
    if run.returncode != 0:
        print("test-torch: the driver failed (status %d): %s" % (run.returncode, run.stderr))
        return 2
    lines = run.stdout.splitlines()
    results, i = [], 0
    while i < len(lines):
        words = lines[i].split()
        i += 1
        if words[0] == "err":
            results.append(("err", " ".join(words[2:])))
            continue
        out, grads, aux = None, [], []
        while lines[i] != "end":
            w = lines[i].split()
            if w[0] == "out":
                out = parse_tensor(w)
            elif w[0] == "grad":
                grads.append(parse_tensor(w))
            elif w[0] == "aux":
                aux.append(parse_tensor(w))
            i += 1
        i += 1
        results.append(("ok", (out, grads, aux)))
    if len(results) != len(CASES):
        print("test-torch: the driver answered %d cases of %d" % (len(results), len(CASES)))
        return 2

    print("%-40s %-5s %11s %11s  %s" % ("case (strata vs PyTorch float64)", "", "fwd max|d|",
                                         "grad max|d|", "worst / tolerance"))
    failures, ops = 0, set()
    max_fwd, max_grad, max_ratio = 0.0, 0.0, 0.0
    for c, (ref_out, ref_grads, ref_aux), (status, res) in zip(CASES, refs, results):
        ops.add(c["op"].split(":")[-1])
        if status == "err":
            print("%-40s FAIL  strata refused: %s" % (c["label"], res))
            failures += 1
            continue
        out, grads, aux = res
        ftol = c["tol"][0] if c["tol"] else FWD_TOL
        gtol = c["tol"][1] if c["tol"] else GRAD_TOL
        ok, fd, fw = compare(out, ref_out, ftol)
        gd, gw, notes = 0.0, 0.0, []
        if not ok:
            notes.append("forward")
        if len(grads) != len(ref_grads):
            ok = False
            notes.append("%d gradients, expected %d" % (len(grads), len(ref_grads)))
        for j, (sg, tg) in enumerate(zip(grads, ref_grads)):
            gok, d, w = compare(sg, tg, gtol)
            gd, gw = max(gd, d), max(gw, w)
            if not gok:
                ok = False
                notes.append("grad of input %d" % j)
        for j, (sa, ta) in enumerate(zip(aux, ref_aux)):
            aok, d, w = compare(sa, ta.to(torch.float64), FWD_TOL)
            fd, fw = max(fd, d), max(fw, w)
            if not aok:
                ok = False
                notes.append("state %d" % j)
        if len(aux) != len(ref_aux):
            ok = False
            notes.append("state count")
        max_fwd, max_grad = max(max_fwd, fd), max(max_grad, gd)
        max_ratio = max(max_ratio, fw, gw)
        failures += not ok
        print("%-40s %-5s %11.2e %11.2e  %.2f%s" % (
            c["label"], "ok" if ok else "FAIL", fd, gd, max(fw, gw),
            ("  mismatch: " + ", ".join(notes)) if notes else ""))
        if verbose and not ok:
            print("  strata:", out.reshape(-1)[:8].tolist())
            print("  torch: ", ref_out.reshape(-1)[:8].tolist())
    print("test-torch: %d cases over %d ops, %d mismatches; largest absolute differences: "
          "forward %.2e, gradient %.2e (a 1e12 gradient of BCE at p = 0 included); worst "
          "difference / tolerance %.3f (forward rtol %g atol %g, gradient rtol %g atol %g; "
          "PyTorch %s)" % (len(CASES), len(ops), failures, max_fwd, max_grad, max_ratio,
                           FWD_TOL[0], FWD_TOL[1], GRAD_TOL[0], GRAD_TOL[1],
                           torch.__version__))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
