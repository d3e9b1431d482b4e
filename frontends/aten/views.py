"""Identity, layout and view ops: copies vanish into value semantics, views become
tfm.reshape / permute / broadcast / slice / concat / pad only when they change the value:

    aten.view(%x, [2, 16, 4, 16])  ->  %v = tfm.reshape %x : (tensor<2x16x64xf32>) -> tensor<2x16x4x16xf32>
    aten.clone(%x)                 ->  %x
"""

from __future__ import annotations

import operator

from xdsl.ir import SSAValue

from frontends.aten.generic import generic
from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import shape_ops as sh
from ir.base import float_attr, int_attr, ints_attr
from ir.types import dtype, normalize_dim, shape, tensor


@handles(
    "aten.clone.default",
    "aten.alias.default",
    "aten.detach.default",
    "aten.contiguous.default",
    "aten.lift_fresh_copy.default",
    "aten.copy.default",
    "aten.dropout.default",
)
def identity(imp: Importer, node):
    src = node.args[1] if str(node.target) == "aten.copy.default" else node.args[0]
    return imp.convert(imp.value(src), imp.out_dtype())


@handles(
    "aten._assert_tensor_metadata.default",
    "aten._assert_async.msg",
    "aten._assert_scalar.default",
    "aten.sym_constrain_range_for_size.default",
)
def drop(imp: Importer, node):
    return None


@handles(
    "aten._to_copy.default",
    "aten.to.dtype",
    "aten._to_dtype.default",
    "aten.to.dtype_layout",
    "aten.to.device",
)
def to_copy(imp: Importer, node):
    return imp.convert(imp.value(node.args[0]), imp.out_dtype())


@handles(
    "aten.view.default",
    "aten.reshape.default",
    "aten._unsafe_view.default",
    "aten.squeeze.dim",
    "aten.squeeze.dims",
    "aten.squeeze.default",
    "aten.unsqueeze.default",
    "aten.flatten.using_ints",
    "aten.view_as.default",
    "aten.unflatten.int",
    "aten._reshape_alias.default",
)
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
    return imp.op1(
        sh.PermuteOp, [x], tensor([s[p] for p in perm], dtype(x)), {"perm": ints_attr(perm)}
    )


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


def slice_value(
    imp: Importer, x: SSAValue, dim: int, start: int, end: int, step: int = 1
) -> SSAValue:
    s = shape(x)
    if start == 0 and end == s[dim] and step == 1:
        return x
    n = len(range(start, end, step))
    out = tensor(s[:dim] + (n,) + s[dim + 1 :], dtype(x))
    props = {
        "dim": int_attr(dim),
        "start": int_attr(start),
        "end": int_attr(end),
        "step": int_attr(step),
    }
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


@handles(
    "aten.split_with_sizes.default",
    "aten.split.Tensor",
    "aten.split_with_sizes_copy.default",
    "aten.unbind.int",
    "aten.chunk.default",
)
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
    return imp.op1(
        sh.ConcatOp,
        xs,
        imp.out_type(),
        {"dim": int_attr(normalize_dim(arg(node, 1, "dim", 0), rank))},
    )


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
    props = {
        "low": ints_attr(low),
        "high": ints_attr(high),
        "value": float_attr(arg(node, 2, "value", 0.0)),
    }
    return imp.op1(sh.PadOp, [x], imp.out_type(), props)


@handles(str(operator.getitem))
def getitem(imp: Importer, node):
    """One result of a multi-output node (None for statistics tfm recomputes; using one is an error)."""
    src, index = node.args
    value = imp.values.get(src)
    if isinstance(value, tuple):
        return value[index]
    raise imp.error(f"cannot index the result of {src.target}")
