"""The cluster simulator: one training iteration of a plan, event by event.

Each pipeline device runs Megatron-LM's schedule: 1F1B (warm-up forwards, one forward and one
backward alternating, cool-down backwards) or, with virtual stages, the interleaved 1F1B
(chunk of the k-th forward: (k // p) % vp). A forward of microbatch j on virtual stage s
waits for stage s-1's forward of j plus the send between them; a backward for stage s+1's
backward (the last stage's for its own forward). Forward and backward times are the
per-layer kernel times of the plan (tensor-parallel collectives on the critical path, the
recomputed forward inside the backward); sends block the sender (Megatron-LM's blocking
point-to-point). After the last backward: the data-parallel gradient all-reduce (exposed, or
overlapped with the backward when the plan says so), the tied-embedding gradient sync between
first and last stage, the optimizer step.

    ev = simulate_plan(setup, evaluation, template)      # search.Evaluation, timed
    ev.iteration_s, ev.breakdown["bubble_s"], ev.trace   # Chrome trace events

The trace has one track per pipeline device and one per link (each stage boundary, the
data-parallel group).
"""

from __future__ import annotations

from dataclasses import replace
from typing import TYPE_CHECKING, Any

from backends.cost.comm import p2p_seconds

if TYPE_CHECKING:
    from backends.placement.search import Evaluation, ModelShape, _Setup

US = 1e6


def schedule(p: int, vp: int, m: int) -> list[list[tuple[str, int, int]]]:
    """Per device, its ops in order: ("F" or "B", microbatch, chunk)."""
    out = []
    for i in range(p):
        total = m * vp
        if vp == 1:
            warm = min(p - i - 1, m)
        else:
            warm = min((p - i - 1) * 2 + (vp - 1) * p, total)

        def unit(k: int, backward: bool) -> tuple[int, int]:
            group = k // (p * vp)
            chunk = (k // p) % vp
            if backward:
                chunk = vp - 1 - chunk
            return group * p + k % p, chunk

        ops: list[tuple[str, int, int]] = []
        f = b = 0
        for _ in range(warm):
            ops.append(("F", *unit(f, False)))
            f += 1
        for _ in range(total - warm):
            ops.append(("F", *unit(f, False)))
            f += 1
            ops.append(("B", *unit(b, True)))
            b += 1
        while b < total:
            ops.append(("B", *unit(b, True)))
            b += 1
        if vp == 1:
            ops = [(k, j, c) for k, j, c in ops]
        out.append(ops)
    return out


def simulate_plan(
    setup: _Setup, ev: Evaluation, template: ModelShape, trace: bool = True
) -> Evaluation:
    """Time `ev`'s plan event by event; returns the evaluation with time, breakdown, trace."""
    from backends.placement.search import _step_end

    plan = ev.plan
    p, vp, t, d = plan.p, plan.vp, plan.t, plan.d
    m = plan.microbatches(setup.request.global_batch)
    stages = ev.stages
    # per virtual stage (chunk c of device i is stage c * p + i) forward / backward seconds
    fwd = {s: f for s, (f, _b) in enumerate(ev.chunks)}
    bwd = {s: b for s, (_f, b) in enumerate(ev.chunks)}
    hidden = template.facts.hidden
    eb = 4 if template.facts.dtype == "f32" else 2
    c_p2p = p2p_seconds(setup.cluster, eb * plan.microbatch * template.facts.seq * hidden, t * d, t)
    n_stages = p * vp
    done_f: dict[tuple[int, int], float] = {}
    done_b: dict[tuple[int, int], float] = {}
    ops = schedule(p, vp, m)
    cursor = [0] * p
    free = [0.0] * p
    busy = [0.0] * p
    blocked = [0.0] * p
    events: list[dict[str, Any]] = []
    remaining = sum(len(o) for o in ops)
    while remaining:
        progressed = False
        for i in range(p):
            while cursor[i] < len(ops[i]):
                kind, j, c = ops[i][cursor[i]]
                s = c * p + i
                if kind == "F":
                    dep = 0.0 if s == 0 else done_f.get((s - 1, j))
                    if dep is None:
                        break
                    start = max(free[i], dep + (c_p2p if s > 0 else 0.0))
                    end = start + fwd[s]
                    done_f[(s, j)] = end
                    send = c_p2p if s < n_stages - 1 else 0.0
                else:
                    dep = done_f.get((s, j)) if s == n_stages - 1 else done_b.get((s + 1, j))
                    if dep is None:
                        break
                    ready = dep + (c_p2p if s < n_stages - 1 else 0.0)
                    start = max(free[i], ready)
                    end = start + bwd[s]
                    done_b[(s, j)] = end
                    send = c_p2p if s > 0 else 0.0
                free[i] = end + send
                busy[i] += end - start
                blocked[i] += send
                if trace:
                    events.append(
                        _box(
                            f"{kind}{j}" + (f".{c}" if vp > 1 else ""),
                            kind,
                            i,
                            0,
                            start,
                            end,
                            {"stage": s, "microbatch": j},
                        )
                    )
                    if send:
                        link = i if kind == "F" else (i - 1) % p
                        events.append(
                            _box(f"send {kind}{j}", "p2p", p + link, 0, end, end + send, {})
                        )
                cursor[i] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # pragma: no cover - the schedule is deadlock-free
            raise RuntimeError("pipeline schedule deadlocked")
    pipe = max(free)
    dp, sync, opt = _step_end(setup, plan, stages)
    total = pipe + dp + sync + opt
    busiest = max(range(p), key=lambda i: busy[i])
    st = stages[busiest]
    per_mb = st.fwd + st.bwd
    breakdown = {
        "compute_s": m * st.compute,
        "tp_comm_s": m * st.tp_comm,
        "p2p_s": blocked[busiest],
        "bubble_s": pipe - busy[busiest] - blocked[busiest],
        "dp_comm_s": dp + sync,
        "optimizer_s": opt,
    }
    del per_mb
    if trace:
        if dp + sync > 0:
            events.append(_box("grad all-reduce (dp)", "dp", 2 * p, 0, pipe, pipe + dp + sync, {}))
        for i in range(p):
            events.append(_box("optimizer", "optimizer", i, 0, pipe + dp + sync, total, {}))
        events = _names(p, vp) + events
    return replace(ev, iteration_s=total, breakdown=breakdown, trace=events)


def _box(
    name: str, cat: str, pid: int, tid: int, start: float, end: float, args: dict
) -> dict[str, Any]:
    return {
        "name": name,
        "cat": cat,
        "ph": "X",
        "ts": start * US,
        "dur": max(0.0, end - start) * US,
        "pid": pid,
        "tid": tid,
        "args": args,
    }


def _names(p: int, vp: int) -> list[dict[str, Any]]:
    """Track names: one per pipeline device, one per link between neighbours (the last
    device sends back to the first with virtual stages), the data-parallel group."""
    out = []
    for i in range(p):
        out.append(
            {"name": "process_name", "ph": "M", "pid": i, "tid": 0, "args": {"name": f"stage {i}"}}
        )
        out.append(
            {"name": "process_sort_index", "ph": "M", "pid": i, "tid": 0, "args": {"sort_index": i}}
        )
    links = p if vp > 1 else p - 1
    for i in range(links if p > 1 else 0):
        out.append(
            {
                "name": "process_name",
                "ph": "M",
                "pid": p + i,
                "tid": 0,
                "args": {"name": f"link stage {i} <-> {(i + 1) % p}"},
            }
        )
        out.append(
            {
                "name": "process_sort_index",
                "ph": "M",
                "pid": p + i,
                "tid": 0,
                "args": {"sort_index": p + i},
            }
        )
    out.append(
        {
            "name": "process_name",
            "ph": "M",
            "pid": 2 * p,
            "tid": 0,
            "args": {"name": "data-parallel group"},
        }
    )
    return out


def chrome_trace(events: list[dict[str, Any]]) -> dict[str, Any]:
    """The trace file's JSON data."""
    return {"traceEvents": events, "displayTimeUnit": "ms"}
