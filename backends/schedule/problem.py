"""The scheduling problem of one segment (a layer's forward or backward ops), solver-neutral.

Task i has modes (run on one unit of a kind, or on all of them at once), each with a duration,
a demand on its unit kind (1 or the kind's capacity) and a share of main-memory bandwidth, and
predecessors (data edges). A schedule gives each task a start and a mode such that

* a task starts after its predecessors end;
* at any time, the demands on each (device, kind) add up to at most its capacity;
* at any time, the DRAM shares on each device add up to at most ``DRAM_SLOTS``.

    p = Problem(modes=[[Mode(("0", "tc"), 8, 2e-6, 300), Mode(("0", "tc"), 1, 9e-6, 40)], ...],
                preds=[[], [0], ...], capacity={(0, "tc"): 8, (0, "vc"): 2})

Identical capacities make the units of a kind interchangeable, so a cumulative constraint per
kind replaces per-unit assignment (interval graphs are perfect: a profile of at most n
single-unit tasks colours onto n units, ``assign_units``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from backends.sim.units import DRAM_SLOTS

Resource = tuple[int, str]  # (device, unit kind)


@dataclass(frozen=True)
class Mode:
    """One way to run a task: on ``demand`` units of ``resource`` for ``seconds``."""

    resource: Resource
    demand: int
    seconds: float
    dram: int = 0  # main-memory bandwidth share in DRAM_SLOTS
    single: bool = False  # costed on one unit of a kind that has several


@dataclass
class Problem:
    modes: list[list[Mode]]
    preds: list[list[int]]
    capacity: dict[Resource, int]
    dram_capacity: int = DRAM_SLOTS

    @property
    def n(self) -> int:
        return len(self.modes)

    def succs(self) -> list[list[int]]:
        out: list[list[int]] = [[] for _ in range(self.n)]
        for j, ps in enumerate(self.preds):
            for i in ps:
                out[i].append(j)
        return out


@dataclass
class Schedule:
    """Start times (seconds, or integer ticks for the solver) and the mode of each task."""

    starts: list[float]
    modes: list[int]
    makespan: float = 0.0
    detail: dict = field(default_factory=dict)


def makespan(p: Problem, starts: list[float], modes: list[int]) -> float:
    return max((starts[i] + p.modes[i][modes[i]].seconds for i in range(p.n)), default=0.0)


def check(p: Problem, s: Schedule, tol: float = 1e-12) -> list[str]:
    """Every violated constraint of schedule ``s`` (empty when it is valid)."""
    errors = []
    end = [s.starts[i] + p.modes[i][s.modes[i]].seconds for i in range(p.n)]
    for j, ps in enumerate(p.preds):
        for i in ps:
            if s.starts[j] < end[i] - tol:
                errors.append(f"task {j} starts before its predecessor {i} ends")
    events: dict[tuple, list[tuple[float, int]]] = {}
    for i in range(p.n):
        m = p.modes[i][s.modes[i]]
        if m.seconds <= 0:
            continue
        events.setdefault(("unit", m.resource), []).extend(
            [(s.starts[i], m.demand), (end[i], -m.demand)]
        )
        if m.dram:
            events.setdefault(("dram", m.resource[0]), []).extend(
                [(s.starts[i], m.dram), (end[i], -m.dram)]
            )
    for key, evs in events.items():
        cap = p.capacity[key[1]] if key[0] == "unit" else p.dram_capacity
        level = 0
        for _, delta in sorted(evs, key=lambda e: (e[0], e[1])):
            level += delta
            if level > cap:
                errors.append(f"{key} over capacity ({level} > {cap})")
                break
    return errors
