"""Kernel time of each op under a fusion preset: what runs as one GPU kernel, and how long.

The placement search needs a layer's time "as it will run", so the fusion preset is an input
of the estimate, not a pass that already ran (../shared/PIPELINE.md):

* `eager`: every op is its own kernel (`backends.op_cost`); attention is materialised with
  PyTorch's unfused softmax.
* `fused`: Megatron-LM's fused kernels: each chain of elementwise ops (bias + GELU,
  bias + dropout + residual add, RoPE, SwiGLU) is one kernel that reads its inputs and writes
  its outputs once; attention is materialised (QK^T and PV GEMMs) with one fused
  scale-mask-softmax kernel and, with dropout, one dropout kernel over the probabilities.
* `flash`: as `fused`, with flash attention (`attention_cost(fused=True)`).

A fused kernel streams at the target's `elementwise` fraction of HBM bandwidth (the same
physics as a plain elementwise kernel); the dropout kernel at its `dropout` fraction.
`dropout=True` (Megatron's 0.1 hidden and attention dropout) adds the 1-byte masks.

    seconds = kernel_seconds(ops, target, "fused", dropout=True)   # op -> seconds

This is the one place to switch to the `fuse` pass's `tfm.fused` regions and fused-kernel
costs once they land (issue 10): `kernel_seconds` is the only function the placement
search and the cluster simulator call for compute time.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from xdsl.ir import Operation, SSAValue

from backends.cost import gemm_cost, memory_op_cost
from backends.op_cost import compute_dtype, op_cost, signature
from backends.targets import GpuTarget
from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import unary_ops as un
from ir.base import TfmOp
from ir.comm_ops import COMM_OPS
from ir.dtypes import nbytes_of
from ir.errors import TandemError
from ir.types import nbytes, numel, shape

PRESETS = ("eager", "fused", "flash")
FUSIBLE = (
    bi.BinaryOp,
    un.UnaryOp,
    el.WhereOp,
    el.ConvertOp,
    mi.DropoutOp,
    no.GeluBackwardOp,
    no.SiluBackwardOp,
)
_COMM = tuple(COMM_OPS)


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise TandemError(f"unknown kernel preset {preset!r}; expected one of {', '.join(PRESETS)}")
    return preset


def is_view(op: Operation) -> bool:
    return isinstance(op, TfmOp) and op.IS_VIEW


def _root(v: SSAValue, alias: dict[SSAValue, SSAValue]) -> SSAValue:
    return alias.get(v, v)


def regions(ops: Iterable[Operation]) -> dict[Operation, Operation]:
    """Elementwise chains (through views), one region per chain: op -> the region's first op.

    Producer and consumer are fused when both are elementwise and of the same phase; a view
    between them is transparent.
    """
    from ir.attrs import phase_of

    parent: dict[Operation, Operation] = {}

    def find(o: Operation) -> Operation:
        while parent[o] is not o:
            parent[o] = parent[parent[o]]
            o = parent[o]
        return o

    alias: dict[SSAValue, SSAValue] = {}
    for op in ops:
        if is_view(op) and op.operands:
            for r in op.results:
                alias[r] = _root(op.operands[0], alias)
            continue
        if not isinstance(op, FUSIBLE):
            continue
        parent[op] = op
        for v in op.operands:
            src = _root(v, alias).owner
            if src in parent and phase_of(src) == phase_of(op):  # type: ignore[arg-type]
                a, b = find(src), find(op)  # type: ignore[arg-type]
                if a is not b:
                    parent[b] = a
    return {op: find(op) for op in parent}


class Kernels:
    """The kernels of `ops` under a preset: which ops run as one fused kernel, what each
    region reads and writes. Structure only; `seconds` costs it at the values' current types
    (the planner retypes one sharded template per microbatch)."""

    def __init__(self, ops: list[Operation], preset: str) -> None:
        check_preset(preset)
        self.ops = ops
        self.preset = preset
        groups = regions(ops) if preset != "eager" else {}
        members: dict[Operation, list[Operation]] = {}
        for op, head in groups.items():
            members.setdefault(head, []).append(op)
        alias: dict[SSAValue, SSAValue] = {}
        for op in ops:
            if is_view(op) and op.operands:
                for r in op.results:
                    alias[r] = _root(op.operands[0], alias)
        self.heads = set(members)
        self.inside = set(groups)
        # per region: (members, external inputs, results used outside)
        self.regions = {head: _region_io(m, alias) for head, m in members.items()}

    def seconds(
        self,
        target: GpuTarget,
        *,
        dropout: bool = False,
        sustained: float = 1.0,
        sizes: Callable[[SSAValue], tuple[int, int]] | None = None,
    ) -> dict[Operation, float]:
        """`sizes(value) -> (elements, bytes)` when the caller knows them (faster)."""
        size = sizes or _size
        out: dict[Operation, float] = {}
        cache: dict[tuple, float] = {}
        for op in self.ops:
            if op in self.heads:
                out[op] = _region_seconds(*self.regions[op], target, size)
            elif (
                op in self.inside
                or not isinstance(op, TfmOp)
                or is_view(op)
                or isinstance(op, _COMM)
            ):
                out[op] = 0.0
            else:
                key = signature(op)
                if key not in cache:
                    cache[key] = _op_seconds(op, target, self.preset, dropout, sustained)
                out[op] = cache[key]
        return out


def kernel_seconds(
    ops: list[Operation],
    target: GpuTarget,
    preset: str,
    *,
    dropout: bool = False,
    sustained: float = 1.0,
) -> dict[Operation, float]:
    """Seconds of every op's kernel (a fused region's time sits on its first op; views and
    collectives 0: communication is the cluster simulator's). `sustained`: the fraction of
    the calibrated tensor-core speed a long run keeps (GEMM time is divided by it)."""
    return Kernels(ops, preset).seconds(target, dropout=dropout, sustained=sustained)


def _op_seconds(
    op: Operation, target: GpuTarget, preset: str, dropout: bool, sustained: float
) -> float:
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        return attention_seconds(op, target, preset, dropout, sustained)
    if isinstance(op, la.MatmulOp):
        return op_cost(op, target).seconds / sustained
    return op_cost(op, target, fused=preset == "flash").seconds


def _region_io(
    members: list[Operation], alias: dict[SSAValue, SSAValue]
) -> tuple[list[Operation], list[SSAValue], list[SSAValue]]:
    inside = set(members)
    produced = {r for op in members for r in op.results}
    inputs: dict[SSAValue, None] = {}
    for op in members:
        for v in op.operands:
            root = _root(v, alias)
            if root not in produced:
                inputs[root] = None
    written: list[SSAValue] = [
        r for r in produced if not r.uses or any(u.operation not in inside for u in r.uses)
    ]
    return members, list(inputs), written


def _size(v: SSAValue) -> tuple[int, int]:
    return numel(v), nbytes(v)


def _region_seconds(
    members: list[Operation],
    inputs: list[SSAValue],
    written: list[SSAValue],
    target: GpuTarget,
    size: Callable[[SSAValue], tuple[int, int]],
) -> float:
    """One kernel: external inputs read once, results used outside written once."""
    read = 0
    for v in inputs:
        n, b = size(v)
        read += b if n > 1 else 0
    wrote = sum(size(r)[1] for r in written)
    if read + wrote == 0:
        return 0.0
    flops = sum(
        op.FLOPS_PER_ELEMENT * size(op.results[0])[0]  # type: ignore[attr-defined]
        for op in members
        if op.results
    )
    dt = compute_dtype(members[0])
    return memory_op_cost(target, float(read + wrote), flops, dt, "elementwise").seconds


def attention_seconds(
    op: Operation, target: GpuTarget, preset: str, dropout: bool, sustained: float = 1.0
) -> float:
    """Attention forward or backward under a preset (see the module docstring)."""
    assert isinstance(op, la.AttentionOp | la.AttentionBackwardOp)
    backward = isinstance(op, la.AttentionBackwardOp)
    if preset == "flash":
        return op_cost(op, target, fused=True).seconds / sustained
    b, h, sq, d = shape(op.q)
    sk = shape(op.k)[2]
    dt = compute_dtype(op)
    eb = nbytes_of(dt)
    scores = float(b * h * sq * sk)
    if preset == "eager":
        base = op_cost(op, target, fused=False).seconds
        return base + (_dropout(target, scores, eb, dt) if dropout else 0.0)

    def g(m: int, n: int, k: int) -> float:
        return gemm_cost(target, b * h, m, n, k, dt).seconds / sustained

    def stream(nbytes_: float, kind: str = "elementwise") -> float:
        return memory_op_cost(target, nbytes_, 5.0 * scores, dt, kind).seconds

    if not backward:
        t = g(sq, sk, d) + g(sq, d, sk) + stream(2 * eb * scores)  # scale-mask-softmax
        return t + (_dropout(target, scores, eb, dt) if dropout else 0.0)
    t = g(sk, d, sq) + g(sq, sk, d) + g(sq, d, sk) + g(sk, d, sq)
    t += stream(3 * eb * scores)  # softmax backward: read P and dP, write dS
    if dropout:  # read the gradient and the mask, write the gradient
        t += memory_op_cost(target, (2 * eb + 1) * scores, scores, dt, "dropout").seconds
    return t


def _dropout(target: GpuTarget, scores: float, eb: int, dt: str) -> float:
    return memory_op_cost(target, (2 * eb + 1) * scores, scores, dt, "dropout").seconds
