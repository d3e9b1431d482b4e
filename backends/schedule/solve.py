"""Schedule a function: each distinct segment solved once, segments one after another.

Per distinct segment: the sequential schedule (every op alone on all units of its kind), the
list schedule, the lower bounds and the CP-SAT schedule warm-started from the list schedule.
Durations go to the solver as integer ticks (rounded up, so a schedule valid in ticks is valid
in seconds); the answer is timed in seconds and never worse than the list schedule. Segments
run back to back (a layer starts when the previous one has finished), so the function's
makespan is the sum of its segments' makespans and its bound the sum of their bounds.

    plan = schedule_function(fn, load_target("tpuv4-like"), time_limit=10.0)
    plan.makespan, plan.status, plan.bound, plan.rows   # rows: one per distinct segment
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.ir import Operation

from backends.schedule import cpsat
from backends.schedule.bounds import lower_bounds
from backends.schedule.graph import Coster, Segment, build_segments
from backends.schedule.list_scheduler import best_list_schedule, sequential_schedule
from backends.schedule.problem import Problem, Schedule, makespan
from backends.targets import Target

TICKS = 1e4  # solver resolution: ticks per sequential makespan (durations round up to one)


@dataclass
class SegmentResult:
    """The schedule of one distinct segment (times relative to its start, in seconds)."""

    starts: list[float]
    units: list[str]
    makespan: float
    sequential: float
    list_makespan: float
    bounds: dict[str, float]
    status: str  # "optimal" or "feasible"
    solve_seconds: float
    tasks: int = 0

    @property
    def bound(self) -> float:
        return max(self.bounds.values(), default=0.0)


@dataclass
class FunctionSchedule:
    """Where and when every costed op runs, and the figures of the schedule."""

    placements: list[tuple[Operation, float, str]]  # op, start (s), unit
    makespan: float
    bound: float
    status: str
    solve_seconds: float
    rows: list[dict] = field(default_factory=list)  # one per distinct segment
    segments: int = 0


def assign_units(p: Problem, s: Schedule, durations: list[list[float]]) -> list[str]:
    """Unit names: a kind with several units gets each single-unit task an index, colouring
    the tasks in start order onto the lowest free unit (the cumulative profile guarantees one
    is free)."""
    names = [p.modes[i][s.modes[i]].resource[1] for i in range(p.n)]
    free: dict[tuple, list[float]] = {}
    for i in sorted(range(p.n), key=lambda j: (s.starts[j], durations[j][s.modes[j]] > 0)):
        m = p.modes[i][s.modes[i]]
        cap = p.capacity[m.resource]
        if cap == 1:
            continue
        cores = free.setdefault(m.resource, [-math.inf] * cap)
        end = s.starts[i] + durations[i][s.modes[i]]
        if m.demand == cap:
            cores[:] = [max(c, end) for c in cores]
            continue
        k = next(k for k, c in enumerate(cores) if c <= s.starts[i])
        cores[k] = end
        names[i] = f"{m.resource[1]}{k}"
    return names


def solve_segment(p: Problem, time_limit: float = 10.0, workers: int = 2) -> SegmentResult:
    """Sequential, list and CP-SAT schedules of one segment; the best one, with its figures."""
    seconds = [[m.seconds for m in modes] for modes in p.modes]
    sequential = sequential_schedule(p).makespan
    listed = best_list_schedule(p)
    bounds = lower_bounds(p)
    best, units, status, wall = listed, assign_units(p, listed, seconds), "feasible", 0.0
    if p.n and sequential > 0 and time_limit > 0:
        tick = max(1e-12, sequential / TICKS)
        ticks = [[math.ceil(x / tick - 1e-9) for x in row] for row in seconds]
        tick_durations = [[float(x) for x in row] for row in ticks]
        r = cpsat.solve(p, ticks, best_list_schedule(p, tick_durations), time_limit, workers)
        wall = r.seconds
        starts = [x * tick for x in r.schedule.starts]
        real = makespan(p, starts, r.schedule.modes)
        if r.status != "hint" and real <= listed.makespan:
            units = assign_units(p, r.schedule, tick_durations)  # exact, in ticks
            best = Schedule(starts, r.schedule.modes, real)
        if r.status != "hint":
            # the bound of the rounded-up durations, capped where rounding lifted it
            bounds["solver"] = min(r.bound * tick, best.makespan)
            status = r.status
    if best.makespan <= max(bounds.values(), default=0.0) * (1 + 1e-12):
        status = "optimal"  # a schedule that meets a lower bound is optimal
    return SegmentResult(
        starts=list(best.starts),
        units=units,
        makespan=best.makespan,
        sequential=sequential,
        list_makespan=listed.makespan,
        bounds=bounds,
        status=status,
        solve_seconds=wall,
        tasks=p.n,
    )


def schedule_function(
    fn: func.FuncOp,
    target: Target,
    *,
    time_limit: float = 10.0,
    workers: int = 2,
    fused_attention: bool = True,
) -> FunctionSchedule:
    """Schedule ``fn``'s ops on ``target`` (see the module docstring)."""
    coster = Coster(target, fused_attention)
    segments = build_segments(fn, target, fused_attention, coster)
    capacity = coster.capacity(segments)
    solved: dict[tuple, SegmentResult] = {}
    uses: dict[tuple, list[Segment]] = {}
    placements: list[tuple[Operation, float, str]] = []
    offset = bound = 0.0
    for seg in segments:
        res = solved.get(seg.key)
        if res is None:
            res = solved[seg.key] = solve_segment(seg.problem(capacity), time_limit, workers)
        uses.setdefault(seg.key, []).append(seg)
        for task, start, unit in zip(seg.tasks, res.starts, res.units, strict=True):
            placements.append((task.op, offset + start, unit))
        offset += res.makespan
        bound += res.bound
    rows = [_row(uses[key], res) for key, res in solved.items()]
    return FunctionSchedule(
        placements=placements,
        makespan=offset,
        bound=min(bound, offset),
        status="optimal" if all(r.status == "optimal" for r in solved.values()) else "feasible",
        solve_seconds=sum(r.solve_seconds for r in solved.values()),
        rows=rows,
        segments=len(segments),
    )


def _row(segs: list[Segment], res: SegmentResult) -> dict:
    layers = [s.layer for s in segs if s.layer is not None]
    if not layers:
        what = "rest"
    elif len(layers) == 1:
        what = f"layer {layers[0]}"
    else:
        what = f"layers {min(layers)}-{max(layers)}"
    return {
        "segment": f"{what} {'bwd' if segs[0].phase == 'backward' else 'fwd'}",
        "count": len(segs),
        "tasks": res.tasks,
        "sequential_s": res.sequential,
        "list_s": res.list_makespan,
        "ilp_s": res.makespan,
        "lower_bound_s": res.bound,
        "critical_path_s": res.bounds.get("critical_path", 0.0),
        "work_s": res.bounds.get("work", 0.0),
        "status": res.status,
        "solve_s": res.solve_seconds,
    }
