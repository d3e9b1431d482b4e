"""How torch-dialect MLIR spells types and values, read back as torch objects: element types
of `!torch.vtensor<[2,16],f32>`, the c10 enumerations torch-mlir passes as `!torch.int`
(ScalarType, Layout, MemoryFormat), splat literals (hex floats for inf/nan) and resource blobs.

    schema_value("Optional[ScalarType]", 6)   # torch.float32
"""

from __future__ import annotations

import re
import struct

import torch
from xdsl.dialects.builtin import DenseIntOrFPElementsAttr, UnregisteredAttr
from xdsl.ir import Attribute

from ir.errors import TandemError

ELEMENT_TYPES = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "f64": torch.float64,
    "si64": torch.int64,
    "si32": torch.int32,
    "si16": torch.int16,
    "si8": torch.int8,
    "ui8": torch.uint8,
    "i1": torch.bool,
}
# c10::ScalarType, Layout and MemoryFormat enumerations, as torch-mlir encodes them in !torch.int.
SCALAR_TYPES = [
    torch.uint8,
    torch.int8,
    torch.int16,
    torch.int32,
    torch.int64,
    torch.float16,
    torch.float32,
    torch.float64,
    torch.complex32,
    torch.complex64,
    torch.complex128,
    torch.bool,
    torch.qint8,
    torch.quint8,
    torch.qint32,
    torch.bfloat16,
]
LAYOUTS = [torch.strided, torch.sparse_coo]
MEMORY_FORMATS = [
    torch.contiguous_format,
    torch.preserve_format,
    torch.channels_last,
    torch.channels_last_3d,
]

# the body of a !torch.vtensor type: `[2,16],f32`
VTENSOR = re.compile(r"^\[([^\]]*)\],(.+)$")
_HEX_SPLAT = re.compile(r"dense<(0x[0-9A-Fa-f]+)>")
_BITS = {torch.float32: ("<I", "<f"), torch.float64: ("<Q", "<d"), torch.float16: ("<H", "<e")}


def meta_tensor(shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return torch.empty(shape, dtype=dtype, device="meta")


def schema_value(type_name: str, v):
    """`v` as the ATen schema type `type_name` expects it: enumeration integers become the
    torch dtype, layout or memory format they number."""
    if isinstance(v, int) and not isinstance(v, bool):
        if "ScalarType" in type_name and 0 <= v < len(SCALAR_TYPES):
            return SCALAR_TYPES[v]
        if "Layout" in type_name and 0 <= v < len(LAYOUTS):
            return LAYOUTS[v]
        if "MemoryFormat" in type_name and 0 <= v < len(MEMORY_FORMATS):
            return MEMORY_FORMATS[v]
    return v


def show_attr(attr: Attribute) -> str:
    """An attribute as the file spells it (`!torch.vtensor<[2],f32>` for torch types)."""
    if isinstance(attr, UnregisteredAttr):
        return (
            f"!{attr.attr_name.data}<{attr.value.data}>"
            if attr.value.data
            else f"!{attr.attr_name.data}"
        )
    return str(attr)


def splat_value(attr: Attribute, source: str, dtype: torch.dtype) -> float | int | bool:
    """The single value of a splat literal; hex floats (MLIR's spelling of inf/nan) are read as bits."""
    if not isinstance(attr, DenseIntOrFPElementsAttr):
        raise TandemError(f"unsupported literal {show_attr(attr)}")
    if dtype.is_floating_point:
        m = _HEX_SPLAT.search(source)
        if m is not None:
            bits = int(m.group(1), 16)
            if dtype == torch.bfloat16:
                return struct.unpack("<f", struct.pack("<I", bits << 16))[0]
            int_fmt, float_fmt = _BITS[dtype]
            return struct.unpack(float_fmt, struct.pack(int_fmt, bits))[0]
        return float(attr.get_values()[0])
    value = attr.get_values()[0]
    return bool(value) if dtype == torch.bool else int(value)


def tensor_from_blob(data: bytes, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """A resource blob's bytes (little-endian, as MLIR stores them) as a tensor."""
    if dtype == torch.bool:
        return torch.frombuffer(bytearray(data), dtype=torch.uint8).reshape(shape).bool()
    return torch.frombuffer(bytearray(data), dtype=dtype).reshape(shape).clone()
