#!/usr/bin/env python3
"""The tiny graph of bench/bench_autograd.c in PyTorch: the reference it prints beside
strata's figure, measured in the same run.

4x4 tensors, loss = sum(relu(x @ W) + b), forward and backward, four recorded ops per
step, one thread, the gradients dropped after each step (as strata's zero_grad with
set_to_none). Prints the best of several rounds:
  torch_us_per_op=<microseconds>
"""
import time

import torch

OPS_PER_STEP = 4


def main():
    torch.set_num_threads(1)
    torch.manual_seed(1)
    x = torch.randn(4, 4, requires_grad=True)
    w = torch.randn(4, 4, requires_grad=True)
    b = torch.randn(4, 4, requires_grad=True)

    def step():
        loss = (torch.relu(x @ w) + b).sum()
        loss.backward()
        x.grad = w.grad = b.grad = None

    steps, rounds = 5000, 7
    for _ in range(1000):  # warm up
        step()
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        best = min(best, (time.perf_counter() - t0) / steps)
    print(f"torch_us_per_op={best * 1e6 / OPS_PER_STEP:.4f}")
    print(f"torch_version={torch.__version__}")


if __name__ == "__main__":
    main()
