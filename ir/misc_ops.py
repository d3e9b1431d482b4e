"""Embedding, reductions, losses, dropout and the generic fallback op."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, TensorType, UnitAttr
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.traits import Pure

from ir.base import I64Array, TfmOp, get_float, get_ints, get_str
from ir.types import dtype, fmt, normalize_dim, shape


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

    def check(self) -> None:
        t = shape(self.table)
        self.expect(len(t) == 2, f"table must be [rows, dim], got {fmt(t)}")
        self.expect(dtype(self.ids) in ("i64", "i32"), f"ids must be integers, got {dtype(self.ids)}")
        want = shape(self.ids) + (t[1],)
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(dtype(self.result) == dtype(self.table), "result dtype must equal the table dtype")


@irdl_op_definition
class EmbeddingBackwardOp(TfmOp):
    """Table gradient of `tfm.embedding`: output gradients summed into their rows.

        %dt = tfm.embedding_backward %dh, %ids {padding_idx = -1 : i64} : (tensor<2x16x64xf32>, tensor<2x16xi64>) -> tensor<128x64xf32>
    """

    name = "tfm.embedding_backward"
    grad = operand_def(TensorType)
    ids = operand_def(TensorType)
    result = result_def(TensorType)
    padding_idx = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $ids attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        g, r = shape(self.grad), shape(self.result)
        self.expect(len(r) == 2 and g == shape(self.ids) + (r[1],),
                    f"grad {fmt(g)} must be ids {fmt(shape(self.ids))} + [{r[1] if r else '?'}]")


REDUCE_KINDS = ("sum", "mean", "max", "min", "prod", "any", "all")


@irdl_op_definition
class ReduceOp(TfmOp):
    """Reduces `dims` with `kind` (sum, mean, max, min, prod, any, all); `keepdim` keeps them as 1.

        %s = tfm.reduce %x {kind = "sum", dims = array<i64: 0, 1>} : (tensor<2x16x64xf32>) -> tensor<64xf32>
    """

    name = "tfm.reduce"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    kind = prop_def(StringAttr)
    dims = prop_def(I64Array)
    keepdim = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        src = shape(self.input)
        self.expect(get_str(self.kind) in REDUCE_KINDS, f"kind must be one of {', '.join(REDUCE_KINDS)}")
        dims = {normalize_dim(d, len(src)) for d in get_ints(self.dims)}
        self.expect(all(0 <= d < max(len(src), 1) for d in dims), f"dims {get_ints(self.dims)} out of range")
        if self.keepdim is not None:
            want = tuple(1 if i in dims else s for i, s in enumerate(src))
        else:
            want = tuple(s for i, s in enumerate(src) if i not in dims)
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")


LOSS_REDUCTIONS = ("none", "mean", "sum")


class _LossOp(TfmOp):
    def check_loss(self, scores, labels, result) -> None:
        s, lab = shape(scores), shape(labels)
        self.expect(len(s) == 2 and lab == (s[0],), f"scores must be [N, C] and labels [N], got {fmt(s)} and {fmt(lab)}")
        self.expect(dtype(labels) in ("i64", "i32"), f"labels must be integers, got {dtype(labels)}")
        red = get_str(self.reduction, "mean")
        self.expect(red in LOSS_REDUCTIONS, f"reduction must be one of {', '.join(LOSS_REDUCTIONS)}")
        want = (s[0],) if red == "none" else ()
        self.expect(shape(result) == want, f"result must be {fmt(want)}, got {fmt(shape(result))}")


class _Loss(_LossOp):
    input = operand_def(TensorType)
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    ignore_index = prop_def(IntegerAttr)
    reduction = prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `,` $labels attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.check_loss(self.input, self.labels, self.result)


@irdl_op_definition
class CrossEntropyOp(_Loss):
    """Softmax cross-entropy of logits [N, C] against integer labels [N]; labels equal to
    `ignore_index` are skipped (and excluded from the mean).

        %loss = tfm.cross_entropy %logits, %labels {ignore_index = -100 : i64, reduction = "mean"} : (tensor<32x128xf32>, tensor<32xi64>) -> tensor<f32>
    """

    name = "tfm.cross_entropy"


@irdl_op_definition
class NllLossOp(_Loss):
    """Negative log-likelihood of log-probabilities [N, C] at integer labels [N].

        %loss = tfm.nll_loss %logp, %labels {ignore_index = -100 : i64, reduction = "sum"} : (tensor<32x128xf32>, tensor<32xi64>) -> tensor<f32>
    """

    name = "tfm.nll_loss"


@irdl_op_definition
class NllLossBackwardOp(_LossOp):
    """Gradient of `tfm.nll_loss` with respect to its log-probabilities.

        %d = tfm.nll_loss_backward %g, %logp, %labels {ignore_index = -100 : i64, reduction = "sum"} : (tensor<f32>, tensor<32x128xf32>, tensor<32xi64>) -> tensor<32x128xf32>
    """

    name = "tfm.nll_loss_backward"
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    labels = operand_def(TensorType)
    result = result_def(TensorType)
    ignore_index = prop_def(IntegerAttr)
    reduction = prop_def(StringAttr)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $input `,` $labels attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.check_loss(self.input, self.labels, self.grad)
        self.expect(self.result.type == self.input.type, "result type must equal the input type")


@irdl_op_definition
class DropoutOp(TfmOp):
    """Zeroes elements with probability `p` and scales the rest by 1/(1-p).

        %y = tfm.dropout %x {p = 0.1 : f64} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.dropout"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    p = prop_def(FloatAttr)
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(0.0 <= get_float(self.p) < 1.0, f"p must be in [0, 1), got {get_float(self.p)}")
        self.expect(self.input.type == self.result.type, "result type must equal the input type")


@irdl_op_definition
class GenericOp(TfmOp):
    """An ATen op outside the tfm set, kept by name so no model is refused.

    `args` is the Python call with `%i` standing for tensor operand i; the reference
    interpreter calls the ATen op with it.

        %y = tfm.generic %x {target = "aten.cumsum.default", args = "(%0, 1)"} : (tensor<2x16xi64>) -> tensor<2x16xi64>
    """

    name = "tfm.generic"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    target = prop_def(StringAttr)
    args = prop_def(StringAttr)
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(get_str(self.target).count(".") >= 1, f"target {get_str(self.target)!r} is not an ATen op name")

