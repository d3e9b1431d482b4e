"""The cost of one tfm op on one target: ``op_cost(op, target) -> OpCost``.

The op's work comes from ``backends.flops`` (its GEMMs, FLOPs and bytes); its time from the
per-op models of ``backends.cost``, by target kind:

* ``tfm.matmul``: ``gemm_cost`` of its GEMM (broadcast batch dims flattened into one batch
  count; a shared 2-D right operand folds the batch into M, as ``torch.matmul`` does).
* ``tfm.attention`` / ``tfm.attention_backward``: ``attention_cost`` as the op's ``kernel``
  attribute says (set by the ``fuse`` pass): "flash" one fused kernel, "materialised" QK^T
  and PV GEMMs with Megatron's fused scale+mask+softmax kernel between them; without the
  attribute, flash unless ``fused=False`` (then PyTorch's eager softmax). Accelerators
  always materialise. ``attention="materialised"|"flash"`` stands in for a missing attribute
  (the planner costs unfused IR as a fusion preset would run it).
* ``tfm.fused`` (one kernel of several ops): on GPUs ``fused_kernel_cost`` of its external
  bytes and its FLOPs, one launch (``cost/fusion.py``); a kernel holding a GEMM (bias
  epilogue) is that GEMM plus the extra epilogue inputs read once. On accelerators the sum of
  its ops (their vector units already keep intermediates on chip). ``kernel_cost`` prices a
  kernel from its parts (the planner's kernels of `backends.fusion.plan_kernels`).
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
sparsity costs them the dense time. A GPU whose file declares
``[tensor_core.structured_sparsity] pattern = "2:4"`` runs a matmul marked
``sparsity.pattern = "2:4"`` (an operand pruned two-in-four) on its sparse tensor cores,
``speedup`` times faster in its math. ``sparse=False`` ignores every sparsity attribute (the
simulator's dense reference). A ``tfm.prune`` costs nothing on AccelTran (the post-sparsity
unit prunes as the producer writes; its power is in the MAC-lane stack); on GPUs it is an
elementwise kernel, or part of its producer's fused kernel after the ``fuse`` pass.

Tile hook: on accelerators a matmul / attention op's ``tile`` record (``backends/tiling``,
written by the ``tile`` pass) fixes its mapping; without one the target's default tile applies.
``cores=1`` is the scheduler's single mode: one PHAZE core, or one AccelTran PE group.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import Attribute, Operation

from backends.cost import OpCost, attention_cost, gemm_cost, memory_op_cost
from backends.cost.accel import accel_gemm_cost, accel_vector_cost
from backends.cost.fusion import fused_kernel_cost, kernel_class
from backends.cost.sparse import structured_gemm_cost
from backends.flops import count_op
from backends.targets import AccelTranTarget, GpuTarget
from backends.tiling.record import WHOLE, read_tiles
from backends.tiling.tile import Tile
from ir import linalg_ops as la
from ir.attrs import (
    KERNEL,
    MATERIALISED,
    SPARSITY,
    SPARSITY_LHS,
    SPARSITY_PATTERN,
    SPARSITY_RHS,
    TILE,
    read_float,
    read_str,
    where,
)
from ir.base import TfmOp
from ir.errors import TandemError
from ir.fused_ops import FusedOp
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

    @property
    def operands(self) -> tuple[float, float, float] | None:
        """(s_A, s_W, s_C) of a matmul's compressed traffic; None: ``pairs`` for each."""
        return (self.lhs, self.rhs, 0.0) if self.per_operand else None


DENSE = Sparsity()


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


def skipped_sparsity(op: Operation, target) -> Sparsity:
    """The part of ``op``'s sparsity ``target`` skips: all of it on AccelTran (its sparse
    units), none on GPUs and PHAZE (dense kernels and systolic arrays)."""
    return sparsity_info(op) if isinstance(target, AccelTranTarget) else DENSE


def has_sparsity(op: Operation) -> bool:
    """Whether ``op`` (or an op of its fused kernel) carries a sparsity attribute."""
    if isinstance(op, FusedOp):
        return any(has_sparsity(o) for o in op.body_ops)
    return any(name in op.attributes for name in SPARSITY_ATTRS)


def _sparsity_key(op: Operation) -> tuple:
    own = tuple(op.attributes.get(name) for name in SPARSITY_ATTRS)
    if not isinstance(op, FusedOp):
        return own
    return own + tuple(_sparsity_key(o) + (o.attributes.get(TILE),) for o in op.body_ops)


def compute_dtype(op: Operation) -> str:
    """The dtype the op computes in, as a target dtype name ("f32", "f16", "bf16", "i8").

    GEMMs and attention on f64 tensors compute in f64, which a target prices only when it
    lists an f64 peak (none does: such an op is an error, not an f32 estimate)."""
    if isinstance(op, la.MatmulOp | la.AttentionOp | la.AttentionBackwardOp) and any(
        dtype(v) == "f64" for v in op.operands
    ):
        return "f64"
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
    attention: str | None = None,
) -> OpCost:
    """Predicted cost of ``op`` on ``target`` (see the module docstring).

    ``fused``: flash-style attention on GPUs. ``cores``: accelerators only, 1 for a single
    PHAZE tensor or vector core (a schedule naming ``tc3``) or one AccelTran PE group
    (``mac2``), "all" otherwise. ``counts``: ``count_op(op)`` when the caller already has it.
    ``sparse=False``: ignore sparsity attributes. ``attention``: the attention kernel when the
    op has no ``kernel`` attribute.
    """
    if is_view(op):
        return FREE
    tiles = read_tiles(op) if target.kind != "gpu" else None
    try:
        c = counts or count_op(op)
        return _cost(op, target, fused, cores, c, tiles, sparse, attention)
    except TandemError as exc:
        raise TandemError(f"{where(op)}: {exc}") from None


def _cost(
    op: Operation,
    target,
    fused: bool,
    cores: int | str,
    c: OpWork,
    tiles: dict[str, Tile] | None,
    sparse: bool = True,
    attention: str | None = None,
) -> OpCost:
    if c.flops == 0 and c.bytes == 0:
        return FREE
    sp = sparsity_info(op) if sparse else DENSE
    skipped = sp if isinstance(target, AccelTranTarget) else DENSE
    sparsity = skipped.pairs
    dt = compute_dtype(op)
    accel = target.kind != "gpu"
    if isinstance(op, la.MatmulOp):
        g = op_gemm(op)
        if accel:
            tile = tiles.get(WHOLE) if tiles else None
            return accel_gemm_cost(
                target,
                g.batch,
                g.m,
                g.n,
                g.k,
                dt,
                sparsity,
                tile=tile,
                cores=cores,
                operand_sparsity=skipped.operands,
            )
        return _gpu_gemm(target, g, dt, sp)
    if isinstance(op, PruneOp) and isinstance(target, AccelTranTarget):
        return FREE
    if isinstance(op, FusedOp):
        return _fused(op, target, fused, cores, c, dt, sparse, attention)
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        kernel = read_str(op, KERNEL) or attention
        materialised = kernel == MATERIALISED
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
            fused=fused if kernel is None else not materialised,
            sparsity=sparsity,
            backward=isinstance(op, la.AttentionBackwardOp),
            fused_softmax=materialised,
            tiles=tiles,
            cores=cores,
        )
    kind = op.VECTOR_KIND if isinstance(op, TfmOp) else "elementwise"
    if target.kind == "gpu":
        return memory_op_cost(target, float(c.bytes), float(c.flops), dt, kind)
    if kind == "copy":
        return memory_op_cost(target, float(c.bytes), float(c.flops), dt, "copy")
    kind = ACCEL_VECTOR_KIND.get(kind, kind)
    elements = max((numel(v) for v in (*op.operands, *op.results)), default=0)
    return accel_vector_cost(target, kind, elements, dt, sparsity, cores)


def _gpu_gemm(target: GpuTarget, g: GemmShape, dt: str, sp: Sparsity) -> OpCost:
    """A dense cuBLAS GEMM, or on sparse tensor cores when the op is pruned 2:4."""
    dense = gemm_cost(target, g.batch, g.m, g.n, g.k, dt)
    if sp.pattern is not None and target.structured_sparsity is not None:
        return structured_gemm_cost(dense, target.structured_sparsity, sp.pattern)
    return dense


def _fused(
    op: FusedOp,
    target,
    fused: bool,
    cores: int | str,
    c: OpWork,
    dt: str,
    sparse: bool,
    attention: str | None,
) -> OpCost:
    """One kernel: GPU roofline of its external traffic (see ``cost/fusion.py``)."""
    body = op.body_ops
    if not isinstance(target, GpuTarget):
        parts = [
            op_cost(o, target, fused=fused, cores=cores, sparse=sparse, attention=attention)
            for o in body
        ]
        return _serial(parts, parts[0].unit if parts else "")
    return kernel_cost(
        target,
        op.kernel_name,
        body,
        float(c.bytes_read),
        float(c.bytes_written),
        c.flops,
        dt,
        sparse=sparse,
    )


def kernel_cost(
    target: GpuTarget,
    name: str,
    body: list,
    bytes_read: float,
    bytes_written: float,
    flops: float,
    dt: str,
    *,
    sparse: bool = True,
) -> OpCost:
    """One GPU kernel of the ops `body` named `name`, reading and writing the given bytes
    (a `tfm.fused` op, or a kernel the planner found): a GEMM with its epilogue (a bias, a
    DynaProp prune), or the fused-kernel roofline of its class (see the module docstring).
    ``sparse=False``: the GEMM ignores its sparsity attributes (a 2:4 pattern)."""
    gemms = [o for o in body if isinstance(o, la.MatmulOp)]
    if gemms:
        g = op_gemm(gemms[0])
        base = _gpu_gemm(target, g, dt, sparsity_info(gemms[0]) if sparse else DENSE)
        # the epilogue's extra inputs (a bias) stream in once; its arithmetic hides in the GEMM
        extra = max(0.0, bytes_read - sum(float(count_op(m).bytes_read) for m in gemms))
        base.seconds += extra / (target.hbm_bandwidth * target.fusion.stream)
        base.bytes += extra
        base.flops = float(flops)
        base.detail = {**base.detail, "kernel": name}
        return base
    kinds = {count_op(o).kind for o in body}
    vector = {o.VECTOR_KIND for o in body}
    cls = kernel_class(name, kinds, vector)
    cost = fused_kernel_cost(target, bytes_read + bytes_written, float(flops), cls)
    cost.detail["kernel"] = name
    return cost


def _serial(parts: list[OpCost], unit: str) -> OpCost:
    return OpCost(
        seconds=sum(p.seconds for p in parts),
        flops=sum(p.flops for p in parts),
        bytes=sum(p.bytes for p in parts),
        compute_seconds=sum(p.compute_seconds for p in parts),
        memory_seconds=sum(p.memory_seconds for p in parts),
        unit=unit,
        energy_j=sum(p.energy_j for p in parts),
        bound="compute"
        if sum(p.compute_seconds for p in parts) >= sum(p.memory_seconds for p in parts)
        else "memory",
    )


def signature(op: Operation, *extra: object) -> tuple:
    """A hashable key of everything the cost depends on: name, types, properties, sparsity
    attributes, kernel, tile.

    Two ops of identical layers have equal signatures, so a cache keyed on it costs each
    distinct op once.
    """
    props: tuple[tuple[str, Attribute], ...] = tuple(op.properties.items())
    sparsity = _sparsity_key(op)
    body = op.body_key() if isinstance(op, FusedOp) else op.attributes.get(KERNEL)
    return (
        op.name,
        tuple(v.type for v in op.operands),
        tuple(r.type for r in op.results),
        props,
        sparsity,
        body,
        op.attributes.get(TILE),
        extra,
    )
