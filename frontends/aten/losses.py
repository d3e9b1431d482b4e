"""Losses (negative log-likelihood, cross-entropy, their backward) and dropout. Weighted or
label-smoothed losses and inputs of rank other than 2 stay `tfm.generic`:

    aten.nll_loss_forward(%logp, %t, None, 1, -100)
      ->  %l = tfm.nll_loss %logp, %t {reduction = #tfm<reduction mean>, ignore_index = -100 : i64} : (tensor<32x256xf32>, tensor<32xi64>) -> tensor<f32>
"""

from __future__ import annotations

from frontends.aten.generic import generic
from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import misc_ops as misc
from ir.base import float_attr, int_attr
from ir.enums import LossReduction, LossReductionAttr
from ir.types import shape

# ATen's reduction enumeration
_REDUCTIONS = {0: "none", 1: "mean", 2: "sum"}


def _reduction(code: int) -> LossReductionAttr:
    return LossReductionAttr(LossReduction(_REDUCTIONS[code]))


@handles("aten.nll_loss_forward.default")
def nll_loss(imp: Importer, node):
    x, t = imp.value(node.args[0]), imp.value(node.args[1])
    if node.args[2] is not None or len(shape(x)) != 2:
        return generic(imp, node)
    props = {"reduction": _reduction(node.args[3]), "ignore_index": int_attr(node.args[4])}
    return (imp.op1(misc.NllLossOp, [x, t], imp.out_type(0), props), None)


@handles("aten.nll_loss_backward.default")
def nll_loss_backward(imp: Importer, node):
    g, x, t = (imp.value(a) for a in node.args[:3])
    if node.args[3] is not None or len(shape(x)) != 2:
        return generic(imp, node)
    props = {"reduction": _reduction(node.args[4]), "ignore_index": int_attr(node.args[5])}
    return imp.op1(misc.NllLossBackwardOp, [g, x, t], x.type, props)


@handles("aten.cross_entropy_loss.default")
def cross_entropy(imp: Importer, node):
    x, t = imp.value(node.args[0]), imp.value(node.args[1])
    if (
        arg(node, 2, "weight") is not None
        or arg(node, 5, "label_smoothing", 0.0)
        or len(shape(x)) != 2
    ):
        return generic(imp, node)
    props = {
        "reduction": _reduction(arg(node, 3, "reduction", 1)),
        "ignore_index": int_attr(arg(node, 4, "ignore_index", -100)),
    }
    return imp.op1(misc.CrossEntropyOp, [x, t], imp.out_type(), props)


@handles("aten.native_dropout.default")
def dropout(imp: Importer, node):
    """`tfm.dropout` in training with p > 0, else the input itself; the mask is not exposed."""
    x = imp.value(node.args[0])
    p, train = node.args[1], node.args[2]
    if not train or p == 0:
        return (x, None)
    return (imp.op1(misc.DropoutOp, [x], x.type, {"p": float_attr(p)}), None)
