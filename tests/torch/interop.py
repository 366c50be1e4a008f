#!/usr/bin/env python3
"""Weights from strata to PyTorch and back (make test-torch; docs/user-guide.md, section 4).

Runs the user guide's Python lines, with examples/torch_safetensors.py standing in for
the `safetensors` package (Debian has none): strata saves an MLP, PyTorch loads it and
must compute the same outputs; PyTorch doubles the first layer's weight and saves; strata
loads that and must compute PyTorch's new outputs.

Usage: interop.py TORCH_INTEROP_BINARY. Exit status 0 when both directions agree.
"""
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "examples"))
import torch  # noqa: E402
from torch_safetensors import load_file, save_file  # noqa: E402


def outputs(binary, mode, d):
    out = subprocess.run([binary, mode, d], check=True, capture_output=True, text=True)
    return torch.tensor([float(v) for v in out.stdout.split()])


def main():
    binary = sys.argv[1]
    x = torch.tensor([[1, 2, 3, 4], [-1, 0.5, 0.25, 2]])
    with tempfile.TemporaryDirectory() as d:
        strata_out = outputs(binary, "export", d)
        model = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.ReLU(), torch.nn.Linear(3, 2))
        model.load_state_dict(load_file(os.path.join(d, "strata.safetensors")))
        torch_out = model(x).detach().flatten()
        ok1 = torch.allclose(torch_out, strata_out, rtol=1e-5, atol=1e-6)
        print(f"interop: strata -> PyTorch: outputs {'agree' if ok1 else 'DIFFER'}:"
              f" {strata_out.tolist()} vs {torch_out.tolist()}")
        with torch.no_grad():
            model[0].weight.mul_(2.0)
        save_file({k: v.contiguous() for k, v in model.state_dict().items()},
                  os.path.join(d, "torch.safetensors"))
        torch_out = model(x).detach().flatten()
        strata_out = outputs(binary, "import", d)
        ok2 = torch.allclose(torch_out, strata_out, rtol=1e-5, atol=1e-6)
        print(f"interop: PyTorch -> strata: outputs {'agree' if ok2 else 'DIFFER'}:"
              f" {torch_out.tolist()} vs {strata_out.tolist()}")
    return 0 if ok1 and ok2 else 1


if __name__ == "__main__":
    sys.exit(main())
