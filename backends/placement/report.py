"""What a plan achieves, counted the way the published runs count it.

    megatron_flops(facts, batch=1536, recompute="full")   # 96 B s L h^2 (1 + s/6h + v/16Lh)
    plan_json(evaluation, facts, request, peak)           # one entry of `tandem plan --json`

Hardware FLOPs per iteration (Narayanan et al., SC'21, Eq. 3): 72 B s L h^2 (1 + s/(6h) +
v/(16 L h)) for a forward and a backward; full recomputation repeats the forward (factor 96),
selective recomputation repeats attention's score and value products (s/(18h) more). TFLOP/s
per GPU divides the hardware FLOPs by the iteration time and the GPUs; MFU divides the model
FLOPs (factor 72) by the iteration time, the GPUs and the GPU's peak.
"""

from __future__ import annotations

from typing import Any

from backends.placement.template import ModelFacts


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
    iteration_s: float, facts: ModelFacts, batch: int, gpus: int, recompute: str, peak: float
) -> dict[str, float]:
    hardware = megatron_flops(facts, batch, recompute)
    model = megatron_flops(facts, batch, "none")
    return {
        "tokens_per_s": batch * facts.seq / iteration_s,
        "tflops_per_gpu": hardware / iteration_s / gpus / 1e12,
        "mfu": model / iteration_s / gpus / peak,
    }


def plan_json(ev: Any, facts: ModelFacts, batch: int, gpus: int, peak: float) -> dict[str, Any]:
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
        "microbatches": plan.microbatches(batch),
        "stage_layers": list(plan.stage_layers),
        "iteration_s": ev.iteration_s,
    }
    out.update(metrics(ev.iteration_s, facts, batch, gpus, plan.recompute, peak))
    out["memory_bytes_per_gpu"] = ev.memory_bytes
    out["fits"] = ev.fits
    out["breakdown"] = dict(ev.breakdown)
    out["memory"] = dict(ev.memory_detail)
    return out
