"""Data-movement ops: reshape, permute, broadcast, slice (views, free), concat and pad (copies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure

from ir import estimates
from ir.base import I64Array, TfmOp, float_attr, int_attr, ints_attr
from ir.lazy import F, torch
from ir.types import broadcast_shapes, dtype, fmt, normalize_dim, numel, shape, ttype

if TYPE_CHECKING:
    from torch import Tensor


class _ShapeOp(TfmOp):
    def same_dtype(self, src: SSAValue, dst: SSAValue) -> None:
        self.expect(dtype(src) == dtype(dst), f"dtype changes from {dtype(src)} to {dtype(dst)}")


class _ViewOp(_ShapeOp):
    """One input, one result, no data moved: `%y = tfm.<view> %x {...} : (...) -> ...`."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "view"
    IS_VIEW: ClassVar[bool] = True


@irdl_op_definition
class ReshapeOp(_ViewOp):
    """Same elements, new static shape (row-major).

    %y = tfm.reshape %x : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    """

    name = "tfm.reshape"

    def __init__(self, input: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[input], result_types=[result_type])

    def verify_(self) -> None:
        self.same_dtype(self.input, self.result)
        self.expect(
            numel(self.input) == numel(self.result),
            f"element count changes: {fmt(shape(self.input))} -> {fmt(shape(self.result))}",
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0].reshape(shape(self.result))]


@irdl_op_definition
class PermuteOp(_ViewOp):
    """Reorders dims: result dim i is input dim perm[i].

    %y = tfm.permute %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.permute"
    perm = prop_def(I64Array)

    def __init__(self, input: SSAValue, perm: Sequence[int]) -> None:
        src = shape(input)
        out = TensorType(ttype(input).element_type, [src[p] for p in perm])
        super().__init__(operands=[input], result_types=[out], properties={"perm": ints_attr(perm)})

    @property
    def permutation(self) -> tuple[int, ...]:
        return self.perm.get_values()

    def verify_(self) -> None:
        perm = self.permutation
        src = shape(self.input)
        self.expect(
            sorted(perm) == list(range(len(src))),
            f"perm {list(perm)} is not a permutation of rank {len(src)}",
        )
        want = tuple(src[p] for p in perm)
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
        self.same_dtype(self.input, self.result)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0].permute(*self.permutation)]


@irdl_op_definition
class BroadcastOp(_ViewOp):
    """Numpy-style broadcast of the input to the result shape (torch `expand`).

    %y = tfm.broadcast %x : (tensor<1x1x16x16xi1>) -> tensor<2x4x16x16xi1>
    """

    name = "tfm.broadcast"

    def __init__(self, input: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[input], result_types=[result_type])

    def verify_(self) -> None:
        src, dst = shape(self.input), shape(self.result)
        self.expect(
            len(src) <= len(dst) and broadcast_shapes(src, dst) == dst,
            f"{fmt(src)} does not broadcast to {fmt(dst)}",
        )
        self.same_dtype(self.input, self.result)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0].expand(shape(self.result))]


@irdl_op_definition
class SliceOp(_ViewOp):
    """`x[..., start:end:step, ...]` along `dim`.

    %y = tfm.slice %x {dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.slice"
    dim = prop_def(IntegerAttr[I64])
    start = prop_def(IntegerAttr[I64])
    end = prop_def(IntegerAttr[I64])
    step = prop_def(IntegerAttr[I64])

    def __init__(self, input: SSAValue, dim: int, start: int, end: int, step: int = 1) -> None:
        src = shape(input)
        d = normalize_dim(dim, len(src))
        out = src[:d] + (len(range(start, end, step)),) + src[d + 1 :]
        super().__init__(
            operands=[input],
            result_types=[TensorType(ttype(input).element_type, out)],
            properties={
                "dim": int_attr(dim),
                "start": int_attr(start),
                "end": int_attr(end),
                "step": int_attr(step),
            },
        )

    @property
    def bounds(self) -> tuple[int, int, int, int]:
        """(dim, start, end, step), dim as written (may be negative)."""
        return (
            self.dim.value.data,
            self.start.value.data,
            self.end.value.data,
            self.step.value.data,
        )

    def verify_(self) -> None:
        src = shape(self.input)
        dim, start, end, step = self.bounds
        d = normalize_dim(dim, len(src))
        self.expect(0 <= d < len(src), f"dim {dim} out of range for rank {len(src)}")
        self.expect(
            step >= 1 and 0 <= start <= end <= src[d],
            f"bad range {start}:{end}:{step} for a dim of size {src[d]}",
        )
        want = src[:d] + (len(range(start, end, step)),) + src[d + 1 :]
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
        self.same_dtype(self.input, self.result)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        dim, start, end, step = self.bounds
        idx: list[slice] = [slice(None)] * args[0].dim()
        idx[dim] = slice(start, end, step)
        return [args[0][tuple(idx)]]


@irdl_op_definition
class ConcatOp(_ShapeOp):
    """Joins tensors along `dim`.

    %y = tfm.concat %a, %b {dim = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    """

    name = "tfm.concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "data-movement"
    VECTOR_KIND: ClassVar[str] = "copy"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.COPY

    def __init__(self, inputs: Sequence[SSAValue], dim: int, result_type: Attribute) -> None:
        super().__init__(
            operands=[list(inputs)], result_types=[result_type], properties={"dim": int_attr(dim)}
        )

    def verify_(self) -> None:
        self.expect(len(self.inputs) >= 1, "needs at least one input")
        first = shape(self.inputs[0])
        dim = self.dim.value.data
        d = normalize_dim(dim, len(first))
        self.expect(0 <= d < len(first), f"dim {dim} out of range for rank {len(first)}")
        total = 0
        for x in self.inputs:
            s = shape(x)
            self.expect(
                len(s) == len(first) and s[:d] + s[d + 1 :] == first[:d] + first[d + 1 :],
                f"inputs {fmt(first)} and {fmt(s)} differ outside dim {d}",
            )
            self.same_dtype(x, self.result)
            total += s[d]
        want = first[:d] + (total,) + first[d + 1 :]
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [torch.cat(list(args), dim=self.dim.value.data)]


@irdl_op_definition
class PadOp(_ShapeOp):
    """Pads each dim with `low[i]` and `high[i]` copies of `value`.

    %y = tfm.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, 47>, value = 0.0 : f64} : (tensor<32x50257xf16>) -> tensor<32x50304xf16>
    """

    name = "tfm.pad"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    low = prop_def(I64Array)
    high = prop_def(I64Array)
    value = prop_def(FloatAttr[Float64Type])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "data-movement"
    VECTOR_KIND: ClassVar[str] = "copy"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.COPY

    def __init__(
        self, input: SSAValue, low: Sequence[int], high: Sequence[int], value: float = 0.0
    ) -> None:
        out = [s + lo + hi for s, lo, hi in zip(shape(input), low, high, strict=True)]
        super().__init__(
            operands=[input],
            result_types=[TensorType(ttype(input).element_type, out)],
            properties={"low": ints_attr(low), "high": ints_attr(high), "value": float_attr(value)},
        )

    def verify_(self) -> None:
        src, low, high = shape(self.input), self.low.get_values(), self.high.get_values()
        self.expect(len(low) == len(high) == len(src), f"low and high need {len(src)} entries")
        self.expect(all(v >= 0 for v in low + high), "padding must be non-negative")
        want = tuple(s + lo + hi for s, lo, hi in zip(src, low, high, strict=True))
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
        self.same_dtype(self.input, self.result)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        spec: list[int] = []
        for lo, hi in zip(
            reversed(self.low.get_values()), reversed(self.high.get_values()), strict=True
        ):
            spec += [lo, hi]
        return [F.pad(args[0], spec, value=self.value.value.data)]


SHAPE_OPS: list[type[TfmOp]] = [ReshapeOp, PermuteOp, BroadcastOp, SliceOp, ConcatOp, PadOp]
