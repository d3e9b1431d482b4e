"""Grow a group of ops into one kernel, keep it legal, and replace it by `tfm.fused`.

A group starts at an anchor op and takes in neighbours (producers and consumers) that a
kernel may hold (`member`), of the same phase and layer, as long as the group stays convex:
no path leaves the group and comes back into it (that kernel could never run). Views are
taken in to connect chains; a producer view only when all its users are in the group.

    fusion = Fusion(block)
    group = fusion.grow(tanh_op, member=pointwise_or_view)
    fusion.fuse(group, "bias_gelu", rewriter)

The kernel is inserted where the group's last op was; ops in between that use the group's
results are moved after it. Positions are kept in a dict (fractions for moved ops), so a
function of 40,000 ops is fused in one walk.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint

from ir import attrs
from ir.fused_ops import FusedOp, YieldOp
from ir.shape_ops import PermuteOp, ReshapeOp
from passes.fuse.kinds import is_constant, is_view

Member = Callable[[Operation], bool]


class Fusion:
    """The state of fusing one block: op positions, which survive the rewrites."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.pos: dict[Operation, float] = {op: float(i) for i, op in enumerate(block.ops)}

    # ---- analysis ------------------------------------------------------------------------

    def compatible(self, op: Operation, phase: str, layer: int | None) -> bool:
        """Same block and phase; the same layer (or none) as the group."""
        if op.parent is not self.block or op not in self.pos:
            return False
        if attrs.phase_of(op) != phase:
            return False
        other = attrs.layer_of(op)
        return layer is None or other is None or other == layer

    def grow(self, anchor: Operation, member: Member) -> set[Operation]:
        """The largest convex group around `anchor` of ops `member` accepts."""
        group = {anchor}
        phase = attrs.phase_of(anchor)
        layer = attrs.layer_of(anchor)
        frontier = [anchor]
        while frontier:
            op = frontier.pop()
            for cand in self._neighbours(op, group):
                if not (member(cand) and self.compatible(cand, phase, layer)):
                    continue
                if is_constant(cand):
                    continue  # cloned into the kernel instead
                if is_view(cand) and not self._view_fits(cand, op, group, member):
                    continue
                if self.convex(group | {cand}):
                    group.add(cand)
                    frontier.append(cand)
                    layer = layer if layer is not None else attrs.layer_of(cand)
                    frontier.extend(o for o in group if o is not cand)  # views may now fit
        return group

    def _producers(self, op: Operation) -> list[Operation]:
        return [v.owner for v in op.operands if isinstance(v.owner, Operation)]

    def _neighbours(self, op: Operation, group: set[Operation]) -> Iterable[Operation]:
        for p in self._producers(op):
            if p not in group:
                yield p
        for r in op.results:
            for use in r.uses:
                if use.operation not in group:
                    yield use.operation

    def _view_fits(
        self, view: Operation, op: Operation, group: set[Operation], member: Member
    ) -> bool:
        """A view before the group joins when all its users are in the group; a view after
        it when it keeps the size (the kernel may write it instead of its input) or when
        all its users may join too."""
        if self._all_users_in(view, group):
            return True
        if view in self._producers(op):
            return False
        return isinstance(view, ReshapeOp | PermuteOp) or all(
            member(u.operation) for r in view.results for u in r.uses
        )

    @staticmethod
    def _all_users_in(op: Operation, group: set[Operation]) -> bool:
        return all(u.operation in group for r in op.results for u in r.uses)

    def convex(self, group: set[Operation]) -> bool:
        """No op outside the group both depends on the group and feeds it."""
        tainted = self.tainted(group)
        return not any(
            isinstance(v.owner, Operation) and v.owner in tainted
            for op in group
            for v in op.operands
        )

    def tainted(self, group: set[Operation]) -> list[Operation]:
        """Ops between the group's first and last op that depend on the group, in order."""
        ordered = sorted(group, key=self.pos.__getitem__)
        first, last = ordered[0], ordered[-1]
        out: list[Operation] = []
        if first is last:
            return out
        seen: set[Operation] = set()
        op = first.next_op
        while op is not None and op is not last:
            if op not in group and any(
                isinstance(v.owner, Operation) and (v.owner in group or v.owner in seen)
                for v in op.operands
            ):
                seen.add(op)
                out.append(op)
            op = op.next_op
        return out

    # ---- rewrite -------------------------------------------------------------------------

    def absorb(self, kernel: FusedOp, extra: set[Operation], rewriter: PatternRewriter) -> FusedOp:
        """`kernel` grown by `extra` (ops that read its outputs), under the same name."""
        return self.fuse(self.inline(kernel, rewriter) | extra, kernel.kernel_name, rewriter)

    def inline(self, kernel: FusedOp, rewriter: PatternRewriter) -> set[Operation]:
        """Put `kernel`'s ops back into the block where it was; the ops."""
        mapping: dict[SSAValue, SSAValue] = dict(
            zip(kernel.body.block.args, kernel.inputs, strict=True)
        )
        body = kernel.body_ops
        prev = kernel.prev_op
        hi = self.pos[kernel]
        lo = self.pos[prev] if prev is not None and prev in self.pos else hi - 1.0
        ops: set[Operation] = set()
        for i, op in enumerate(body, 1):
            clone = op.clone(value_mapper=mapping)
            rewriter.insert_op(clone, InsertPoint.before(kernel))
            self.pos[clone] = lo + (hi - lo) * i / (len(body) + 1)
            ops.add(clone)
        results = kernel.yield_op.values if kernel.yield_op is not None else ()
        for old, v in zip(kernel.outputs, results, strict=True):
            rewriter.replace_all_uses_with(old, mapping[v])
        self.pos.pop(kernel, None)
        rewriter.erase_op(kernel)
        return ops

    def fuse(self, group: set[Operation], kernel: str, rewriter: PatternRewriter) -> FusedOp:
        """Replace `group` by one `tfm.fused` op named `kernel`."""
        ops = sorted(group, key=self.pos.__getitem__)
        last = ops[-1]
        moved = self.tainted(group)
        inputs: list[SSAValue] = []
        constants: list[Operation] = []
        for op in ops:
            for v in op.operands:
                owner = v.owner
                if isinstance(owner, Operation) and owner in group:
                    continue
                if isinstance(owner, Operation) and is_constant(owner):
                    if owner not in constants:
                        constants.append(owner)
                elif v not in inputs:
                    inputs.append(v)
        outputs = [
            r for op in ops for r in op.results if any(u.operation not in group for u in r.uses)
        ]
        block = Block(arg_types=[v.type for v in inputs])
        mapping: dict[SSAValue, SSAValue] = {}
        for v, arg in zip(inputs, block.args, strict=True):
            arg.name_hint = v.name_hint
            mapping[v] = arg
        for op in [*constants, *ops]:
            block.add_op(op.clone(value_mapper=mapping))
        block.add_op(YieldOp([mapping[r] for r in outputs]))
        fused = FusedOp(inputs, [r.type for r in outputs], Region(block), kernel, _attrs(ops))
        rewriter.insert_op(fused, InsertPoint.after(last))
        self.pos[fused] = self.pos[last]
        self._move_after(fused, moved, rewriter)
        for old, new in zip(outputs, fused.outputs, strict=True):
            new.name_hint = old.name_hint
            rewriter.replace_all_uses_with(old, new)
        for op in reversed(ops):
            self.pos.pop(op, None)
            rewriter.erase_op(op, safe_erase=False)
        return fused

    def _move_after(
        self, anchor: Operation, ops: list[Operation], rewriter: PatternRewriter
    ) -> None:
        if not ops:
            return
        nxt = anchor.next_op
        lo = self.pos[anchor]
        hi = self.pos[nxt] if nxt is not None and nxt in self.pos else lo + 1.0
        step = (hi - lo) / (len(ops) + 1)
        prev = anchor
        for i, op in enumerate(ops, 1):
            op.detach()
            rewriter.insert_op(op, InsertPoint.after(prev))
            self.pos[op] = lo + i * step
            prev = op


def _attrs(ops: list[Operation]) -> dict[str, Attribute]:
    """The kernel's `layer` (the first one its ops name) and `phase` (backward kernels)."""
    out: dict[str, Attribute] = {}
    layer = next((a for op in ops if (a := op.attributes.get(attrs.LAYER)) is not None), None)
    if layer is not None:
        out[attrs.LAYER] = layer
    phase = ops[0].attributes.get(attrs.PHASE)
    if phase is not None:
        out[attrs.PHASE] = phase
    return out
