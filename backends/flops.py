"""FLOP and byte accounting per tfm op, shared by passes, the simulator and `tandem flops`.

`mm_flops` is the part `torch.utils.flop_counter.FlopCounterMode` counts (matmuls and
attention, with its formulas); `flops` adds our estimate for everything else. Bytes are
main-memory traffic of an unfused op: operands read once, results written once; views
(reshape, permute, broadcast, slice) move nothing.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from ir import elementwise_ops as ew
from ir import linalg_ops as la
from ir import misc_ops as misc
from ir import norm_ops as nm
from ir import shape_ops as sh
from ir.types import nbytes, numel, shape


@dataclass(frozen=True)
class Gemm:
    """C[batch, m, n] = A[batch, m, k] @ B[batch, k, n], the cost model's unit of work."""

    batch: int
    m: int
    n: int
    k: int

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k


@dataclass(frozen=True)
class OpCounts:
    kind: str
    flops: int
    mm_flops: int
    bytes_read: int
    bytes_written: int
    gemms: tuple[Gemm, ...] = ()

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written


VIEW_OPS = (sh.ReshapeOp, sh.PermuteOp, sh.BroadcastOp, sh.SliceOp, ew.ConstantOp, ew.ArangeOp)

# Arithmetic per output element of the memory-bound ops (a transcendental counts as one).
PER_ELEMENT = {
    ew.GeluOp: 8, ew.SiluOp: 4, ew.SigmoidOp: 3, ew.ConvertOp: 0, misc.DropoutOp: 2,
    nm.SoftmaxOp: 5, nm.LogSoftmaxOp: 5, nm.SoftmaxBackwardOp: 4, nm.LogSoftmaxBackwardOp: 4,
    nm.LayerNormOp: 8, nm.LayerNormBackwardOp: 16, nm.RmsNormOp: 5,
    nm.GeluBackwardOp: 12, nm.SiluBackwardOp: 6, sh.ConcatOp: 0, sh.PadOp: 0,
}

KINDS = {
    la.MatmulOp: "matmul", la.AttentionOp: "attention", la.AttentionBackwardOp: "attention",
    nm.SoftmaxOp: "softmax", nm.LogSoftmaxOp: "softmax", nm.SoftmaxBackwardOp: "softmax",
    nm.LogSoftmaxBackwardOp: "softmax", nm.LayerNormOp: "norm", nm.LayerNormBackwardOp: "norm",
    nm.RmsNormOp: "norm", misc.EmbeddingOp: "embedding", misc.EmbeddingBackwardOp: "embedding",
    misc.ReduceOp: "reduce", misc.CrossEntropyOp: "loss", misc.NllLossOp: "loss",
    misc.NllLossBackwardOp: "loss", misc.GenericOp: "generic", sh.ConcatOp: "data-movement",
    sh.PadOp: "data-movement", ew.ConvertOp: "data-movement",
}


def attention_gemms(op: la.AttentionOp | la.AttentionBackwardOp) -> tuple[Gemm, ...]:
    """The batched GEMMs a fused attention kernel performs (FlopCounterMode's accounting)."""
    b, hq, sq, d = shape(op.q)
    sk, dv = shape(op.k)[2], shape(op.v)[3]
    bh = b * hq
    fwd = (Gemm(bh, sq, sk, d), Gemm(bh, sq, dv, sk))
    if isinstance(op, la.AttentionOp):
        return fwd
    # recompute scores; dP = dO V^T; dV = P^T dO; dQ = dS K; dK = dS^T Q
    return (Gemm(bh, sq, sk, d), Gemm(bh, sq, sk, dv), Gemm(bh, sk, dv, sq), Gemm(bh, sq, d, sk),
            Gemm(bh, sk, d, sq))


def matmul_gemm(op: la.MatmulOp) -> Gemm:
    batch, m, n, k = op.dims()
    count = 1
    for d in batch:
        count *= d
    return Gemm(count, m, n, k)


def count_op(op: Operation) -> OpCounts:
    kind = KINDS.get(type(op), "elementwise")
    if isinstance(op, VIEW_OPS):
        return OpCounts("view", 0, 0, 0, 0)
    read = sum(nbytes(v) for v in op.operands)
    written = sum(nbytes(r) for r in op.results)
    if isinstance(op, la.MatmulOp):
        g = matmul_gemm(op)
        return OpCounts(kind, g.flops, g.flops, read, written, (g,))
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        gemms = attention_gemms(op)
        mm = sum(g.flops for g in gemms)
        b, hq, sq, _ = shape(op.q)
        softmax = 5 * b * hq * sq * shape(op.k)[2]
        return OpCounts(kind, mm + softmax, mm, read, written, gemms)
    if isinstance(op, misc.EmbeddingOp):
        return OpCounts(kind, 0, 0, nbytes(op.ids) + nbytes(op.result), written)
    if isinstance(op, misc.EmbeddingBackwardOp):
        return OpCounts(kind, numel(op.grad), 0, read, written)
    if isinstance(op, misc.ReduceOp | misc.CrossEntropyOp | misc.NllLossOp):
        per = 6 if isinstance(op, misc.CrossEntropyOp) else 1
        return OpCounts(kind, per * numel(op.operands[0]), 0, read, written)
    per = PER_ELEMENT.get(type(op), 1)
    elements = max((numel(r) for r in op.results), default=0)
    return OpCounts(kind, per * elements, 0, read, written)


@dataclass
class Totals:
    flops: int = 0
    mm_flops: int = 0
    bytes: int = 0
    ops: int = 0
    by_kind: dict[str, dict[str, int]] = field(default_factory=lambda: defaultdict(lambda: defaultdict(int)))

    def add(self, c: OpCounts) -> None:
        self.flops += c.flops
        self.mm_flops += c.mm_flops
        self.bytes += c.bytes
        self.ops += 1
        k = self.by_kind[c.kind]
        k["ops"] += 1
        k["flops"] += c.flops
        k["bytes"] += c.bytes

    def to_json(self) -> dict:
        return {
            "flops": self.flops,
            "flop_counter_flops": self.mm_flops,
            "bytes": self.bytes,
            "ops": self.ops,
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
        }


def count_module(module: ModuleOp) -> Totals:
    totals = Totals()
    for op in module.walk():
        if op.name.startswith("tfm."):
            totals.add(count_op(op))
    return totals
