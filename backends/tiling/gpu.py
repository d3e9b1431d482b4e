"""GPU GEMM tiles: the thread-block (CTA) tile and split-K the GEMM model picks, explained.

The GPU GEMM model (``backends.cost.gemm``) already chooses, like a cuBLAS heuristic, the CTA
tile (tm, tn) and split-K s with the least predicted time. This module records that choice
and what it costs (Anthony et al., arXiv 2401.14489):

* CTAs = batch * ceil(M/tm) * ceil(N/tn) * s, in waves of one CTA per SM;
* tile quantization: useful / computed output elements, M*N / (ceil(M/tm) tm * ceil(N/tn) tn);
* wave quantization: CTAs / (waves * SMs), the busy fraction of the SM-waves paid for.

    gpu_tile(load_target("a100-sxm4-40gb"), GemmShape(1, 2048, 2048, 2048))
    # {"cta": (128, 128), "split_k": 1, "ctas": 256, "waves": 3, "tile_efficiency": 1.0,
    #  "wave_efficiency": 0.79, ...}
"""

from __future__ import annotations

import math
from typing import Any

from backends.cost.gemm import gpu_gemm_cost
from backends.targets import GpuTarget
from ir.work import GemmShape


def gpu_tile(
    t: GpuTarget, g: GemmShape, dtype: str = "f16", sparsity: float = 0.0
) -> dict[str, Any]:
    """The GEMM model's CTA tile and split-K for ``g``, with its quantization efficiencies."""
    cost = gpu_gemm_cost(t, g.batch, g.m, g.n, g.k, dtype, sparsity)
    d = cost.detail
    tm, tn = (int(v) for v in d.get("tile", t.tile_shapes[0]))
    split = int(d.get("split_k", 1))
    ctas = g.batch * math.ceil(g.m / tm) * math.ceil(g.n / tn) * split
    waves = math.ceil(ctas / t.sm_count)
    computed = math.ceil(g.m / tm) * tm * math.ceil(g.n / tn) * tn
    return {
        "cta": (tm, tn),
        "split_k": split,
        "ctas": ctas,
        "waves": waves,
        "tile_efficiency": g.m * g.n / computed,
        "wave_efficiency": ctas / (waves * t.sm_count),
        "dram_bytes": cost.bytes,
        "seconds": cost.seconds,
        "bound": cost.bound,
    }
