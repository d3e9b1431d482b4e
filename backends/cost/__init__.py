"""Per-op cost models: functions of shapes, dispatched on ``target.kind``.

``OpCost`` is the common result. GPU models live in ``gemm.py``, ``memory.py`` and
``attention.py``; AccelTran and PHAZE templates in ``accel.py``; collectives in ``comm.py``.
The dispatching entry points ``gemm_cost``, ``memory_op_cost`` and ``vector_op_cost`` pick
the model by ``target.kind``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class OpCost:
    """Predicted cost of one op on one target.

    seconds: predicted time of the op (including launch overhead on GPUs).
    flops: useful floating-point operations (after sparsity).
    bytes: main-memory (HBM / DRAM) traffic in bytes.
    compute_seconds / memory_seconds: the two roofline terms.
    unit: the compute-unit kind the op runs on ("sm", "mac", "softmax", "layernorm", "dma",
      "tc", "vc", "link").
    energy_j: energy in joules (0 where not modelled, e.g. GPUs).
    bound: "compute", "memory" or "latency" (launch / link latency dominates).
    detail: model-specific extras (chosen tile, waves, efficiencies, cycles ...).
    """

    seconds: float
    flops: float
    bytes: float
    compute_seconds: float
    memory_seconds: float
    unit: str
    energy_j: float = 0.0
    bound: str = "compute"
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def tflops(self) -> float:
        """Achieved TFLOP/s (0 for ops without FLOPs)."""
        return self.flops / self.seconds / 1e12 if self.seconds > 0 else 0.0


def bound_of(compute: float, memory: float, latency: float) -> str:
    """Which term dominates: "compute", "memory" or "latency"."""
    if latency >= max(compute, memory):
        return "latency"
    return "compute" if compute >= memory else "memory"


# Submodules import OpCost from here, so they are imported after it is defined.
from backends.cost.accel import (  # noqa: E402
    acceltran_area,
    acceltran_matmul_cost,
    acceltran_vector_cost,
    phaze_gemm_cost,
    phaze_vector_cost,
)
from backends.cost.attention import attention_cost  # noqa: E402
from backends.cost.comm import (  # noqa: E402
    allgather_cost,
    allreduce_cost,
    p2p_cost,
    reduce_scatter_cost,
)
from backends.cost.gemm import gemm_cost, gpu_gemm_cost  # noqa: E402
from backends.cost.memory import memory_op_cost, vector_op_cost  # noqa: E402

__all__ = [
    "OpCost",
    "bound_of",
    "gemm_cost",
    "gpu_gemm_cost",
    "memory_op_cost",
    "vector_op_cost",
    "attention_cost",
    "acceltran_matmul_cost",
    "acceltran_vector_cost",
    "acceltran_area",
    "phaze_gemm_cost",
    "phaze_vector_cost",
    "allreduce_cost",
    "allgather_cost",
    "reduce_scatter_cost",
    "p2p_cost",
]
