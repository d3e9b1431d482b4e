"""Elementwise ops: binary, unary and comparison ops, where / masked_fill / clamp, filled
constants and arange. Operands are promoted to a common dtype and broadcast; Python scalars
become rank-0 `tfm.constant`s:

    aten.add.Tensor(%x, 1.0)  ->  %c = tfm.constant {value = 1.000000e+00 : f64} : tensor<f32>
                                  %y = tfm.add %x, %c : (tensor<2x16xf32>, tensor<f32>) -> tensor<2x16xf32>
"""

from __future__ import annotations

import math

import torch
from xdsl.ir import Attribute, SSAValue

from frontends.aten.generic import generic
from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import binary_ops as bi
from ir import elementwise_ops as ew
from ir import unary_ops as un
from ir.base import float_attr, int_attr
from ir.dtypes import promote
from ir.enums import GeluApproximation, GeluApproximationAttr
from ir.types import broadcast_shapes, dtype, shape, tensor


def operand(imp: Importer, a, like: str) -> SSAValue:
    """A tensor argument or a Python scalar as a rank-0 constant of dtype `like`."""
    if isinstance(a, torch.fx.Node):
        return imp.value(a)
    return imp.const(a, like)


def binary_value(imp: Importer, cls, a: SSAValue, b: SSAValue, out: str | None = None) -> SSAValue:
    """`cls(a, b)` after promoting both to their common dtype; converted to `out` if given."""
    common = promote(dtype(a), dtype(b))
    a, b = imp.convert(a, common), imp.convert(b, common)
    s = broadcast_shapes(shape(a), shape(b))
    if s is None:
        raise imp.error(f"shapes {shape(a)} and {shape(b)} do not broadcast")
    res = "i1" if issubclass(cls, bi.CompareOp) else common
    y = imp.op1(cls, [a, b], tensor(s, res))
    return y if out is None else imp.convert(y, out)


# ---- binary and comparison ops ------------------------------------------------------------------


def _binary_handler(cls):
    def handle(imp: Importer, node):
        out = imp.out_dtype()
        a_node, b_node = node.args[0], node.args[1]
        like = out if not issubclass(cls, bi.CompareOp) else None
        if like is None:
            tensor_arg = a_node if isinstance(a_node, torch.fx.Node) else b_node
            like = dtype(imp.value(tensor_arg))
        a, b = operand(imp, a_node, like), operand(imp, b_node, like)
        alpha = node.kwargs.get("alpha", 1)
        if alpha != 1:
            b = binary_value(imp, bi.MulOp, b, imp.const(alpha, dtype(b)))
        if not issubclass(
            cls, bi.CompareOp
        ):  # compute in the result dtype (i64 / i64 -> f32 divides in f32)
            a, b = imp.convert(a, out), imp.convert(b, out)
        return binary_value(imp, cls, a, b, out)

    return handle


for _targets, _cls in [
    (("aten.add.Tensor", "aten.add.Scalar"), bi.AddOp),
    (("aten.sub.Tensor", "aten.sub.Scalar"), bi.SubOp),
    (("aten.mul.Tensor", "aten.mul.Scalar"), bi.MulOp),
    (("aten.div.Tensor", "aten.div.Scalar"), bi.DivOp),
    (("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.pow.Scalar"), bi.PowOp),
    (("aten.maximum.default", "aten.clamp_min.default"), bi.MaxOp),
    (("aten.minimum.default", "aten.clamp_max.default"), bi.MinOp),
    (
        (
            "aten.bitwise_and.Tensor",
            "aten.logical_and.default",
            "aten.bitwise_and.Scalar",
            "aten.__and__.Tensor",
        ),
        bi.AndOp,
    ),
    (
        (
            "aten.bitwise_or.Tensor",
            "aten.logical_or.default",
            "aten.bitwise_or.Scalar",
            "aten.__or__.Tensor",
        ),
        bi.OrOp,
    ),
    (("aten.eq.Tensor", "aten.eq.Scalar"), bi.EqOp),
    (("aten.ne.Tensor", "aten.ne.Scalar"), bi.NeOp),
    (("aten.lt.Tensor", "aten.lt.Scalar"), bi.LtOp),
    (("aten.le.Tensor", "aten.le.Scalar"), bi.LeOp),
    (("aten.gt.Tensor", "aten.gt.Scalar"), bi.GtOp),
    (("aten.ge.Tensor", "aten.ge.Scalar"), bi.GeOp),
]:
    handles(*_targets)(_binary_handler(_cls))


@handles("aten.rsub.Scalar")
def rsub(imp: Importer, node):
    out = imp.out_dtype()
    x = imp.convert(imp.value(node.args[0]), out)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        x = binary_value(imp, bi.MulOp, x, imp.const(alpha, out))
    return binary_value(imp, bi.SubOp, imp.const(node.args[1], out), x, out)


@handles("aten.clamp.default")
def clamp(imp: Importer, node):
    out = imp.out_dtype()
    x = imp.convert(imp.value(node.args[0]), out)
    lo, hi = arg(node, 1, "min"), arg(node, 2, "max")
    if lo is not None:
        x = binary_value(imp, bi.MaxOp, x, imp.const(lo, out))
    if hi is not None:
        x = binary_value(imp, bi.MinOp, x, imp.const(hi, out))
    return x


# ---- unary ops ----------------------------------------------------------------------------------

_UNARY = {
    "aten.silu.default": un.SiluOp,
    "aten.relu.default": un.ReluOp,
    "aten.tanh.default": un.TanhOp,
    "aten.mish.default": un.MishOp,
    "aten.sigmoid.default": un.SigmoidOp,
    "aten.exp.default": un.ExpOp,
    "aten.log.default": un.LogOp,
    "aten.sqrt.default": un.SqrtOp,
    "aten.rsqrt.default": un.RsqrtOp,
    "aten.neg.default": un.NegOp,
    "aten.abs.default": un.AbsOp,
    "aten.erf.default": un.ErfOp,
    "aten.reciprocal.default": un.ReciprocalOp,
    "aten.sin.default": un.SinOp,
    "aten.cos.default": un.CosOp,
    "aten.bitwise_not.default": un.NotOp,
    "aten.logical_not.default": un.NotOp,
}


def _unary_handler(cls):
    def handle(imp: Importer, node):
        out = imp.out_type()
        x = imp.value(node.args[0])
        if cls is un.NotOp and dtype(x) != "i1" and dtype(out) == "i1":
            x = binary_value(imp, bi.NeOp, x, imp.const(0, dtype(x)))
        x = imp.convert(x, dtype(out))
        return imp.op1(cls, [x], out)

    return handle


for _target, _unary_cls in _UNARY.items():
    handles(_target)(_unary_handler(_unary_cls))


@handles("aten.gelu.default")
def gelu(imp: Importer, node):
    x = imp.value(node.args[0])
    approx = node.kwargs.get("approximate", arg(node, 1, "approximate", "none"))
    return imp.op1(
        un.GeluOp,
        [x],
        imp.out_type(),
        {
            "approximate": GeluApproximationAttr(GeluApproximation(approx))
            if approx != "none"
            else None
        },
    )


# ---- selection --------------------------------------------------------------------------------


@handles("aten.where.self", "aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar")
def where(imp: Importer, node):
    out = imp.out_dtype()
    c = imp.value(node.args[0])
    if dtype(c) != "i1":
        c = binary_value(imp, bi.NeOp, c, imp.const(0, dtype(c)))
    a = imp.convert(operand(imp, node.args[1], out), out)
    b = imp.convert(operand(imp, node.args[2], out), out)
    result = broadcast_shapes(shape(c), shape(a), shape(b))
    if result is None:
        raise imp.error(f"shapes {shape(c)}, {shape(a)} and {shape(b)} do not broadcast")
    return imp.op1(ew.WhereOp, [c, a, b], tensor(result, out))


@handles("aten.masked_fill.Scalar", "aten.masked_fill.Tensor")
def masked_fill(imp: Importer, node):
    out = imp.out_type()
    x = imp.value(node.args[0])
    c = imp.value(node.args[1])
    v = imp.convert(operand(imp, node.args[2], dtype(out)), dtype(out))
    return imp.op1(ew.WhereOp, [c, v, x], out)


# ---- constants ------------------------------------------------------------------------------------


def _fill(imp: Importer, node, value):
    out = imp.out_type()
    if isinstance(value, bool):
        value = int(value)
    if isinstance(value, float) and math.isinf(value) and dtype(out).startswith("i"):
        return generic(imp, node)
    return imp.const(value, dtype(out), tuple(out.get_shape()))


@handles("aten.full.default", "aten.full_like.default", "aten.new_full.default")
def full(imp: Importer, node):
    return _fill(imp, node, node.args[1])


@handles("aten.zeros.default", "aten.zeros_like.default", "aten.new_zeros.default")
def zeros(imp: Importer, node):
    return _fill(imp, node, 0)


@handles("aten.ones.default", "aten.ones_like.default", "aten.new_ones.default")
def ones(imp: Importer, node):
    return _fill(imp, node, 1)


@handles("aten.scalar_tensor.default")
def scalar_tensor(imp: Importer, node):
    return _fill(imp, node, node.args[0])


@handles("aten.arange.start_step", "aten.arange.default", "aten.arange.start")
def arange(imp: Importer, node):
    args = list(node.args)
    start, step = (
        (0, 1)
        if len(args) == 1
        else (args[0], args[2] if len(args) > 2 else node.kwargs.get("step", 1))
    )
    out = imp.out_type()
    make = int_attr if dtype(out).startswith("i") else float_attr
    props: dict[str, Attribute] = {"start": make(start), "step": make(step)}
    return imp.op1(ew.ArangeOp, [], out, props)
