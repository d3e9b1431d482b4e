"""Data-movement ops: reshape, permute, broadcast, slice, concat, pad."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, TensorType
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
)
from xdsl.traits import Pure

from ir.base import I64Array, TfmOp, get_int, get_ints
from ir.types import broadcast_shapes, dtype, fmt, normalize_dim, numel, shape


class _ShapeOp(TfmOp):
    def same_dtype(self, src, dst) -> None:
        self.expect(dtype(src) == dtype(dst), f"dtype changes from {dtype(src)} to {dtype(dst)}")


@irdl_op_definition
class ReshapeOp(_ShapeOp):
    """Same elements, new static shape (row-major).

        %y = tfm.reshape %x : (tensor<2x16x64xf32>) -> tensor<32x64xf32>
    """

    name = "tfm.reshape"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.same_dtype(self.input, self.result)
        self.expect(numel(self.input) == numel(self.result),
                    f"element count changes: {fmt(shape(self.input))} -> {fmt(shape(self.result))}")


@irdl_op_definition
class PermuteOp(_ShapeOp):
    """Reorders dims: result dim i is input dim perm[i].

        %y = tfm.permute %x {perm = array<i64: 0, 2, 1, 3>} : (tensor<2x16x4x16xf32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.permute"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    perm = prop_def(I64Array)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        perm = get_ints(self.perm)
        src = shape(self.input)
        self.expect(sorted(perm) == list(range(len(src))), f"perm {list(perm)} is not a permutation of rank {len(src)}")
        want = tuple(src[p] for p in perm)
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.same_dtype(self.input, self.result)


@irdl_op_definition
class BroadcastOp(_ShapeOp):
    """Numpy-style broadcast of the input to the result shape (torch `expand`).

        %y = tfm.broadcast %x : (tensor<1x1x16x16xi1>) -> tensor<2x4x16x16xi1>
    """

    name = "tfm.broadcast"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        src, dst = shape(self.input), shape(self.result)
        self.expect(len(src) <= len(dst) and broadcast_shapes(src, dst) == dst,
                    f"{fmt(src)} does not broadcast to {fmt(dst)}")
        self.same_dtype(self.input, self.result)


@irdl_op_definition
class SliceOp(_ShapeOp):
    """`x[..., start:end:step, ...]` along `dim`.

        %y = tfm.slice %x {dim = 2 : i64, start = 0 : i64, end = 64 : i64, step = 1 : i64} : (tensor<2x16x192xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.slice"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(IntegerAttr)
    start = prop_def(IntegerAttr)
    end = prop_def(IntegerAttr)
    step = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        src = shape(self.input)
        d = normalize_dim(get_int(self.dim), len(src))
        self.expect(0 <= d < len(src), f"dim {get_int(self.dim)} out of range for rank {len(src)}")
        start, end, step = get_int(self.start), get_int(self.end), get_int(self.step)
        self.expect(step >= 1 and 0 <= start <= end <= src[d],
                    f"bad range {start}:{end}:{step} for a dim of size {src[d]}")
        want = src[:d] + (len(range(start, end, step)),) + src[d + 1:]
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.same_dtype(self.input, self.result)


@irdl_op_definition
class ConcatOp(_ShapeOp):
    """Joins tensors along `dim`.

        %y = tfm.concat %a, %b {dim = 1 : i64} : (tensor<2x3xf32>, tensor<2x5xf32>) -> tensor<2x8xf32>
    """

    name = "tfm.concat"
    inputs = var_operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(len(self.inputs) >= 1, "needs at least one input")
        first = shape(self.inputs[0])
        d = normalize_dim(get_int(self.dim), len(first))
        self.expect(0 <= d < len(first), f"dim {get_int(self.dim)} out of range for rank {len(first)}")
        total = 0
        for x in self.inputs:
            s = shape(x)
            self.expect(len(s) == len(first) and s[:d] + s[d + 1:] == first[:d] + first[d + 1:],
                        f"inputs {fmt(first)} and {fmt(s)} differ outside dim {d}")
            self.same_dtype(x, self.result)
            total += s[d]
        want = first[:d] + (total,) + first[d + 1:]
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")


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
    value = prop_def(FloatAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        src, low, high = shape(self.input), get_ints(self.low), get_ints(self.high)
        self.expect(len(low) == len(high) == len(src), f"low and high need {len(src)} entries")
        self.expect(all(v >= 0 for v in low + high), "padding must be non-negative")
        want = tuple(s + lo + hi for s, lo, hi in zip(src, low, high, strict=True))
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.same_dtype(self.input, self.result)
