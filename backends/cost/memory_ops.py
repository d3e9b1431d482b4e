"""Memory-bound (elementwise / reduction) op costs.

GPU: seconds = max(bytes / (HBM bandwidth * efficiency[kind]), flops / f32 peak) + launch.
The per-kind efficiencies are calibrated on A100 measurements (ops_a100.csv) against the
*minimal* traffic of each op (see ``traffic.op_bytes``), so they absorb extra passes of the measured
implementations (PyTorch's unfused masked softmax reaches only ~9% of HBM bandwidth).

AccelTran / PHAZE: ``memory_op_cost`` is a plain transfer over main memory (DMA);
``vector_op_cost`` dispatches to the template's vector units (accel.py).
"""

from __future__ import annotations

from backends.cost.accel import acceltran_vector_cost, phaze_vector_cost, transfer_cost
from backends.cost.base import OpCost, bound_of
from backends.cost.traffic import op_bytes
from backends.targets import AccelTranTarget, GpuTarget, PhazeTarget, Target
from ir import estimates
from ir.dtypes import parse_dtype
from ir.errors import TandemError


def _efficiency(target: GpuTarget, kind: str) -> float:
    eff = target.memory_op_efficiency
    return eff.get(kind, eff["elementwise"])


def gpu_stream_cost(
    target: GpuTarget, bytes: float, flops: float, eff: float, detail: dict
) -> OpCost:
    """One memory-bound GPU kernel: max(bytes at ``eff`` of HBM bandwidth, flops at the f32
    peak) + launch; ``detail`` gains the efficiency."""
    mem = bytes / (target.hbm_bandwidth * eff)
    comp = flops / target.peak_flops("f32")
    launch = target.launch_overhead_s
    return OpCost(
        seconds=max(mem, comp) + launch,
        flops=float(flops),
        bytes=float(bytes),
        compute_seconds=comp,
        memory_seconds=mem,
        unit="sm",
        bound=bound_of(comp, mem, launch),
        detail={**detail, "efficiency": eff},
    )


def memory_op_cost(
    target: Target, bytes: float, flops: float = 0.0, dtype: str = "f16", kind: str = "elementwise"
) -> OpCost:
    """Cost of a memory-bound op moving ``bytes`` of main memory and doing ``flops``."""
    if bytes < 0 or flops < 0:
        raise TandemError(f"memory_op_cost: bytes and flops must be >= 0, got {bytes}, {flops}")
    parse_dtype(dtype)
    if isinstance(target, GpuTarget):
        eff = _efficiency(target, kind)
        return gpu_stream_cost(target, bytes, flops, eff, {"kind": kind})
    if isinstance(target, AccelTranTarget | PhazeTarget):
        return transfer_cost(target, bytes, flops, kind)
    raise TandemError(f"memory_op_cost: unsupported target kind {target.kind!r}")


def vector_op_cost(
    target: Target, kind: str, elements: int, dtype: str = "f16", sparsity: float = 0.0
) -> OpCost:
    """An elementwise/reduction op (softmax, layernorm, gelu, dropout, ...) over ``elements``.

    GPU: memory-bound with ``op_bytes`` traffic (FLOPs ~ 5 per element); AccelTran: its
    softmax / layer-norm / MAC-lane units; PHAZE: all vector cores.
    """
    if elements < 0:
        raise TandemError(f"vector_op_cost: elements must be >= 0, got {elements}")
    if isinstance(target, GpuTarget):
        keep = 1.0 - sparsity
        return memory_op_cost(
            target,
            op_bytes(kind, elements, dtype) * keep,
            estimates.VECTOR_OP * elements * keep,
            dtype,
            kind,
        )
    if isinstance(target, AccelTranTarget):
        return acceltran_vector_cost(target, kind, elements, sparsity=sparsity, dtype=dtype)
    if isinstance(target, PhazeTarget):
        return phaze_vector_cost(target, kind, elements, cores="all", dtype=dtype)
    raise TandemError(f"vector_op_cost: unsupported target kind {target.kind!r}")
