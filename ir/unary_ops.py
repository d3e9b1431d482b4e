"""Unary elementwise tfm ops: activations and math functions, same shape and dtype out."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from ir import estimates
from ir.base import TfmOp, props
from ir.enums import GeluApproximation, GeluApproximationAttr
from ir.lazy import F, torch
from ir.types import dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


class UnaryOp(TfmOp):
    """`%y = tfm.<op> %x : (tensor<...>) -> tensor<...>`, same shape and dtype."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        input: SSAValue,
        result_type: Attribute | None = None,
        properties: dict[str, Attribute] | None = None,
    ) -> None:
        super().__init__(
            operands=[input], result_types=[result_type or input.type], properties=properties or {}
        )

    def verify_(self) -> None:
        self.expect(
            shape(self.input) == shape(self.result),
            f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}",
        )
        self.expect(
            dtype(self.input) == dtype(self.result),
            f"dtype changes from {dtype(self.input)} to {dtype(self.result)}",
        )

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
        approx = (
            None if approximate == "none" else GeluApproximationAttr(GeluApproximation(approximate))
        )
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
class MishOp(UnaryOp):
    """x * tanh(softplus(x)) (Misra, 2019).

    %y = tfm.mish %x : (tensor<4xf32>) -> tensor<4xf32>
    """

    name = "tfm.mish"
    # exp, add, log (softplus), tanh, multiply; a transcendental counts as one
    FLOPS_PER_ELEMENT: ClassVar[float] = 5

    def apply(self, x: Tensor) -> Tensor:
        return F.mish(x)


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


UNARY_OPS: list[type[UnaryOp]] = [
    GeluOp,
    SiluOp,
    ReluOp,
    TanhOp,
    MishOp,
    SigmoidOp,
    ExpOp,
    LogOp,
    SqrtOp,
    RsqrtOp,
    NegOp,
    AbsOp,
    ErfOp,
    ReciprocalOp,
    SinOp,
    CosOp,
    NotOp,
]
