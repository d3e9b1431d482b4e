"""Checks of a complete schedule (a function carrying ``sched.makespan``) while simulating.

A schedule made by the ``schedule`` pass says where and when every op runs; the simulator
honours it and reports, instead of silently repairing, any op that cannot start when the
schedule says:

    schedule: op 12 (tfm.matmul in layer 0) is scheduled at 1.2e-06 s on tc3, but its operand
      from op 10 (tfm.softmax in layer 0) is ready only at 1.5e-06 s
    schedule: op 14 (tfm.add in layer 0) is scheduled at 2e-06 s on vc0, but op 13
      (tfm.gelu in layer 0) holds vc0 until 2.4e-06 s
    schedule: ops 5 (tfm.matmul) and 6 (tfm.matmul) overlap at 3e-06 s and together need
      1.7x the main-memory bandwidth

Without ``sched.makespan`` (hand-written hints) ``sched.start`` stays an earliest start.
"""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from backends.cost.base import OpCost
from backends.sim.report import OpRow
from backends.sim.units import dram_share
from backends.targets import Target
from ir.attrs import SCHED_MAKESPAN, SCHED_TARGET, read_str, where
from ir.errors import TandemError

TOLERANCE = 1e-9  # relative slack for rounding of printed start times


def describe(i: int, op: Operation) -> str:
    return f"op {i} ({where(op)})"


def _late(start: float, sched: float) -> bool:
    return start > sched + TOLERANCE * max(abs(sched), 1e-12) + 1e-18


class ScheduleCheck:
    """The checks of one simulation of a scheduled function."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.index: dict[Operation, int] = {}

    @classmethod
    def of(cls, fn: func.FuncOp, target: Target) -> ScheduleCheck | None:
        """A checker when ``fn`` carries a complete schedule, else None."""
        if SCHED_MAKESPAN not in fn.attributes:
            return None
        made_for = read_str(fn, SCHED_TARGET)
        if made_for is not None and made_for != target.name:
            raise TandemError(
                f"the IR was scheduled for {made_for}, not {target.name}: run "
                f"schedule{{target={target.name}}} again (or drop the sched.* attributes)"
            )
        check = cls(target)
        check.index = {op: i for i, op in enumerate(fn.body.block.ops)}
        return check

    def _name(self, op: Operation) -> str:
        return describe(self.index.get(op, -1), op)

    def operands(
        self,
        i: int,
        op: Operation,
        sched: float | None,
        ready: float,
        late: SSAValue | None,
        cost: OpCost,
    ) -> None:
        if sched is None:
            if cost.unit and cost.seconds > 0:
                raise TandemError(
                    f"schedule: {describe(i, op)} runs on {cost.unit} but has no sched.start "
                    f"(the function is scheduled: run the schedule pass again)"
                )
            return
        if late is None or not _late(ready, sched):
            return
        owner = late.owner
        source = self._name(owner) if isinstance(owner, Operation) else "an argument"
        raise TandemError(
            f"schedule: {describe(i, op)} is scheduled at {sched:.6g} s, but its operand "
            f"from {source} is ready only at {ready:.6g} s"
        )

    def unit_busy(
        self,
        i: int,
        op: Operation,
        sched: float | None,
        unit: str,
        free: float,
        busy: str,
        holder: str,
    ) -> None:
        if sched is None or not _late(free, sched):
            return
        raise TandemError(
            f"schedule: {describe(i, op)} is scheduled at {sched:.6g} s on {unit}, but "
            f"{holder} holds {busy} until {free:.6g} s (a unit runs one op at a time)"
        )

    def bandwidth(self, rows: list[OpRow], ops: list[Operation]) -> None:
        """Overlapping ops may together use at most the main-memory bandwidth."""
        events = []
        for r in rows:
            if r.seconds <= 0 or not r.unit:
                continue
            share = dram_share(_cost_of(r), self.target)
            if share > 0:
                events.append((r.start, 1, share, r))
                events.append((r.end, 0, share, r))
        # times to 12 digits: an op that starts where another ends does not overlap it
        events.sort(key=lambda e: (float(f"{e[0]:.12g}"), e[1]))
        level = 0.0
        running: dict[int, OpRow] = {}
        for t, opening, share, r in events:
            if not opening:
                level -= share
                running.pop(r.index, None)
                continue
            level += share
            running[r.index] = r
            if level > 1.0 + 1e-6:
                names = [describe(x.index, ops[x.index]) for x in running.values()]
                raise TandemError(
                    f"schedule: {', '.join(names)} overlap at {t:.6g} s and together need "
                    f"{level:.2f}x the main-memory bandwidth"
                )


def _cost_of(r: OpRow) -> OpCost:
    return OpCost(r.seconds, r.flops, r.bytes, 0.0, 0.0, r.unit)
