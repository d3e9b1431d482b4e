"""Elementwise tfm ops that are neither unary math nor binary: select, casts, splats."""

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
)
from xdsl.traits import Pure

from ir import estimates
from ir.base import TfmOp
from ir.dtypes import torch_dtype
from ir.lazy import torch
from ir.types import broadcast_shapes, dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


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

    def __init__(
        self, cond: SSAValue, lhs: SSAValue, rhs: SSAValue, result_type: Attribute
    ) -> None:
        super().__init__(operands=[cond, lhs, rhs], result_types=[result_type])

    def verify_(self) -> None:
        self.expect(dtype(self.cond) == "i1", f"condition must be i1, got {dtype(self.cond)}")
        want = broadcast_shapes(shape(self.cond), shape(self.lhs), shape(self.rhs))
        self.expect(want is not None, "operand shapes do not broadcast")
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
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
        self.expect(
            shape(self.input) == shape(self.result),
            f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}",
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0].to(torch_dtype(dtype(self.result)))]


Scalar = FloatAttr[Float64Type] | IntegerAttr[I64]


def _scalar(attr: Attribute) -> float | int:
    assert isinstance(attr, FloatAttr | IntegerAttr)
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
        self.expect(
            not is_int or isinstance(self.value, IntegerAttr),
            f"an integer tensor ({dtype(self.result)}) needs an integer value, got {self.value}",
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [
            torch.full(
                shape(self.result), _scalar(self.value), dtype=torch_dtype(dtype(self.result))
            )
        ]


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

    def __init__(
        self, start: FloatAttr | IntegerAttr, step: FloatAttr | IntegerAttr, result_type: Attribute
    ) -> None:
        super().__init__(result_types=[result_type], properties={"start": start, "step": step})

    def verify_(self) -> None:
        self.expect(
            len(shape(self.result)) == 1, f"result must have rank 1, got {fmt(shape(self.result))}"
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        n = shape(self.result)[0]
        values = (
            torch.arange(n, dtype=torch.float64).mul(_scalar(self.step)).add(_scalar(self.start))
        )
        return [values.to(torch_dtype(dtype(self.result)))]
