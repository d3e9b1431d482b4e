"""The base of every tfm op: verification helpers and the behaviour each op declares.

An op class says, next to its operands and properties, everything the rest of Tandem needs:

    @irdl_op_definition
    class ReluOp(UnaryOp):
        name = "tfm.relu"
        KIND: ClassVar[str] = "elementwise"   # report category
        VECTOR_KIND: ClassVar[str] = "relu"   # cost-model name of a memory-bound op
        FLOPS_PER_ELEMENT: ClassVar[float] = 1  # or override work() for a formula

        def interpret(self, args):     # the reference interpreter's rule
            return [torch.relu(args[0])]

so adding an op touches the op's module and, at most, the importer's ATen table.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import (
    I64,
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    UnitAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute
from xdsl.irdl import IRDLOperation, ParsePropInAttrDict
from xdsl.utils.exceptions import VerifyException

from ir.errors import TandemError
from ir.lazy import torch
from ir.types import check_static_type, nbytes, numel
from ir.work import VIEW_WORK, OpWork

if TYPE_CHECKING:
    from torch import Tensor

I64Array = DenseArrayBase[I64]


def int_attr(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i64)


def ints_attr(vs: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in vs])


def float_attr(v: float) -> FloatAttr:
    return FloatAttr(float(v), f64)


def flag(v: bool) -> UnitAttr | None:
    return UnitAttr() if v else None


def props(**values: Attribute | None) -> dict[str, Attribute]:
    """A properties dictionary without the unset (None) entries."""
    return {k: v for k, v in values.items() if v is not None}


class TfmOp(IRDLOperation):
    """Base of every tfm op: properties print inside the attribute dictionary.

    Upper-case class variables (xDSL's convention for op constants) declare the op's
    behaviour; `work()` and `interpret()` may be overridden. Verifiers (`verify_`) use
    `self.expect(cond, message)`.
    """

    irdl_options = (ParsePropInAttrDict(),)

    # report category: matmul, attention, softmax, norm, elementwise, embedding, reduce,
    # loss, data-movement, generic, view
    KIND: ClassVar[str] = "elementwise"
    # views (reshape, permute, broadcast, slice, splat constants) move and compute nothing
    IS_VIEW: ClassVar[bool] = False
    # the cost models' name for a memory-bound op: softmax, log_softmax, layernorm, gelu,
    # tanh, relu, dropout, add, cross_entropy, copy (pure data movement), elementwise
    VECTOR_KIND: ClassVar[str] = "elementwise"
    # arithmetic per output element (see ir/estimates.py for the constants' sources)
    FLOPS_PER_ELEMENT: ClassVar[float] = 1

    def expect(self, cond: bool, message: str) -> None:
        if not cond:
            raise VerifyException(f"{self.name}: {message}")

    def verify(self, verify_nested_ops: bool = True) -> None:
        """Every operand and result is a static-shape tensor of an IR dtype, then the op's own
        checks (`verify_`): `tensor<?x3xf32>` or `complex<f32>` stop here, not in a cost model."""
        for kind, values in (("operand", self.operands), ("result", self.results)):
            for i, v in enumerate(values):
                check_static_type(v.type, f"{self.name}: {kind} {i}")
        super().verify(verify_nested_ops)

    def work(self) -> OpWork:
        """FLOPs and bytes of the op run as one unfused kernel."""
        if self.IS_VIEW:
            return VIEW_WORK
        elements = max((numel(r) for r in self.results), default=0)
        return OpWork(
            self.KIND,
            int(self.FLOPS_PER_ELEMENT * elements),
            0,
            self.bytes_read(),
            self.bytes_written(),
        )

    def bytes_read(self) -> int:
        return sum(nbytes(v) for v in self.operands)

    def bytes_written(self) -> int:
        return sum(nbytes(r) for r in self.results)

    def interpret(self, args: Sequence[Tensor]) -> Sequence[Tensor | None]:
        """The op's result tensors for operand tensors `args` (the reference semantics)."""
        raise TandemError(f"the reference interpreter cannot run {self.name}")


def vjp(fn: Callable[..., Tensor], inputs: Sequence[Tensor], grad: Tensor) -> list[Tensor | None]:
    """Gradients of `fn(*inputs)` against `grad`, by autograd of a reference definition."""
    leaves = [x.detach().requires_grad_(x.is_floating_point()) for x in inputs]
    with torch.enable_grad():
        out = fn(*leaves)
        wrt = [x for x in leaves if x.requires_grad]
        grads = torch.autograd.grad(out, wrt, grad, allow_unused=True)
    it = iter(grads)
    return [next(it) if x.requires_grad else None for x in leaves]
