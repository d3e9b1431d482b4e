"""The greedy list scheduler: critical-path priority, each task at its earliest finish.

Serial schedule generation: repeatedly take the ready task (all predecessors placed) with the
longest path to the end (its bottom level), and place it in the mode and at the earliest time
where its unit kind and the DRAM bandwidth have room for it over its whole duration (gaps
left earlier may be filled). Never worse than running the tasks one after another: each task
could start where the sequential schedule starts it.

    s = list_schedule(problem)                   # in seconds
    s = list_schedule(problem, durations=ticks)  # integer ticks, a warm start for CP-SAT
"""

from __future__ import annotations

import bisect

from backends.schedule.bounds import bottom_levels
from backends.schedule.problem import Problem, Schedule


class Profile:
    """A step function of usage over time: ``usage[k]`` holds from ``times[k]`` on."""

    def __init__(self) -> None:
        self.times: list[float] = [0.0]
        self.usage: list[int] = [0]

    def earliest(self, t: float, d: float, q: int, cap: int) -> float:
        """The earliest start >= t with usage + q <= cap throughout [start, start + d)."""
        if q == 0:
            return t
        times, usage = self.times, self.usage
        while True:
            k = bisect.bisect_right(times, t) - 1
            clash = None
            while k < len(times) and times[k] < t + d:
                if usage[k] + q > cap:
                    clash = k
                    break
                k += 1
            if clash is None:
                return t
            if clash + 1 >= len(times):  # pragma: no cover - the profile ends at zero
                return times[clash]
            t = times[clash + 1]

    def add(self, s: float, e: float, q: int) -> None:
        if q == 0 or e <= s:
            return
        for x in (s, e):
            k = bisect.bisect_right(self.times, x) - 1
            if self.times[k] != x:
                self.times.insert(k + 1, x)
                self.usage.insert(k + 1, self.usage[k])
        lo = bisect.bisect_left(self.times, s)
        hi = bisect.bisect_left(self.times, e)
        for k in range(lo, hi):
            self.usage[k] += q


def list_schedule(
    p: Problem, durations: list[list[float]] | None = None, all_units: bool = False
) -> Schedule:
    """Critical-path list schedule; ``all_units`` restricts every task to its widest mode."""
    dur = durations or [[m.seconds for m in modes] for modes in p.modes]
    level = bottom_levels(p)
    indeg = [len(ps) for ps in p.preds]
    succs = p.succs()
    units: dict[tuple, Profile] = {}
    dram: dict[int, Profile] = {}
    starts = [0.0] * p.n
    ends = [0.0] * p.n
    chosen = [0] * p.n
    ready = [i for i in range(p.n) if indeg[i] == 0]
    while ready:
        i = max(ready, key=lambda j: (level[j], -j))
        ready.remove(i)
        t0 = max((ends[j] for j in p.preds[i]), default=0.0)
        best = None
        for k, m in enumerate(p.modes[i]):
            if all_units and m.demand < max(x.demand for x in p.modes[i]):
                continue
            prof = units.setdefault(m.resource, Profile())
            mem = dram.setdefault(m.resource[0], Profile())
            t = t0
            while True:
                t = prof.earliest(t, dur[i][k], m.demand, p.capacity[m.resource])
                t2 = mem.earliest(t, dur[i][k], m.dram, p.dram_capacity)
                if t2 == t:
                    break
                t = t2
            key = (t + dur[i][k], m.demand, k)
            if best is None or key < best[0]:
                best = (key, k, t)
        assert best is not None
        _, k, t = best
        m = p.modes[i][k]
        units[m.resource].add(t, t + dur[i][k], m.demand)
        dram[m.resource[0]].add(t, t + dur[i][k], m.dram)
        starts[i], ends[i], chosen[i] = t, t + dur[i][k], k
        for j in succs[i]:
            indeg[j] -= 1
            if indeg[j] == 0:
                ready.append(j)
    return Schedule(starts, chosen, max(ends, default=0.0))


def sequential_schedule(p: Problem, durations: list[list[float]] | None = None) -> Schedule:
    """Every task alone, on all units of its kind, in program order."""
    dur = durations or [[m.seconds for m in modes] for modes in p.modes]
    starts, chosen, t = [], [], 0.0
    for i, modes in enumerate(p.modes):
        k = max(range(len(modes)), key=lambda j: (modes[j].demand, -j))
        starts.append(t)
        chosen.append(k)
        t += dur[i][k]
    return Schedule(starts, chosen, t)


def best_list_schedule(p: Problem, durations: list[list[float]] | None = None) -> Schedule:
    """The better of the two list variants (mode by earliest finish; widest mode only), and
    never worse than the sequential schedule."""
    candidates = [
        list_schedule(p, durations),
        list_schedule(p, durations, all_units=True),
        sequential_schedule(p, durations),
    ]
    return min(candidates, key=lambda s: s.makespan)
