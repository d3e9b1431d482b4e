"""Compute units of a target and the order ops are issued in.

A unit is a kind, optionally with an index: GPU ``sm`` (``sm0``, ``sm1``... are concurrent
streams); AccelTran ``mac``, ``softmax``, ``layernorm``, ``dma``; PHAZE ``tc<i>`` / ``vc<i>``,
where the bare kind ``tc`` names the group of all tensor cores.

    units = Units(load_target("tpuv4-like"))
    units.resolve(op, "tc", "tc")    # ["tc0", ..., "tc7"]: waits for and occupies every core
    units.resolve(op, "tc3", "tc")   # ["tc3"]

A schedule also shares main memory: an op that moves B bytes in T seconds uses
``dram_share`` = B / (bandwidth * T) of it, and ops may overlap only while their shares add
up to at most 1 (``DRAM_SLOTS`` integer slots in the scheduler, rounded up). Links (``link``,
``nvlink``, ``ib``) use no main-memory share.
"""

from __future__ import annotations

import heapq
import math
import re

from xdsl.ir import Operation

from backends.cost.base import OpCost
from backends.targets import Target
from ir.attrs import SCHED_UNIT
from ir.errors import TandemError

_UNIT_RE = re.compile(r"^([A-Za-z_]+?)(\d*)$")
LINK_UNITS = frozenset({"link", "nvlink", "ib"})
DRAM_SLOTS = 1000


def split_unit(unit: str) -> tuple[str, int | None]:
    """("tc", 3) for "tc3", ("mac", None) for "mac"."""
    m = _UNIT_RE.match(unit)
    if not m:
        return unit, None
    return m.group(1), (int(m.group(2)) if m.group(2) else None)


def unit_kinds(target: Target) -> dict[str, int]:
    """Kind -> number of alike units: tpuv4-like {"tc": 8, "vc": 2}, a GPU {"sm": 1}."""
    kinds: dict[str, int] = {}
    for name in target.compute_units():
        kind, _ = split_unit(name)
        kinds[kind] = kinds.get(kind, 0) + 1
    return kinds


def dram_share(cost: OpCost, target: Target) -> float:
    """The fraction of main-memory bandwidth the op uses while it runs (0 on links)."""
    if cost.unit in LINK_UNITS or cost.seconds <= 0:
        return 0.0
    return min(1.0, cost.bytes / target.mem_bandwidth / cost.seconds)


def dram_slots(share: float) -> int:
    """The share in the scheduler's integer slots, rounded up (never overbooks)."""
    return min(DRAM_SLOTS, math.ceil(share * DRAM_SLOTS - 1e-9))


class Units:
    """Free times of the compute units, per device; groups (PHAZE "tc") span their members."""

    def __init__(self, target: Target) -> None:
        self.free: dict[tuple[int, str], float] = {}
        self.holder: dict[tuple[int, str], str] = {}  # the op that last occupied a unit
        self.members: dict[str, list[str]] = {}
        names = target.compute_units()
        for name in names:
            m = _UNIT_RE.match(name)
            if m and m.group(2):
                self.members.setdefault(m.group(1), []).append(name)
        self.target = target

    def resolve(self, op: Operation, unit: str, natural: str) -> list[str]:
        """The unit names an op on ``unit`` occupies; checks it can run there."""
        m = _UNIT_RE.match(unit)
        kind = m.group(1) if m else unit
        if kind != natural:
            raise TandemError(
                f"{op.name}: {SCHED_UNIT} {unit!r} cannot run this op on "
                f"{self.target.name} (it runs on {natural!r} units)"
            )
        if m and m.group(2):
            members = self.members.get(kind)
            if members is None and self.target.kind != "gpu":
                raise TandemError(
                    f"{op.name}: {SCHED_UNIT} {unit!r}: {self.target.name} has one "
                    f"{kind!r} unit (no index)"
                )
            if members is not None and unit not in members:
                raise TandemError(
                    f"{op.name}: {SCHED_UNIT} {unit!r}: {self.target.name} has "
                    f"{len(members)} {kind} units ({members[0]}..{members[-1]})"
                )
            return [unit]
        return self.members.get(kind, [unit])

    def single(self, unit: str | None) -> bool:
        """Whether ``unit`` names one of several alike units (costed on that one unit)."""
        if unit is None:
            return False
        kind, index = split_unit(unit)
        return index is not None and len(self.members.get(kind, ())) > 1

    def earliest(self, device: int, names: list[str]) -> float:
        free = self.free
        return max(free.get((device, n), 0.0) for n in names)

    def busiest(self, device: int, names: list[str]) -> tuple[str, str]:
        """(unit, op) of the unit among ``names`` that frees last, and the op holding it."""
        name = max(names, key=lambda n: self.free.get((device, n), 0.0))
        return name, self.holder.get((device, name), "?")

    def occupy(self, device: int, names: list[str], end: float, who: str = "") -> None:
        for n in names:
            self.free[(device, n)] = end
            self.holder[(device, n)] = who


def issue_order(ops: list[Operation], starts: list[float | None]) -> list[int]:
    """Program order, or with a schedule: topological order by sched.start (ties: program)."""
    if all(s is None for s in starts):
        return list(range(len(ops)))
    index = {op: i for i, op in enumerate(ops)}
    users: list[set[int]] = [set() for _ in ops]
    indegree = [0] * len(ops)
    for i, op in enumerate(ops):
        producers = {
            index[v.owner]
            for v in op.operands
            if isinstance(v.owner, Operation) and v.owner in index
        }
        indegree[i] = len(producers)
        for p in producers:
            users[p].add(i)
    key = [s if s is not None else -math.inf for s in starts]
    heap = [(key[i], i) for i in range(len(ops)) if indegree[i] == 0]
    heapq.heapify(heap)
    order: list[int] = []
    while heap:
        k, i = heapq.heappop(heap)
        order.append(i)
        for u in users[i]:
            if starts[u] is None:
                key[u] = max(key[u], k)
            indegree[u] -= 1
            if indegree[u] == 0:
                heapq.heappush(heap, (key[u], u))
    return order
