"""Per-op sharding rules: given the new operands (with their layouts), emit the op for one rank.

Each rule brings its operands to layouts the op can compute on (`Sharder.need`: split, gather
or complete a partial sum), emits the op with each rank's shapes and returns its results.
`apply` dispatches on the op class; unknown ops (and `tfm.generic`) run replicated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import IntegerAttr, TensorType, i64
from xdsl.ir import Attribute, Operation, SSAValue

from backends.placement.specs import (
    AXES,
    REPLICATED,
    Spec,
    Split,
    map_broadcast,
    map_permute,
    map_reshape,
    map_slice,
)
from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import shape_ops as sh_ops
from ir import unary_ops as un
from ir.attrs import BACKWARD, phase_of
from ir.base import int_attr
from ir.dtypes import element_type
from ir.enums import LossReduction, ReduceKind
from ir.generic_op import GenericOp
from ir.types import normalize_dim, shape

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder

Rule = Callable[["Sharder", Operation, list[SSAValue]], list[SSAValue]]


def _outs(op: Operation, specs: list[Spec]) -> list[tuple[tuple[int, ...], Attribute, Spec]]:
    out = []
    for r, sp in zip(op.results, specs, strict=True):
        t = r.type
        assert isinstance(t, TensorType)
        out.append((shape(r), t.element_type, sp))
    return out


def same(sh: Sharder, op: Operation, args: list[SSAValue], specs: list[Spec], **props) -> list:
    """Emit `op` again on `args` with its properties (some replaced) and result layouts."""
    p = dict(op.properties)
    p.update(props)
    return sh.emit(type(op), args, _outs(op, specs), p)


# ---- replicated fallback ---------------------------------------------------------------------
def replicated(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Gather every operand; the results are whole on every rank (and every microbatch)."""
    new = [sh.whole(a) for a in args]
    if sh.strict:
        new = [sh.need(a, "batch", None) for a in new]
    return same(sh, op, new, [REPLICATED] * len(op.results))


# ---- elementwise -----------------------------------------------------------------------------
def elementwise(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Numpy broadcasting: operands follow the split of the first split operand."""
    out_shape = shape(op.results[0])
    rank = len(out_shape)
    spec = REPLICATED
    args = [sh.complete(a) for a in args]
    for axis in AXES:
        if sh.sizes[axis] == 1:
            continue
        choice = None
        for a in args:
            s = sh.spec(a).get(axis)
            gs = sh.gshape(a)
            if s is not None and gs[s.dim] == out_shape[s.dim + rank - len(gs)]:
                choice = Split(s.dim + rank - len(gs), s.blocks)
                break
        for i, a in enumerate(args):
            gs = sh.gshape(a)
            want = None
            if choice is not None:
                d = choice.dim - (rank - len(gs))
                if d >= 0 and gs[d] == out_shape[choice.dim]:
                    want = Split(d, choice.blocks)
            if want is not None and sh.spec(a).get(axis) is None and axis == "tp":
                sh.decide(a, want)  # a bias added to a split output is split with it
            args[i] = sh.need(a, axis, want)
        spec = spec.put(axis, choice)
    return same(sh, op, args, [spec] * len(op.results))


# ---- views -----------------------------------------------------------------------------------
def _follow(
    sh: Sharder, a: SSAValue, mapper: Callable[[Split, int], Split | None]
) -> tuple[SSAValue, Spec]:
    """Map each axis's split through a view; gather the axes that cannot follow."""
    a = sh.complete(a)
    spec = REPLICATED
    for axis in AXES:
        s = sh.spec(a).get(axis)
        if s is None:
            continue
        m = mapper(s, sh.sizes[axis])
        if m is None:
            a = sh.need(a, axis, None)
        spec = spec.put(axis, m)
    return a, spec


def reshape(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src, dst = sh.gshape(args[0]), shape(op.results[0])
    a, spec = _follow(sh, args[0], lambda s, n: map_reshape(src, dst, s, n))
    return same(sh, op, [a], [spec])


def permute(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    perm = tuple(op.permutation)  # type: ignore[attr-defined]
    a, spec = _follow(sh, args[0], lambda s, n: map_permute(perm, s))
    return same(sh, op, [a], [spec])


def broadcast(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src, dst = sh.gshape(args[0]), shape(op.results[0])
    a, spec = _follow(sh, args[0], lambda s, n: map_broadcast(src, dst, s))
    return same(sh, op, [a], [spec])


def slice_(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src = sh.gshape(args[0])
    bounds = op.bounds  # type: ignore[attr-defined]
    dim = normalize_dim(bounds[0], len(src))
    a = sh.complete(args[0])
    spec = REPLICATED
    props: dict[str, Attribute] = {}
    for axis in AXES:
        s = sh.spec(a).get(axis)
        if s is None or s.dim != dim:
            spec = spec.put(axis, s)
            continue
        m = map_slice(src, s, bounds, sh.sizes[axis])
        if m is None:
            a = sh.need(a, axis, None)
            continue
        spec = spec.put(axis, m[0])
        props = {"start": int_attr(m[1]), "end": int_attr(m[2])}
    return same(sh, op, [a], [spec], **props)


def concat(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    dim = normalize_dim(op.dim.value.data, len(shape(op.results[0])))  # type: ignore[attr-defined]
    args = [sh.complete(a) for a in args]
    spec = REPLICATED
    for axis in AXES:
        splits = {sh.spec(a).get(axis) for a in args}
        if splits == {None}:
            continue
        first = next(iter(splits))
        if len(splits) == 1 and first is not None and first.dim != dim:
            spec = spec.put(axis, first)
            continue
        sizes = {sh.gshape(a)[dim] for a in args}
        if (
            len(splits) == 1
            and first is not None
            and first.blocks == 1
            and len(sizes) == 1
            and all(sh.can_split(a, axis, first) for a in args)
        ):
            spec = spec.put(axis, Split(dim, len(args)))
            continue
        args = [sh.need(a, axis, None) for a in args]
    return same(sh, op, args, [spec])


def pad(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    low, high = op.low.get_values(), op.high.get_values()  # type: ignore[attr-defined]
    padded = {i for i, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo or hi}
    a, spec = _follow(sh, args[0], lambda s, n: None if s.dim in padded else s)
    return same(sh, op, [a], [spec])


def constant(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    return same(sh, op, args, [REPLICATED] * len(op.results))


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


def _match(sh: Sharder, v: SSAValue, spec: Spec) -> SSAValue:
    for axis in AXES:
        v = sh.need(v, axis, spec.get(axis))
    return v


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


RULES: list[tuple[type | tuple[type, ...], Rule]] = [
    (la.MatmulOp, matmul),
    ((la.AttentionOp, la.AttentionBackwardOp), attention),
    ((no.LayerNormOp, no.LayerNormBackwardOp, no.RmsNormOp), norm),
    ((no.SoftmaxOp, no.LogSoftmaxOp, no.SoftmaxBackwardOp, no.LogSoftmaxBackwardOp), softmax),
    (sh_ops.ReshapeOp, reshape),
    (sh_ops.PermuteOp, permute),
    (sh_ops.BroadcastOp, broadcast),
    (sh_ops.SliceOp, slice_),
    (sh_ops.ConcatOp, concat),
    (sh_ops.PadOp, pad),
    ((el.ConstantOp, el.ArangeOp), constant),
    (
        (
            bi.BinaryOp,
            un.UnaryOp,
            el.WhereOp,
            el.ConvertOp,
            mi.DropoutOp,
            no.GeluBackwardOp,
            no.SiluBackwardOp,
        ),
        elementwise,
    ),
    (mi.ReduceOp, reduce),
    (mi.EmbeddingOp, embedding),
    (mi.EmbeddingBackwardOp, embedding_backward),
    ((mi.NllLossOp, mi.CrossEntropyOp, mi.NllLossBackwardOp), loss),
    (GenericOp, generic),
]


def apply(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    if not args and op.results:
        return constant(sh, op, args)
    for cls, rule in RULES:
        if isinstance(op, cls):
            return rule(sh, op, args)
    return replicated(sh, op, args)
