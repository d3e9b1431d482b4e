"""Peak memory from tensor lifetimes, per device.

Arguments (parameters, inputs, buffers) live for the whole run on every device that uses
them; an op result is allocated when its op starts and freed when its last user ends
(returned values: at the end). Views alias their input (the simulator extends the root's
lifetime instead of allocating).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from xdsl.ir import SSAValue


@dataclass(slots=True)
class Allocation:
    """A result buffer: ``bytes`` from ``start``; freed at its last use or at ``end``."""

    value: SSAValue
    bytes: int
    start: float
    end: float
    device: int


def peak_memory(
    args: list[tuple[SSAValue, int, str]],
    allocs: list[Allocation],
    last_use: dict[SSAValue, float],
    arg_devices: dict[SSAValue, set[int]],
    latency: float,
    capacity: float,
) -> dict[str, Any]:
    """Peak bytes live at once per device, and where the peak is (see the module docstring)."""
    devices = {a.device for a in allocs} | {d for ds in arg_devices.values() for d in ds} | {0}
    arg_bytes = dict.fromkeys(devices, 0)
    for value, size, _role in args:
        for d in arg_devices.get(value) or {0}:
            arg_bytes[d] += size
    events: dict[int, list[tuple[float, int, int]]] = {d: [] for d in devices}
    for a in allocs:
        free = last_use.get(a.value, a.end)
        if free == math.inf:
            free = latency
        # at equal times frees (0) sort before allocations (1): a buffer can be reused
        events[a.device].append((a.start, 1, a.bytes))
        events[a.device].append((max(free, a.start), 0, -a.bytes))
    per_device: dict[int, int] = {}
    peak_time: dict[int, float] = {}
    for d, evs in events.items():
        evs.sort()
        live = best = 0
        when = 0.0
        for t, _kind, delta in evs:
            live += delta
            if live > best:
                best, when = live, t
        per_device[d] = arg_bytes[d] + best
        peak_time[d] = when
    worst = max(per_device, key=lambda d: per_device[d])
    peak = per_device[worst]
    return {
        "peak_bytes": peak,
        "peak_device": worst,
        "peak_time_s": peak_time[worst],
        "argument_bytes": arg_bytes[worst],
        "activation_peak_bytes": peak - arg_bytes[worst],
        "param_bytes": sum(size for _v, size, role in args if role == "param"),
        "capacity_bytes": capacity,
        "fits": peak <= capacity,
        "per_device": per_device,
    }
