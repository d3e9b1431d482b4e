"""pad-shapes: zero-pad GEMM dims and attention head dims where the cost model predicts a gain.

    %w: tensor<64x50257xf16> {tfm.param = "lm_head.weight"}
    %y = tfm.matmul %x, %w : (tensor<8192x64xf16>, tensor<64x50257xf16>) -> tensor<8192x50257xf16>

becomes (the weight is padded at compile time: apply `tfm.param_pad` to the checkpoint tensor)

    %w: tensor<64x50304xf16> {tfm.param = "lm_head.weight", tfm.param_pad = array<i64: 0, 47>}
    %yp = tfm.matmul %x, %w {pad.gain = 0.61 : f64} : (tensor<8192x64xf16>, tensor<64x50304xf16>) -> tensor<8192x50304xf16>
    %y = tfm.slice %yp {dim = 1 : i64, start = 0 : i64, end = 50257 : i64, step = 1 : i64} : ...

The rewritten IR computes exactly what the original computed: reduction dims are padded with
zeros (`tfm.pad`), padded outputs are sliced away (`tfm.slice`; padded logits never reach the
softmax or the loss), attention keeps its explicit `scale` of the original head dim, and the
gradient of a padded parameter is returned padded (zero in the padded rows/cols).

How it decides (Anthony et al., arXiv 2401.14489: alignment, tile and wave quantization):
- A 2-D parameter and the GEMMs that use it form a group: its forward GEMM and the backward GEMM
  computing dX (the weight is read) and the one computing its gradient dW. One weight dim is M,
  N or K in different GEMMs, so the group shares one padded size per weight dim; the other GEMM
  dims (tokens) are chosen per GEMM. A GEMM on no parameter is a group of its own, and so are a
  `tfm.attention` and its `tfm.attention_backward` (padding the head dim D).
- Candidates per dim: the dim rounded up to 8, 16, 32, 64, 128 elements and to the target's tile
  sizes. A group's time is the cost model's predicted GEMM/attention time plus one copy per
  distinct activation that must be padded at run time (weights are padded at compile time, and a
  pad of a value whose extra rows/cols are already zero folds away). A group is padded only when
  its predicted time drops by at least `min-gain` (relative), so the predicted time never grows.
- Results are cached by shape, so the 96 identical layers of GPT-3 175B are searched once.

Options:
  target: hardware target name or .toml path for the cost model (default a100-sxm4-40gb).
  min-gain: least relative predicted gain of a group to pad it (default 0.02).
  verbose: print a per-group summary table to stderr.
  multiple: if > 0, force every GEMM dim and head dim up to a multiple of this, whatever the
    cost model says (for tests and experiments; the gain attributes still show the prediction).
    Another way to force padding on: `target="tests/data/pad-everything.toml"`, a made-up GPU
    on which every dim that is not a multiple of 256 bytes runs at 1% of peak.
  attention: also pad attention head dims (default true).
  fused-attention: cost attention as one fused (flash) kernel, else as two GEMMs and a softmax.

Every padded op gets `pad.gain` (the predicted relative gain of its group); the module gets
`pad.gain` (over all GEMMs and attention ops) and `pad.params` (parameter name -> padding).
"""

from __future__ import annotations

import itertools
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Attribute, BlockArgument, Operation, SSAValue
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.rewriter import InsertPoint

from ir import attrs
from ir.base import float_attr, get_float, get_int, get_ints, int_attr, ints_attr
from ir.dtypes import nbytes_of
from ir.elementwise_ops import ConvertOp
from ir.errors import TandemError
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.shape_ops import PadOp, PermuteOp, SliceOp
from ir.types import dtype, shape, tensor

MULTIPLES = (8, 16, 32, 64, 128)
# Discardable attributes copied from a rewritten op onto the pads and slices around it.
CARRIED = (attrs.LAYER, attrs.PHASE)

Shape = tuple[int, ...]


def round_up(d: int, m: int) -> int:
    return -(-d // m) * m


# ----------------------------------------------------------------------------------------
# Cost model adapter (cached by shape)


class Costs:
    """Predicted seconds of GEMMs, attention and pad copies on one target, cached by shape."""

    def __init__(self, target_name: str, fused_attention: bool = True) -> None:
        from backends.targets import load_target

        self.target = load_target(target_name)
        self.fused = fused_attention
        self._gemm: dict[tuple, float] = {}
        self._att: dict[tuple, float] = {}
        self._copy: dict[tuple, float] = {}

    def tile_sizes(self) -> tuple[int, ...]:
        """Tile edges of the target (cuBLAS CTA tiles, AccelTran tile_x, PHAZE core size)."""
        t = self.target
        sizes: set[int] = set()
        for tm, tn in getattr(t, "tile_shapes", ()):
            sizes |= {tm, tn}
        for name in ("tile_x", "tc_width", "tc_depth"):
            if getattr(t, name, None):
                sizes.add(int(getattr(t, name)))
        return tuple(sorted(sizes))

    def gemm(self, batch: int, m: int, n: int, k: int, dt: str) -> float:
        key = (batch, m, n, k, dt)
        if key not in self._gemm:
            from backends.cost import gemm_cost

            self._gemm[key] = gemm_cost(self.target, batch, m, n, k, _cost_dtype(dt)).seconds
        return self._gemm[key]

    def attention(self, b: int, h: int, kvh: int, sq: int, sk: int, d: int, dt: str,
                  causal: bool, backward: bool) -> float:
        key = (b, h, kvh, sq, sk, d, dt, causal, backward)
        if key not in self._att:
            from backends.cost import attention_cost

            self._att[key] = attention_cost(self.target, b, h, kvh, sq, sk, d, _cost_dtype(dt),
                                            causal=causal, fused=self.fused,
                                            backward=backward).seconds
        return self._att[key]

    def copy(self, src: Shape, dst: Shape, dt: str) -> float:
        """A pad kernel: read `src`, write `dst` (zeros included)."""
        key = (src, dst, dt)
        if key not in self._copy:
            from backends.cost import memory_op_cost

            eb = nbytes_of(dt)
            nbytes = float(eb) * (math.prod(src) + math.prod(dst))
            self._copy[key] = memory_op_cost(self.target, nbytes, 0.0, _cost_dtype(dt),
                                             "copy").seconds
        return self._copy[key]


def _cost_dtype(dt: str) -> str:
    return dt if dt in ("f32", "f16", "bf16") else "f32"


# ----------------------------------------------------------------------------------------
# Analysis: GEMMs, the parameters they touch, groups


def _param_name(arg: BlockArgument) -> str | None:
    fn = arg.block.parent_op()
    if not isinstance(fn, func.FuncOp) or fn.arg_attrs is None:
        return None
    entry = fn.arg_attrs.data[arg.index]
    if not isinstance(entry, DictionaryAttr) or attrs.PARAM not in entry.data:
        return None
    name = entry.data[attrs.PARAM]
    return name.data if isinstance(name, StringAttr) else None


def _root(value: SSAValue) -> tuple[SSAValue, tuple[int, ...]]:
    """Peel permutes and converts: (root value, root dim of each of `value`'s dims)."""
    dims = tuple(range(len(shape(value))))
    while isinstance(value.owner, PermuteOp | ConvertOp):
        op = value.owner
        if isinstance(op, PermuteOp):
            perm = get_ints(op.perm)
            dims = tuple(perm[d] for d in dims)
        value = op.operands[0]
    return value, dims


def _trace_param(value: SSAValue) -> tuple[BlockArgument, tuple[int, int]] | None:
    """The 2-D parameter a rank-2 operand reads (through permutes/converts) and its axis map."""
    if len(shape(value)) != 2:
        return None
    root, dims = _root(value)
    if not isinstance(root, BlockArgument) or len(shape(root)) != 2 or _param_name(root) is None:
        return None
    return root, (dims[0], dims[1])


def _trace_grad(value: SSAValue, params: dict[str, BlockArgument]
                ) -> tuple[BlockArgument, tuple[int, int], bool] | None:
    """The parameter whose returned gradient `value` becomes (through permutes and adds).

    Returns (param, param axis of each of value's two dims, whether the path is only permutes,
    i.e. whether a padded `value` can be returned as the padded gradient without a copy).
    """
    if len(shape(value)) != 2:
        return None
    dims, direct = (0, 1), True
    while True:
        uses = list(value.uses)
        if len(uses) != 1:
            return None
        user, index = uses[0].operation, uses[0].index
        if isinstance(user, func.ReturnOp):
            fn = user.parent_op()
            if not isinstance(fn, func.FuncOp) or fn.res_attrs is None:
                return None
            entry = fn.res_attrs.data[index]
            label = entry.data.get(attrs.GRAD_OF) if isinstance(entry, DictionaryAttr) else None
            if not isinstance(label, StringAttr) or label.data not in params:
                return None
            return params[label.data], (dims[0], dims[1]), direct
        if isinstance(user, PermuteOp):
            inverse = {p: i for i, p in enumerate(get_ints(user.perm))}
            dims = (inverse[dims[0]], inverse[dims[1]])
        elif user.name == "tfm.add" and shape(user.results[0]) == shape(value):
            direct = False
        else:
            return None
        value = user.results[0]


@dataclass
class Operand:
    """One GEMM operand: its shape, the dims padding changes, where a run-time pad would go."""

    shape: Shape
    root: SSAValue
    root_dims: tuple[int, ...]  # root dim of each operand dim
    rooted: bool  # reads the group's parameter: padded at compile time, no copy


@dataclass
class Gemm:
    """A tfm.matmul as the cost model sees it, with the parameter axis (or None) of M, N, K."""

    op: MatmulOp
    batch: int
    dims: tuple[int, int, int]  # M, N, K
    dtype: str
    roles: tuple[int | None, int | None, int | None]
    lhs: Operand
    rhs: Operand
    ta: bool
    tb: bool

    def operand_shape(self, which: str, mnk: Sequence[int]) -> Shape:
        """The physical shape of lhs/rhs when the GEMM runs at (M, N, K) = mnk."""
        m, n, k = mnk
        if which == "lhs":
            last = (k, m) if self.ta else (m, k)
            return (*self.lhs.shape[:-2], *last)
        last = (n, k) if self.tb else (k, n)
        return (*self.rhs.shape[:-2], *last)


@dataclass
class Group:
    """GEMMs that share the dims of one parameter (param is None: a single GEMM)."""

    param: BlockArgument | None
    members: list[Gemm] = field(default_factory=list)
    grad_copy: bool = False  # the gradient reaches the return through an add: padding costs a copy

    @property
    def name(self) -> str:
        if self.param is not None:
            return _param_name(self.param) or "param"
        return "matmul"


@dataclass
class AttentionGroup:
    """A tfm.attention and the tfm.attention_backward ops on the same q, k, v."""

    ops: list[Operation]

    @property
    def name(self) -> str:
        return "attention head dim"


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


def _operand(value: SSAValue, param: BlockArgument | None) -> Operand:
    root, dims = _root(value)
    return Operand(shape(value), root, dims, param is not None and root is param)


def _collect(fn: func.FuncOp) -> tuple[list[Group], list[AttentionGroup]]:
    params = {}
    for arg in fn.args:
        name = _param_name(arg)
        if name is not None:
            params[name] = arg
    groups: dict[BlockArgument, Group] = {}
    singles: list[Group] = []
    attention: dict[tuple[SSAValue, ...], AttentionGroup] = {}
    for op in fn.body.walk():
        if isinstance(op, AttentionOp | AttentionBackwardOp):
            key = (op.q, op.k, op.v)
            attention.setdefault(key, AttentionGroup([])).ops.append(op)
            continue
        if not isinstance(op, MatmulOp):
            continue
        gemm, param, grad_copy = _gemm_of(op, params)
        if param is None:
            singles.append(Group(None, [gemm]))
            continue
        group = groups.setdefault(param, Group(param))
        group.members.append(gemm)
        group.grad_copy |= grad_copy
    return [*groups.values(), *singles], list(attention.values())


def _gemm_of(op: MatmulOp, params: dict[str, BlockArgument]
             ) -> tuple[Gemm, BlockArgument | None, bool]:
    batch_shape, m, n, k = op.dims()
    ta, tb = op.transpose_lhs is not None, op.transpose_rhs is not None
    roles: list[int | None] = [None, None, None]
    param, grad_copy = None, False
    rhs, lhs = _trace_param(op.rhs), _trace_param(op.lhs)
    if rhs is not None:
        param, axes = rhs
        k_axis, n_axis = (axes[1], axes[0]) if tb else (axes[0], axes[1])
        roles[2], roles[1] = k_axis, n_axis
    elif lhs is not None:
        param, axes = lhs
        m_axis, k_axis = (axes[1], axes[0]) if ta else (axes[0], axes[1])
        roles[0], roles[2] = m_axis, k_axis
    elif (grad := _trace_grad(op.result, params)) is not None:
        param, axes, direct = grad
        roles[0], roles[1] = axes
        grad_copy = not direct
    gemm = Gemm(op, math.prod(batch_shape), (m, n, k), dtype(op.result), tuple(roles),
                _operand(op.lhs, param), _operand(op.rhs, param), ta, tb)
    return gemm, param, grad_copy


# ----------------------------------------------------------------------------------------
# Search


@dataclass(frozen=True)
class Options:
    min_gain: float
    multiple: int


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
        dims = {g.op: c for g, c in zip(group.members, choice, strict=True)}
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
        axis_sizes = self._axis_sizes(group)
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

    def _axis_sizes(self, group: Group) -> Shape:
        if group.param is None:
            return ()
        return shape(group.param)

    def _member_best(self, g: Gemm, combo: Sequence[int]) -> tuple[int, int, int]:
        fixed = tuple(combo[r] if r is not None else None for r in g.roles)
        key = (_gemm_signature(g), fixed)
        if key in self._member_cache:
            return self._member_cache[key][1]
        options = [[f] if f is not None else self.candidates(d)
                   for f, d in zip(fixed, g.dims, strict=True)]
        best: tuple[float, tuple[int, int, int]] | None = None
        for mnk in itertools.product(*options):
            t = self.costs.gemm(g.batch, *mnk, g.dtype)
            for which, op in (("lhs", g.lhs), ("rhs", g.rhs)):
                want = g.operand_shape(which, mnk)
                if want != op.shape and not op.rooted:
                    t += self.costs.copy(op.shape, want, g.dtype)
            if best is None or t < best[0]:
                best = (t, tuple(mnk))  # type: ignore[assignment]
        assert best is not None
        self._member_cache[key] = best
        return best[1]

    def _group_time(self, group: Group, choice: Sequence[tuple[int, int, int]],
                    combo: Sequence[int], axis_sizes: Shape) -> float:
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
                t += self.costs.attention(b, h, kvh, sq, sk, dp, dt, op.causal is not None,
                                          backward)
            if dp == d:
                return t
            copied = {id(op.q): shape(op.q) for op in group.ops}
            copied |= {id(op.k): shape(op.k) for op in group.ops}
            copied |= {id(op.v): shape(op.v) for op in group.ops}
            has_forward = any(isinstance(op, AttentionOp) for op in group.ops)
            for op in group.ops:
                if isinstance(op, AttentionBackwardOp):
                    copied[id(op.grad)] = shape(op.grad)
                    if not has_forward:
                        copied[id(op.out)] = shape(op.out)
            for s in copied.values():
                t += self.costs.copy(s, (*s[:-1], dp), dt)
            return t

        before = time(d)
        best = min(self.candidates(d), key=time)
        after = time(best)
        applied = best != d and self._worth_it(before, after)
        describe = f"D {d} -> {best} ({len(group.ops)} ops, {b}x{h}x{sq}x{sk})"
        return Decision(group.name, before, after, applied, {op: (best,) for op in group.ops},
                        None, describe)


def _fmt3(mnk: Sequence[int]) -> str:
    return "x".join(str(d) for d in mnk)


def _gemm_signature(g: Gemm) -> tuple:
    return (g.batch, g.dims, g.dtype, g.roles, g.lhs.shape, g.rhs.shape, g.ta, g.tb,
            g.lhs.rooted, g.rhs.rooted)


def _group_signature(group: Group) -> tuple:
    """Everything the search result depends on, with operand roots numbered within the group."""
    roots: dict[int, int] = {}
    members = []
    for g in group.members:
        lhs_root = roots.setdefault(id(g.lhs.root), len(roots))
        rhs_root = roots.setdefault(id(g.rhs.root), len(roots))
        members.append((_gemm_signature(g), lhs_root, g.lhs.root_dims, shape(g.lhs.root),
                        rhs_root, g.rhs.root_dims, shape(g.rhs.root)))
    param = shape(group.param) if group.param is not None else None
    return (param, group.grad_copy, tuple(members))


# ----------------------------------------------------------------------------------------
# Rewriting: exact local rewrites on top of a zero-extent analysis


class Padder:
    """Creates padded versions of values, reusing pads and folding pads of zero-padded values.

    `extent(v)[d]` bounds the non-zero part of `v` along dim d (entries at index >= extent are
    zero), so `pad(slice(r))` is `r` itself when the sliced-away part of `r` is zero.
    """

    def __init__(self, rewriter: PatternRewriter) -> None:
        self.rewriter = rewriter
        self._pads: dict[tuple[SSAValue, Shape], SSAValue] = {}
        self.param_extent: dict[BlockArgument, Shape] = {}

    def extent(self, v: SSAValue) -> Shape:
        s = shape(v)
        if isinstance(v, BlockArgument):
            return self.param_extent.get(v, s)
        op = v.owner
        if isinstance(op, PadOp):
            return self._pad_extent(op)
        if isinstance(op, PermuteOp):
            inner = self.extent(op.input)
            return tuple(inner[p] for p in get_ints(op.perm))
        if isinstance(op, ConvertOp):
            return self.extent(op.input)
        if isinstance(op, SliceOp) and get_int(op.start) == 0 and get_int(op.step) == 1:
            inner = list(self.extent(op.input))
            d = get_int(op.dim) % len(s)
            inner[d] = min(inner[d], s[d])
            return tuple(inner)
        if isinstance(op, MatmulOp):
            return self._matmul_extent(op)
        if isinstance(op, AttentionOp):
            return (*s[:-1], min(s[-1], self.extent(op.v)[-1]))
        if isinstance(op, AttentionBackwardOp):
            source = {0: op.k, 1: op.q, 2: op.grad}[v.index]
            return (*s[:-1], min(s[-1], self.extent(source)[-1]))
        return s

    def _pad_extent(self, op: PadOp) -> Shape:
        if any(get_ints(op.low)) or get_float(op.value) != 0.0:
            return shape(op.result)
        return self.extent(op.input)

    def _matmul_extent(self, op: MatmulOp) -> Shape:
        s = shape(op.result)
        lhs, rhs = self.extent(op.lhs), self.extent(op.rhs)
        m_ext = lhs[-1] if op.transpose_lhs is not None else lhs[-2]
        n_ext = rhs[-2] if op.transpose_rhs is not None else rhs[-1]
        return (*s[:-2], min(s[-2], m_ext), min(s[-1], n_ext))

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
            perm = get_ints(op.perm)
            inner = list(shape(op.input))
            for i, p in enumerate(perm):
                inner[p] = want[i]
            padded = self.pad_to(op.input, tuple(inner))
            new = PermuteOp.create(operands=[padded], result_types=[tensor(want, dtype(v))],
                                   properties=dict(op.properties), attributes=dict(op.attributes))
            self.rewriter.insert(new, InsertPoint.after(op))
            return new.results[0]
        if isinstance(op, ConvertOp):
            padded = self.pad_to(op.input, want)
            new = ConvertOp.create(operands=[padded], result_types=[tensor(want, dtype(v))],
                                   attributes=dict(op.attributes))
            self.rewriter.insert(new, InsertPoint.after(op))
            return new.results[0]
        high = [w - h for w, h in zip(want, have, strict=True)]
        pad = PadOp.create(operands=[v], result_types=[tensor(want, dtype(v))],
                           properties={"low": ints_attr([0] * len(want)), "high": ints_attr(high),
                                       "value": float_attr(0.0)},
                           attributes=_carried(op) if isinstance(op, Operation) else {})
        self.rewriter.insert(pad, _after(v))
        return pad.result

    def _fold(self, v: SSAValue, want: Shape) -> SSAValue | None:
        """The value `v` was sliced from, when it has shape `want` and is zero beyond `v`."""
        have = shape(v)
        root = v
        while (isinstance(root.owner, SliceOp) and get_int(root.owner.start) == 0
               and get_int(root.owner.step) == 1):
            root = root.owner.input
        if root is v or shape(root) != want:
            return None
        if all(e <= h for e, h in zip(self.extent(root), have, strict=True)):
            return root
        return None


def _after(v: SSAValue) -> InsertPoint:
    if isinstance(v, BlockArgument):
        return InsertPoint.at_start(v.block)
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
        s = SliceOp.create(operands=[v], result_types=[tensor(have, dtype(v))],
                           properties={"dim": int_attr(d), "start": int_attr(0), "end": int_attr(w),
                                       "step": int_attr(1)},
                           attributes=_carried(like))
        ops.append(s)
        v = s.result
    return ops, v


@dataclass
class Plan:
    dims: dict[Operation, tuple[int, ...]]
    gains: dict[Operation, float]
    padder: Padder | None = None


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
        assert padder is not None
        padder.rewriter = rewriter
        ta, tb = op.transpose_lhs is not None, op.transpose_rhs is not None
        m, n, k = mnk
        lhs_last = (k, m) if ta else (m, k)
        rhs_last = (n, k) if tb else (k, n)
        lhs = padder.pad_to(op.lhs, (*shape(op.lhs)[:-2], *lhs_last))
        rhs = padder.pad_to(op.rhs, (*shape(op.rhs)[:-2], *rhs_last))
        out = shape(op.result)
        new = MatmulOp.create(operands=[lhs, rhs], result_types=[tensor((*out[:-2], m, n), dtype(op.result))],
                              properties=dict(op.properties), attributes=dict(op.attributes))
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
        assert padder is not None
        padder.rewriter = rewriter
        mask = op.mask
        heads = [v for v in op.operands if v is not mask]
        padded = [padder.pad_to(v, (*shape(v)[:-1], d)) for v in heads]
        operands = [*padded, *([mask] if mask is not None else [])]
        types = [tensor((*shape(r)[:-1], d), dtype(r)) for r in op.results]
        new = type(op).create(operands=operands, result_types=types,
                              properties=dict(op.properties), attributes=dict(op.attributes))
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
        assert padder is not None
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


def _pad_params(fn: func.FuncOp, padded: dict[BlockArgument, Shape], padder: Padder,
                rewriter: PatternRewriter) -> None:
    """Give each padded parameter its padded type; old uses read a slice of it."""
    arg_entries = list(fn.arg_attrs.data) if fn.arg_attrs is not None else [DictionaryAttr({})] * len(fn.args)
    for arg, want in padded.items():
        have = shape(arg)
        new_arg = rewriter.replace_value_with_new_type(arg, tensor(want, dtype(arg)))
        assert isinstance(new_arg, BlockArgument)
        slices, orig = slice_to(new_arg, have, fn)
        rewriter.insert(slices, InsertPoint.at_start(fn.body.block))
        first = slices[0]
        new_arg.replace_uses_with_if(orig, lambda use, first=first: use.operation is not first)
        pads = [w - h for w, h in zip(want, have, strict=True)]
        entry = dict(arg_entries[new_arg.index].data)
        entry[attrs.PARAM_PAD] = ints_attr(pads)
        arg_entries[new_arg.index] = DictionaryAttr(entry)
        padder.param_extent[new_arg] = have
    fn.arg_attrs = ArrayAttr(arg_entries)
    fn.update_function_type()


PURE_SHAPE_OPS = (PadOp, SliceOp, PermuteOp, ConvertOp)


def _drop_dead(ops: Iterable[Operation]) -> None:
    """Erase shape ops left without uses (e.g. a permute of a weight that now reads the padded one)."""
    for op in reversed(list(ops)):
        if isinstance(op, PURE_SHAPE_OPS) and not any(r.uses for r in op.results) and op.parent:
            op.detach()
            op.erase()


# ----------------------------------------------------------------------------------------
# The pass


@dataclass(frozen=True)
class PadShapes(ModulePass):
    """Pad GEMM dims (and attention head dims) to hardware-friendly sizes; see the module doc.

    Options: target, min-gain, verbose, multiple, attention, fused-attention.
    """

    name = "pad-shapes"

    target: str = "a100-sxm4-40gb"
    min_gain: float | int = 0.02  # int too, so that `min-gain=0` parses
    verbose: bool = False
    multiple: int = 0
    attention: bool = True
    fused_attention: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.multiple < 0:
            raise TandemError(f"pad-shapes: multiple must be >= 0, got {self.multiple}")
        costs = Costs(self.target, self.fused_attention)
        planner = Planner(costs, Options(float(self.min_gain), self.multiple))
        decisions: list[Decision] = []
        all_params: dict[str, Shape] = {}
        for fn in [o for o in op.walk() if isinstance(o, func.FuncOp) and not o.is_declaration]:
            fn_decisions, params = _pad_function(fn, planner, self.attention)
            decisions += fn_decisions
            all_params.update(params)
        _annotate_module(op, decisions, all_params)
        if self.verbose:
            print(summary_table(decisions, costs.target.name), file=sys.stderr)


def _pad_function(fn: func.FuncOp, planner: Planner, attention: bool
                  ) -> tuple[list[Decision], dict[str, Shape]]:
    """Plan and rewrite one function; returns the decisions and name -> padding of parameters."""
    groups, att_groups = _collect(fn)
    gemm_decisions = [planner.decide(g) for g in groups]
    att_decisions = [planner.decide_attention(g) for g in att_groups] if attention else []
    padded_params: dict[BlockArgument, Shape] = {}
    for group, dec in zip(groups, gemm_decisions, strict=True):
        if dec.applied and group.param is not None and dec.param_shape != shape(group.param):
            padded_params[group.param] = dec.param_shape  # type: ignore[assignment]
    plan = Plan({}, {})
    for dec in gemm_decisions + att_decisions:
        for o, dims in dec.dims.items():
            if dec.applied and _changes(o, dims):
                plan.dims[o] = dims
                plan.gains[o] = dec.gain
    pads = {_param_name(a) or "": tuple(w - h for w, h in zip(s, shape(a), strict=True))
            for a, s in padded_params.items()}
    if plan.dims or padded_params:
        _rewrite(fn, plan, padded_params)
    return gemm_decisions + att_decisions, pads


def _rewrite(fn: func.FuncOp, plan: Plan, padded_params: dict[BlockArgument, Shape]) -> None:
    names = {_param_name(a) or "": s for a, s in padded_params.items()}
    rewriter = PatternRewriter(InsertPoint.at_start(fn.body.block))
    plan.padder = Padder(rewriter)
    existing = set(fn.body.walk())
    _pad_params(fn, padded_params, plan.padder, rewriter)
    patterns = GreedyRewritePatternApplier(
        [PadMatmul(plan), PadAttention(plan), PadGradients(plan, names)], dce_enabled=False)
    PatternRewriteWalker(patterns, apply_recursively=False).rewrite_region(fn.body)
    _drop_dead([o for o in fn.body.walk() if o not in existing or isinstance(o, PURE_SHAPE_OPS)])


def _changes(op: Operation, dims: tuple[int, ...]) -> bool:
    if isinstance(op, MatmulOp):
        _, m, n, k = op.dims()
        return tuple(dims) != (m, n, k)
    return dims[0] != shape(op.q)[-1]  # type: ignore[attr-defined]


def _annotate_module(module: ModuleOp, decisions: Sequence[Decision], params: dict[str, Shape]) -> None:
    if not any(d.applied for d in decisions):
        return
    before = sum(d.before for d in decisions)
    after = sum(d.after if d.applied else d.before for d in decisions)
    module.attributes[attrs.PAD_GAIN] = float_attr(round((before - after) / before, 6) if before else 0.0)
    if params:
        module.attributes[attrs.PAD_PARAMS] = DictionaryAttr({n: ints_attr(p) for n, p in sorted(params.items())})


def summary_table(decisions: Sequence[Decision], target: str) -> str:
    """One row per distinct (group name pattern, shape) with the count of identical groups."""
    from ir.text import seconds, table

    rows: dict[tuple, list] = {}
    for d in decisions:
        key = (_generic_name(d.name), d.describe, d.applied, round(d.before, 12), round(d.after, 12))
        if key in rows:
            rows[key][1] += 1
            continue
        rows[key] = [key[0], 1, d.describe, seconds(d.before), seconds(d.after), f"{100 * d.gain:+.1f}%",
                     "padded" if d.applied else "kept"]
    before = sum(d.before for d in decisions)
    after = sum(d.after if d.applied else d.before for d in decisions)
    body = [[str(c) for c in r] for r in rows.values()]
    body.append(["total", str(len(decisions)), "", seconds(before), seconds(after),
                 f"{100 * (before - after) / before if before else 0.0:+.1f}%", ""])
    head = f"pad-shapes on {target}: predicted GEMM + attention time per group\n"
    return head + table(["group", "count", "M x N x K (first GEMM)", "before", "after", "gain", ""], body,
                        right=[1, 3, 4, 5])


def _generic_name(name: str) -> str:
    """`model.h.7.attn.weight` -> `model.h.*.attn.weight`, so identical layers share a row."""
    return ".".join("*" if part.isdigit() else part for part in name.split("."))


__all__ = ["PadShapes", "Costs", "Planner", "summary_table", "round_up"]

