"""Scaled dot-product attention, the plain op and PyTorch's fused CPU / efficient kernels with
the fused backward -> `tfm.attention` / `tfm.attention_backward` (optional mask operand):

    aten.scaled_dot_product_attention(%q, %k, %v, %m)
      ->  %o = tfm.attention %q, %k, %v mask %m {scale = 2.500000e-01 : f64} : ...
"""

from __future__ import annotations

import math

from xdsl.dialects.builtin import UnitAttr
from xdsl.ir import SSAValue

from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import linalg_ops as la
from ir.base import float_attr
from ir.types import shape


def _attention_props(q: SSAValue, causal, scale):
    if scale is None:
        scale = 1.0 / math.sqrt(shape(q)[-1])
    return {"scale": float_attr(scale), "causal": UnitAttr() if causal else None}


def _mask(imp: Importer, m):
    return [] if m is None else [imp.value(m)]


@handles("aten.scaled_dot_product_attention.default")
def sdpa(imp: Importer, node):
    q, k, v = (imp.value(a) for a in node.args[:3])
    if arg(node, 4, "dropout_p", 0.0):
        raise imp.error("attention dropout is not supported; set the dropout probability to 0")
    mask = _mask(imp, arg(node, 3, "attn_mask"))
    props = _attention_props(
        q, arg(node, 5, "is_causal", False), node.kwargs.get("scale", arg(node, 6, "scale"))
    )
    return imp.op1(la.AttentionOp, [q, k, v, *mask], imp.out_type(), props)


@handles("aten._scaled_dot_product_flash_attention_for_cpu.default")
def sdpa_cpu(imp: Importer, node):
    q, k, v = (imp.value(a) for a in node.args[:3])
    if arg(node, 3, "dropout_p", 0.0):
        raise imp.error("attention dropout is not supported; set the dropout probability to 0")
    mask = _mask(imp, node.kwargs.get("attn_mask"))
    props = _attention_props(q, arg(node, 4, "is_causal", False), node.kwargs.get("scale"))
    return (imp.op1(la.AttentionOp, [q, k, v, *mask], imp.out_type(0), props), None)


@handles("aten._scaled_dot_product_flash_attention_for_cpu_backward.default")
def sdpa_cpu_backward(imp: Importer, node):
    g, q, k, v, o = (imp.value(a) for a in node.args[:5])
    mask = _mask(imp, node.kwargs.get("attn_mask"))
    props = _attention_props(q, arg(node, 7, "is_causal", False), node.kwargs.get("scale"))
    op = imp.emit(la.AttentionBackwardOp, [g, q, k, v, o, *mask], [q.type, k.type, v.type], props)
    return tuple(op.results)


@handles("aten._scaled_dot_product_efficient_attention.default")
def sdpa_efficient(imp: Importer, node):
    q, k, v = (imp.value(a) for a in node.args[:3])
    mask = _mask(imp, arg(node, 3, "attn_bias"))
    props = _attention_props(q, arg(node, 6, "is_causal", False), node.kwargs.get("scale"))
    return (imp.op1(la.AttentionOp, [q, k, v, *mask], imp.out_type(0), props), None, None, None)
