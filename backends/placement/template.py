"""One analysed instance of a layer, reused for every layer: what the placement search costs.

A `Template` is a training step imported with a few layers (`tandem plan` imports 3) at a
microbatch `batch`. `variant(t, b, ...)` shards it for t tensor-parallel ranks and cuts the
batch to b (`shard_function`, no new import), gives every op a chain position (1 for the
first layer's stage, 2 for the next, ...; `stages.assign`) and measures, per position:

* kernel seconds forward and backward under the fusion preset (`kernels.Kernels`: the
  `fuse` pass's kernels of the sharded template, analysed once per t, costed per microbatch),
  the tensor-parallel collectives (kind and bytes, costed later on the cluster's link),
  the attention forward (what selective recomputation repeats) and the time of ops on
  tensor-replicated values (what sequence parallelism divides by t);
* parameters (elements per rank);
* activations saved for the backward, from tensor lifetimes: forward values a backward op
  reads, views resolved to their buffer, values inside a fused elementwise kernel replaced
  by the kernel's inputs (what its backward recomputes from), attention's internal
  probabilities when materialised (plus the dropout mask and dropped probabilities), one
  1-byte dropout mask per residual add; split into tensor-replicated and split bytes;
* the layer's input (what full recomputation keeps) and its working set (peak live bytes).

The middle position is "a layer"; the first and last positions minus a layer are the
embedding's and the head's extras (the embedding, and the final norm, logits and loss).

    tpl = Template.from_function(fn, batch=16)
    v = tpl.variant(8, 2, target, "fused", dropout=True)
    v.layer.fwd_s, v.layer.saved["full"], v.head.params
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, TensorType
from xdsl.ir import Operation, SSAValue

from backends.placement.activations import Structure, structure
from backends.placement.kernels import Kernels, Times
from backends.placement.sharding import Sharded, shard_function, tensor_type
from backends.placement.specs import local_shape
from backends.placement.stages import assign
from backends.targets import GpuTarget
from ir import attrs
from ir import linalg_ops as la
from ir.attrs import MATERIALISED
from ir.base import TfmOp
from ir.errors import TandemError
from ir.types import dtype, shape


@dataclass
class Segment:
    """Costs of one chain position (or the difference of two), per microbatch, per rank."""

    fwd_s: float = 0.0
    bwd_s: float = 0.0
    attn_fwd_s: float = 0.0  # attention forward (selective recomputation repeats it)
    repl_fwd_s: float = 0.0  # ops on tensor-replicated values (sequence parallel: / t)
    repl_bwd_s: float = 0.0
    comm_fwd: list[tuple[str, float]] = field(default_factory=list)  # (collective, bytes)
    comm_bwd: list[tuple[str, float]] = field(default_factory=list)
    params: int = 0  # elements on this rank
    saved_repl: float = 0.0  # saved activations on tensor-replicated values (bytes)
    saved_split: float = 0.0  # on tensor-split values
    saved_attn: float = 0.0  # attention internals (score-sized)
    layer_input: float = 0.0  # what full recomputation keeps
    working: float = 0.0  # peak live bytes of the position's own values
    gemm_fwd_s: float = 0.0  # the forward's GEMMs (the backward's weight gradients take as long)

    def minus(self, other: Segment) -> Segment:
        """This position's extra over a layer (negative parts clipped to 0)."""

        def d(a: float, b: float) -> float:
            return max(0.0, a - b)

        return Segment(
            d(self.fwd_s, other.fwd_s),
            d(self.bwd_s, other.bwd_s),
            d(self.attn_fwd_s, other.attn_fwd_s),
            d(self.repl_fwd_s, other.repl_fwd_s),
            d(self.repl_bwd_s, other.repl_bwd_s),
            _without(self.comm_fwd, other.comm_fwd),
            _without(self.comm_bwd, other.comm_bwd),
            max(0, self.params - other.params),
            d(self.saved_repl, other.saved_repl),
            d(self.saved_split, other.saved_split),
            d(self.saved_attn, other.saved_attn),
            0.0,
            d(self.working, other.working),
            d(self.gemm_fwd_s, other.gemm_fwd_s),
        )

    def saved(self, recompute: str, sp_ranks: int) -> float:
        """Bytes kept per microbatch under a recompute mode (sequence parallel over sp_ranks)."""
        if recompute == "full":
            return self.layer_input / sp_ranks
        kept = self.saved_repl / sp_ranks + self.saved_split
        return kept + (self.saved_attn if recompute == "none" else 0.0)


def _without(
    mine: list[tuple[str, float]], layer: list[tuple[str, float]]
) -> list[tuple[str, float]]:
    """The collectives of `mine` that a layer does not have (a multiset difference)."""
    left = Counter(mine) - Counter(layer)
    out = []
    for c in mine:
        if left[c] > 0:
            out.append(c)
            left[c] -= 1
    return out


@dataclass
class Variant:
    """A template costed at t tensor-parallel ranks and microbatch b."""

    t: int
    b: int
    layer: Segment
    embed: Segment
    head: Segment
    dtype_bytes: int
    hidden: int
    seq: int


@dataclass(frozen=True)
class Flops:
    """Forward FLOPs per sequence (matmuls and attention, counted as FlopCounterMode does)."""

    layer: float  # one transformer layer
    attention: float  # of which attention's score and value products
    extra: float  # embedding and head (the logits)


@dataclass
class ModelFacts:
    """What the Megatron FLOP formula and the reports need, read from the IR."""

    layers: int
    hidden: int
    seq: int
    vocab: int
    heads: int
    batch: int
    dtype: str


class Template:
    """A few-layer training step; see the module docstring."""

    def __init__(self, fn: func.FuncOp, batch: int, layers_total: int | None = None) -> None:
        self.fn = fn
        self.batch = batch
        present = sorted({attrs.layer_of(op) for op in fn.body.block.ops} - {None})  # type: ignore[type-var]
        if not present:
            raise TandemError("the model has no transformer layers (no op carries `layer`)")
        self.present: list[int] = present  # type: ignore[assignment]
        self.layers_total = layers_total or len(present)
        self.cache: dict[tuple, Variant] = {}
        self.sharded: dict[int, _ShardedTemplate] = {}

    @classmethod
    def from_function(
        cls, fn: func.FuncOp, batch: int, layers_total: int | None = None
    ) -> Template:
        return cls(fn, batch, layers_total)

    @cached_property
    def facts(self) -> ModelFacts:
        return model_facts(self.fn, self.layers_total, self.batch)

    @cached_property
    def flops(self) -> Flops:
        """Forward matmul and attention FLOPs per sequence of a layer, its attention, the
        embedding's and head's extras (unsharded, from the IR)."""
        n = len(self.present)
        first = self.present[0]
        pos = assign(self.fn, lambda layer: layer - first + 1, n)
        mid = 2 if n >= 3 else 1
        per: dict[int, list[float]] = {}
        for op in self.fn.body.block.ops:
            k = pos.get(op)
            if k is None or attrs.phase_of(op) == attrs.BACKWARD or not isinstance(op, TfmOp):
                continue
            mm = op.work().mm_flops / self.batch
            got = per.setdefault(k, [0.0, 0.0])
            got[0] += mm
            got[1] += mm if isinstance(op, la.AttentionOp) else 0.0
        layer = per.get(mid, [0.0, 0.0])
        extra = sum(max(0.0, per.get(k, [0.0])[0] - layer[0]) for k in {1, n} - {mid})
        return Flops(layer[0], layer[1], extra)

    def variant(
        self,
        t: int,
        b: int,
        target: GpuTarget,
        preset: str,
        dropout: bool,
        sustained: float = 1.0,
    ) -> Variant:
        key = (t, b, target.name, preset, dropout, sustained)
        if key not in self.cache:
            self.cache[key] = self._variant(t, b, target, preset, dropout, sustained)
        return self.cache[key]

    def _sharded(self, t: int) -> _ShardedTemplate:
        """The template sharded for t ranks, its batch cut to 1 (retyped per microbatch)."""
        if t not in self.sharded:
            seed = next((st.sharded.params for k, st in self.sharded.items() if k > 1), None)
            sharded = shard_function(self.fn, t, self.batch, strict=False, params=seed)
            fn = sharded.function(self.fn.sym_name.data)
            first = self.present[0]
            pos = assign(fn, lambda layer: layer - first + 1, len(self.present))
            ops = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
            self.sharded[t] = _ShardedTemplate(fn, ops, pos, sharded)
        return self.sharded[t]

    def _variant(
        self, t: int, b: int, target: GpuTarget, preset: str, dropout: bool, sustained: float
    ) -> Variant:
        if self.batch % b:
            raise TandemError(f"microbatch {b} does not divide the template's batch {self.batch}")
        st = self._sharded(t)
        st.retype(t, self.batch // b)
        times = st.kernels(preset).seconds(
            target, dropout=dropout, sustained=sustained, sizes=st.size
        )
        n = len(self.present)
        mid = 2 if n >= 3 else 1
        segs = {
            k: _numbers(st.structure(k, preset), times, st.kernels(preset), dropout, st)
            for k in sorted({1, mid, n})
        }
        layer = segs[mid]
        embed = segs[1].minus(layer) if mid != 1 else Segment()
        head = segs[n].minus(layer) if n != mid else Segment()
        f = self.facts
        return Variant(t, b, layer, embed, head, _dtype_bytes(f.dtype), f.hidden, f.seq)


@dataclass
class _ShardedTemplate:
    fn: func.FuncOp
    ops: list[Operation]
    pos: dict[Operation, int | None]
    sharded: Sharded
    factor: int = 0
    structures: dict[tuple[int, str], Structure] = field(default_factory=dict)
    numel: dict[SSAValue, int] = field(default_factory=dict)
    nbytes: dict[SSAValue, int] = field(default_factory=dict)
    _eb: dict = field(default_factory=dict)
    _kernels: dict = field(default_factory=dict)

    def kernels(self, preset: str) -> Kernels:
        if preset not in self._kernels:
            self._kernels[preset] = Kernels(self.fn.body.block, preset)
        return self._kernels[preset]

    def structure(self, k: int, preset: str) -> Structure:
        key = (k, preset)
        if key not in self.structures:
            self.structures[key] = structure(
                self.fn, self.pos, k, self.sharded.specs, self.kernels(preset)
            )
        return self.structures[key]

    def retype(self, t: int, factor: int) -> None:
        """Give every value its per-rank type for a batch cut `factor` times.

        The sharded template is private to the Template: its values are retyped in place
        (the layouts do not depend on the microbatch, only the sizes do).
        """
        if factor == self.factor:
            return
        sizes = {"tp": t, "batch": factor}
        for v, gs in self.sharded.gshapes.items():
            old = v.type
            assert isinstance(old, TensorType)
            dims = local_shape(gs, self.sharded.specs[v], sizes)
            v._type = tensor_type(old.element_type, dims)  # noqa: SLF001
            n = 1
            for x in dims:
                n *= x
            self.numel[v] = n
            self.nbytes[v] = n * self.elem_bytes(old.element_type)
        self.factor = factor

    def size(self, v: SSAValue) -> tuple[int, int]:
        """(elements, bytes) of a value at the current microbatch."""
        return self.numel[v], self.nbytes[v]

    def elem_bytes(self, elem) -> int:
        if elem not in self._eb:
            from ir.dtypes import element_name, nbytes_of

            self._eb[elem] = nbytes_of(element_name(elem))
        return self._eb[elem]


def _dtype_bytes(name: str) -> int:
    return 4 if name == "f32" else 2


def _numbers(
    st: Structure,
    times: Times,
    kernels: Kernels,
    dropout: bool,
    sized: _ShardedTemplate,
) -> Segment:
    """The segment's costs at the current sizes (see the module docstring)."""
    seg = Segment()
    nbytes = sized.nbytes.__getitem__
    numel = sized.numel.__getitem__
    for op in st.fwd:
        s = times.of.get(op, 0.0)
        seg.fwd_s += s
        seg.repl_fwd_s += s if op in st.repl else 0.0
        if isinstance(op, la.AttentionOp):
            seg.attn_fwd_s += s
        if op in kernels.gemms:
            seg.gemm_fwd_s += s
        extra = times.backward.get(op, 0.0)  # dropout's backward, not in the IR
        seg.bwd_s += extra
        seg.repl_bwd_s += extra if op in st.repl else 0.0
    for op in st.bwd:
        s = times.of.get(op, 0.0)
        seg.bwd_s += s
        seg.repl_bwd_s += s if op in st.repl else 0.0
    for op, backward in st.comm:
        entry = (op.name.removeprefix("tfm."), float(op.message_bytes()))
        (seg.comm_bwd if backward else seg.comm_fwd).append(entry)
    seg.params = sum(numel(a) for a in st.params)
    seg.saved_repl = float(sum(nbytes(v) for v in st.saved_repl))
    seg.saved_split = float(sum(nbytes(v) for v in st.saved_split))
    for op in st.attention:
        b, h, sq, _d = shape(op.q)
        scores = b * h * sq * shape(op.k)[2]
        eb = nbytes(op.q) // max(numel(op.q), 1)
        if kernels.plan.attention != MATERIALISED:
            seg.saved_split += 4 * b * h * sq  # row statistics (fp32)
        else:
            # softmax probabilities; with dropout also its mask and the dropped probabilities
            seg.saved_attn += scores * eb + (scores * (1 + eb) if dropout else 0)
    if dropout:
        seg.saved_repl += sum(numel(op.results[0]) for op in st.residual_adds)
    seg.layer_input = float(sum(nbytes(v) for v in st.inputs))
    events: list[tuple[int, int, float]] = []
    for first, last, v in st.live:
        events.append((first, 1, float(nbytes(v))))
        events.append((last, 0, -float(nbytes(v))))
    events.sort()
    live = 0.0
    for _i, _k, delta in events:
        live += delta
        seg.working = max(seg.working, live)
    return seg


def model_facts(fn: func.FuncOp, layers: int, batch: int) -> ModelFacts:
    """Layers, hidden, sequence, vocabulary, heads and dtype read from the IR."""
    entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    seq = 0
    for a, entry in zip(fn.body.block.args, entries, strict=False):
        if isinstance(entry, DictionaryAttr) and attrs.INPUT in entry.data and len(shape(a)) >= 2:
            seq = shape(a)[1]
            break
    hidden = vocab = heads = 0
    dt = "bf16"
    from ir.misc_ops import EmbeddingOp

    for op in fn.body.block.ops:
        if isinstance(op, EmbeddingOp) and not vocab:
            vocab, hidden = shape(op.table)
            dt = dtype(op.table)
        if isinstance(op, la.AttentionOp) and not heads:
            heads = shape(op.q)[1]
    return ModelFacts(layers, hidden, seq, vocab, heads, batch, dt)
