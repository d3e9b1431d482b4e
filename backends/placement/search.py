"""The plan search: every (t, p, d, microbatch, recompute, sp, vp, zero) that fits, fastest first.

    result = search(template, Request("dgx-a100-80gb", 1024, 1536), top=5)
    result.plans[0].plan, result.plans[0].iteration_s

For each candidate the template gives per-layer times and memory at (t, microbatch)
(`Template.variant`, analysed once per t and retyped per microbatch), `costs.layer_costs`
applies recompute and sequence parallelism, and `partition` places the layers on the
pipeline stages: the embedding's extra on the first stage and the head's on the last, so
stages may hold different numbers of layers (the layer chain is cut where the slowest stage
is fastest, under each stage's memory). The iteration time is estimated in closed form
(`estimate`); the best plans are then simulated event by event (`backends.sim.cluster`).
A plan whose busiest GPU needs more memory than the GPU has is never returned.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Protocol

from backends.cost.comm import collective_seconds, p2p_seconds
from backends.placement.candidates import MICROBATCHES, candidates, check_request, vps
from backends.placement.costs import (
    OPTIMIZER_TRAFFIC,
    LayerCosts,
    accumulate_seconds,
    bytes_per_param,
    grad_bytes,
    layer_costs,
)
from backends.placement.partition import partition
from backends.placement.plan import RECOMPUTE, Fixed, Plan, Request
from backends.placement.template import ModelFacts, Template, Variant
from backends.targets import Cluster, load_cluster
from ir.errors import TandemError

__all__ = ["MICROBATCHES", "NoPlan", "Request", "SearchResult", "check_request", "search"]


class NoPlan(TandemError):
    """No plan fits the GPUs' memory, or no split satisfies the fixed keys (``smallest``:
    the least memory per GPU a plan needed, inf when nothing was costed; ``capacity``: the
    GPU's memory)."""

    def __init__(self, message: str, smallest: float, capacity: float) -> None:
        super().__init__(message)
        self.smallest, self.capacity = smallest, capacity

    def __reduce__(self):  # noqa: ANN204 - pickled across Ray workers
        return (NoPlan, (str(self), self.smallest, self.capacity))


@dataclass
class Stage:
    """One pipeline device under a plan, per microbatch."""

    layers: int
    fwd: float
    bwd: float
    compute: float
    tp_comm: float
    memory: float
    params: int


@dataclass
class Evaluation:
    plan: Plan
    iteration_s: float
    memory_bytes: float  # the busiest GPU's
    fits: bool
    breakdown: dict[str, float]
    stages: list[Stage] = field(default_factory=list)
    memory_detail: dict[str, float] = field(default_factory=dict)
    chunks: list[tuple[float, float]] = field(default_factory=list)  # per virtual stage (fwd, bwd)
    trace: list[dict] = field(default_factory=list)


@dataclass
class SearchResult:
    plans: list[Evaluation]
    search_s: float
    evaluated: int
    rejected_memory: int
    smallest_memory: float  # the least memory per GPU any plan needed


# ---- evaluating one plan ------------------------------------------------------------------------
class ModelShape(Protocol):
    """What the step's end and the simulator read of a template."""

    @property
    def facts(self) -> ModelFacts: ...

    layers_total: int


@dataclass
class _Setup:
    cluster: Cluster
    template: ModelShape
    request: Request
    costs: dict = field(default_factory=dict)

    @property
    def dtype(self) -> str:
        return self.template.facts.dtype


def _in_flight(p: int, i: int, vp: int, m: int) -> int:
    """Microbatch-chunks whose activations device i holds at its peak (Megatron-LM's 1F1B:
    p - i; interleaved: its warm-up plus one)."""
    if vp == 1:
        return min(p - i, m)
    return min((p - i - 1) * 2 + (vp - 1) * p + 1, m * vp)


def _segment_costs(
    setup: _Setup, variant: Variant, recompute: str, sp: bool, tp_overlap: bool
) -> tuple[LayerCosts, LayerCosts, LayerCosts]:
    """Layer, embedding and head costs of a variant under recompute / sp (memoised)."""
    key = (variant.t, variant.b, recompute, sp, tp_overlap)
    got = setup.costs.get(key)
    if got is None:
        t, cl = variant.t, setup.cluster
        got = (
            layer_costs(variant.layer, cl, t, recompute, sp, True, tp_overlap),
            layer_costs(variant.embed, cl, t, recompute, sp, False, tp_overlap),
            layer_costs(variant.head, cl, t, recompute, sp, False, tp_overlap),
        )
        for c in got:  # each microbatch's backward accumulates its weight gradients
            c.compute_bwd += accumulate_seconds(cl, setup.dtype, c.params)
        setup.costs[key] = got
    return got


def evaluate(setup: _Setup, plan: Plan, variant: Variant, capacity: float) -> Evaluation | None:
    """Closed-form time, memory and breakdown of one plan (None: the chain does not split)."""
    cl = setup.cluster
    t, p, d, vp = plan.t, plan.p, plan.d, plan.vp
    m = plan.microbatches(setup.request.global_batch)
    layers = setup.template.layers_total
    lay, emb, head = _segment_costs(setup, variant, plan.recompute, plan.sp, plan.tp_overlap)
    per_param = bytes_per_param(setup.dtype, plan.zero, d)
    chunks = p * vp

    flights = [_in_flight(p, i, vp, m) for i in range(p)]

    def fixed_memory(i: int) -> float:
        """Device i's memory besides its layers (embedding on the first, head on the last)."""
        first, last = i == 0, i == p - 1
        params = (emb.params if first else 0) + (head.params if last else 0)
        acts = flights[i] * (emb.saved if first else 0.0)
        work = lay.transient + (head.saved + head.transient if last else 0.0)
        return params * per_param + acts + work

    def per_layer(i: int) -> float:
        """Device i's memory per layer of each of its chunks."""
        return vp * lay.params * per_param + flights[i] * lay.saved

    def memory(i: int, n_layers: int) -> float:
        return fixed_memory(i) + n_layers * per_layer(i)

    if vp > 1:
        if layers % chunks:
            return None
        counts = (layers // chunks,) * chunks
        device_counts = [layers // chunks] * p
    else:
        caps = []
        for i in range(p):
            room = capacity - fixed_memory(i)
            unit = per_layer(i)
            caps.append(max(0, min(layers, int(room // unit))) if unit > 0 else layers)
        layer_time = lay.fwd + lay.bwd
        extra = [0.0] * p
        extra[0] += emb.fwd + emb.bwd
        extra[-1] += head.fwd + head.bwd
        got = partition(layers, layer_time, extra, caps)
        if got is None:
            even = [layers // p + (1 if i < layers % p else 0) for i in range(p)]
            counts = tuple(even)
        else:
            counts = got
        device_counts = list(counts)
    plan = replace(plan, stage_layers=counts)
    mem = max(memory(i, device_counts[i]) for i in range(p))
    if mem > capacity:  # never returned: its time is not needed
        return Evaluation(plan, float("inf"), mem, False, {})
    stages = []
    for i in range(p):
        n = device_counts[i]
        first, last = i == 0, i == p - 1
        fwd = vp * n * lay.fwd + (emb.fwd if first else 0) + (head.fwd if last else 0)
        bwd = vp * n * lay.bwd + (emb.bwd if first else 0) + (head.bwd if last else 0)
        comp = vp * n * (lay.compute_fwd + lay.compute_bwd)
        comp += (emb.compute_fwd + emb.compute_bwd) if first else 0
        comp += (head.compute_fwd + head.compute_bwd) if last else 0
        params = vp * n * lay.params + (emb.params if first else 0) + (head.params if last else 0)
        stages.append(Stage(vp * n, fwd, bwd, comp, fwd + bwd - comp, memory(i, n), params))
    hidden_bytes = variant.dtype_bytes * variant.b * variant.seq * variant.hidden
    c_p2p = p2p_seconds(cl, hidden_bytes, t * d, t) if p > 1 else 0.0
    per_mb = [s.fwd + s.bwd + 2 * vp * c_p2p for s in stages]
    busiest = max(range(p), key=lambda i: per_mb[i])
    if vp > 1:
        pipe = (m + (p - 1) / vp) * per_mb[busiest]
    else:
        pipe = (m - 1) * per_mb[busiest] + sum(per_mb)
    chunk_times = []
    for k in range(chunks):
        f = counts[k] * lay.fwd + (emb.fwd if k == 0 else 0) + (head.fwd if k == chunks - 1 else 0)
        b = counts[k] * lay.bwd + (emb.bwd if k == 0 else 0) + (head.bwd if k == chunks - 1 else 0)
        chunk_times.append((f, b))
    dp, sync, opt = _step_end(setup, plan, stages)
    total = pipe + dp + sync + opt
    s = stages[busiest]
    breakdown = {
        "compute_s": m * s.compute,
        "tp_comm_s": m * s.tp_comm,
        "p2p_s": m * 2 * vp * c_p2p,
        "bubble_s": pipe - m * per_mb[busiest],
        "dp_comm_s": dp + sync,
        "optimizer_s": opt,
    }
    i_mem = max(range(p), key=lambda i: stages[i].memory)
    n_mem = device_counts[i_mem]
    detail = {
        "weights_and_optimizer": stages[i_mem].params * per_param,
        "activations": flights[i_mem] * n_mem * vp * lay.saved,
        "working": lay.transient + (head.saved + head.transient if i_mem == p - 1 else 0.0),
        "in_flight_microbatches": float(flights[i_mem]),
        "activation_per_layer": lay.saved,
    }
    return Evaluation(plan, total, mem, True, breakdown, stages, detail, chunk_times)


def _step_end(setup: _Setup, plan: Plan, stages: list[Stage]) -> tuple[float, float, float]:
    """Data-parallel gradient all-reduce (exposed part), tied-embedding sync, optimizer."""
    cl, t, p, d = setup.cluster, plan.t, plan.p, plan.d
    params = max(s.params for s in stages)
    gb = grad_bytes(setup.dtype)
    dp = collective_seconds(cl, "all_reduce", params * gb, d, t) if d > 1 else 0.0
    if plan.overlap and dp > 0:
        # gradients become ready layer by layer during the last backward; the last layer's
        # bucket is never hidden
        last_bwd = max(s.bwd for s in stages)
        dp = max(dp - last_bwd, dp / max(1, max(s.layers for s in stages)))
    sync = 0.0
    if p > 1:  # first and last stage sum the tied embedding's gradient
        emb = setup.template.facts.vocab * setup.template.facts.hidden / t
        sync = p2p_seconds(cl, emb * gb, t * d * (p - 1), 1)
    target = cl.device_target
    shard = d if plan.zero else 1
    opt = (
        params
        * OPTIMIZER_TRAFFIC
        / shard
        / (target.hbm_bandwidth * target.memory_op_efficiency.get("elementwise", 0.8))
    )
    return dp, sync, opt


# ---- the search --------------------------------------------------------------------------------
def search(
    template: Template,
    request: Request,
    top: int = 5,
    progress: Callable[[int, int], None] | None = None,
    simulate: bool = True,
) -> SearchResult:
    """Evaluate every allowed plan; the `top` fastest that fit, best first."""
    t0 = time.perf_counter()
    cluster = (
        request.cluster if isinstance(request.cluster, Cluster) else load_cluster(request.cluster)
    )
    check_request(request, cluster, template)
    setup = _Setup(cluster, template, request)
    capacity = cluster.device_target.hbm_capacity
    fx = request.fixed
    splits = sorted(
        candidates(request, template, cluster.gpus_per_node), key=lambda s: (s[0], s[3], s[1])
    )
    if not splits:
        raise NoPlan(
            f"no split of {request.gpus} GPUs and global batch {request.global_batch} satisfies "
            f"{_fixed_text(fx) or 'the model'} (t must divide the heads, d the batch)",
            float("inf"),
            capacity,
        )
    results: list[Evaluation] = []
    evaluated = rejected = 0
    smallest = float("inf")
    target = cluster.device_target
    too_big: set[tuple[int, int]] = set()  # (t, microbatch) where nothing fits
    fitted: set[tuple[int, int]] = set()
    for k, (t, p, d, mb) in enumerate(splits):
        if progress is not None:
            progress(k, len(splits))
        if any(tt == t and m0 < mb for tt, m0 in too_big):
            continue  # memory only grows with the microbatch
        variant = template.variant(
            t, mb, target, request.kernels, request.dropout, cluster.sustained_compute
        )
        m = request.global_batch // (d * mb)
        for recompute in RECOMPUTE if fx.recompute is None else (fx.recompute,):
            for sp in _choices(fx.sp, t > 1):
                for zero in _choices(fx.zero, d > 1):
                    for vp in vps(fx.vp, p, m, template.layers_total):
                        plan = Plan(
                            t,
                            p,
                            d,
                            mb,
                            recompute,
                            sp,
                            vp,
                            zero,
                            bool(fx.overlap),
                            tp_overlap=bool(fx.tp_overlap),
                        )
                        ev = evaluate(setup, plan, variant, capacity)
                        if ev is None:
                            continue
                        evaluated += 1
                        smallest = min(smallest, ev.memory_bytes)
                        if not ev.fits:
                            rejected += 1
                            continue
                        fitted.add((t, mb))
                        results.append(ev)
        last_of_tm = k + 1 == len(splits) or splits[k + 1][:1] + splits[k + 1][3:] != (t, mb)
        if last_of_tm and (t, mb) not in fitted:
            too_big.add((t, mb))
    if progress is not None:
        progress(len(splits), len(splits))
    if not results:
        raise NoPlan(
            f"the model fits nowhere: the smallest plan needs {smallest / 1e9:.1f} GB per GPU, "
            f"{target.name} has {capacity / 1e9:.0f} GB"
            + (f" ({_fixed_text(fx)} fixed)" if fx.given() else ""),
            smallest,
            capacity,
        )
    results.sort(key=lambda e: (e.iteration_s, _simplicity(e.plan)))
    best = results[: max(top, 1)]
    if simulate:
        from backends.sim.cluster import simulate_plan

        best = [simulate_plan(setup, ev, template, trace=i == 0) for i, ev in enumerate(best)]
        best.sort(key=lambda e: (e.iteration_s, _simplicity(e.plan)))
        if best[0].trace == [] and len(best) > 1:
            best[0] = simulate_plan(setup, best[0], template, trace=True)
    return SearchResult(best, time.perf_counter() - t0, evaluated, rejected, smallest)


def _simplicity(plan: Plan) -> tuple:
    """Ties go to the simpler plan: no sp / zero, fewer virtual stages, less recomputation."""
    return (plan.sp, plan.zero, plan.vp, RECOMPUTE.index(plan.recompute) * -1)


def _choices(fixed: bool | None, allowed: bool) -> tuple[bool, ...]:
    if fixed is not None:
        return (fixed,)
    return (False, True) if allowed else (False,)


def _fixed_text(fx: Fixed) -> str:
    return ",".join(f"{k}={v}" for k, v in fx.given().items())
