"""The cost of one tfm op on one target: ``op_cost(op, target) -> OpCost``.

The op's work comes from ``backends.flops`` (its GEMMs, FLOPs and bytes); its time from the
per-op models of ``backends.cost``, by target kind:

* ``tfm.matmul``: ``gemm_cost`` of its GEMM (broadcast batch dims flattened into one batch
  count; a shared 2-D right operand folds the batch into M, as ``torch.matmul`` does).
* ``tfm.attention`` / ``tfm.attention_backward``: ``attention_cost``, flash-style fused on
  GPUs unless ``fused=False`` (materialised QK^T, softmax, PV); accelerators always
  materialise.
* memory-bound ops (elementwise, softmax, norm, reduce, embedding, loss, data-movement,
  generic): on GPUs ``memory_op_cost`` of the op's bytes and FLOPs; on AccelTran softmax and
  norms run on their units and other arithmetic on the MAC lanes (``vector_op_cost``), while
  pure data movement (concat, pad, convert, gathers, generic ops) is a DMA transfer; PHAZE runs
  arithmetic on its vector cores.
* views (reshape, permute, broadcast, slice, constant, arange) are free: 0 s on no unit.

Sparsity (``ir.attrs``; measured by ``tandem sparsity -o``): ``sparsity`` is the fraction of
zero operand pairs, ``sparsity.lhs`` / ``sparsity.rhs`` the zero fraction of each operand:

    %y = tfm.matmul %x, %w {sparsity = 0.5 : f64, sparsity.lhs = 0.5 : f64, sparsity.rhs = 0.0 : f64}
        : (tensor<32x64xf16>, tensor<64x64xf16>) -> tensor<32x64xf16>

Only hardware that skips zeros gains: on AccelTran the pre-sparsity unit feeds the non-zero
pairs (cycles x (1 - sparsity)) and operands move compressed (values plus a 1-bit mask), and
its vector units skip zeros too. GPU kernels and PHAZE's systolic arrays are dense: unstructured
sparsity costs them the dense time. A GPU whose file declares ``[sparsity] structured = "2:4"``
runs a matmul marked ``sparsity.pattern = "2:4"`` (an operand pruned two-in-four) on its
sparse tensor cores, ``speedup`` times faster in its math. ``sparse=False`` ignores every
sparsity attribute (the simulator's dense reference). A `tfm.prune` costs nothing on AccelTran
(the post-sparsity unit prunes as the producer writes; its power is in the MAC-lane stack).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Attribute, Operation

from backends.cost import OpCost, attention_cost, gemm_cost, memory_op_cost, vector_op_cost
from backends.cost.accel import acceltran_matmul_cost, phaze_gemm_cost, phaze_vector_cost
from backends.cost.sparse import structured_gemm_cost
from backends.flops import count_op
from backends.targets import AccelTranTarget, GpuTarget
from ir import linalg_ops as la
from ir.attrs import (
    SPARSITY,
    SPARSITY_LHS,
    SPARSITY_PATTERN,
    SPARSITY_RHS,
    read_float,
    read_str,
    where,
)
from ir.base import TfmOp
from ir.errors import TandemError
from ir.sparse_ops import PruneOp
from ir.types import dtype, numel, shape
from ir.work import GemmShape, OpWork

# Accelerator units for the memory-bound ops GPUs have no calibrated efficiency for: the
# loss's log-softmax runs on the softmax units.
ACCEL_VECTOR_KIND = {"log_softmax": "softmax", "cross_entropy": "softmax"}

FREE = OpCost(
    seconds=0.0,
    flops=0.0,
    bytes=0.0,
    compute_seconds=0.0,
    memory_seconds=0.0,
    unit="",
    bound="free",
)


SPARSITY_ATTRS = (SPARSITY, SPARSITY_LHS, SPARSITY_RHS, SPARSITY_PATTERN)
PATTERNS = ("2:4",)


@dataclass(frozen=True)
class Sparsity:
    """What an op's sparsity attributes say (all 0 / None when absent)."""

    pairs: float = 0.0  # zero operand pairs: skipped multiply-accumulates
    lhs: float = 0.0
    rhs: float = 0.0
    per_operand: bool = False  # lhs/rhs given (else `pairs` applies to every operand)
    pattern: str | None = None

    @property
    def any(self) -> bool:
        return self.pairs > 0 or self.pattern is not None


def _fraction(op: Operation, name: str) -> float | None:
    return read_float(op, name, low=0.0, high=1.0, high_open=True)


def sparsity_info(op: Operation) -> Sparsity:
    """The op's sparsity attributes, checked (a TandemError names a bad one)."""
    pairs, lhs, rhs = (_fraction(op, n) for n in (SPARSITY, SPARSITY_LHS, SPARSITY_RHS))
    pattern = read_str(op, SPARSITY_PATTERN)
    if pattern is not None and pattern not in PATTERNS:
        raise TandemError(
            f"{where(op)}: attribute {SPARSITY_PATTERN!r} must be one of {list(PATTERNS)}, "
            f"got {pattern!r}"
        )
    per_operand = lhs is not None or rhs is not None
    a, b = lhs or 0.0, rhs or 0.0
    if pairs is None:
        pairs = 1.0 - (1.0 - a) * (1.0 - b)
    return Sparsity(pairs, a, b, per_operand, pattern)


def sparsity_of(op: Operation) -> float:
    """The fraction of zero operand pairs (``sparsity``, or from the operands' fractions)."""
    return sparsity_info(op).pairs


def has_sparsity(op: Operation) -> bool:
    return any(name in op.attributes for name in SPARSITY_ATTRS)


def compute_dtype(op: Operation) -> str:
    """The dtype the op computes in, as a target dtype name ("f32", "f16", "bf16", "i8")."""
    for value in (*op.operands, *op.results):
        name = dtype(value)
        if name in ("f16", "bf16", "f32"):
            return name
    return "f32"


def is_view(op: Operation) -> bool:
    return isinstance(op, TfmOp) and op.IS_VIEW


def op_gemm(op: la.MatmulOp) -> GemmShape:
    """The op's GEMM; a 2-D right operand (a weight) folds the batch dims into M."""
    g = op.gemm()
    if g.batch > 1 and len(shape(op.rhs)) == 2 and op.transpose_lhs is None:
        return GemmShape(1, g.batch * g.m, g.n, g.k)
    return g


def op_cost(
    op: Operation,
    target,
    *,
    fused: bool = True,
    cores: int | str = "all",
    counts: OpWork | None = None,
    sparse: bool = True,
) -> OpCost:
    """Predicted cost of ``op`` on ``target`` (see the module docstring).

    ``fused``: flash-style attention on GPUs. ``cores``: PHAZE only, 1 for a single tensor or
    vector core (a schedule naming ``tc3``), "all" otherwise. ``counts``: ``count_op(op)``
    when the caller already has it. ``sparse=False``: ignore sparsity attributes.
    """
    if is_view(op):
        return FREE
    try:
        return _cost(op, target, fused, cores, counts or count_op(op), sparse)
    except TandemError as exc:
        raise TandemError(f"{where(op)}: {exc}") from None


def _matmul_cost(op: la.MatmulOp, target, cores: int | str, dt: str, sp: Sparsity) -> OpCost:
    g = op_gemm(op)
    if isinstance(target, AccelTranTarget):
        operands = (sp.lhs, sp.rhs, 0.0) if sp.per_operand else None
        return acceltran_matmul_cost(target, g.batch, g.m, g.n, g.k, sp.pairs, dt, operands)
    if isinstance(target, GpuTarget):
        dense = gemm_cost(target, g.batch, g.m, g.n, g.k, dt)
        if sp.pattern is not None and target.structured_sparsity is not None:
            return structured_gemm_cost(dense, target.structured_sparsity, sp.pattern)
        return dense
    if target.kind == "phaze" and cores != "all":
        return phaze_gemm_cost(target, g.batch, g.m, g.n, g.k, dt, cores)
    return gemm_cost(target, g.batch, g.m, g.n, g.k, dt)


def _cost(op: Operation, target, fused: bool, cores: int | str, c: OpWork, sparse: bool) -> OpCost:
    if c.flops == 0 and c.bytes == 0:
        return FREE
    sp = sparsity_info(op) if sparse else Sparsity()
    # only AccelTran's sparse units skip unstructured zeros
    sparsity = sp.pairs if isinstance(target, AccelTranTarget) else 0.0
    dt = compute_dtype(op)
    if isinstance(op, la.MatmulOp):
        return _matmul_cost(op, target, cores, dt, sp)
    if isinstance(op, PruneOp) and isinstance(target, AccelTranTarget):
        return FREE
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        b, hq, sq, d = shape(op.q)
        hkv, sk = shape(op.k)[1], shape(op.k)[2]
        return attention_cost(
            target,
            b,
            hq,
            hkv,
            sq,
            sk,
            d,
            dt,
            causal=op.is_causal,
            fused=fused,
            sparsity=sparsity,
            backward=isinstance(op, la.AttentionBackwardOp),
        )
    kind = op.VECTOR_KIND if isinstance(op, TfmOp) else "elementwise"
    if target.kind == "gpu":
        return memory_op_cost(target, float(c.bytes), float(c.flops), dt, kind)
    if kind == "copy":
        return memory_op_cost(target, float(c.bytes), float(c.flops), dt, "copy")
    kind = ACCEL_VECTOR_KIND.get(kind, kind)
    elements = max((numel(v) for v in (*op.operands, *op.results)), default=0)
    if target.kind == "phaze":
        return phaze_vector_cost(target, kind, elements, cores, dt)
    return vector_op_cost(target, kind, elements, dt, sparsity)


def signature(op: Operation, *extra: object) -> tuple:
    """A hashable key of everything the cost depends on: name, types, properties, sparsity.

    Two ops of identical layers have equal signatures, so a cache keyed on it costs each
    distinct op once.
    """
    props: tuple[tuple[str, Attribute], ...] = tuple(op.properties.items())
    sparsity = tuple(op.attributes.get(name) for name in SPARSITY_ATTRS)
    return (
        op.name,
        tuple(v.type for v in op.operands),
        tuple(r.type for r in op.results),
        props,
        sparsity,
        extra,
    )
