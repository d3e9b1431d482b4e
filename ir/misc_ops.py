"""Embedding, reductions, losses and dropout."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, TensorType, UnitAttr
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
from ir.base import I64Array, TfmOp, flag, float_attr, int_attr, ints_attr, props, vjp
from ir.dtypes import torch_dtype
from ir.enums import LossReduction, LossReductionAttr, ReduceKind, ReduceKindAttr
from ir.errors import TandemError
from ir.lazy import F, torch
from ir.types import dtype, fmt, nbytes, normalize_dim, numel, shape
from ir.work import OpWork

if TYPE_CHECKING:
    from torch import Tensor


@irdl_op_definition
class EmbeddingOp(TfmOp):
    """Row lookup: `table[ids]`, result shape ids.shape + [dim].

    %h = tfm.embedding %table, %ids : (tensor<128x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
    """

    name = "tfm.embedding"
    table = operand_def(TensorType)
    ids = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$table `,` $ids attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "embedding"
    VECTOR_KIND: ClassVar[str] = "copy"

    def __init__(self, table: SSAValue, ids: SSAValue, result_type: Attribute) -> None:
        super().__init__(operands=[table, ids], result_types=[result_type])

    def verify_(self) -> None:
        t = shape(self.table)
        self.expect(len(t) == 2, f"table must be [rows, dim], got {fmt(t)}")
        self.expect(
            dtype(self.ids) in ("i64", "i32"), f"ids must be integers, got {dtype(self.ids)}"
        )
        want = shape(self.ids) + (t[1],)
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )
        self.expect(
            dtype(self.result) == dtype(self.table), "result dtype must equal the table dtype"
        )

    def work(self) -> OpWork:
        # a gather reads only the rows it returns, not the whole table
        return OpWork(self.KIND, 0, 0, nbytes(self.ids) + nbytes(self.result), self.bytes_written())

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [F.embedding(args[1], args[0])]


@irdl_op_definition
class EmbeddingBackwardOp(TfmOp):
    """Table gradient of `tfm.embedding`: output gradients summed into their rows.

    %dt = tfm.embedding_backward %dh, %ids {padding_idx = -1 : i64} : (tensor<2x16x64xf32>, tensor<2x16xi64>) -> tensor<128x64xf32>
    """

    name = "tfm.embedding_backward"
    grad = operand_def(TensorType)
    ids = operand_def(TensorType)
    result = result_def(TensorType)
    padding_idx = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $ids attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "embedding"
    VECTOR_KIND: ClassVar[str] = "copy"

    def __init__(
        self, grad: SSAValue, ids: SSAValue, result_type: Attribute, padding_idx: int = -1
    ) -> None:
        super().__init__(
            operands=[grad, ids],
            result_types=[result_type],
            properties={"padding_idx": int_attr(padding_idx)},
        )

    def verify_(self) -> None:
        g, r = shape(self.grad), shape(self.result)
        self.expect(
            len(r) == 2 and g == shape(self.ids) + (r[1],),
            f"grad {fmt(g)} must be ids {fmt(shape(self.ids))} + [{r[1] if r else '?'}]",
        )

    def work(self) -> OpWork:
        # one add per gradient element scattered into its row
        return OpWork(self.KIND, numel(self.grad), 0, self.bytes_read(), self.bytes_written())

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        g, ids = args
        rows, dim = shape(self.result)
        out = torch.zeros(rows, dim, dtype=g.dtype)
        flat_ids, flat_g = ids.reshape(-1), g.reshape(-1, dim)
        pad = self.padding_idx.value.data
        if pad >= 0:
            flat_g = flat_g * (flat_ids != pad).unsqueeze(1).to(g.dtype)
        return [out.index_add_(0, flat_ids, flat_g)]


@irdl_op_definition
class ReduceOp(TfmOp):
    """Reduces `dims` with `kind` (sum, mean, max, min, prod, any, all); `keepdim` keeps them as 1.

    %s = tfm.reduce %x {kind = #tfm<reduce_kind sum>, dims = array<i64: 0, 1>} : (tensor<2x16x64xf32>) -> tensor<64xf32>
    """

    name = "tfm.reduce"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    kind = prop_def(ReduceKindAttr)
    dims = prop_def(I64Array)
    keepdim = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "reduce"

    def __init__(
        self,
        input: SSAValue,
        kind: str,
        dims: Sequence[int],
        result_type: Attribute,
        keepdim: bool = False,
    ) -> None:
        super().__init__(
            operands=[input],
            result_types=[result_type],
            properties=props(
                kind=ReduceKindAttr(ReduceKind(kind)), dims=ints_attr(dims), keepdim=flag(keepdim)
            ),
        )

    @property
    def reduction(self) -> ReduceKind:
        return self.kind.data

    def verify_(self) -> None:
        src = shape(self.input)
        given = self.dims.get_values()
        dims = {normalize_dim(d, len(src)) for d in given}
        self.expect(all(0 <= d < max(len(src), 1) for d in dims), f"dims {given} out of range")
        if self.keepdim is not None:
            want = tuple(1 if i in dims else s for i, s in enumerate(src))
        else:
            want = tuple(s for i, s in enumerate(src) if i not in dims)
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )

    def work(self) -> OpWork:
        return OpWork(self.KIND, numel(self.input), 0, self.bytes_read(), self.bytes_written())

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        x = args[0]
        kind, keep = self.reduction, self.keepdim is not None
        dims = list(self.dims.get_values()) or list(range(x.dim()))
        if kind in (ReduceKind.SUM, ReduceKind.MEAN):
            y = getattr(torch, kind.value)(x, dim=dims, keepdim=keep) if x.dim() else x
        elif kind in (ReduceKind.MAX, ReduceKind.MIN):
            y = (torch.amax if kind == ReduceKind.MAX else torch.amin)(x, dim=dims, keepdim=keep)
        else:  # prod, any, all reduce one dim at a time
            fn = {
                ReduceKind.PROD: torch.prod,
                ReduceKind.ANY: torch.any,
                ReduceKind.ALL: torch.all,
            }[kind]
            y = x
            for d in sorted((d % max(x.dim(), 1) for d in dims), reverse=True):
                y = fn(y, dim=d, keepdim=keep)
        return [y.to(torch_dtype(dtype(self.result)))]


class _LossOp(TfmOp):
    ignore_index = prop_def(IntegerAttr[I64])
    reduction = prop_def(LossReductionAttr)
    KIND: ClassVar[str] = "loss"

    @property
    def mode(self) -> str:
        return self.reduction.data.value

    @property
    def ignored(self) -> int:
        return self.ignore_index.value.data

    def check_loss(self, scores: SSAValue, labels: SSAValue, result: SSAValue) -> None:
        s, lab = shape(scores), shape(labels)
        self.expect(
            len(s) == 2 and lab == (s[0],),
            f"scores must be [N, C] and labels [N], got {fmt(s)} and {fmt(lab)}",
        )
        self.expect(
            dtype(labels) in ("i64", "i32"), f"labels must be integers, got {dtype(labels)}"
        )
        want = (s[0],) if self.mode == "none" else ()
        self.expect(shape(result) == want, f"result must be {fmt(want)}, got {fmt(shape(result))}")


def _loss_props(ignore_index: int, reduction: str) -> dict[str, Attribute]:
    return {
        "ignore_index": int_attr(ignore_index),
        "reduction": LossReductionAttr(LossReduction(reduction)),
    }


class _Loss(_LossOp):
    input = operand_def(TensorType)
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input `,` $labels attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        input: SSAValue,
        labels: SSAValue,
        result_type: Attribute,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            operands=[input, labels],
            result_types=[result_type],
            properties=_loss_props(ignore_index, reduction),
        )

    def verify_(self) -> None:
        self.check_loss(self.input, self.labels, self.result)

    def work(self) -> OpWork:
        return OpWork(
            self.KIND,
            int(self.FLOPS_PER_ELEMENT * numel(self.input)),
            0,
            self.bytes_read(),
            self.bytes_written(),
        )


@irdl_op_definition
class CrossEntropyOp(_Loss):
    """Softmax cross-entropy of logits [N, C] against integer labels [N]; labels equal to
    `ignore_index` are skipped (and excluded from the mean).

        %loss = tfm.cross_entropy %logits, %labels {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : (tensor<32x128xf32>, tensor<32xi64>) -> tensor<f32>
    """

    name = "tfm.cross_entropy"
    VECTOR_KIND: ClassVar[str] = "cross_entropy"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.CROSS_ENTROPY

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [F.cross_entropy(args[0], args[1], ignore_index=self.ignored, reduction=self.mode)]


@irdl_op_definition
class NllLossOp(_Loss):
    """Negative log-likelihood of log-probabilities [N, C] at integer labels [N].

    %loss = tfm.nll_loss %logp, %labels {ignore_index = -100 : i64, reduction = #tfm<reduction sum>} : (tensor<32x128xf32>, tensor<32xi64>) -> tensor<f32>
    """

    name = "tfm.nll_loss"

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [F.nll_loss(args[0], args[1], ignore_index=self.ignored, reduction=self.mode)]


@irdl_op_definition
class NllLossBackwardOp(_LossOp):
    """Gradient of `tfm.nll_loss` with respect to its log-probabilities.

    %d = tfm.nll_loss_backward %g, %logp, %labels {ignore_index = -100 : i64, reduction = #tfm<reduction sum>} : (tensor<f32>, tensor<32x128xf32>, tensor<32xi64>) -> tensor<32x128xf32>
    """

    name = "tfm.nll_loss_backward"
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$grad `,` $input `,` $labels attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        grad: SSAValue,
        input: SSAValue,
        labels: SSAValue,
        *,
        ignore_index: int = -100,
        reduction: str = "mean",
    ) -> None:
        super().__init__(
            operands=[grad, input, labels],
            result_types=[input.type],
            properties=_loss_props(ignore_index, reduction),
        )

    def verify_(self) -> None:
        self.check_loss(self.input, self.labels, self.grad)
        self.expect(self.result.type == self.input.type, "result type must equal the input type")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        g, x, t = args

        def loss(x_: Tensor) -> Tensor:
            return F.nll_loss(x_, t, ignore_index=self.ignored, reduction=self.mode)

        return [vjp(loss, [x], g)[0]]


@irdl_op_definition
class DropoutOp(TfmOp):
    """Zeroes elements with probability `p` and scales the rest by 1/(1-p).

    %y = tfm.dropout %x {p = 0.1 : f64} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.dropout"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    p = prop_def(FloatAttr[Float64Type])
    # tfm models no random-number state: an unused dropout can go, like any pure op
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    VECTOR_KIND: ClassVar[str] = "dropout"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.DROPOUT

    def __init__(self, input: SSAValue, p: float) -> None:
        super().__init__(
            operands=[input], result_types=[input.type], properties={"p": float_attr(p)}
        )

    @property
    def probability(self) -> float:
        return self.p.value.data

    def verify_(self) -> None:
        self.expect(0.0 <= self.probability < 1.0, f"p must be in [0, 1), got {self.probability}")
        self.expect(self.input.type == self.result.type, "result type must equal the input type")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        if self.probability == 0.0:
            return [args[0]]
        raise TandemError(
            f"tfm.dropout with p={self.probability} is random; the reference interpreter needs p=0"
        )
