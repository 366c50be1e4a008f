#!/usr/bin/env python3
"""One Fashion-MNIST training epoch in PyTorch: the reference for bench/bench_epoch.c.

The same models, batch size, optimizer and data as strata's trainers:
  MLP 784-256-128-10 (ReLU), and the CNN conv3x3(1->32)+ReLU+maxpool2,
  conv3x3(32->64)+ReLU+maxpool2, fc 3136->128 + ReLU, fc 128->10;
  Adam lr 1e-3, batch 128, shuffled, inputs standardized, cross-entropy.

Prints, for each thread count:
  mlp_epoch_s=<seconds> threads=<n>
  cnn_epoch_s=<seconds> threads=<n>     (timed on --cnn-images images, scaled to 60000)
  mlp_epoch_cpu_s=... / cnn_epoch_cpu_s=...   the same in CPU seconds (all threads)

  python3 bench/torch_epoch.py                 # threads 1 and 2
  python3 bench/torch_epoch.py --threads 2 --cnn-images 60000
"""
import argparse
import gzip
import os
import struct
import sys
import time

import numpy as np
import torch
from torch import nn

EPOCH_IMAGES = 60000


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    zero, dtype, ndim = struct.unpack(">HBB", data[:4])
    if zero != 0 or dtype != 0x08:
        raise ValueError(f"{path}: not an unsigned-byte IDX file")
    dims = struct.unpack(">" + "I" * ndim, data[4:4 + 4 * ndim])
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def find(data_dir, name):
    for suffix in (".gz", ""):
        path = os.path.join(data_dir, name + suffix)
        if os.path.exists(path):
            return path
    sys.exit(f"torch_epoch.py: no {name}(.gz) in {data_dir}")


def mlp():
    return nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def cnn():
    return nn.Sequential(nn.Conv2d(1, 32, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(32, 64, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Flatten(), nn.Linear(64 * 7 * 7, 128), nn.ReLU(),
                         nn.Linear(128, 10))


def time_epoch(model, x, y, batch=128):
    """(wall, cpu) seconds for one shuffled epoch of Adam over (x, y)."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(1)
    start, cpu_start = time.perf_counter(), time.process_time()
    perm = torch.randperm(x.shape[0], generator=gen)
    for i in range(0, x.shape[0], batch):
        idx = perm[i:i + batch]
        xb, yb = x[idx], y[idx]
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(xb), yb)
        loss.backward()
        opt.step()
    return time.perf_counter() - start, time.process_time() - cpu_start


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, nargs="*", default=[1, 2])
    ap.add_argument("--cnn-images", type=int, default=12800)
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    args = ap.parse_args()

    images = read_idx(find(args.data, "train-images-idx3-ubyte"))
    labels = read_idx(find(args.data, "train-labels-idx1-ubyte"))
    x = (torch.from_numpy(images.astype(np.float32)) / 255.0 - 0.2860) / 0.3530
    y = torch.from_numpy(labels.astype(np.int64))
    n_cnn = max(128, min(args.cnn_images, EPOCH_IMAGES))
    x_flat = x.reshape(-1, 784).contiguous()
    x_img = x[:n_cnn].reshape(-1, 1, 28, 28).contiguous()

    for threads in args.threads:
        torch.set_num_threads(threads)
        torch.manual_seed(1)
        mlp_s, mlp_cpu = time_epoch(mlp(), x_flat, y)
        torch.manual_seed(1)
        cnn_s, cnn_cpu = time_epoch(cnn(), x_img, y[:n_cnn])
        scale = EPOCH_IMAGES / n_cnn
        print(f"mlp_epoch_s={mlp_s:.4f} threads={threads}")
        print(f"cnn_epoch_s={cnn_s * scale:.4f} threads={threads}")
        print(f"mlp_epoch_cpu_s={mlp_cpu:.4f} threads={threads}")
        print(f"cnn_epoch_cpu_s={cnn_cpu * scale:.4f} threads={threads}")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
