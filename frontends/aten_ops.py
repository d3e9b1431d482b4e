"""ATen op -> tfm op translation table used by `fx_import`.

Each handler gets the importer and the fx node and returns the SSA value (or a tuple of
values for multi-output ATen ops). Views and copies return their input unchanged.
"""

from __future__ import annotations

import math

import torch
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr, UnitAttr
from xdsl.ir import Attribute, SSAValue

from frontends.fx_import import Importer
from ir import elementwise_ops as ew
from ir import linalg_ops as la
from ir import misc_ops as misc
from ir import norm_ops as nm
from ir import shape_ops as sh
from ir.base import float_attr, int_attr, ints_attr
from ir.dtypes import promote
from ir.enums import (
    GeluApproximation,
    GeluApproximationAttr,
    LossReduction,
    LossReductionAttr,
    ReduceKind,
    ReduceKindAttr,
)
from ir.errors import TandemError
from ir.generic_op import GenericOp, encode
from ir.types import broadcast_shapes, dtype, normalize_dim, shape, tensor

H: dict[str, object] = {}


def handles(*names: str):
    def register(fn):
        for n in names:
            H[n] = fn
        return fn

    return register


def arg(node: torch.fx.Node, i: int, name: str, default=None):
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)


# ---- identity, views and layout -----------------------------------------------------------------

@handles("aten.clone.default", "aten.alias.default", "aten.detach.default", "aten.contiguous.default",
         "aten.lift_fresh_copy.default", "aten.copy.default", "aten.dropout.default")
def identity(imp: Importer, node):
    src = node.args[1] if str(node.target) == "aten.copy.default" else node.args[0]
    return imp.convert(imp.value(src), imp.out_dtype())


@handles("aten._assert_tensor_metadata.default", "aten._assert_async.msg", "aten._assert_scalar.default",
         "aten.sym_constrain_range_for_size.default")
def drop(imp: Importer, node):
    return None


@handles("aten._to_copy.default", "aten.to.dtype", "aten._to_dtype.default", "aten.to.dtype_layout", "aten.to.device")
def to_copy(imp: Importer, node):
    return imp.convert(imp.value(node.args[0]), imp.out_dtype())


@handles("aten.view.default", "aten.reshape.default", "aten._unsafe_view.default", "aten.squeeze.dim",
         "aten.squeeze.dims", "aten.squeeze.default", "aten.unsqueeze.default", "aten.flatten.using_ints",
         "aten.view_as.default", "aten.unflatten.int", "aten._reshape_alias.default")
def reshape(imp: Importer, node):
    x = imp.value(node.args[0])
    out = imp.out_type()
    if x.type == out:
        return x
    return imp.op1(sh.ReshapeOp, [x], out)


def permute_value(imp: Importer, x: SSAValue, perm: list[int]) -> SSAValue:
    if perm == list(range(len(perm))):
        return x
    s = shape(x)
    return imp.op1(sh.PermuteOp, [x], tensor([s[p] for p in perm], dtype(x)), {"perm": ints_attr(perm)})


@handles("aten.permute.default")
def permute(imp: Importer, node):
    x = imp.value(node.args[0])
    return permute_value(imp, x, [normalize_dim(d, len(shape(x))) for d in node.args[1]])


@handles("aten.t.default", "aten.transpose.int", "aten.numpy_T.default")
def transpose(imp: Importer, node):
    x = imp.value(node.args[0])
    rank = len(shape(x))
    if rank < 2:
        return x
    a, b = (0, 1) if str(node.target) != "aten.transpose.int" else node.args[1:3]
    a, b = normalize_dim(a, rank), normalize_dim(b, rank)
    perm = list(range(rank))
    perm[a], perm[b] = perm[b], perm[a]
    return permute_value(imp, x, perm)


@handles("aten.expand.default", "aten.expand_as.default", "aten.broadcast_to.default")
def expand(imp: Importer, node):
    x = imp.value(node.args[0])
    out = imp.out_type()
    return x if x.type == out else imp.op1(sh.BroadcastOp, [x], out)


def slice_value(imp: Importer, x: SSAValue, dim: int, start: int, end: int, step: int = 1) -> SSAValue:
    s = shape(x)
    if start == 0 and end == s[dim] and step == 1:
        return x
    n = len(range(start, end, step))
    out = tensor(s[:dim] + (n,) + s[dim + 1:], dtype(x))
    props = {"dim": int_attr(dim), "start": int_attr(start), "end": int_attr(end), "step": int_attr(step)}
    return imp.op1(sh.SliceOp, [x], out, props)


def _clamp(v, size: int, default: int) -> int:
    if v is None:
        return default
    v = int(v)
    if v < 0:
        v += size
    return max(0, min(v, size))


@handles("aten.slice.Tensor")
def slice_(imp: Importer, node):
    x = imp.value(node.args[0])
    s = shape(x)
    dim = normalize_dim(arg(node, 1, "dim", 0), len(s))
    start = _clamp(arg(node, 2, "start"), s[dim], 0)
    end = max(start, _clamp(arg(node, 3, "end"), s[dim], s[dim]))
    return slice_value(imp, x, dim, start, end, int(arg(node, 4, "step", 1)))


@handles("aten.select.int")
def select(imp: Importer, node):
    x = imp.value(node.args[0])
    s = shape(x)
    dim = normalize_dim(node.args[1], len(s))
    i = _clamp(node.args[2], s[dim], 0)
    y = slice_value(imp, x, dim, i, i + 1)
    return imp.op1(sh.ReshapeOp, [y], imp.out_type())


@handles("aten.split_with_sizes.default", "aten.split.Tensor", "aten.split_with_sizes_copy.default",
         "aten.unbind.int", "aten.chunk.default")
def split(imp: Importer, node):
    x = imp.value(node.args[0])
    s = shape(x)
    target = str(node.target)
    dim_i = 1 if target.startswith("aten.unbind") else 2
    dim = normalize_dim(arg(node, dim_i, "dim", 0), len(s))
    outs, start = [], 0
    for i, val in enumerate(node.meta["val"]):
        size = int(val.shape[dim]) if not target.startswith("aten.unbind") else 1
        part = slice_value(imp, x, dim, start, start + size)
        if target.startswith("aten.unbind"):
            part = imp.op1(sh.ReshapeOp, [part], imp.out_type(i))
        outs.append(part)
        start += size
    return tuple(outs)


@handles("aten.cat.default", "aten.concat.default")
def cat(imp: Importer, node):
    xs = [imp.value(a) for a in node.args[0] if a is not None]
    xs = [imp.convert(x, imp.out_dtype()) for x in xs if 0 not in shape(x) or len(xs) == 1]
    if len(xs) == 1:
        return xs[0]
    rank = len(shape(xs[0]))
    return imp.op1(sh.ConcatOp, xs, imp.out_type(), {"dim": int_attr(normalize_dim(arg(node, 1, "dim", 0), rank))})


@handles("aten.constant_pad_nd.default")
def pad(imp: Importer, node):
    x = imp.value(node.args[0])
    spec = list(node.args[1])
    rank = len(shape(x))
    low, high = [0] * rank, [0] * rank
    for i in range(len(spec) // 2):
        low[rank - 1 - i], high[rank - 1 - i] = spec[2 * i], spec[2 * i + 1]
    if any(v < 0 for v in low + high):
        return generic(imp, node)
    props = {"low": ints_attr(low), "high": ints_attr(high), "value": float_attr(arg(node, 2, "value", 0.0))}
    return imp.op1(sh.PadOp, [x], imp.out_type(), props)


def _getitem(imp: Importer, node):
    src, index = node.args
    value = imp.values.get(src)
    if isinstance(value, tuple):
        return value[index]  # None for statistics tfm recomputes; using one is an error
    raise imp.error(f"cannot index the result of {src.target}")


H["<built-in function getitem>"] = _getitem


# ---- matmul ---------------------------------------------------------------------------------------

def matmul_value(imp: Importer, a: SSAValue, b: SSAValue, out_dtype: str) -> SSAValue:
    sa, sb = shape(a), shape(b)
    squeeze_a, squeeze_b = len(sa) == 1, len(sb) == 1
    if squeeze_a:
        a = imp.op1(sh.ReshapeOp, [a], tensor((1, sa[0]), dtype(a)))
    if squeeze_b:
        b = imp.op1(sh.ReshapeOp, [b], tensor((sb[0], 1), dtype(b)))
    batch, m, n, _, _ = la.matmul_dims(shape(a), shape(b), False, False)
    y = imp.op1(la.MatmulOp, [a, b], tensor((*batch, m, n), dtype(a)))
    if squeeze_a or squeeze_b:
        final = (*batch, *(() if squeeze_a else (m,)), *(() if squeeze_b else (n,)))
        y = imp.op1(sh.ReshapeOp, [y], tensor(final, dtype(y)))
    return imp.convert(y, out_dtype)


@handles("aten.mm.default", "aten.bmm.default", "aten.matmul.default")
def mm(imp: Importer, node):
    return matmul_value(imp, imp.value(node.args[0]), imp.value(node.args[1]), imp.out_dtype())


@handles("aten.addmm.default", "aten.baddbmm.default")
def addmm(imp: Importer, node):
    bias, a, b = (imp.value(x) for x in node.args[:3])
    beta, alpha = node.kwargs.get("beta", 1), node.kwargs.get("alpha", 1)
    y = matmul_value(imp, a, b, dtype(a))
    if alpha != 1:
        y = binary_value(imp, ew.MulOp, y, imp.const(alpha, dtype(y)))
    if beta != 0:
        if beta != 1:
            bias = binary_value(imp, ew.MulOp, bias, imp.const(beta, dtype(bias)))
        y = binary_value(imp, ew.AddOp, y, bias)
    return imp.convert(y, imp.out_dtype())


@handles("aten.linear.default")
def linear(imp: Importer, node):
    x, w = imp.value(node.args[0]), imp.value(node.args[1])
    b = arg(node, 2, "bias")
    sx, sw = shape(x), shape(w)
    y = imp.op1(la.MatmulOp, [x, w], tensor((*sx[:-1], sw[0]), dtype(x)), {"transpose_rhs": UnitAttr()})
    if b is not None:
        y = binary_value(imp, ew.AddOp, y, imp.value(b))
    return imp.convert(y, imp.out_dtype())


# ---- elementwise ----------------------------------------------------------------------------------

def operand(imp: Importer, a, like: str) -> SSAValue:
    """A tensor argument or a Python scalar as a rank-0 constant of dtype `like`."""
    if isinstance(a, torch.fx.Node):
        return imp.value(a)
    return imp.const(a, like)


def binary_value(imp: Importer, cls, a: SSAValue, b: SSAValue, out: str | None = None) -> SSAValue:
    common = promote(dtype(a), dtype(b))
    a, b = imp.convert(a, common), imp.convert(b, common)
    s = broadcast_shapes(shape(a), shape(b))
    if s is None:
        raise imp.error(f"shapes {shape(a)} and {shape(b)} do not broadcast")
    res = "i1" if issubclass(cls, ew.CompareOp) else common
    y = imp.op1(cls, [a, b], tensor(s, res))
    return y if out is None else imp.convert(y, out)


def _binary_handler(cls):
    def handle(imp: Importer, node):
        out = imp.out_dtype()
        a_node, b_node = node.args[0], node.args[1]
        like = out if not issubclass(cls, ew.CompareOp) else None
        if like is None:
            tensor_arg = a_node if isinstance(a_node, torch.fx.Node) else b_node
            like = dtype(imp.value(tensor_arg))
        a, b = operand(imp, a_node, like), operand(imp, b_node, like)
        alpha = node.kwargs.get("alpha", 1)
        if alpha != 1:
            b = binary_value(imp, ew.MulOp, b, imp.const(alpha, dtype(b)))
        if not issubclass(cls, ew.CompareOp):  # compute in the result dtype (i64 / i64 -> f32 divides in f32)
            a, b = imp.convert(a, out), imp.convert(b, out)
        return binary_value(imp, cls, a, b, out)

    return handle


for _names, _cls in [
    (("aten.add.Tensor", "aten.add.Scalar"), ew.AddOp),
    (("aten.sub.Tensor", "aten.sub.Scalar"), ew.SubOp),
    (("aten.mul.Tensor", "aten.mul.Scalar"), ew.MulOp),
    (("aten.div.Tensor", "aten.div.Scalar"), ew.DivOp),
    (("aten.pow.Tensor_Scalar", "aten.pow.Tensor_Tensor", "aten.pow.Scalar"), ew.PowOp),
    (("aten.maximum.default", "aten.clamp_min.default"), ew.MaxOp),
    (("aten.minimum.default", "aten.clamp_max.default"), ew.MinOp),
    (("aten.bitwise_and.Tensor", "aten.logical_and.default", "aten.bitwise_and.Scalar", "aten.__and__.Tensor"),
     ew.AndOp),
    (("aten.bitwise_or.Tensor", "aten.logical_or.default", "aten.bitwise_or.Scalar", "aten.__or__.Tensor"), ew.OrOp),
    (("aten.eq.Tensor", "aten.eq.Scalar"), ew.EqOp),
    (("aten.ne.Tensor", "aten.ne.Scalar"), ew.NeOp),
    (("aten.lt.Tensor", "aten.lt.Scalar"), ew.LtOp),
    (("aten.le.Tensor", "aten.le.Scalar"), ew.LeOp),
    (("aten.gt.Tensor", "aten.gt.Scalar"), ew.GtOp),
    (("aten.ge.Tensor", "aten.ge.Scalar"), ew.GeOp),
]:
    handles(*_names)(_binary_handler(_cls))


@handles("aten.rsub.Scalar")
def rsub(imp: Importer, node):
    out = imp.out_dtype()
    x = imp.convert(imp.value(node.args[0]), out)
    alpha = node.kwargs.get("alpha", 1)
    if alpha != 1:
        x = binary_value(imp, ew.MulOp, x, imp.const(alpha, out))
    return binary_value(imp, ew.SubOp, imp.const(node.args[1], out), x, out)


@handles("aten.clamp.default")
def clamp(imp: Importer, node):
    out = imp.out_dtype()
    x = imp.convert(imp.value(node.args[0]), out)
    lo, hi = arg(node, 1, "min"), arg(node, 2, "max")
    if lo is not None:
        x = binary_value(imp, ew.MaxOp, x, imp.const(lo, out))
    if hi is not None:
        x = binary_value(imp, ew.MinOp, x, imp.const(hi, out))
    return x


_UNARY = {
    "aten.silu.default": ew.SiluOp, "aten.relu.default": ew.ReluOp, "aten.tanh.default": ew.TanhOp,
    "aten.sigmoid.default": ew.SigmoidOp, "aten.exp.default": ew.ExpOp, "aten.log.default": ew.LogOp,
    "aten.sqrt.default": ew.SqrtOp, "aten.rsqrt.default": ew.RsqrtOp, "aten.neg.default": ew.NegOp,
    "aten.abs.default": ew.AbsOp, "aten.erf.default": ew.ErfOp, "aten.reciprocal.default": ew.ReciprocalOp,
    "aten.sin.default": ew.SinOp, "aten.cos.default": ew.CosOp, "aten.bitwise_not.default": ew.NotOp,
    "aten.logical_not.default": ew.NotOp,
}


def _unary_handler(cls):
    def handle(imp: Importer, node):
        out = imp.out_type()
        x = imp.value(node.args[0])
        if cls is ew.NotOp and dtype(x) != "i1" and dtype(out) == "i1":
            x = binary_value(imp, ew.NeOp, x, imp.const(0, dtype(x)))
        x = imp.convert(x, dtype(out))
        return imp.op1(cls, [x], out)

    return handle


for _name, _cls in _UNARY.items():
    H[_name] = _unary_handler(_cls)


@handles("aten.gelu.default")
def gelu(imp: Importer, node):
    x = imp.value(node.args[0])
    approx = node.kwargs.get("approximate", arg(node, 1, "approximate", "none"))
    return imp.op1(ew.GeluOp, [x], imp.out_type(), {"approximate": GeluApproximationAttr(GeluApproximation(approx)) if approx != "none" else None})


@handles("aten.where.self", "aten.where.ScalarOther", "aten.where.ScalarSelf", "aten.where.Scalar")
def where(imp: Importer, node):
    out = imp.out_dtype()
    c = imp.value(node.args[0])
    if dtype(c) != "i1":
        c = binary_value(imp, ew.NeOp, c, imp.const(0, dtype(c)))
    a = imp.convert(operand(imp, node.args[1], out), out)
    b = imp.convert(operand(imp, node.args[2], out), out)
    return imp.op1(ew.WhereOp, [c, a, b], tensor(broadcast_shapes(shape(c), shape(a), shape(b)), out))


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
    start, step = (0, 1) if len(args) == 1 else (args[0], args[2] if len(args) > 2 else node.kwargs.get("step", 1))
    out = imp.out_type()
    is_int = dtype(out).startswith("i")
    conv = int if is_int else float
    from xdsl.dialects.builtin import IntegerAttr, i64

    mk = (lambda v: IntegerAttr(int(v), i64)) if is_int else float_attr
    return imp.op1(ew.ArangeOp, [], out, {"start": mk(conv(start)), "step": mk(conv(step))})


# ---- reductions, softmax, norms -------------------------------------------------------------------

def reduce_value(imp: Importer, x: SSAValue, kind: str, dims: list[int], keepdim: bool, out) -> SSAValue:
    rank = len(shape(x))
    dims = sorted({normalize_dim(d, rank) for d in dims}) if dims else list(range(rank))
    x = imp.convert(x, dtype(out)) if kind not in ("any", "all") else x
    props = {"kind": ReduceKindAttr(ReduceKind(kind)), "dims": ints_attr(dims), "keepdim": UnitAttr() if keepdim else None}
    return imp.op1(misc.ReduceOp, [x], out, props)


def _reduce_handler(kind: str):
    def handle(imp: Importer, node):
        x = imp.value(node.args[0])
        dims = arg(node, 1, "dim")
        if isinstance(dims, int):
            dims = [dims]
        if dims is None or isinstance(dims, torch.dtype):
            dims = []
        keep = bool(arg(node, 2, "keepdim", False))
        return reduce_value(imp, x, kind, list(dims), keep, imp.out_type())

    return handle


for _names, _kind in [
    (("aten.sum.dim_IntList", "aten.sum.default"), "sum"),
    (("aten.mean.dim", "aten.mean.default"), "mean"),
    (("aten.amax.default",), "max"),
    (("aten.amin.default",), "min"),
    (("aten.any.dim", "aten.any.dims", "aten.any.default"), "any"),
    (("aten.all.dim", "aten.all.dims", "aten.all.default"), "all"),
    (("aten.prod.dim_int", "aten.prod.default"), "prod"),
]:
    handles(*_names)(_reduce_handler(_kind))


@handles("aten._softmax.default", "aten.softmax.int", "aten._log_softmax.default", "aten.log_softmax.int")
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
    nshape = shape(x)[len(shape(x)) - ndim:]
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


def _getitem_source(node):
    """The multi-output fx node a getitem reads from (where saved statistics come from)."""
    return node.args[0] if str(node.target) == "<built-in function getitem>" else None


@handles("aten.native_layer_norm_backward.default")
def layer_norm_backward(imp: Importer, node):
    g, x = imp.value(node.args[0]), imp.value(node.args[1])
    ndim = len(node.args[2])
    fwd = _getitem_source(node.args[3])
    if fwd is None or "layer_norm" not in str(fwd.target):
        raise imp.error("layer-norm statistics do not come from a layer_norm op")
    eps = arg(fwd, 4, "eps", 1e-5)
    w, b = _norm_params(imp, x, arg(node, 5, "weight"), arg(node, 6, "bias"), ndim)
    op = imp.emit(nm.LayerNormBackwardOp, [g, x, w, b], [x.type, w.type, b.type],
                  {"eps": float_attr(eps), "ndim": int_attr(ndim)})
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
        return imp.op1(nm.GeluBackwardOp, [g, x], x.type,
                       {"approximate": GeluApproximationAttr(GeluApproximation(approx)) if approx != "none" else None})
    return imp.op1(nm.SiluBackwardOp, [g, x], x.type)


# ---- embedding, attention, losses, dropout ---------------------------------------------------------

@handles("aten.embedding.default")
def embedding(imp: Importer, node):
    return imp.op1(misc.EmbeddingOp, [imp.value(node.args[0]), imp.value(node.args[1])], imp.out_type())


@handles("aten.embedding_dense_backward.default")
def embedding_backward(imp: Importer, node):
    g, ids = imp.value(node.args[0]), imp.value(node.args[1])
    if arg(node, 4, "scale_grad_by_freq", False):
        return generic(imp, node)
    return imp.op1(misc.EmbeddingBackwardOp, [g, ids], imp.out_type(), {"padding_idx": int_attr(node.args[3])})


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
    props = _attention_props(q, arg(node, 5, "is_causal", False), node.kwargs.get("scale", arg(node, 6, "scale")))
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
    if arg(node, 2, "weight") is not None or arg(node, 5, "label_smoothing", 0.0) or len(shape(x)) != 2:
        return generic(imp, node)
    props = {"reduction": _reduction(arg(node, 3, "reduction", 1)),
             "ignore_index": int_attr(arg(node, 4, "ignore_index", -100))}
    return imp.op1(misc.CrossEntropyOp, [x, t], imp.out_type(), props)


@handles("aten.native_dropout.default")
def dropout(imp: Importer, node):
    x = imp.value(node.args[0])
    p, train = node.args[1], node.args[2]
    if not train or p == 0:
        return (x, None)
    return (imp.op1(misc.DropoutOp, [x], x.type, {"p": float_attr(p)}), None)


# ---- higher-order ops ------------------------------------------------------------------------------

@handles("wrap_with_set_grad_enabled", "wrap_with_autocast")
def inline_submodule(imp: Importer, node):
    """Inline the submodule a higher-order op wraps (grad-mode and autocast regions)."""
    from frontends.fx_import import translate_nodes

    first = 1 if str(node.target) == "wrap_with_set_grad_enabled" else 4
    sub_node = node.args[first]
    sub = getattr(node.graph.owning_module, sub_node.target)
    places = list(sub.graph.find_nodes(op="placeholder"))
    for p, a in zip(places, node.args[first + 1:], strict=True):
        imp.values[p] = imp.values[a] if isinstance(a, torch.fx.Node) else a
    outer = imp.node
    translate_nodes(imp, sub.graph)
    imp.node = outer
    out = next(iter(sub.graph.find_nodes(op="output"))).args[0]
    outs = out if isinstance(out, list | tuple) else (out,)
    return tuple(imp.values.get(o) if isinstance(o, torch.fx.Node) else None for o in outs)


# ---- fallback -------------------------------------------------------------------------------------

def generic(imp: Importer, node):
    """Keep an ATen op we have no tfm op for; the interpreter runs it through torch.ops."""
    if not isinstance(node.target, torch._ops.OpOverload):
        raise imp.error("is not an ATen operator and cannot be imported")
    operands: list[SSAValue] = []

    def operand(a) -> int | None:
        if not isinstance(a, torch.fx.Node):
            return None
        v = imp.values.get(a)
        if not isinstance(v, SSAValue):
            raise imp.error(f"argument {a.name} is not a single tensor")
        operands.append(v)
        return len(operands) - 1

    def record(a) -> Attribute:
        if isinstance(a, torch.device | torch.layout | torch.memory_format):
            return UnitAttr()
        if isinstance(a, list | tuple) and not isinstance(a, torch.fx.Node):
            return ArrayAttr([record(x) for x in a])
        try:
            return encode(a, operand)
        except TandemError as exc:
            raise imp.error(str(exc)) from None

    args = record(list(node.args))
    kwargs = DictionaryAttr({k: record(v) for k, v in node.kwargs.items()
                             if k not in ("device", "layout", "pin_memory", "memory_format")})
    val = node.meta.get("val")
    vals = list(val) if isinstance(val, list | tuple) else [val]
    from frontends.fx_import import torch_type

    types = [torch_type(v) for v in vals if isinstance(v, torch.Tensor)]
    if len(types) != len(vals):
        raise imp.error("has non-tensor results and cannot be imported")
    op = imp.emit(GenericOp, operands, types,
                  {"target": StringAttr(str(node.target)), "args": args, "kwargs": kwargs})
    return op.results[0] if not isinstance(val, list | tuple) else tuple(op.results)


HANDLERS = H
