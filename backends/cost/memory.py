"""Memory-bound (elementwise / reduction) op costs.

GPU: seconds = max(bytes / (HBM bandwidth * efficiency[kind]), flops / f32 peak) + launch.
The per-kind efficiencies are calibrated on A100 measurements (ops_a100.csv) against the
*minimal* traffic of each op (see ``op_bytes``), so they absorb extra passes of the measured
implementations (PyTorch's unfused masked softmax reaches only ~9% of HBM bandwidth).

AccelTran / PHAZE: ``memory_op_cost`` is a plain transfer over main memory (DMA);
``vector_op_cost`` dispatches to the template's vector units (accel.py).
"""

from __future__ import annotations

from backends.cost import OpCost, bound_of
from backends.target import GpuTarget, Target
from ir.dtypes import nbytes_of, parse_dtype
from ir.errors import TandemError

# kind -> (tensor reads, tensor writes, extra bytes per element); the extra is the 1-byte
# dropout mask. Unknown kinds are treated as "elementwise" (one read, one write).
OP_TRAFFIC: dict[str, tuple[int, int, float]] = {
    "elementwise": (1, 1, 0.0),
    "softmax": (1, 1, 0.0),
    "layernorm": (1, 1, 0.0),
    "gelu": (1, 1, 0.0),
    "relu": (1, 1, 0.0),
    "tanh": (1, 1, 0.0),
    "dropout": (1, 1, 1.0),
    "bias_dropout_add": (2, 1, 1.0),
    "add": (2, 1, 0.0),
    "copy": (1, 1, 0.0),
}


def op_bytes(kind: str, elements: int, dtype: str = "f16") -> float:
    """Minimal main-memory traffic of a memory-bound op over ``elements`` values."""
    reads, writes, extra = OP_TRAFFIC.get(kind, OP_TRAFFIC["elementwise"])
    return float(elements) * ((reads + writes) * nbytes_of(dtype) + extra)


def _efficiency(target: GpuTarget, kind: str) -> float:
    eff = target.memory_op_efficiency
    return eff.get(kind, eff["elementwise"])


def memory_op_cost(target: Target, bytes: float, flops: float = 0.0, dtype: str = "f16",
                   kind: str = "elementwise") -> OpCost:
    """Cost of a memory-bound op moving ``bytes`` of main memory and doing ``flops``."""
    if bytes < 0 or flops < 0:
        raise TandemError(f"memory_op_cost: bytes and flops must be >= 0, got {bytes}, {flops}")
    parse_dtype(dtype)
    if target.kind == "gpu":
        assert isinstance(target, GpuTarget)
        eff = _efficiency(target, kind)
        mem = bytes / (target.hbm_bandwidth * eff)
        comp = flops / target.peak_flops("f32")
        launch = target.launch_overhead_s
        return OpCost(seconds=max(mem, comp) + launch, flops=float(flops), bytes=float(bytes),
                      compute_seconds=comp, memory_seconds=mem, unit="sm",
                      bound=bound_of(comp, mem, launch),
                      detail={"kind": kind, "efficiency": eff})
    if target.kind in ("acceltran", "phaze"):
        from backends.cost import accel

        return accel.transfer_cost(target, bytes, flops, kind)  # type: ignore[arg-type]
    raise TandemError(f"memory_op_cost: unsupported target kind {target.kind!r}")


def vector_op_cost(target: Target, kind: str, elements: int, dtype: str = "f16",
                   sparsity: float = 0.0) -> OpCost:
    """An elementwise/reduction op (softmax, layernorm, gelu, dropout, ...) over ``elements``.

    GPU: memory-bound with ``op_bytes`` traffic (FLOPs ~ 5 per element); AccelTran: its
    softmax / layer-norm / MAC-lane units; PHAZE: all vector cores.
    """
    if elements < 0:
        raise TandemError(f"vector_op_cost: elements must be >= 0, got {elements}")
    if target.kind == "gpu":
        keep = 1.0 - sparsity
        return memory_op_cost(target, op_bytes(kind, elements, dtype) * keep,
                              5.0 * elements * keep, dtype, kind)
    from backends.cost import accel

    if target.kind == "acceltran":
        return accel.acceltran_vector_cost(target, kind, elements, sparsity=sparsity,  # type: ignore[arg-type]
                                           dtype=dtype)
    if target.kind == "phaze":
        return accel.phaze_vector_cost(target, kind, elements, cores="all", dtype=dtype)  # type: ignore[arg-type]
    raise TandemError(f"vector_op_cost: unsupported target kind {target.kind!r}")
