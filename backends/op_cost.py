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

Sparsity hook: an op with a float attribute ``sparsity`` (0 <= s < 1, e.g. set by a DynaProp
pass) passes it to the GEMM / attention / accelerator vector models:

    %y = tfm.matmul %x, %w {sparsity = 0.5 : f64} : (tensor<32x64xf16>, tensor<64x64xf16>) -> tensor<32x64xf16>

GPUs ignore it for memory-bound ops (they do not skip zeros there).
"""

from __future__ import annotations

from xdsl.ir import Attribute, Operation

from backends.cost import OpCost, attention_cost, gemm_cost, memory_op_cost, vector_op_cost
from backends.cost.accel import phaze_gemm_cost, phaze_vector_cost
from backends.flops import count_op
from ir import linalg_ops as la
from ir.attrs import SPARSITY, read_float, where
from ir.base import TfmOp
from ir.errors import TandemError
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


def sparsity_of(op: Operation) -> float:
    """The op's ``sparsity`` attribute (0 when absent); a TandemError when out of [0, 1)."""
    value = read_float(op, SPARSITY, low=0.0, high=1.0, high_open=True)
    return 0.0 if value is None else value


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
) -> OpCost:
    """Predicted cost of ``op`` on ``target`` (see the module docstring).

    ``fused``: flash-style attention on GPUs. ``cores``: PHAZE only, 1 for a single tensor or
    vector core (a schedule naming ``tc3``), "all" otherwise. ``counts``: ``count_op(op)``
    when the caller already has it.
    """
    if is_view(op):
        return FREE
    try:
        return _cost(op, target, fused, cores, counts or count_op(op))
    except TandemError as exc:
        raise TandemError(f"{where(op)}: {exc}") from None


def _cost(op: Operation, target, fused: bool, cores: int | str, c: OpWork) -> OpCost:
    if c.flops == 0 and c.bytes == 0:
        return FREE
    sparsity = sparsity_of(op)
    dt = compute_dtype(op)
    if isinstance(op, la.MatmulOp):
        g = op_gemm(op)
        if target.kind == "phaze" and cores != "all":
            return phaze_gemm_cost(target, g.batch, g.m, g.n, g.k, dt, cores, sparsity)
        return gemm_cost(target, g.batch, g.m, g.n, g.k, dt, sparsity)
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
    sparsity = op.attributes.get(SPARSITY)
    return (
        op.name,
        tuple(v.type for v in op.operands),
        tuple(r.type for r in op.results),
        props,
        sparsity,
        extra,
    )
