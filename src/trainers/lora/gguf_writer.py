"""Writes a LoRA adapter GGUF (v3, little-endian, F32) as llama.cpp's convert_lora_to_gguf.py writes one and
src/model/lora-adapter.ts describes: general.type "adapter", adapter.type "lora", adapter.lora.alpha (f32), and for
each adapted base tensor W a pair W.lora_a (ne [in, rank]) and W.lora_b (ne [rank, out]).

ggml's ne is innermost first, so A stored as ne [in, rank] is numpy's (rank, in) in row order, which is how
llama_torch.py holds it (LoraPair.a), and B as ne [rank, out] is numpy's (out, rank): the arrays are written as they
are, no transpose.

Atomic: the bytes go to a temp file in the same folder, are synced, and renamed over the path; a failure (or a stop)
before the rename leaves no file at the path and no temp file behind.
"""

from __future__ import annotations

import os
import struct

import numpy as np

ALIGNMENT = 32
_U32, _F32, _STRING = 4, 6, 8


def _str(s: str) -> bytes:
    b = s.encode("utf-8")
    return struct.pack("<Q", len(b)) + b


def _kv(key: str, value: str | int | float) -> bytes:
    if isinstance(value, str):
        return _str(key) + struct.pack("<I", _STRING) + _str(value)
    if isinstance(value, int):
        return _str(key) + struct.pack("<II", _U32, value)
    return _str(key) + struct.pack("<If", _F32, value)


def adapter_bytes(architecture: str, name: str, alpha: float, pairs: dict[str, tuple[np.ndarray, np.ndarray]]) -> bytes:
    """pairs: base tensor name -> (A (rank, in), B (out, rank)), float arrays."""
    metadata: list[tuple[str, str | int | float]] = [
        ("general.architecture", architecture),
        ("general.type", "adapter"),
        ("general.name", name),
        ("general.alignment", ALIGNMENT),
        ("general.file_type", 0),
        ("adapter.type", "lora"),
        ("adapter.lora.alpha", float(alpha)),
    ]
    tensors: list[tuple[str, np.ndarray]] = []
    for target, (a, b) in pairs.items():
        tensors.append((f"{target}.lora_a", np.ascontiguousarray(a, dtype="<f4")))
        tensors.append((f"{target}.lora_b", np.ascontiguousarray(b, dtype="<f4")))
    head = [b"GGUF", struct.pack("<IQQ", 3, len(tensors), len(metadata))]
    head += [_kv(k, v) for k, v in metadata]
    offset = 0
    for name_, arr in tensors:
        rows, cols = arr.shape
        # ne innermost first: (rows, cols) in numpy is ne [cols, rows].
        head.append(_str(name_) + struct.pack("<IQQIQ", 2, cols, rows, 0, offset))
        offset += -(-arr.nbytes // ALIGNMENT) * ALIGNMENT
    out = b"".join(head)
    out += b"\0" * (-len(out) % ALIGNMENT)
    data = []
    for _, arr in tensors:
        raw = arr.tobytes()
        data.append(raw + b"\0" * (-len(raw) % ALIGNMENT))
    return out + b"".join(data)


def write_atomically(path: str, data: bytes, before_rename=None) -> str:
    """Writes data to path through a temp file; before_rename(tmp), if given, may check the complete temp file (and
    raise, or return False, to keep it from the path). Returns path, or raises."""
    tmp = temp_path(path)
    try:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        if before_rename is not None and before_rename(tmp) is False:
            raise OSError(f"{path} not written: its check failed")
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def temp_path(path: str) -> str:
    """A temp name next to path (same file system, so the rename is atomic), ending in .gguf for tools that care."""
    d, base = os.path.split(path)
    return os.path.join(d, f".{base}.{os.getpid()}.tmp.gguf")
