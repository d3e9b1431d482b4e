"""Binary elementwise tfm ops: numpy-broadcasting arithmetic, logic and comparisons."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from ir.base import TfmOp
from ir.lazy import torch
from ir.types import broadcast_shapes, dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


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
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
        self.expect(
            dtype(self.lhs) == dtype(self.rhs),
            f"operand dtypes differ: {dtype(self.lhs)} and {dtype(self.rhs)}",
        )
        out = "i1" if self.COMPARES else dtype(self.lhs)
        self.expect(
            dtype(self.result) == out, f"result dtype must be {out}, got {dtype(self.result)}"
        )

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


BINARY_OPS: list[type[BinaryOp]] = [
    AddOp,
    SubOp,
    MulOp,
    DivOp,
    PowOp,
    MaxOp,
    MinOp,
    AndOp,
    OrOp,
    EqOp,
    NeOp,
    LtOp,
    LeOp,
    GtOp,
    GeOp,
]
