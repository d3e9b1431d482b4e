"""Rewrites of pad-shapes: run planned ops at padded sizes, exactly.

    %y = tfm.matmul %x, %w : (tensor<4096x4097xf16>, tensor<4097x4096xf16>) -> tensor<4096x4096xf16>

planned at K = 4112 becomes (the parameter gets its padded type and `tfm.param_pad`)

    %xp = tfm.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, 15>, value = 0.0 : f64}
        : (tensor<4096x4097xf16>) -> tensor<4096x4112xf16>
    %y = tfm.matmul %xp, %w {pad.gain = 0.65 : f64} : (tensor<4096x4112xf16>, tensor<4112x4096xf16>) -> ...

Reduction dims are padded with zeros, padded outputs are sliced back (`tfm.slice`), attention
keeps its `scale`, and the gradient of a padded parameter is returned padded. A pad of a value
sliced from one whose extra rows/cols are zero (see `extents`) folds to that value; pads of
a permute or convert are pushed through it, and one pad per value and shape is shared.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue, Use
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint
from xdsl.transforms.dead_code_elimination import region_dce

from ir import attrs
from ir.base import float_attr, int_attr, ints_attr
from ir.elementwise_ops import ConvertOp
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.shape_ops import PadOp, PermuteOp, SliceOp
from ir.types import dtype, shape, tensor
from passes.pad_shapes.extents import Extents, Shape
from passes.pad_shapes.groups import param_name

# Discardable attributes copied from a rewritten op onto the pads and slices around it.
CARRIED = (attrs.LAYER, attrs.PHASE)


class Padder:
    """Creates padded versions of values, reusing pads and folding pads of zero-padded values."""

    def __init__(self, rewriter: PatternRewriter, extents: Extents) -> None:
        self.rewriter = rewriter  # each pattern sets the rewriter it was given
        self.extents = extents
        self._pads: dict[tuple[SSAValue, Shape], SSAValue] = {}

    def pad_to(self, v: SSAValue, want: Shape) -> SSAValue:
        """`v` zero-padded at the high end to `want` (v itself when already that shape)."""
        have = shape(v)
        if have == want:
            return v
        key = (v, want)
        if key not in self._pads:
            self._pads[key] = self._make(v, want)
        return self._pads[key]

    def _make(self, v: SSAValue, want: Shape) -> SSAValue:
        have = shape(v)
        folded = self._fold(v, want)
        if folded is not None:
            return folded
        op = v.owner
        if isinstance(op, PermuteOp):
            perm = op.permutation
            inner = list(shape(op.input))
            for i, p in enumerate(perm):
                inner[p] = want[i]
            padded = self.pad_to(op.input, tuple(inner))
            new = PermuteOp.create(
                operands=[padded],
                result_types=[tensor(want, dtype(v))],
                properties=dict(op.properties),
                attributes=dict(op.attributes),
            )
            self.rewriter.insert(new, InsertPoint.after(op))
            return new.results[0]
        if isinstance(op, ConvertOp):
            padded = self.pad_to(op.input, want)
            cast = ConvertOp.create(
                operands=[padded],
                result_types=[tensor(want, dtype(v))],
                attributes=dict(op.attributes),
            )
            self.rewriter.insert(cast, InsertPoint.after(op))
            return cast.results[0]
        high = [w - h for w, h in zip(want, have, strict=True)]
        pad = PadOp.create(
            operands=[v],
            result_types=[tensor(want, dtype(v))],
            properties={
                "low": ints_attr([0] * len(want)),
                "high": ints_attr(high),
                "value": float_attr(0.0),
            },
            attributes=_carried(op) if isinstance(op, Operation) else {},
        )
        self.rewriter.insert(pad, _after(v))
        return pad.result

    def _fold(self, v: SSAValue, want: Shape) -> SSAValue | None:
        """The value `v` was sliced from, when it has shape `want` and is zero beyond `v`."""
        have = shape(v)
        root = v
        while (
            isinstance(root.owner, SliceOp)
            and root.owner.bounds[1] == 0
            and root.owner.bounds[3] == 1
        ):
            root = root.owner.input
        if root is v or shape(root) != want:
            return None
        if all(e <= h for e, h in zip(self.extents.extent(root), have, strict=True)):
            return root
        return None


def _not_used_by(op: Operation) -> Callable[[Use], bool]:
    return lambda use: use.operation is not op


def _after(v: SSAValue) -> InsertPoint:
    if isinstance(v, BlockArgument):
        return InsertPoint.at_start(v.block)
    assert isinstance(v.owner, Operation)
    return InsertPoint.after(v.owner)


def _carried(op: Operation) -> dict[str, Attribute]:
    return {k: op.attributes[k] for k in CARRIED if k in op.attributes}


def slice_to(v: SSAValue, want: Shape, like: Operation) -> tuple[list[Operation], SSAValue]:
    """Slices taking `v` back down to `want` (one tfm.slice per dim that shrinks)."""
    ops: list[Operation] = []
    have = list(shape(v))
    for d, w in enumerate(want):
        if have[d] == w:
            continue
        have[d] = w
        s = SliceOp.create(
            operands=[v],
            result_types=[tensor(have, dtype(v))],
            properties={
                "dim": int_attr(d),
                "start": int_attr(0),
                "end": int_attr(w),
                "step": int_attr(1),
            },
            attributes=_carried(like),
        )
        ops.append(s)
        v = s.result
    return ops, v


@dataclass
class Plan:
    """The padded dims of each op to rewrite (M, N, K or (D,)), its group's gain, the padder."""

    dims: dict[Operation, tuple[int, ...]]
    gains: dict[Operation, float]
    padder: Padder


class PadMatmul(RewritePattern):
    """Run a planned tfm.matmul at its padded M, N, K: pad operands, slice the result."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter) -> None:
        mnk = self.plan.dims.get(op)
        if mnk is None:
            return
        padder = self.plan.padder
        padder.rewriter = rewriter
        ta, tb = op.transpose_lhs is not None, op.transpose_rhs is not None
        m, n, k = mnk
        lhs_last = (k, m) if ta else (m, k)
        rhs_last = (n, k) if tb else (k, n)
        lhs = padder.pad_to(op.lhs, (*shape(op.lhs)[:-2], *lhs_last))
        rhs = padder.pad_to(op.rhs, (*shape(op.rhs)[:-2], *rhs_last))
        out = shape(op.result)
        new = MatmulOp.create(
            operands=[lhs, rhs],
            result_types=[tensor((*out[:-2], m, n), dtype(op.result))],
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        new.attributes[attrs.PAD_GAIN] = float_attr(round(self.plan.gains[op], 6))
        slices, result = slice_to(new.result, out, op)
        rewriter.replace(op, [new, *slices], [result])


class PadAttention(RewritePattern):
    """Run a planned attention (or its backward) at padded head dim D; the scale is kept."""

    def __init__(self, plan: Plan) -> None:
        self.plan = plan

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if not isinstance(op, AttentionOp | AttentionBackwardOp) or op not in self.plan.dims:
            return
        (d,) = self.plan.dims[op]
        padder = self.plan.padder
        padder.rewriter = rewriter
        mask = op.mask
        heads = [v for v in op.operands if v is not mask]
        padded = [padder.pad_to(v, (*shape(v)[:-1], d)) for v in heads]
        operands = [*padded, *([mask] if mask is not None else [])]
        types = [tensor((*shape(r)[:-1], d), dtype(r)) for r in op.results]
        new = type(op).create(
            operands=operands,
            result_types=types,
            properties=dict(op.properties),
            attributes=dict(op.attributes),
        )
        new.attributes[attrs.PAD_GAIN] = float_attr(round(self.plan.gains[op], 6))
        ops: list[Operation] = [new]
        results = []
        for old, r in zip(op.results, new.results, strict=True):
            slices, v = slice_to(r, shape(old), op)
            ops += slices
            results.append(v)
        rewriter.replace(op, ops, results)


class PadGradients(RewritePattern):
    """Return the gradient of a padded parameter at the parameter's padded shape."""

    def __init__(self, plan: Plan, padded: dict[str, Shape]) -> None:
        self.plan, self.padded = plan, padded

    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: func.ReturnOp, rewriter: PatternRewriter) -> None:
        fn = op.parent_op()
        if not isinstance(fn, func.FuncOp) or fn.res_attrs is None:
            return
        padder = self.plan.padder
        padder.rewriter = rewriter
        changed = False
        operands = list(op.operands)
        for i, res in enumerate(fn.res_attrs.data):
            label = res.data.get(attrs.GRAD_OF) if isinstance(res, DictionaryAttr) else None
            if not isinstance(label, StringAttr) or label.data not in self.padded:
                continue
            value = operands[i]
            operands[i] = padder.pad_to(value, self.padded[label.data])
            changed |= operands[i] is not value
        if changed:
            op.operands = operands
            rewriter.notify_op_modified(op)
            fn.update_function_type()


def pad_params(
    fn: func.FuncOp, padded: dict[BlockArgument, Shape], extents: Extents, rewriter: PatternRewriter
) -> None:
    """Give each padded parameter its padded type and `tfm.param_pad`; old uses read a slice."""
    arg_entries = (
        list(fn.arg_attrs.data) if fn.arg_attrs is not None else [DictionaryAttr({})] * len(fn.args)
    )
    for arg, want in padded.items():
        have = shape(arg)
        new_arg = rewriter.replace_value_with_new_type(arg, tensor(want, dtype(arg)))
        assert isinstance(new_arg, BlockArgument)
        slices, orig = slice_to(new_arg, have, fn)
        rewriter.insert(slices, InsertPoint.at_start(fn.body.block))
        first = slices[0]
        new_arg.replace_uses_with_if(orig, _not_used_by(first))
        pads = [w - h for w, h in zip(want, have, strict=True)]
        entry = dict(arg_entries[new_arg.index].data)
        entry[attrs.PARAM_PAD] = ints_attr(pads)
        arg_entries[new_arg.index] = DictionaryAttr(entry)
        extents.params[new_arg] = have
    fn.arg_attrs = ArrayAttr(arg_entries)
    fn.update_function_type()


def rewrite_function(
    fn: func.FuncOp,
    dims: dict[Operation, tuple[int, ...]],
    gains: dict[Operation, float],
    padded_params: dict[BlockArgument, Shape],
) -> None:
    """Pad the parameters, run the planned ops at their padded dims, drop what became dead."""
    names = {param_name(a) or "": s for a, s in padded_params.items()}
    rewriter = PatternRewriter(InsertPoint.at_start(fn.body.block))
    extents = Extents()
    plan = Plan(dims, gains, Padder(rewriter, extents))
    pad_params(fn, padded_params, extents, rewriter)
    patterns = GreedyRewritePatternApplier(
        [PadMatmul(plan), PadAttention(plan), PadGradients(plan, names)], dce_enabled=False
    )
    PatternRewriteWalker(patterns, apply_recursively=False).rewrite_region(fn.body)
    region_dce(fn.body)  # e.g. a permute of a weight that now reads the padded one
