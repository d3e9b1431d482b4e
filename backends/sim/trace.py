"""A simulation as a Chrome trace (``chrome://tracing``, https://ui.perfetto.dev).

Trace Event Format: ``{"traceEvents": [...], "displayTimeUnit": "ns"}`` with one complete
("X") event per op that takes time (views are free and left out), times in microseconds.
One process (pid) per device, one thread (tid) per compute unit; "M" metadata events name
them. An op on a whole group of alike units (PHAZE ``tc``: every tensor core; AccelTran
``mac`` with PE groups) appears on each of the group's tracks. Each event is named after its op and carries FLOPs, bytes, layer, phase and bound:

    {"name": "tfm.matmul", "cat": "matmul", "ph": "X", "ts": 12.5, "dur": 3.25,
     "pid": 0, "tid": 0, "args": {"flops": 2.0e9, "bytes": 1.2e6, "layer": 3, ...}}
"""

from __future__ import annotations

from typing import Any

from backends.sim.report import SimReport
from backends.sim.units import Units
from backends.targets import Target

US = 1e6  # seconds -> microseconds


def _unit_order(target: Target, unit: str) -> tuple[int, int, str]:
    """Tracks in the target's unit order (mac, softmax, ...; tc before tc0, tc1, ...)."""
    first: dict[str, int] = {}
    for i, name in enumerate(target.compute_units()):
        first.setdefault(name.rstrip("0123456789"), i)
    base = unit.rstrip("0123456789")
    index = int(unit[len(base) :]) if unit != base else -1
    return first.get(base, len(first)), index, unit


def chrome_trace(report: SimReport) -> dict[str, Any]:
    """The trace as JSON-ready data."""
    members = Units(report.target).members

    def tracks(unit: str) -> list[str]:
        return members.get(unit, [unit])

    units = sorted(
        {(r.device, u) for r in report.rows if r.unit and r.seconds > 0 for u in tracks(r.unit)},
        key=lambda du: (du[0], *_unit_order(report.target, du[1])),
    )
    tid: dict[tuple[int, str], int] = {}
    events: list[dict[str, Any]] = []
    for device in sorted({d for d, _ in units}):
        events.append(
            {
                "name": "process_name",
                "ph": "M",
                "pid": device,
                "tid": 0,
                "args": {"name": f"device {device} ({report.target.name})"},
            }
        )
        events.append(
            {
                "name": "process_sort_index",
                "ph": "M",
                "pid": device,
                "tid": 0,
                "args": {"sort_index": device},
            }
        )
    for device, unit in units:
        tid[(device, unit)] = n = sum(1 for d, _ in tid if d == device)
        events.append(
            {"name": "thread_name", "ph": "M", "pid": device, "tid": n, "args": {"name": unit}}
        )
        events.append(
            {
                "name": "thread_sort_index",
                "ph": "M",
                "pid": device,
                "tid": n,
                "args": {"sort_index": n},
            }
        )
    shapes = {s.id: s.shape for s in report.signatures}
    for r in report.rows:
        if not r.unit or r.seconds <= 0:
            continue
        events.extend(
            {
                "name": r.op,
                "cat": r.kind,
                "ph": "X",
                "ts": r.start * US,
                "dur": r.seconds * US,
                "pid": r.device,
                "tid": tid[(r.device, track)],
                "args": {
                    "index": r.index,
                    "shape": shapes[r.signature],
                    "flops": r.flops,
                    "bytes": r.bytes,
                    "layer": r.layer,
                    "phase": r.phase,
                    "bound": r.bound,
                    "unit": r.unit,
                },
            }
            for track in tracks(r.unit)
        )
    return {
        "traceEvents": events,
        "displayTimeUnit": "ns",
        "otherData": {"target": report.target.name, "latency_s": report.latency_s},
    }
