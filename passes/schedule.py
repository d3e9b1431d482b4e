"""schedule: give every op a unit and a start time, layer by layer, with CP-SAT.

    %a = tfm.matmul %x, %wq : ...
    %b = tfm.matmul %x, %wk : ...

becomes, on `schedule{target=tpuv4-like}`,

    func.func @forward(...) attributes {sched.makespan = 4.1e-06 : f64, sched.status = "optimal",
                                        sched.bound = 4.1e-06 : f64, sched.solve_time = 0.02 : f64,
                                        sched.target = "tpuv4-like"} {
      %a = tfm.matmul %x, %wq {sched.start = 0.0 : f64, sched.unit = "tc0"} : ...
      %b = tfm.matmul %x, %wk {sched.start = 0.0 : f64, sched.unit = "tc1"} : ...

Each layer's forward and backward ops (and the ops outside layers) form a segment; a segment's
ops get a unit and a start minimising its makespan under the data edges, one op at a time per
unit (an op may take one core of its kind or all of them: PHAZE's two modes, costed by the cost
model with the recorded tiles) and the shared main-memory bandwidth. A greedy critical-path
list schedule is the baseline and the solver's warm start, so the answer is never worse; after
`time-limit` seconds the best schedule found stands (status "feasible") with the best bound.
Identical layers are solved once. Segments run one after another, so the function's makespan
is the sum of its segments'. Views take no time and get no attributes. The simulator checks
the schedule (an op that cannot start when it says is an error naming the ops).

Options:
  target: hardware target name or .toml path (default a100-sxm4-40gb).
  time-limit: CP-SAT seconds per distinct segment (default 10; 0 keeps the list schedule).
  workers: CP-SAT search workers (default 2).
  fused-attention: GPUs: attention as one fused kernel.
  verbose: print per distinct segment the sequential, list and ILP makespans, the lower bound,
    the status and the solve time.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass

from backends.schedule.solve import FunctionSchedule, schedule_function
from backends.targets import load_target
from ir import attrs
from ir.base import float_attr
from ir.errors import PassError, TandemError
from ir.text import seconds, table


@dataclass(frozen=True)
class Schedule(ModulePass):
    """Schedule each function's ops on the target's units; see the module doc.

    Options: target, time-limit, workers, fused-attention, verbose.
    """

    name = "schedule"

    target: str = "a100-sxm4-40gb"
    time_limit: float | int = 10.0  # int too, so that `time-limit=10` parses
    workers: int = 2
    fused_attention: bool = True
    verbose: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.time_limit < 0 or self.workers < 1:
            raise PassError(
                f"schedule: time-limit must be >= 0 and workers >= 1, "
                f"got {self.time_limit} and {self.workers}"
            )
        try:
            target = load_target(self.target)
        except TandemError as exc:
            raise PassError(f"schedule: {exc}") from None
        for fn in [o for o in op.ops if isinstance(o, func.FuncOp) and not o.is_declaration]:
            plan = schedule_function(
                fn,
                target,
                time_limit=float(self.time_limit),
                workers=self.workers,
                fused_attention=self.fused_attention,
            )
            _annotate(fn, plan, target.name)
            if self.verbose:
                print(summary(plan, fn.sym_name.data, target.name), file=sys.stderr)


def _annotate(fn: func.FuncOp, plan: FunctionSchedule, target: str) -> None:
    for o in fn.body.block.ops:
        o.attributes.pop(attrs.SCHED_START, None)
        o.attributes.pop(attrs.SCHED_UNIT, None)
    units: dict[str, StringAttr] = {}
    for o, start, unit in plan.placements:
        o.attributes[attrs.SCHED_UNIT] = units.setdefault(unit, StringAttr(unit))
        o.attributes[attrs.SCHED_START] = float_attr(start)
    fn.attributes[attrs.SCHED_MAKESPAN] = float_attr(plan.makespan)
    fn.attributes[attrs.SCHED_STATUS] = StringAttr(plan.status)
    fn.attributes[attrs.SCHED_BOUND] = float_attr(plan.bound)
    fn.attributes[attrs.SCHED_SOLVE_TIME] = float_attr(round(plan.solve_seconds, 4))
    fn.attributes[attrs.SCHED_TARGET] = StringAttr(target)


def summary(plan: FunctionSchedule, name: str, target: str) -> str:
    """One row per distinct segment: sequential / list / ILP makespans, bound, solve time."""
    body = [
        [
            r["segment"],
            str(r["count"]),
            str(r["tasks"]),
            seconds(r["sequential_s"]),
            seconds(r["list_s"]),
            seconds(r["ilp_s"]),
            seconds(r["lower_bound_s"]),
            r["status"],
            f"{r['solve_s']:.2f} s",
        ]
        for r in plan.rows
    ]
    head = (
        f"schedule @{name} on {target}: {plan.segments} segments, {len(plan.rows)} solved; "
        f"makespan {seconds(plan.makespan)} ({plan.status}, bound {seconds(plan.bound)})\n"
    )
    headers = ["segment", "count", "ops", "sequential", "list", "ilp", "bound", "status", "solve"]
    return head + table(headers, body)


__all__ = ["Schedule"]
