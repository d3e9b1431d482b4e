"""Run-time sparsity ops: DynaProp's magnitude pruning (Tuli and Jha, TransCODE, 2023).

    %y = tfm.prune %x {threshold = 0.06 : f64} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>

sets every element with |x| <= threshold to zero. The `dynaprop` pass inserts it at the
DynaProp sites (forward activations with tau_fwd, gradients with tau_bwd); the site name is
the discardable attribute `dynaprop.site` (see `ir.sparsity` for the names).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import Float64Type, FloatAttr, TensorType
from xdsl.ir import SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from ir import estimates
from ir.base import TfmOp, float_attr
from ir.lazy import torch
from ir.types import dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


def prune_tensor(x: Tensor, threshold: float) -> Tensor:
    """`x` with every element of magnitude <= `threshold` set to zero (NaN becomes zero)."""
    return torch.where(x.abs() > threshold, x, torch.zeros((), dtype=x.dtype, device=x.device))


@irdl_op_definition
class PruneOp(TfmOp):
    """Zero every element whose magnitude is at most `threshold` (>= 0); same shape and dtype.

    %y = tfm.prune %x {threshold = 0.06 : f64} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    """

    name = "tfm.prune"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    threshold = prop_def(FloatAttr[Float64Type])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    VECTOR_KIND: ClassVar[str] = "prune"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.PRUNE

    def __init__(self, input: SSAValue, threshold: float) -> None:
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={"threshold": float_attr(threshold)},
        )

    @property
    def tau(self) -> float:
        return self.threshold.value.data

    def verify_(self) -> None:
        self.expect(self.tau >= 0, f"threshold must be >= 0, got {self.tau}")
        self.expect(
            dtype(self.input).startswith(("f", "bf")),
            f"prunes floating tensors, got {dtype(self.input)}",
        )
        self.expect(
            self.input.type == self.result.type,
            f"result {fmt(shape(self.result))}x{dtype(self.result)} must equal the input "
            f"{fmt(shape(self.input))}x{dtype(self.input)}",
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [prune_tensor(args[0], self.tau)]
