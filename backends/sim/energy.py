"""AccelTran energy of a simulated run: dynamic energy of every op, leakage of the active
modules per op, and leakage of the on-chip buffers over the whole run (once).

    energy, area = acceltran_energy(report, load_target("acceltran-edge"))
    energy["total_j"], area["total"]
"""

from __future__ import annotations

from backends.cost import OpCost, acceltran_area
from backends.sim.report import SimReport
from backends.targets import AccelTranTarget


def _buffer_leakage_w(target: AccelTranTarget) -> float:
    return target.buffer_leakage_mw_per_mb * target.buffer_mb * 1e-3


def energy_split(cost: OpCost, target: AccelTranTarget) -> tuple[float, float]:
    """(dynamic J, leakage J of the op's active modules) of an AccelTran op's energy.

    The buffers' leakage is counted once for the whole run by the caller, so it is taken out
    of every op's energy here. Ops whose model has no breakdown (materialised attention) count
    only the buffers as leakage.
    """
    buf_w = _buffer_leakage_w(target)
    d = cost.detail
    buf_j = buf_w * cost.seconds
    if "energy_leakage_j" in d:
        leak = d["energy_leakage_j"]
        return cost.energy_j - leak, max(0.0, leak - buf_j)
    if "units" in d and "tiles" in d and cost.unit in ("softmax", "layernorm", "mac"):
        module = target.modules["mac_lane" if cost.unit == "mac" else cost.unit]
        leak = module.leakage_mw * 1e-3 * min(d["tiles"], d["units"]) * cost.seconds
        return max(0.0, cost.energy_j - leak - buf_j), leak
    if cost.unit == "dma":
        return cost.energy_j, 0.0
    return max(0.0, cost.energy_j - buf_j), 0.0


def acceltran_energy(
    report: SimReport, target: AccelTranTarget
) -> tuple[dict[str, float], dict[str, float]]:
    """Energy totals (J, W) and area per module kind (mm^2) of the run in ``report``."""
    dynamic = module_leak = 0.0
    for s in report.signatures:
        dyn, leak = energy_split(s.cost, target)
        dynamic += dyn * s.count
        module_leak += leak * s.count
    buf_w = _buffer_leakage_w(target)
    leakage = module_leak + buf_w * report.latency_s
    total = dynamic + leakage
    energy = {
        "dynamic_j": dynamic,
        "leakage_j": leakage,
        "total_j": total,
        "average_power_w": total / report.latency_s if report.latency_s > 0 else 0.0,
    }
    return energy, acceltran_area(target)
