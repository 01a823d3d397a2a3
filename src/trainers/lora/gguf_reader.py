"""A small GGUF (v2/v3, little-endian) reader for the LoRA trainer: header, metadata, tensor infos, and the data of
F32 and F16 tensors as numpy arrays (the types the models MOC generates use, src/model/gguf-writer.ts). Any other
ggml type is refused by name: the trainer computes in float and would have to dequantize, which it does not do.

Like src/model/gguf-header.ts it checks every count and length against the bytes that remain before allocating, so a
truncated or hostile file is a GgufError saying what is wrong, not a MemoryError.

    python3 gguf_reader.py FILE.gguf   prints {"version", "tensor_count", "kv_count", "alignment", "data_start",
                                       "metadata" (arrays as {"array": type, "length": n}), "tensors"} as JSON.
"""

from __future__ import annotations

import json
import mmap
import struct
import sys
from dataclasses import dataclass

import numpy as np


class GgufError(Exception):
    """The file is not a GGUF this reader can use; the message says why."""


# ggml type id -> (name, bytes per block, elements per block), the table gguf-header.ts holds (ggml's own sizes).
GGML_TYPES: dict[int, tuple[str, int, int]] = {
    0: ("F32", 4, 1), 1: ("F16", 2, 1), 2: ("Q4_0", 18, 32), 3: ("Q4_1", 20, 32), 6: ("Q5_0", 22, 32),
    7: ("Q5_1", 24, 32), 8: ("Q8_0", 34, 32), 9: ("Q8_1", 36, 32), 10: ("Q2_K", 84, 256), 11: ("Q3_K", 110, 256),
    12: ("Q4_K", 144, 256), 13: ("Q5_K", 176, 256), 14: ("Q6_K", 210, 256), 15: ("Q8_K", 292, 256),
    16: ("IQ2_XXS", 66, 256), 17: ("IQ2_XS", 74, 256), 18: ("IQ3_XXS", 98, 256), 19: ("IQ1_S", 50, 256),
    20: ("IQ4_NL", 18, 32), 21: ("IQ3_S", 110, 256), 22: ("IQ2_S", 82, 256), 23: ("IQ4_XS", 136, 256),
    24: ("I8", 1, 1), 25: ("I16", 2, 1), 26: ("I32", 4, 1), 27: ("I64", 8, 1), 28: ("F64", 8, 1),
    29: ("IQ1_M", 56, 256), 30: ("BF16", 2, 1), 34: ("TQ1_0", 54, 256), 35: ("TQ2_0", 66, 256),
    39: ("MXFP4", 17, 32), 40: ("NVFP4", 36, 64), 41: ("Q1_0", 18, 128), 42: ("Q2_0", 18, 64),
}
# The types whose data this reader returns, and their numpy dtype.
READABLE = {0: np.dtype("<f4"), 1: np.dtype("<f2")}

# GGUF metadata value types: 0 u8, 1 i8, 2 u16, 3 i16, 4 u32, 5 i32, 6 f32, 7 bool, 8 string, 9 array, 10 u64,
# 11 i64, 12 f64.
_SCALAR = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<B", 10: "<Q", 11: "<q", 12: "<d"}
STRING, ARRAY = 8, 9
MAX_COUNT = 65_536
MAX_ELEMENTS = 2**48
MAX_STRING = 64 * 1024 * 1024


@dataclass
class TensorInfo:
    name: str
    dims: list[int]  # innermost first (ne[0], ne[1], ...), as ggml counts them
    type: int
    offset: int  # relative to the data section
    elements: int
    nbytes: int | None  # None when the type is unknown here

    @property
    def type_name(self) -> str:
        known = GGML_TYPES.get(self.type)
        return known[0] if known else f"unknown ggml type {self.type}"


class _Cursor:
    def __init__(self, buf: mmap.mmap | bytes, file: str):
        self.buf, self.pos, self.size, self.file = buf, 0, len(buf), file

    def fail(self, problem: str) -> GgufError:
        return GgufError(f"{self.file} is not a valid GGUF file: {problem}")

    def take(self, n: int) -> bytes:
        if n > self.size - self.pos:
            raise self.fail(f"the header is truncated at byte {self.pos} ({n} more bytes needed, the file has {self.size})")
        b = self.buf[self.pos : self.pos + n]
        self.pos += n
        return b

    def scalar(self, fmt: str):
        return struct.unpack(fmt, self.take(struct.calcsize(fmt)))[0]

    def u32(self) -> int:
        return self.scalar("<I")

    def u64(self) -> int:
        return self.scalar("<Q")

    def string(self, what: str) -> str:
        n = self.u64()
        if n > self.size - self.pos:
            raise self.fail(f"{what} is a string of {n} bytes but only {self.size - self.pos} bytes remain")
        if n > MAX_STRING:
            raise self.fail(f"{what} is a string of {n} bytes (limit {MAX_STRING})")
        return self.take(n).decode("utf-8", errors="replace")

    def value(self, type_: int, key: str):
        if type_ in _SCALAR:
            v = self.scalar(_SCALAR[type_])
            return bool(v) if type_ == 7 else v
        if type_ == STRING:
            return self.string(f"the value of {key}")
        if type_ == ARRAY:
            elem = self.u32()
            if elem == ARRAY:
                raise self.fail(f"metadata key {key} is a nested array (not supported)")
            if elem != STRING and elem not in _SCALAR:
                raise self.fail(f"metadata key {key} is an array of unknown type {elem}")
            count = self.u64()
            min_bytes = count * (8 if elem == STRING else struct.calcsize(_SCALAR[elem]))
            if min_bytes > self.size - self.pos:
                raise self.fail(
                    f"metadata key {key} claims an array of {count} elements (at least {min_bytes} bytes) but only "
                    f"{self.size - self.pos} bytes remain: the file is truncated or corrupt"
                )
            return [self.value(elem, f"{key}[{i}]") for i in range(count)]
        raise self.fail(f"metadata key {key} has unknown value type {type_} (0..12)")


class GgufFile:
    """An open GGUF: `metadata` (key -> value, arrays as lists), `meta_types` (key -> GGUF value type), `tensors`
    (name -> TensorInfo, in file order); `array(name)` gives a tensor's data. Close it (or use `with`) when done."""

    def __init__(self, path: str):
        self.path = path
        try:
            self._f = open(path, "rb")
        except OSError as e:
            raise GgufError(f"cannot open {path}: {e.strerror}") from None
        try:
            size = self._f.seek(0, 2)
            if size == 0:
                raise GgufError(f"{path} is not a valid GGUF file: the file is empty")
            self._buf = mmap.mmap(self._f.fileno(), 0, access=mmap.ACCESS_READ)
            self._parse(_Cursor(self._buf, path))
        except BaseException:
            self.close()
            raise

    def _parse(self, c: _Cursor) -> None:
        magic = c.take(4) if c.size >= 4 else b""
        if magic != b"GGUF":
            raise c.fail(f'bad magic {magic!r} (expected "GGUF")')
        self.version = c.u32()
        if self.version not in (2, 3):
            raise c.fail(f"unsupported GGUF version {self.version} (2 and 3 are supported)")
        tensor_count, kv_count = c.u64(), c.u64()
        if tensor_count > MAX_COUNT:
            raise c.fail(f"absurd tensor count {tensor_count} (limit {MAX_COUNT})")
        if kv_count > MAX_COUNT:
            raise c.fail(f"absurd metadata key count {kv_count} (limit {MAX_COUNT})")
        self.metadata: dict[str, object] = {}
        self.meta_types: dict[str, int] = {}
        for i in range(kv_count):
            key = c.string(f"metadata key {i}")
            type_ = c.u32()
            self.meta_types[key] = type_
            self.metadata[key] = c.value(type_, key)
        alignment = self.metadata.get("general.alignment", 32)
        if not isinstance(alignment, int) or alignment < 1 or alignment & (alignment - 1):
            raise c.fail(f"general.alignment {alignment} is not a power of two")
        self.alignment = alignment

        self.tensors: dict[str, TensorInfo] = {}
        for i in range(tensor_count):
            name = c.string(f"the name of tensor {i}")
            n_dims = c.u32()
            if not 1 <= n_dims <= 4:
                raise c.fail(f"tensor {name} has {n_dims} dimensions (1..4 allowed)")
            dims = [c.u64() for _ in range(n_dims)]
            elements = 1
            for d, n in enumerate(dims):
                if n < 1:
                    raise c.fail(f"tensor {name} has an empty dimension {d}")
                elements *= n
            if elements > MAX_ELEMENTS:
                raise c.fail(f"tensor {name} claims more than 2^48 elements")
            type_, offset = c.u32(), c.u64()
            if offset % alignment:
                raise c.fail(f"tensor {name} has offset {offset}, not a multiple of the alignment {alignment}")
            if name in self.tensors:
                raise c.fail(f"tensor {name} appears twice")
            nbytes = None
            if type_ in GGML_TYPES:
                type_name, block_bytes, block_elems = GGML_TYPES[type_]
                if dims[0] % block_elems:
                    raise c.fail(
                        f"tensor {name} has rows of {dims[0]} elements, not a multiple of the {type_name} block "
                        f"({block_elems})"
                    )
                nbytes = elements // block_elems * block_bytes
            self.tensors[name] = TensorInfo(name, dims, type_, offset, elements, nbytes)

        # The data section starts at the aligned end of the header; tensor offsets are relative to it.
        self.data_start = -(-c.pos // alignment) * alignment
        for t in self.tensors.values():
            end = self.data_start + t.offset + (t.nbytes or 0)
            if self.data_start + t.offset >= c.size or end > c.size:
                raise c.fail(
                    f"tensor {t.name} data ends at byte {end}, past the end of the file ({c.size} bytes): "
                    "the file is truncated"
                )

    def array(self, name: str) -> np.ndarray:
        """The tensor's data as a float32 array shaped as numpy sees ggml's layout: dims reversed (ne[0], the fastest
        dimension, last). A weight with ne = [in, out] comes back (out, in): torch.nn.Linear's layout."""
        t = self.tensors.get(name)
        if t is None:
            raise GgufError(f"{self.path} has no tensor {name}")
        dtype = READABLE.get(t.type)
        if dtype is None:
            raise GgufError(
                f"tensor {name} of {self.path} is {t.type_name}; this reader reads F32 and F16 tensors only "
                "(dequantize the model to F16 or F32 first)"
            )
        start = self.data_start + t.offset
        data = np.frombuffer(self._buf, dtype=dtype, count=t.elements, offset=start)
        return data.astype(np.float32).reshape(list(reversed(t.dims)))

    def summary(self) -> dict:
        """What the CLI prints: the header's facts, scalar metadata, array metadata as type and length."""

        def shown(key: str, v: object):
            if isinstance(v, list):
                return {"array": type(v[0]).__name__ if v else None, "length": len(v)}
            return v

        return {
            "version": self.version,
            "tensor_count": len(self.tensors),
            "kv_count": len(self.metadata),
            "alignment": self.alignment,
            "data_start": self.data_start,
            "metadata": {k: shown(k, v) for k, v in self.metadata.items()},
            "tensors": [
                {"name": t.name, "dims": t.dims, "type": t.type_name, "offset": t.offset, "bytes": t.nbytes}
                for t in self.tensors.values()
            ],
        }

    def close(self) -> None:
        buf = getattr(self, "_buf", None)
        if buf is not None:
            buf.close()
            self._buf = None
        self._f.close()

    def __enter__(self) -> "GgufFile":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: python3 gguf_reader.py FILE.gguf", file=sys.stderr)
        sys.exit(2)
    try:
        with GgufFile(sys.argv[1]) as g:
            print(json.dumps(g.summary()))
    except GgufError as e:
        print(str(e), file=sys.stderr)
        sys.exit(1)
