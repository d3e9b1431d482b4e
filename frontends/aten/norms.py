"""Softmax, layer norm and RMS norm, their backward ops, and the backward of GELU / SiLU.
PyTorch keeps these whole (`frontends.trace.KEEP`); each becomes one tfm op:

    aten.native_layer_norm(%x, [64], %w, %b, 1e-05)
      ->  %y = tfm.layer_norm %x, %w, %b {eps = 1.000000e-05 : f64, ndim = 1 : i64} : ...
"""

from __future__ import annotations

import operator

import torch
from xdsl.ir import SSAValue

from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import norm_ops as nm
from ir.base import float_attr, int_attr
from ir.enums import GeluApproximation, GeluApproximationAttr
from ir.types import dtype, normalize_dim, shape


@handles(
    "aten._softmax.default", "aten.softmax.int", "aten._log_softmax.default", "aten.log_softmax.int"
)
def softmax(imp: Importer, node):
    out = imp.out_type()
    x = imp.convert(imp.value(node.args[0]), dtype(out))
    cls = nm.LogSoftmaxOp if "log_softmax" in str(node.target) else nm.SoftmaxOp
    return imp.op1(cls, [x], out, {"dim": int_attr(normalize_dim(node.args[1], len(shape(x))))})


@handles("aten._softmax_backward_data.default", "aten._log_softmax_backward_data.default")
def softmax_backward(imp: Importer, node):
    out = imp.out_type()
    g, y = imp.value(node.args[0]), imp.value(node.args[1])
    cls = nm.LogSoftmaxBackwardOp if "log_softmax" in str(node.target) else nm.SoftmaxBackwardOp
    r = imp.op1(cls, [g, y], g.type, {"dim": int_attr(normalize_dim(node.args[2], len(shape(g))))})
    return imp.convert(r, dtype(out))


def _norm_params(imp: Importer, x: SSAValue, w, b, ndim: int):
    nshape = shape(x)[len(shape(x)) - ndim :]
    wv = imp.value(w) if w is not None else imp.const(1.0, dtype(x), nshape)
    bv = imp.value(b) if b is not None else imp.const(0.0, dtype(x), nshape)
    return wv, bv


@handles("aten.native_layer_norm.default", "aten.layer_norm.default")
def layer_norm(imp: Importer, node):
    x = imp.value(node.args[0])
    ndim = len(node.args[1])
    w, b = _norm_params(imp, x, arg(node, 2, "weight"), arg(node, 3, "bias"), ndim)
    eps = arg(node, 4, "eps", 1e-5)
    y = imp.op1(nm.LayerNormOp, [x, w, b], x.type, {"eps": float_attr(eps), "ndim": int_attr(ndim)})
    if str(node.target) == "aten.layer_norm.default":
        return y
    return (y, None, None)


def _getitem_source(node: torch.fx.Node) -> torch.fx.Node | None:
    """The multi-output fx node a getitem reads from (where saved statistics come from)."""
    source = node.args[0] if node.target is operator.getitem else None
    return source if isinstance(source, torch.fx.Node) else None


@handles("aten.native_layer_norm_backward.default")
def layer_norm_backward(imp: Importer, node):
    g, x = imp.value(node.args[0]), imp.value(node.args[1])
    ndim = len(node.args[2])
    fwd = _getitem_source(node.args[3])
    if fwd is None or "layer_norm" not in str(fwd.target):
        raise imp.error("layer-norm statistics do not come from a layer_norm op")
    eps = arg(fwd, 4, "eps", 1e-5)
    w, b = _norm_params(imp, x, arg(node, 5, "weight"), arg(node, 6, "bias"), ndim)
    op = imp.emit(
        nm.LayerNormBackwardOp,
        [g, x, w, b],
        [x.type, w.type, b.type],
        {"eps": float_attr(eps), "ndim": int_attr(ndim)},
    )
    mask = list(arg(node, 7, "output_mask", [True, True, True]))
    return tuple(r if m else None for r, m in zip(op.results, mask, strict=True))


@handles("aten.rms_norm.default", "aten._fused_rms_norm.default")
def rms_norm(imp: Importer, node):
    x = imp.value(node.args[0])
    ndim = len(node.args[1])
    w = arg(node, 2, "weight")
    eps = arg(node, 3, "eps")
    if eps is None:
        eps = torch.finfo(torch.float32).eps
    ops = [x] + ([imp.value(w)] if w is not None else [])
    y = imp.op1(nm.RmsNormOp, ops, x.type, {"eps": float_attr(eps), "ndim": int_attr(ndim)})
    return y if str(node.target) == "aten.rms_norm.default" else (y, None)


@handles("aten.gelu_backward.default", "aten.silu_backward.default")
def act_backward(imp: Importer, node):
    g, x = imp.value(node.args[0]), imp.value(node.args[1])
    if "gelu" in str(node.target):
        approx = node.kwargs.get("approximate", arg(node, 2, "approximate", "none"))
        return imp.op1(
            nm.GeluBackwardOp,
            [g, x],
            x.type,
            {
                "approximate": GeluApproximationAttr(GeluApproximation(approx))
                if approx != "none"
                else None
            },
        )
    return imp.op1(nm.SiluBackwardOp, [g, x], x.type)
