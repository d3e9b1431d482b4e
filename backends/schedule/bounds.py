"""Lower bounds on a segment's makespan, valid for every schedule.

* critical path: the longest chain of tasks, each at its fastest mode;
* work: per (device, kind), the least unit-seconds each task needs (min over its modes of
  demand x seconds) over the kind's capacity; per device, the least DRAM slot-seconds over
  the DRAM capacity.

    lower_bounds(problem)   # {"critical_path": 3.1e-05, "work": 2.7e-05}
"""

from __future__ import annotations

from backends.schedule.problem import Problem


def critical_path(p: Problem) -> float:
    """Longest path with each task at its fastest mode (tasks are in topological order)."""
    finish = [0.0] * p.n
    for j in range(p.n):
        ready = max((finish[i] for i in p.preds[j]), default=0.0)
        finish[j] = ready + min(m.seconds for m in p.modes[j])
    return max(finish, default=0.0)


def work_bound(p: Problem) -> float:
    busy: dict[tuple, float] = {}
    for modes in p.modes:
        r = modes[0].resource
        busy[("unit", r)] = busy.get(("unit", r), 0.0) + min(
            m.demand * m.seconds / p.capacity[r] for m in modes
        )
        dram = min(m.dram * m.seconds for m in modes) / p.dram_capacity
        busy[("dram", r[0])] = busy.get(("dram", r[0]), 0.0) + dram
    return max(busy.values(), default=0.0)


def lower_bounds(p: Problem) -> dict[str, float]:
    return {"critical_path": critical_path(p), "work": work_bound(p)}


def bottom_levels(p: Problem) -> list[float]:
    """Per task: the longest path from its start to the end (its fastest modes)."""
    succs = p.succs()
    level = [0.0] * p.n
    for i in reversed(range(p.n)):
        tail = max((level[j] for j in succs[i]), default=0.0)
        level[i] = min(m.seconds for m in p.modes[i]) + tail
    return level
