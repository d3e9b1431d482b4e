"""Structured sparsity on GPUs: a dense GEMM's cost moved onto sparse tensor cores.

    cost = structured_gemm_cost(gemm_cost(a100, 1, 4096, 4096, 4096), a100.structured_sparsity, "2:4")

A 2:4-pruned operand halves the multiply-accumulates; the target's
`[tensor_core.structured_sparsity] speedup` (1 to 2) says how much faster the math runs.
Traffic is kept dense (conservative: which operand is compressed is not recorded), so a
memory-bound GEMM gains nothing.
"""

from __future__ import annotations

import dataclasses

from backends.cost.base import OpCost, bound_of
from backends.targets import StructuredSparsity
from ir.errors import TandemError


def structured_gemm_cost(dense: OpCost, spec: StructuredSparsity, pattern: str) -> OpCost:
    """`dense` with its compute term divided by `spec.speedup` (when `pattern` matches)."""
    if pattern != spec.pattern:
        raise TandemError(
            f"the target runs {spec.pattern} structured sparsity, the op is pruned {pattern}"
        )
    kernel = max(dense.compute_seconds, dense.memory_seconds)
    overhead = dense.seconds - kernel  # launch
    compute = dense.compute_seconds / spec.speedup
    return dataclasses.replace(
        dense,
        seconds=max(compute, dense.memory_seconds) + overhead,
        flops=dense.flops * 0.5,
        compute_seconds=compute,
        bound=bound_of(compute, dense.memory_seconds, overhead),
        detail={**dense.detail, "structured_sparsity": pattern, "speedup": spec.speedup},
    )
