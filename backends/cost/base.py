"""The result of every cost model: ``OpCost``, and which roofline term bounds it.

c = gemm_cost(load_target("toy"), 1, 1280, 1280, 1280)
c.seconds, c.flops, c.bound      # 4.7e-05, 4.2e+09, "compute"
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
