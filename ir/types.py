"""Tensor types, dtypes and shape helpers shared by the tfm ops.

tfm values are builtin ranked tensors with static shapes, e.g. `tensor<2x16x64xf32>`.
Floating element types are f32, f16 and bf16; token ids are i64 and masks i1.
"""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.utils.exceptions import VerifyException

from ir.dtypes import element_name, element_type, nbytes_of


def tensor(shape: Sequence[int], dtype: str | Attribute) -> TensorType:
    """`tensor(( 2, 3), "f32")` is `tensor<2x3xf32>`."""
    elem = element_type(dtype) if isinstance(dtype, str) else dtype
    return TensorType(elem, list(shape))


def ttype(value: SSAValue | Attribute) -> TensorType:
    t = value.type if isinstance(value, SSAValue) else value
    if not isinstance(t, TensorType):
        raise VerifyException(f"expected a ranked tensor, got {t}")
    return t


def check_static_type(t: Attribute, what: str) -> None:
    """A tfm value is a tensor of static shape with an IR element type (f32, f16, bf16, f64,
    i64, i32, i8, i1): a VerifyException naming `what` otherwise."""
    from ir.dtypes import ELEMENT_NAMES, is_element_type

    if not isinstance(t, TensorType):
        raise VerifyException(f"{what} has type {t}, expected a ranked tensor")
    if any(d < 0 for d in t.get_shape()):
        raise VerifyException(f"{what} has a dynamic shape ({t}); tfm tensors have static shapes")
    if not is_element_type(t.element_type):
        raise VerifyException(
            f"{what} has element type {t.element_type}; expected one of {', '.join(ELEMENT_NAMES)}"
        )


def shape(value: SSAValue | Attribute) -> tuple[int, ...]:
    return tuple(ttype(value).get_shape())


def dtype(value: SSAValue | Attribute) -> str:
    return element_name(ttype(value).element_type)


def numel(value: SSAValue | Attribute) -> int:
    n = 1
    for d in shape(value):
        n *= d
    return n


def nbytes(value: SSAValue | Attribute) -> int:
    return numel(value) * nbytes_of(dtype(value))


def fmt(s: Sequence[int] | None) -> str:
    """`2x16x64` for a shape (`scalar` for rank 0, `?` for none)."""
    if s is None:
        return "?"
    return "x".join(str(d) for d in s) if s else "scalar"


def broadcast_shapes(*shapes: Sequence[int]) -> tuple[int, ...] | None:
    """Numpy broadcasting; None when the shapes do not broadcast."""
    rank = max((len(s) for s in shapes), default=0)
    out = []
    for i in range(rank):
        dims = {s[len(s) - rank + i] for s in shapes if len(s) - rank + i >= 0}
        dims.discard(1)
        if len(dims) > 1:
            return None
        out.append(dims.pop() if dims else 1)
    return tuple(out)


def normalize_dim(dim: int, rank: int) -> int:
    return dim + rank if dim < 0 else dim
