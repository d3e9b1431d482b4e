"""Every dtype Tandem knows, in one table: IR element type, bytes, torch dtype, spellings.

    parse_dtype("fp16")        # "f16"
    nbytes_of("bf16")          # 2
    element_type("i64")        # IntegerType(64), the xDSL element type of tensor<...xi64>
    torch_dtype("bf16")        # torch.bfloat16 (torch is imported on first use)

IR tensors use f32/f16/bf16/f64 floats, i64/i32 ids, i8 bytes and i1 masks. Targets also
name compute dtypes that no IR tensor has (tf32, f8) for their peak FLOP/s tables.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import (
    BFloat16Type,
    Float16Type,
    Float32Type,
    Float64Type,
    IntegerType,
)
from xdsl.ir import Attribute

from ir.errors import TandemError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class DType:
    """One dtype: canonical name, bytes per element, torch name, IR element type, spellings."""

    name: str
    bytes: int
    torch_name: str | None
    element: Attribute | None
    is_float: bool
    aliases: tuple[str, ...] = ()
    # type promotion rank of binary ops (bf16 and f16 together promote to f32)
    rank: int = 0


TABLE: tuple[DType, ...] = (
    DType("f32", 4, "float32", Float32Type(), True, ("fp32", "float32", "float"), 5),
    DType("f16", 2, "float16", Float16Type(), True, ("fp16", "float16", "half"), 4),
    DType("bf16", 2, "bfloat16", BFloat16Type(), True, ("bfloat16",), 4),
    DType("f64", 8, "float64", Float64Type(), True, ("fp64", "float64", "double"), 6),
    DType("i64", 8, "int64", IntegerType(64), False, ("int64", "long"), 3),
    DType("i32", 4, "int32", IntegerType(32), False, ("int32", "int"), 2),
    DType("i8", 1, "int8", IntegerType(8), False, ("int8",), 1),
    DType("i1", 1, "bool", IntegerType(1), False, ("bool",), 0),
    # compute dtypes of hardware targets only
    DType("tf32", 4, None, None, True, ("tensorfloat32",)),
    DType("f8", 1, None, None, True, ("fp8", "float8")),
)
BY_NAME: dict[str, DType] = {d.name: d for d in TABLE}
_SPELLINGS: dict[str, str] = {s: d.name for d in TABLE for s in (d.name, *d.aliases)}
# names of the element types IR tensors may have
ELEMENT_NAMES: tuple[str, ...] = tuple(d.name for d in TABLE if d.element is not None)
FLOAT_ELEMENTS: tuple[str, ...] = tuple(
    d.name for d in TABLE if d.element is not None and d.is_float
)


def parse_dtype(text: str) -> str:
    """The canonical name of a dtype spelling ("fp16", "torch.float16", "half" -> "f16")."""
    key = str(text).lower().removeprefix("torch.")
    if key not in _SPELLINGS:
        raise TandemError(f"unknown dtype {text!r}; expected one of {', '.join(BY_NAME)}")
    return _SPELLINGS[key]


def nbytes_of(name: str) -> int:
    """Bytes per element (tf32 is stored in 4 bytes)."""
    return BY_NAME[parse_dtype(name)].bytes


def element_type(name: str) -> Attribute:
    """The xDSL element type of an IR dtype name."""
    d = BY_NAME.get(name)
    if d is None or d.element is None:
        raise TandemError(
            f"{name!r} is not an element type of tfm tensors "
            f"(expected one of {', '.join(ELEMENT_NAMES)})"
        )
    return d.element


def element_name(t: Attribute) -> str:
    """`f32` for Float32Type, `i64` for IntegerType(64), ...; str(t) for anything else."""
    for d in TABLE:
        if d.element is not None and t == d.element:
            return d.name
    return str(t)


def is_element_type(t: Attribute) -> bool:
    """Whether `t` is the element type of some IR dtype."""
    return any(d.element is not None and t == d.element for d in TABLE)


def torch_dtype(name: str) -> torch.dtype:
    """The torch dtype of an IR dtype name."""
    import torch

    d = BY_NAME[name]
    if d.torch_name is None:
        raise TandemError(f"dtype {name} has no torch equivalent")
    return getattr(torch, d.torch_name)


def from_torch(dt: torch.dtype) -> str:
    """The IR dtype name of a torch dtype (uint8 is stored as i8)."""
    text = str(dt).removeprefix("torch.")
    if text == "uint8":
        return "i8"
    for d in TABLE:
        if d.torch_name == text:
            return d.name
    raise TandemError(f"unsupported dtype {dt}")


def promote(a: str, b: str) -> str:
    """The dtype a binary op on `a` and `b` computes in (torch's promotion for our dtypes)."""
    if a == b:
        return a
    if {a, b} == {"bf16", "f16"}:
        return "f32"
    return a if BY_NAME[a].rank >= BY_NAME[b].rank else b
