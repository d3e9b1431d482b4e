"""Embedding (vocabulary parallel), losses (whole over tensor ranks) and generic ops."""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import IntegerAttr, i64
from xdsl.ir import Operation, SSAValue

from backends.placement.rules.common import _match, replicated, same
from backends.placement.specs import (
    AXES,
    REPLICATED,
    Spec,
    Split,
)
from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import misc_ops as mi
from ir import shape_ops as sh_ops
from ir.dtypes import element_type
from ir.enums import LossReduction
from ir.types import normalize_dim, shape

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder


# ---- embedding -------------------------------------------------------------------------------
def embedding(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    table, ids = args
    ids = sh.whole(ids)
    b = sh.spec(ids).batch
    t = sh.spec(table).tp
    if t == Split(0) and sh.sizes["tp"] > 1:
        return _vocab_parallel(sh, op, table, ids)
    spec = Spec(tp=Split(len(shape(op.results[0])) - 1) if t == Split(1) else None, batch=b)
    if t is not None and t != Split(1):
        table = sh.whole(table)
    return same(sh, op, [table, ids], [spec])


def _vocab_parallel(sh: Sharder, op: Operation, table: SSAValue, ids: SSAValue) -> list[SSAValue]:
    """This rank's rows of a vocabulary-split table; other ids look up row 0 and are zeroed."""
    n = sh.sizes["tp"]
    rows = sh.gshape(table)[0] // n
    ids_spec = Spec(batch=sh.spec(ids).batch)
    gs_ids, i64e = sh.gshape(ids), element_type("i64")
    i1e = element_type("i1")
    (offsets,) = sh.emit(
        el.ArangeOp,
        [],
        [((n,), i64e, REPLICATED)],
        {"start": IntegerAttr(0, i64), "step": IntegerAttr(rows, i64)},
    )
    offset = sh.need(offsets, "tp", Split(0))
    sh.info[offset] = ((1,), REPLICATED)  # this rank's offset: a different number per rank
    (local,) = sh.emit(bi.SubOp, [ids, offset], [(gs_ids, i64e, ids_spec)])
    (zero,) = sh.emit(el.ConstantOp, [], [((), i64e, REPLICATED)], {"value": IntegerAttr(0, i64)})
    (limit,) = sh.emit(
        el.ConstantOp, [], [((), i64e, REPLICATED)], {"value": IntegerAttr(rows, i64)}
    )
    (ge,) = sh.emit(bi.GeOp, [local, zero], [(gs_ids, i1e, ids_spec)])
    (lt,) = sh.emit(bi.LtOp, [local, limit], [(gs_ids, i1e, ids_spec)])
    (inside,) = sh.emit(bi.AndOp, [ge, lt], [(gs_ids, i1e, ids_spec)])
    (safe,) = sh.emit(el.WhereOp, [inside, local, zero], [(gs_ids, i64e, ids_spec)])
    out_shape = shape(op.results[0])
    elem = sh.elem(table)
    (rows_out,) = sh.emit(mi.EmbeddingOp, [table, safe], [(out_shape, elem, ids_spec)])
    (maskf,) = sh.emit(el.ConvertOp, [inside], [(gs_ids, elem, ids_spec)])
    (mask,) = sh.emit(sh_ops.ReshapeOp, [maskf], [((*gs_ids, 1), elem, ids_spec)])
    (out,) = sh.emit(
        bi.MulOp, [rows_out, mask], [(out_shape, elem, replace(ids_spec, partial="sum"))]
    )
    sh.vocab[ids] = (safe, mask, rows)
    return [out]


def embedding_backward(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    grad, ids = sh.complete(args[0]), sh.whole(args[1])
    padding = op.padding_idx.value.data  # type: ignore[attr-defined]
    if ids in sh.vocab and padding < 0:
        safe, mask, rows = sh.vocab[ids]
        grad = _match(sh, grad, Spec(batch=sh.spec(ids).batch))
        (masked,) = sh.emit(
            bi.MulOp, [grad, mask], [(sh.gshape(grad), sh.elem(grad), sh.spec(grad))]
        )
        return same(sh, op, [masked, safe], [Spec(tp=Split(0))])
    spec = REPLICATED
    g = sh.spec(grad).tp
    if g is not None and g.dim == len(sh.gshape(grad)) - 1:
        spec = Spec(tp=Split(1, g.blocks))
    else:
        grad = sh.whole(grad)
    grad = _match(sh, grad, Spec(tp=sh.spec(grad).tp, batch=sh.spec(ids).batch))
    return same(sh, op, [grad, ids], [spec])


# ---- generic ops with known layouts ---------------------------------------------------------
def slice_scatter(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """`aten.slice_scatter(base, src, dim, start, end)` (RoPE's backward): elementwise off `dim`."""
    if len(args) != 2:
        return replicated(sh, op, args)
    refs = op.args.data  # type: ignore[attr-defined]
    rank = len(sh.gshape(args[0]))
    dim = normalize_dim(refs[2].value.data, rank) if len(refs) > 2 else 0
    base, src = (sh.complete(a) for a in args)
    spec = REPLICATED
    for axis in AXES:
        s = sh.spec(src).get(axis) or sh.spec(base).get(axis)
        if s is not None and s.dim == dim:
            s = None
        base, src = sh.need(base, axis, s), sh.need(src, axis, s)
        spec = spec.put(axis, s)
    return same(sh, op, [base, src], [spec])


def generic(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    if op.target.data == "aten.slice_scatter.default":  # type: ignore[attr-defined]
        return slice_scatter(sh, op, args)
    return replicated(sh, op, args)


# ---- losses ----------------------------------------------------------------------------------
def loss(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Whole over tensor-parallel ranks; the batch (dim 0 of scores and labels) stays split."""
    new = [sh.whole(a) for a in args]
    backward = isinstance(op, mi.NllLossBackwardOp)
    scores = 1 if backward else 0
    b = sh.spec(new[scores]).batch
    want = Split(0) if b is not None and b.dim == 0 else None
    new = [
        sh.need(a, "batch", want if i >= scores and len(sh.gshape(a)) >= 1 else None)
        for i, a in enumerate(new)
    ]
    keeps = backward or op.reduction.data == LossReduction.NONE  # type: ignore[attr-defined]
    return same(sh, op, new, [Spec(batch=want if keeps else None)])
