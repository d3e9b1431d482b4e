"""What a plan achieves, counted the way the published runs count it.

    megatron_flops(facts, batch=1536, recompute="full")   # 96 B s L h^2 (1 + s/6h + v/16Lh)
    plan_json(evaluation, facts, request, peak)           # one entry of `tandem plan --json`

Hardware FLOPs per iteration (Narayanan et al., SC'21, Eq. 3): the forward counted three
times (forward and backward), plus the recomputed forward: 96 B s L h^2 (1 + s/6h + v/16Lh)
for a GPT with full recomputation. `ir_flops` counts the same from the template's IR, so
other layer shapes (SwiGLU, grouped-query attention) count right; for GPT layers the two
agree. TFLOP/s per GPU divides the hardware FLOPs by the iteration time and the GPUs; MFU
divides the model FLOPs (no recomputation) by the iteration time, the GPUs and the peak.
"""

from __future__ import annotations

from typing import Any

from backends.placement.template import Flops, ModelFacts


def ir_flops(flops: Flops, layers: int, batch: int, recompute: str = "none") -> float:
    """The same count from the template's own FLOPs (any architecture: SwiGLU, grouped-query
    attention, ...): forward x 3, plus the recomputed forward."""
    fwd_layers = flops.layer * layers * batch
    model = 3 * (fwd_layers + flops.extra * batch)
    if recompute == "full":
        return model + fwd_layers
    if recompute == "selective":
        return model + flops.attention * layers * batch
    return model


def megatron_flops(facts: ModelFacts, batch: int, recompute: str = "none") -> float:
    """FLOPs of one iteration over `batch` sequences (hardware FLOPs under `recompute`).

    Forward of the layers 24 B s L h^2 (1 + s/6h), of the logits 2 B s h v; the backward
    twice the forward; full recomputation adds the layers' forward (96 B s L h^2 (1 + s/6h +
    v/16Lh) in all), selective recomputation attention's 4 B s^2 h per layer.
    """
    b, s, L, h, v = batch, facts.seq, facts.layers, facts.hidden, facts.vocab
    layers = 24 * b * s * L * h * h * (1 + s / (6 * h))
    model = 3 * (layers + 2 * b * s * h * v)
    if recompute == "full":
        return model + layers
    if recompute == "selective":
        return model + 4 * b * s * s * h * L
    return model


def metrics(
    iteration_s: float,
    facts: ModelFacts,
    batch: int,
    gpus: int,
    recompute: str,
    peak: float,
    flops: Flops | None = None,
) -> dict[str, float]:
    """tokens/s, TFLOP/s per GPU (hardware FLOPs), MFU (model FLOPs over peak). With the
    template's `flops` the count is the IR's (equal to Eq. 3 for GPT layers)."""
    if flops is not None:
        hardware = ir_flops(flops, facts.layers, batch, recompute)
        model = ir_flops(flops, facts.layers, batch, "none")
    else:
        hardware = megatron_flops(facts, batch, recompute)
        model = megatron_flops(facts, batch, "none")
    return {
        "tokens_per_s": batch * facts.seq / iteration_s,
        "tflops_per_gpu": hardware / iteration_s / gpus / 1e12,
        "mfu": model / iteration_s / gpus / peak,
    }


def plan_json(
    ev: Any, facts: ModelFacts, batch: int, gpus: int, peak: float, flops: Flops | None = None
) -> dict[str, Any]:
    """One plan as the documented JSON object (see `tandem plan --json`)."""
    plan = ev.plan
    out: dict[str, Any] = {
        "t": plan.t,
        "p": plan.p,
        "d": plan.d,
        "microbatch": plan.microbatch,
        "recompute": plan.recompute,
        "sequence_parallel": plan.sp,
        "vp": plan.vp,
        "zero": plan.zero,
        "overlap": plan.overlap,
        "tp_overlap": plan.tp_overlap,
        "microbatches": plan.microbatches(batch),
        "stage_layers": list(plan.stage_layers),
        "iteration_s": ev.iteration_s,
    }
    out.update(metrics(ev.iteration_s, facts, batch, gpus, plan.recompute, peak, flops))
    out["memory_bytes_per_gpu"] = ev.memory_bytes
    out["fits"] = ev.fits
    out["breakdown"] = dict(ev.breakdown)
    out["memory"] = dict(ev.memory_detail)
    return out
