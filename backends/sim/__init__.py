"""Simulate a tfm module on a hardware target.

    from backends.sim import simulate
    report = simulate(module, "a100-sxm4-40gb")    # a SimReport
    report.latency_s, report.to_json()

Modules: ``engine.py`` (the per-op engine and ``simulate``), ``units.py`` (compute units, issue
order of a schedule), ``report.py`` (``OpRow``, ``Signature``, ``SimReport``), ``memory.py``
(peak memory from lifetimes), ``energy.py`` (AccelTran energy), ``trace.py`` (Chrome trace as
JSON-ready data), ``roofline.py`` (roofline plot as PNG bytes).
"""

from backends.sim.engine import entry_function, simulate
from backends.sim.report import SCHEMA_VERSION, OpRow, Signature, SimReport
from backends.sim.roofline import roofline_png
from backends.sim.trace import chrome_trace

__all__ = [
    "SCHEMA_VERSION",
    "OpRow",
    "Signature",
    "SimReport",
    "chrome_trace",
    "entry_function",
    "roofline_png",
    "simulate",
]
