"""Elementwise tfm ops: unary math, broadcasting binary ops, comparisons, select, casts, splats."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from ir import estimates
from ir.base import TfmOp, props
from ir.dtypes import torch_dtype
from ir.enums import GeluApproximation, GeluApproximationAttr
from ir.lazy import F, torch
from ir.types import broadcast_shapes, dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


# ---- unary -----------------------------------------------------------------------------------

class UnaryOp(TfmOp):
    """`%y = tfm.<op> %x : (tensor<...>) -> tensor<...>`, same shape and dtype."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, input: SSAValue, result_type: Attribute | None = None,
                 properties: dict[str, Attribute] | None = None) -> None:
        super().__init__(operands=[input], result_types=[result_type or input.type],
                         properties=properties or {})

    def verify_(self) -> None:
        self.expect(shape(self.input) == shape(self.result),
                    f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}")
        self.expect(dtype(self.input) == dtype(self.result),
                    f"dtype changes from {dtype(self.input)} to {dtype(self.result)}")

    def apply(self, x: Tensor) -> Tensor:
        raise NotImplementedError

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [self.apply(args[0])]


@irdl_op_definition
class GeluOp(UnaryOp):
    """GELU, exact (erf) or tanh-approximated (`approximate = #tfm<approximate tanh>`).

        %y = tfm.gelu %x {approximate = #tfm<approximate tanh>} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    """

    name = "tfm.gelu"
    approximate = opt_prop_def(GeluApproximationAttr)
    VECTOR_KIND: ClassVar[str] = "gelu"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.GELU

    def __init__(self, input: SSAValue, approximate: str = "none") -> None:
        approx = None if approximate == "none" else GeluApproximationAttr(GeluApproximation(approximate))
        super().__init__(input, properties=props(approximate=approx))

    @property
    def approximation(self) -> str:
        return "none" if self.approximate is None else self.approximate.data.value

    def apply(self, x: Tensor) -> Tensor:
        return F.gelu(x, approximate=self.approximation)


@irdl_op_definition
class SiluOp(UnaryOp):
    """x * sigmoid(x).

        %y = tfm.silu %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.silu"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.SILU

    def apply(self, x: Tensor) -> Tensor:
        return F.silu(x)


@irdl_op_definition
class ReluOp(UnaryOp):
    """max(x, 0).

        %y = tfm.relu %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.relu"
    VECTOR_KIND: ClassVar[str] = "relu"

    def apply(self, x: Tensor) -> Tensor:
        return torch.relu(x)


@irdl_op_definition
class TanhOp(UnaryOp):
    """Hyperbolic tangent.

        %y = tfm.tanh %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.tanh"
    VECTOR_KIND: ClassVar[str] = "tanh"

    def apply(self, x: Tensor) -> Tensor:
        return torch.tanh(x)


@irdl_op_definition
class SigmoidOp(UnaryOp):
    """1 / (1 + exp(-x)).

        %y = tfm.sigmoid %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.sigmoid"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.SIGMOID

    def apply(self, x: Tensor) -> Tensor:
        return torch.sigmoid(x)


@irdl_op_definition
class ExpOp(UnaryOp):
    """Exponential.

        %y = tfm.exp %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.exp"

    def apply(self, x: Tensor) -> Tensor:
        return torch.exp(x)


@irdl_op_definition
class LogOp(UnaryOp):
    """Natural logarithm.

        %y = tfm.log %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.log"

    def apply(self, x: Tensor) -> Tensor:
        return torch.log(x)


@irdl_op_definition
class SqrtOp(UnaryOp):
    """Square root.

        %y = tfm.sqrt %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.sqrt"

    def apply(self, x: Tensor) -> Tensor:
        return torch.sqrt(x)


@irdl_op_definition
class RsqrtOp(UnaryOp):
    """1 / sqrt(x).

        %y = tfm.rsqrt %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.rsqrt"

    def apply(self, x: Tensor) -> Tensor:
        return torch.rsqrt(x)


@irdl_op_definition
class NegOp(UnaryOp):
    """-x.

        %y = tfm.neg %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.neg"

    def apply(self, x: Tensor) -> Tensor:
        return torch.neg(x)


@irdl_op_definition
class AbsOp(UnaryOp):
    """|x|.

        %y = tfm.abs %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.abs"

    def apply(self, x: Tensor) -> Tensor:
        return torch.abs(x)


@irdl_op_definition
class ErfOp(UnaryOp):
    """Error function.

        %y = tfm.erf %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.erf"

    def apply(self, x: Tensor) -> Tensor:
        return torch.erf(x)


@irdl_op_definition
class ReciprocalOp(UnaryOp):
    """1 / x.

        %y = tfm.reciprocal %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.reciprocal"

    def apply(self, x: Tensor) -> Tensor:
        return torch.reciprocal(x)


@irdl_op_definition
class SinOp(UnaryOp):
    """Sine.

        %y = tfm.sin %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.sin"

    def apply(self, x: Tensor) -> Tensor:
        return torch.sin(x)


@irdl_op_definition
class CosOp(UnaryOp):
    """Cosine.

        %y = tfm.cos %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.cos"

    def apply(self, x: Tensor) -> Tensor:
        return torch.cos(x)


@irdl_op_definition
class NotOp(UnaryOp):
    """Logical (i1) or bitwise (integer) not.

        %y = tfm.not %x : (tensor<4xi1>) -> tensor<4xi1>
    """

    name = "tfm.not"

    def apply(self, x: Tensor) -> Tensor:
        return torch.bitwise_not(x)


UNARY_OPS = [GeluOp, SiluOp, ReluOp, TanhOp, SigmoidOp, ExpOp, LogOp, SqrtOp, RsqrtOp, NegOp,
             AbsOp, ErfOp, ReciprocalOp, SinOp, CosOp, NotOp]


# ---- binary ----------------------------------------------------------------------------------

class BinaryOp(TfmOp):
    """`%z = tfm.<op> %x, %y`, numpy-broadcasting, both operands of one dtype."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"
    # the result dtype is i1 (comparisons) instead of the operands' dtype
    COMPARES: ClassVar[bool] = False

    def __init__(self, lhs: SSAValue, rhs: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        a, b = shape(self.lhs), shape(self.rhs)
        want = broadcast_shapes(a, b)
        self.expect(want is not None, f"operand shapes {fmt(a)} and {fmt(b)} do not broadcast")
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(dtype(self.lhs) == dtype(self.rhs),
                    f"operand dtypes differ: {dtype(self.lhs)} and {dtype(self.rhs)}")
        out = "i1" if self.COMPARES else dtype(self.lhs)
        self.expect(dtype(self.result) == out, f"result dtype must be {out}, got {dtype(self.result)}")

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        raise NotImplementedError

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [self.apply(args[0], args[1])]


class CompareOp(BinaryOp):
    """A binary op with an i1 result."""

    COMPARES: ClassVar[bool] = True


@irdl_op_definition
class AddOp(BinaryOp):
    """Elementwise sum.

        %z = tfm.add %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.add"
    VECTOR_KIND: ClassVar[str] = "add"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.add(x, y)


@irdl_op_definition
class SubOp(BinaryOp):
    """Elementwise difference.

        %z = tfm.sub %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.sub"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.sub(x, y)


@irdl_op_definition
class MulOp(BinaryOp):
    """Elementwise product.

        %z = tfm.mul %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.mul"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.mul(x, y)


@irdl_op_definition
class DivOp(BinaryOp):
    """Elementwise true division.

        %z = tfm.div %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.div"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.div(x, y)


@irdl_op_definition
class PowOp(BinaryOp):
    """Elementwise power.

        %z = tfm.pow %x, %y : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
    """

    name = "tfm.pow"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.pow(x, y)


@irdl_op_definition
class MaxOp(BinaryOp):
    """Elementwise maximum.

        %z = tfm.max %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.max"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.maximum(x, y)


@irdl_op_definition
class MinOp(BinaryOp):
    """Elementwise minimum.

        %z = tfm.min %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xf32>
    """

    name = "tfm.min"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.minimum(x, y)


@irdl_op_definition
class AndOp(BinaryOp):
    """Logical (i1) or bitwise (integer) and.

        %z = tfm.and %x, %y : (tensor<2x16xi1>, tensor<16xi1>) -> tensor<2x16xi1>
    """

    name = "tfm.and"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.bitwise_and(x, y)


@irdl_op_definition
class OrOp(BinaryOp):
    """Logical (i1) or bitwise (integer) or.

        %z = tfm.or %x, %y : (tensor<2x16xi1>, tensor<16xi1>) -> tensor<2x16xi1>
    """

    name = "tfm.or"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.bitwise_or(x, y)


@irdl_op_definition
class EqOp(CompareOp):
    """x == y, i1 result.

        %z = tfm.eq %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.eq"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.eq(x, y)


@irdl_op_definition
class NeOp(CompareOp):
    """x != y, i1 result.

        %z = tfm.ne %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.ne"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.ne(x, y)


@irdl_op_definition
class LtOp(CompareOp):
    """x < y, i1 result.

        %z = tfm.lt %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.lt"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.lt(x, y)


@irdl_op_definition
class LeOp(CompareOp):
    """x <= y, i1 result.

        %z = tfm.le %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.le"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.le(x, y)


@irdl_op_definition
class GtOp(CompareOp):
    """x > y, i1 result.

        %z = tfm.gt %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.gt"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.gt(x, y)


@irdl_op_definition
class GeOp(CompareOp):
    """x >= y, i1 result.

        %z = tfm.ge %x, %y : (tensor<2x16xf32>, tensor<16xf32>) -> tensor<2x16xi1>
    """

    name = "tfm.ge"

    def apply(self, x: Tensor, y: Tensor) -> Tensor:
        return torch.ge(x, y)


BINARY_OPS = [AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, AndOp, OrOp,
              EqOp, NeOp, LtOp, LeOp, GtOp, GeOp]


# ---- select, casts, splats -------------------------------------------------------------------

@irdl_op_definition
class WhereOp(TfmOp):
    """`cond ? x : y`, broadcasting all three operands.

        %z = tfm.where %c, %x, %y : (tensor<1x1x16x16xi1>, tensor<2x4x16x16xf32>, tensor<f32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$cond `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, cond: SSAValue, lhs: SSAValue, rhs: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[cond, lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        self.expect(dtype(self.cond) == "i1", f"condition must be i1, got {dtype(self.cond)}")
        want = broadcast_shapes(shape(self.cond), shape(self.lhs), shape(self.rhs))
        self.expect(want is not None, "operand shapes do not broadcast")
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(dtype(self.lhs) == dtype(self.rhs) == dtype(self.result), "value dtypes differ")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [torch.where(*args)]


@irdl_op_definition
class ConvertOp(TfmOp):
    """Element type conversion; the shape is unchanged.

        %y = tfm.convert %x : (tensor<2x16xf16>) -> tensor<2x16xf32>
    """

    name = "tfm.convert"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "data-movement"
    VECTOR_KIND: ClassVar[str] = "copy"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.CONVERT

    def __init__(self, input: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[input], result_types=[result_type])

    def verify_(self) -> None:
        self.expect(shape(self.input) == shape(self.result),
                    f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0].to(torch_dtype(dtype(self.result)))]


Scalar = FloatAttr[Float64Type] | IntegerAttr[I64]


def _scalar(attr: FloatAttr | IntegerAttr) -> float | int:
    return attr.value.data


@irdl_op_definition
class ConstantOp(TfmOp):
    """A tensor filled with one scalar (never weights: those are function arguments).

        %c = tfm.constant {value = 0.5 : f64} : tensor<2x16xf32>
    """

    name = "tfm.constant"
    value = prop_def(Scalar)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"
    KIND: ClassVar[str] = "view"
    IS_VIEW: ClassVar[bool] = True

    def __init__(self, value: FloatAttr | IntegerAttr, result_type: Attribute) -> None:
        super().__init__(result_types=[result_type], properties={"value": value})

    def verify_(self) -> None:
        is_int = dtype(self.result).startswith("i")
        self.expect(not is_int or isinstance(self.value, IntegerAttr),
                    f"an integer tensor ({dtype(self.result)}) needs an integer value, got {self.value}")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [torch.full(shape(self.result), _scalar(self.value), dtype=torch_dtype(dtype(self.result)))]


@irdl_op_definition
class ArangeOp(TfmOp):
    """`start, start + step, ...` filling a rank-1 tensor.

        %i = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>
    """

    name = "tfm.arange"
    start = prop_def(Scalar)
    step = prop_def(Scalar)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"
    KIND: ClassVar[str] = "view"
    IS_VIEW: ClassVar[bool] = True

    def __init__(self, start: FloatAttr | IntegerAttr, step: FloatAttr | IntegerAttr,
                 result_type: Attribute) -> None:
        super().__init__(result_types=[result_type], properties={"start": start, "step": step})

    def verify_(self) -> None:
        self.expect(len(shape(self.result)) == 1, f"result must have rank 1, got {fmt(shape(self.result))}")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        n = shape(self.result)[0]
        values = torch.arange(n, dtype=torch.float64).mul(_scalar(self.step)).add(_scalar(self.start))
        return [values.to(torch_dtype(dtype(self.result)))]
