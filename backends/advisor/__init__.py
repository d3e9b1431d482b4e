"""Shape advisor: nearby model shapes that run faster on a target, per sizing guideline.

Anthony et al., "The Case for Co-Designing Model Architectures with Hardware" (arXiv
2401.14489) give guidelines for GPU-friendly transformer shapes: vocabulary a multiple of 64*t,
head dim h/a a multiple of 64 and as large as accuracy allows, h/t divisible by a high power of
two, an FFN width that is a multiple of 64 (near 4h, or 8h/3 for SwiGLU), b*s a power of two
and b as large as memory allows, t as small as possible. For each guideline the advisor
evaluates candidate shapes with the cost model and recommends the best one within a parameter
budget (default +-5%). "64" is the A100's tensor-core alignment; on another GPU the advisor uses
that GPU's (8 fp16 elements on a V100, see `GpuTarget.align_elements`).

Timing model (per GPU, per microbatch): the per-layer GEMMs of the paper's table
(QKV b*s x 3h/t x h, scores s x s x h/a in b*a/t batches, values s x h/a x s, output projection,
MLP up and down; SwiGLU has a gate GEMM too), attention's softmax, the memory-bound ops
(2 layer norms, the activation, 2 bias-dropout-adds) and, once per model, the logits GEMM
b*s x v/t x h with its softmax/cross-entropy. Training adds per GEMM the two backward GEMMs in
which each of M, N and K is the reduction dim once, twice the memory traffic, and the
attention core once more (selective activation recomputation, which is also what the memory
check assumes: 16 bytes per parameter / t plus 34*s*b*h/t bytes per layer). Layers are priced
with a kernel preset, as `fuse{kernels=...}` compiles them: "flash" (default; Megatron-LM's
fused kernels with FlashAttention), "fused" (as the paper measured it: two batched GEMMs and
Megatron's fused scale-mask-softmax), "eager" (every elementwise op its own kernel) or
"inductor".

    report = advise(shape_from_config(spec.config), load_target("a100-sxm4-40gb"))
    report.find("vocabulary").recommended.value       # "50304" for GPT-2

Throughput is achieved GEMM FLOP/s per GPU (the FLOPs of the shape being evaluated, as the
paper reports). Communication is not modelled (it only makes larger t slower).

Files: `shape` (ModelShape, from a zoo config or from IR, its GEMMs and parameter count),
`estimate` (the Estimator), `guidelines` (the Advisor's per-guideline search), `report`
(Advice and Report). `tandem advise` renders the report as a table.
"""

from __future__ import annotations

from backends.advisor.estimate import KERNEL_PRESETS, Estimate, Estimator
from backends.advisor.guidelines import Advisor
from backends.advisor.report import Advice, Candidate, Report, relative_changes
from backends.advisor.shape import (
    ModelShape,
    analytic_params,
    layer_gemms,
    param_count,
    shape_from_config,
    shape_from_ir,
)
from backends.targets import Target
from ir.errors import TandemError


def advise(
    shape: ModelShape,
    target: Target,
    *,
    model: str = "",
    budget: float = 0.05,
    dtype: str = "f16",
    training: bool = False,
    kernels: str = "flash",
    max_head_dim: int = 128,
) -> Report:
    """Recommendations for every guideline of the paper (see the module docstring)."""
    if not 0 <= budget < 1:
        raise TandemError(f"budget must be in [0, 1), got {budget}")
    est = Estimator(target, dtype=dtype, training=training, kernels=kernels)
    adv = Advisor(shape, est, budget, max_head_dim)
    advice = [
        adv.vocabulary(),
        adv.heads(),
        adv.hidden(),
        adv.ffn(),
        adv.microbatch(),
        adv.tensor_parallel(),
    ]
    settings = {
        "dtype": dtype,
        "training": training,
        "kernels": kernels,
        "budget": budget,
        "max_head_dim": max_head_dim,
    }
    return Report(model, getattr(target, "name", str(target)), shape, settings, adv.base, advice)


__all__ = [
    "KERNEL_PRESETS",
    "Advice",
    "Advisor",
    "Candidate",
    "Estimate",
    "Estimator",
    "ModelShape",
    "Report",
    "advise",
    "analytic_params",
    "layer_gemms",
    "param_count",
    "relative_changes",
    "shape_from_config",
    "shape_from_ir",
]
