"""Replace the ops of each planned kernel by one `tfm.fused` op, in the order planned.

The kernel is inserted where its last op was; ops in between that use its results are moved
after it (as `backends.fusion.graph` planned). Positions are kept in a dict (fractions for
moved ops), so a function of 40,000 ops is fused in one walk.

    fuser = Fuser(block)
    fuser.fuse(kernel.ops, "bias_gelu", rewriter)
"""

from __future__ import annotations

from xdsl.ir import Attribute, Block, Operation, Region, SSAValue
from xdsl.pattern_rewriter import PatternRewriter
from xdsl.rewriter import InsertPoint

from backends.fusion.kinds import is_constant
from ir import attrs
from ir.fused_ops import FusedOp, YieldOp


class Fuser:
    """The state of rewriting one block: op positions, which survive the rewrites."""

    def __init__(self, block: Block) -> None:
        self.block = block
        self.pos: dict[Operation, float] = {op: float(i) for i, op in enumerate(block.ops)}

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

    def fuse(self, ops: list[Operation], kernel: str, rewriter: PatternRewriter) -> FusedOp:
        """Replace `ops` (in block order) by one `tfm.fused` op named `kernel`."""
        group = set(ops)
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

    def inline(self, kernel: FusedOp, rewriter: PatternRewriter) -> list[Operation]:
        """Put `kernel`'s ops back into the block where it was; the ops, in order."""
        mapping: dict[SSAValue, SSAValue] = dict(
            zip(kernel.body.block.args, kernel.inputs, strict=True)
        )
        body = kernel.body_ops
        prev = kernel.prev_op
        hi = self.pos[kernel]
        lo = self.pos[prev] if prev is not None and prev in self.pos else hi - 1.0
        ops: list[Operation] = []
        for i, op in enumerate(body, 1):
            clone = op.clone(value_mapper=mapping)
            rewriter.insert_op(clone, InsertPoint.before(kernel))
            self.pos[clone] = lo + (hi - lo) * i / (len(body) + 1)
            ops.append(clone)
        results = kernel.yield_op.values if kernel.yield_op is not None else ()
        for old, v in zip(kernel.outputs, results, strict=True):
            rewriter.replace_all_uses_with(old, mapping[v])
        self.pos.pop(kernel, None)
        rewriter.erase_op(kernel)
        return ops

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
