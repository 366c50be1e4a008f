"""torch_safetensors.py - strata's weights in PyTorch and back (docs/user-guide.md).

strata saves and loads safetensors files. With the `safetensors` package installed
(pip install safetensors), PyTorch reads and writes them with
`safetensors.torch.load_file` / `save_file`. Debian 12 has no package for it, so this file
does the same with PyTorch alone (the format is 8 bytes of header length, a JSON header,
then the raw little-endian data). Float32 only, which is what strata writes.

    from torch_safetensors import load_file, save_file
    model.load_state_dict(load_file("mlp.safetensors"))                 # strata -> PyTorch
    save_file(model.state_dict(), "from_torch.safetensors")             # PyTorch -> strata

    python3 examples/torch_safetensors.py FILE    # list a file's tensors and metadata
"""
import json
import struct
import sys

import torch


def load_file(path):
    """The float32 tensors of a safetensors file, as a dict name -> torch.Tensor."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
        data = f.read()
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        if info["dtype"] != "F32":
            raise ValueError(f"{path}: {name} is {info['dtype']}, not F32")
        begin, end = info["data_offsets"]
        flat = torch.frombuffer(bytearray(data[begin:end]), dtype=torch.float32)
        out[name] = flat.reshape(info["shape"]).clone()
    return out


def save_file(tensors, path, metadata=None):
    """Write a dict name -> tensor as float32 safetensors (as safetensors.torch.save_file)."""
    header, blobs, offset = {}, [], 0
    for name, t in tensors.items():
        t = t.detach().to(torch.float32).contiguous().cpu()
        blob = struct.pack(f"<{t.numel()}f", *t.flatten().tolist())
        header[name] = {"dtype": "F32", "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(blobs))


if __name__ == "__main__":
    for name, t in load_file(sys.argv[1]).items():
        print(f"{name:40s} {list(t.shape)}")
