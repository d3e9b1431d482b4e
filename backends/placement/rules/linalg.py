"""Matmuls (column / row parallel, decided from the dataflow), attention (heads split),
norms, softmax and reductions (their dims stay whole).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING

from xdsl.ir import Operation, SSAValue

from backends.placement.rules.common import _match, same
from backends.placement.specs import (
    AXES,
    REPLICATED,
    Spec,
    Split,
)
from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import shape_ops as sh_ops
from ir.attrs import BACKWARD, phase_of
from ir.enums import ReduceKind
from ir.types import normalize_dim, shape

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder


# ---- matmul ----------------------------------------------------------------------------------
def _blocks(op: Operation) -> int:
    """3 when the output's last dim is cut in 3 equal slices (a fused q, k, v projection)."""
    n = shape(op.results[0])[-1]
    frontier, seen = [op.results[0]], 0
    while frontier and seen < 64:
        v = frontier.pop()
        for use in v.uses:
            user = use.operation
            seen += 1
            if isinstance(user, sh_ops.SliceOp):
                src = shape(user.input)
                dim, start, end, step = user.bounds
                if normalize_dim(dim, len(src)) == len(src) - 1 and step == 1 and end > start:
                    if src[-1] == n and n % (end - start) == 0:
                        return n // (end - start)
            elif isinstance(user, sh_ops.ReshapeOp | bi.AddOp | el.ConvertOp):
                if user.results and shape(user.results[0])[-1:] == (n,):
                    frontier.append(user.results[0])
    return 1


def _matmul_axis(
    sh: Sharder, op: la.MatmulOp, lhs: SSAValue, rhs: SSAValue, axis: str, depth: int = 0
) -> tuple[SSAValue, SSAValue, Split | None, bool]:
    """(lhs, rhs, split of the result, partial sum?) for one axis."""
    ta, tb = op.transposed
    la_, lb = sh.gshape(lhs), sh.gshape(rhs)
    ro = len(shape(op.result))
    lk, lm = (len(la_) - 2, len(la_) - 1) if ta else (len(la_) - 1, len(la_) - 2)
    rk, rn = (len(lb) - 1, len(lb) - 2) if tb else (len(lb) - 2, len(lb) - 1)

    def kind(s: Split | None, k: int, mn: int, rank: int) -> tuple | None:
        if s is None:
            return None
        if s.dim == k:
            return ("K", s.blocks)
        if s.dim == mn:
            return ("MN", s.blocks)
        return ("B", s.dim + (ro - 2) - (rank - 2), s.blocks)

    sl, sr = sh.spec(lhs).get(axis), sh.spec(rhs).get(axis)
    forward = phase_of(op) != BACKWARD
    if axis == "tp" and forward and sr is None and len(lb) == 2 and depth == 0:
        want = None
        if sl is None:
            want = Split(rn, _blocks(op))  # column parallel
        elif sl.dim == lk:
            want = Split(rk, sl.blocks)  # row parallel
        if want is not None and sh.can_split(rhs, axis, want) and sh.decide(rhs, want):
            rhs = sh.need(rhs, axis, want)
            sr = want
    cl, cr = kind(sl, lk, lm, len(la_)), kind(sr, rk, rn, len(lb))
    if cl is None and cr is None:
        return lhs, rhs, None, False
    if cl is not None and cl[0] == "K" or cr is not None and cr[0] == "K":
        if cl is not None and cr is not None and cl == cr:
            return lhs, rhs, None, True
        if cr is None and cl[0] == "K" and sh.can_split(rhs, axis, Split(rk, cl[1])):  # type: ignore[index]
            return lhs, sh.need(rhs, axis, Split(rk, cl[1])), None, True  # type: ignore[index]
        if cl is None and cr[0] == "K" and sh.can_split(lhs, axis, Split(lk, cr[1])):  # type: ignore[index]
            return sh.need(lhs, axis, Split(lk, cr[1])), rhs, None, True  # type: ignore[index]
    elif cl is not None and cl[0] == "MN" and cr is None:
        return lhs, rhs, Split(ro - 2, cl[1]), False
    elif cr is not None and cr[0] == "MN" and cl is None:
        return lhs, rhs, Split(ro - 1, cr[1]), False
    elif cl is not None and cl[0] == "B" and (cr is None or cr == cl):
        d = cl[1] - (ro - 2) + (len(lb) - 2)
        if cr is None and d >= 0 and lb[d] > 1:
            rhs = sh.need(rhs, axis, Split(d, cl[2]))
        return lhs, rhs, Split(cl[1], cl[2]), False
    elif cr is not None and cr[0] == "B" and cl is None:
        d = cr[1] - (ro - 2) + (len(la_) - 2)
        if d >= 0 and la_[d] > 1:
            lhs = sh.need(lhs, axis, Split(d, cr[2]))
        return lhs, rhs, Split(cr[1], cr[2]), False
    # layouts that do not compose: gather the right operand, then the left
    if depth == 0 and sr is not None:
        return _matmul_axis(sh, op, lhs, sh.need(rhs, axis, None), axis, 1)
    return _matmul_axis(sh, op, sh.need(lhs, axis, None), sh.need(rhs, axis, None), axis, 2)


def _split_output(
    sh: Sharder, op: la.MatmulOp, lhs: SSAValue, rhs: SSAValue, want: Split
) -> tuple[SSAValue, SSAValue, Split | None]:
    ta, tb = op.transposed
    ro = len(shape(op.result))
    la_, lb = sh.gshape(lhs), sh.gshape(rhs)
    if want.dim == ro - 2:
        s = Split(len(la_) - 1 if ta else len(la_) - 2, want.blocks)
        if sh.can_split(lhs, "tp", s):
            return sh.need(lhs, "tp", s), rhs, want
    elif want.dim == ro - 1:
        s = Split(len(lb) - 2 if tb else len(lb) - 1, want.blocks)
        if sh.can_split(rhs, "tp", s):
            return lhs, sh.need(rhs, "tp", s), want
    return lhs, rhs, None


def matmul(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    assert isinstance(op, la.MatmulOp)
    lhs, rhs = (sh.complete(a) for a in args)
    spec = REPLICATED
    for axis in AXES:
        if sh.sizes[axis] == 1:
            continue
        lhs, rhs, split, partial = _matmul_axis(sh, op, lhs, rhs, axis)
        want = sh.demand.get(op.result) if axis == "tp" else None
        if split is None and not partial and want is not None:
            # a weight gradient wanted split: compute only this rank's part
            lhs, rhs, split = _split_output(sh, op, lhs, rhs, want)
        spec = spec.put(axis, split)
        if partial and axis == "tp":
            spec = replace(spec, partial="sum")
    return same(sh, op, [lhs, rhs], [spec])


# ---- attention -------------------------------------------------------------------------------
def attention(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Heads split over tensor-parallel ranks (q, k, v alike); the batch over microbatches."""
    backward = isinstance(op, la.AttentionBackwardOp)
    n_main = 5 if backward else 3
    main, mask = [sh.complete(a) for a in args[:n_main]], args[n_main:]
    q_i, k_i = (1, 2) if backward else (0, 1)
    spec = REPLICATED
    for axis, dim in (("tp", 1), ("batch", 0)):
        n = sh.sizes[axis]
        if n == 1:
            continue
        split = any(sh.spec(a).get(axis) == Split(dim) for a in main)
        heads_ok = all(sh.gshape(main[i])[dim] % n == 0 for i in (q_i, k_i))
        want = Split(dim) if split and heads_ok else None
        main = [sh.need(a, axis, want) for a in main]
        mask = [sh.need(m, axis, want if want and sh.gshape(m)[dim] > 1 else None) for m in mask]
        spec = spec.put(axis, want)
    return same(sh, op, main + mask, [spec] * len(op.results))


# ---- normalisation and softmax ---------------------------------------------------------------
def _norm_input(sh: Sharder, x: SSAValue, normalized: set[int]) -> SSAValue:
    x = sh.complete(x)
    for axis in AXES:
        s = sh.spec(x).get(axis)
        if s is not None and s.dim in normalized:
            x = sh.need(x, axis, None)
    return x


def norm(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Layer norm / RMS norm (forward and backward): the normalised dims stay whole."""
    backward = isinstance(op, no.LayerNormBackwardOp)
    x_i = 1 if backward else 0
    rank = len(sh.gshape(args[x_i]))
    ndim = op.ndim.value.data  # type: ignore[attr-defined]
    x = _norm_input(sh, args[x_i], set(range(rank - ndim, rank)))
    spec = sh.spec(x)
    new = list(args)
    new[x_i] = x
    if backward:
        new[0] = _match(sh, args[0], spec)
    for i in range(x_i + 1, len(args)):
        new[i] = sh.need(sh.whole(args[i]), "batch", None) if sh.strict else sh.whole(args[i])
    specs = [Spec(tp=spec.tp, batch=spec.batch)]
    if backward:
        reduced = Spec(partial="sum") if spec.tp is not None else REPLICATED
        specs += [reduced, reduced]
    return same(sh, op, new, specs)


def softmax(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    rank = len(sh.gshape(args[0]))
    dim = normalize_dim(op.dim.value.data, rank)  # type: ignore[attr-defined]
    x = _norm_input(sh, args[-1], {dim})
    spec = sh.spec(x)
    new = [_match(sh, a, spec) for a in args[:-1]] + [x]
    return same(sh, op, new, [spec])


def reduce(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    assert isinstance(op, mi.ReduceOp)
    x = sh.complete(args[0])
    rank = len(sh.gshape(x))
    dims = {normalize_dim(d, rank) for d in op.dims.get_values()}
    keep = op.keepdim is not None
    kind = op.kind.data
    spec = REPLICATED
    for axis in AXES:
        s = sh.spec(x).get(axis)
        if s is None:
            continue
        if s.dim not in dims:
            d = s.dim if keep else s.dim - sum(1 for r in dims if r < s.dim)
            spec = spec.put(axis, Split(d, s.blocks))
        elif axis == "tp" and kind in (
            ReduceKind.SUM,
            ReduceKind.MEAN,
            ReduceKind.MAX,
            ReduceKind.MIN,
        ):
            spec = replace(spec, partial=str(kind))
        elif axis == "tp" or sh.strict:
            x = sh.need(x, axis, None)
    return same(sh, op, [x], [spec])
