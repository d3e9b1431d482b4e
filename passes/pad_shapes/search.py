"""Search for pad-shapes: candidate sizes per dim and the padding each group runs fastest at.

For the logits group of GPT-2 (weight 768 x 50257 used by %y, %dx and %dw, see `groups`) the
candidates of the vocabulary axis are 50257 rounded up to 8, 16, 32, 64, 128 and the target's
tile edges; the tokens dim of each GEMM is searched on its own. The chosen `Decision`:

    Decision(name="lm_head.weight", before=19.3e-3, after=9.49e-3, applied=True,
             dims={%y: (8192, 50272, 768), %dx: ..., %dw: ...}, param_shape=(768, 50272))

A group is applied only if its predicted time drops by at least `min_gain` (relative).
Results are cached by a shape signature, so identical layers are searched once.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.ir import Operation

from ir.linalg_ops import AttentionBackwardOp, AttentionBase, AttentionOp
from ir.types import dtype, shape
from passes.pad_shapes.costs import Costs, Shape
from passes.pad_shapes.groups import AttentionGroup, GemmUse, Group

MULTIPLES = (8, 16, 32, 64, 128)


def round_up(d: int, m: int) -> int:
    return -(-d // m) * m


@dataclass(frozen=True)
class Options:
    min_gain: float
    multiple: int


@dataclass
class Decision:
    """What the search chose for one group and what the cost model predicts for it."""

    name: str
    before: float
    after: float
    applied: bool
    dims: dict[Operation, tuple[int, ...]] = field(default_factory=dict)  # op -> M,N,K or (D,)
    param_shape: Shape | None = None
    describe: str = ""

    @property
    def gain(self) -> float:
        return (self.before - self.after) / self.before if self.before > 0 else 0.0


class Planner:
    """Chooses padded sizes per group; decisions are cached by the group's shape signature."""

    def __init__(self, costs: Costs, opts: Options) -> None:
        self.costs, self.opts = costs, opts
        self.tiles = costs.tile_sizes()
        self._member_cache: dict[tuple, tuple[float, tuple[int, int, int]]] = {}
        self._group_cache: dict[tuple, tuple] = {}

    def candidates(self, d: int) -> list[int]:
        if self.opts.multiple > 0:
            return [round_up(d, self.opts.multiple)]
        return sorted({d, *(round_up(d, m) for m in (*MULTIPLES, *self.tiles))})

    # -- GEMM groups

    def decide(self, group: Group) -> Decision:
        sig = _group_signature(group)
        if sig not in self._group_cache:
            self._group_cache[sig] = self._search(group)
        before, after, choice, param_dims = self._group_cache[sig]
        applied = self._worth_it(before, after)
        dims: dict[Operation, tuple[int, ...]] = {
            g.op: c for g, c in zip(group.members, choice, strict=True)
        }
        param_shape = param_dims if group.param is not None else None
        first = group.members[0]
        describe = f"{_fmt3(first.dims)} -> {_fmt3(choice[0])}"
        if len(group.members) > 1:
            describe += f" (+{len(group.members) - 1} GEMMs)"
        return Decision(group.name, before, after, applied, dims, param_shape, describe)

    def _worth_it(self, before: float, after: float) -> bool:
        if self.opts.multiple > 0:
            return True
        return after < before and (before - after) >= self.opts.min_gain * before

    def _search(self, group: Group) -> tuple:
        members = group.members
        before = sum(self.costs.gemm(g.batch, *g.dims, g.dtype) for g in members)
        axis_sizes = shape(group.param) if group.param is not None else ()
        axis_cands = [self.candidates(d) for d in axis_sizes]
        best: tuple | None = None
        for combo in itertools.product(*axis_cands):
            choice = tuple(self._member_best(g, combo) for g in members)
            total = self._group_time(group, choice, combo, axis_sizes)
            if best is None or total < best[0]:
                best = (total, choice, combo)
        assert best is not None
        total, choice, combo = best
        return before, total, choice, tuple(combo)

    def _member_best(self, g: GemmUse, combo: Sequence[int]) -> tuple[int, int, int]:
        fixed = tuple(combo[r] if r is not None else None for r in g.roles)
        key = (_gemm_signature(g), fixed)
        if key in self._member_cache:
            return self._member_cache[key][1]
        options = [
            [f] if f is not None else self.candidates(d) for f, d in zip(fixed, g.dims, strict=True)
        ]
        best: tuple[float, tuple[int, int, int]] | None = None
        for mnk in itertools.product(*options):
            m, n, k = mnk
            t = self.costs.gemm(g.batch, m, n, k, g.dtype)
            for which, op in (("lhs", g.lhs), ("rhs", g.rhs)):
                want = g.operand_shape(which, mnk)
                if want != op.shape and not op.rooted:
                    t += self.costs.copy(op.shape, want, g.dtype)
            if best is None or t < best[0]:
                best = (t, tuple(mnk))  # type: ignore[assignment]
        assert best is not None
        self._member_cache[key] = best
        return best[1]

    def _group_time(
        self,
        group: Group,
        choice: Sequence[tuple[int, int, int]],
        combo: Sequence[int],
        axis_sizes: Shape,
    ) -> float:
        total = 0.0
        copies: dict[tuple, float] = {}
        for g, mnk in zip(group.members, choice, strict=True):
            total += self.costs.gemm(g.batch, *mnk, g.dtype)
            for which, op in (("lhs", g.lhs), ("rhs", g.rhs)):
                want = g.operand_shape(which, mnk)
                if want == op.shape or op.rooted:
                    continue
                root_shape = list(shape(op.root))
                for d, r in enumerate(op.root_dims):
                    root_shape[r] = want[d]
                key = (id(op.root), tuple(root_shape))
                copies[key] = self.costs.copy(shape(op.root), tuple(root_shape), g.dtype)
        if group.grad_copy and tuple(combo) != tuple(axis_sizes):
            total += self.costs.copy(tuple(axis_sizes), tuple(combo), group.members[0].dtype)
        return total + sum(copies.values())

    # -- attention

    def decide_attention(self, group: AttentionGroup) -> Decision:
        first = group.ops[0]
        b, h, sq, d = shape(first.q)
        kvh, sk, dv = shape(first.k)[1], shape(first.k)[2], shape(first.v)[3]
        dt = dtype(first.q)
        if dv != d:
            return Decision(group.name, 0.0, 0.0, False, describe="v head dim differs")

        def time(dp: int) -> float:
            t = 0.0
            for op in group.ops:
                backward = isinstance(op, AttentionBackwardOp)
                t += self.costs.attention(b, h, kvh, sq, sk, dp, dt, op.is_causal, backward)
            if dp == d:
                return t
            for s in _attention_operands_to_pad(group.ops):
                t += self.costs.copy(s, (*s[:-1], dp), dt)
            return t

        before = time(d)
        best = min(self.candidates(d), key=time)
        after = time(best)
        applied = best != d and self._worth_it(before, after)
        describe = f"D {d} -> {best} ({len(group.ops)} ops, {b}x{h}x{sq}x{sk})"
        return Decision(
            group.name, before, after, applied, {op: (best,) for op in group.ops}, None, describe
        )


def _attention_operands_to_pad(ops: Sequence[AttentionBase]) -> list[Shape]:
    """Shapes of the distinct values a padded attention group pads at run time."""
    copied = {id(op.q): shape(op.q) for op in ops}
    copied |= {id(op.k): shape(op.k) for op in ops}
    copied |= {id(op.v): shape(op.v) for op in ops}
    has_forward = any(isinstance(op, AttentionOp) for op in ops)
    for op in ops:
        if isinstance(op, AttentionBackwardOp):
            copied[id(op.grad)] = shape(op.grad)
            if not has_forward:
                copied[id(op.out)] = shape(op.out)
    return list(copied.values())


def _fmt3(mnk: Sequence[int]) -> str:
    return "x".join(str(d) for d in mnk)


def _gemm_signature(g: GemmUse) -> tuple:
    return (
        g.batch,
        g.dims,
        g.dtype,
        g.roles,
        g.lhs.shape,
        g.rhs.shape,
        g.ta,
        g.tb,
        g.lhs.rooted,
        g.rhs.rooted,
    )


def _group_signature(group: Group) -> tuple:
    """Everything the search result depends on, with operand roots numbered within the group."""
    roots: dict[int, int] = {}
    members = []
    for g in group.members:
        lhs_root = roots.setdefault(id(g.lhs.root), len(roots))
        rhs_root = roots.setdefault(id(g.rhs.root), len(roots))
        members.append(
            (
                _gemm_signature(g),
                lhs_root,
                g.lhs.root_dims,
                shape(g.lhs.root),
                rhs_root,
                g.rhs.root_dims,
                shape(g.rhs.root),
            )
        )
    param = shape(group.param) if group.param is not None else None
    return (param, group.grad_copy, tuple(members))
