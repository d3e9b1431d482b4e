"""The simulation report: one ``OpRow`` per op, one ``Signature`` per distinct op, and the
``SimReport`` with its aggregates. ``SimReport.to_json()`` is the documented JSON form
(docs/report-schema.md); terminal text is rendered by ``tandem.report_text``.

    rep = simulate(module, "a100-sxm4-40gb")
    rep.latency_s, rep.achieved_flops, rep.group("layer")[0]["seconds"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backends.cost import OpCost
from backends.targets import Target

SCHEMA_VERSION = 1
EMBED_HEAD = "embed/head"


@dataclass(slots=True)
class OpRow:
    """One simulated op (times in seconds, traffic in bytes)."""

    index: int
    op: str
    kind: str
    layer: int | None
    phase: str
    device: int
    unit: str
    start: float
    seconds: float
    flops: float
    bytes: float
    bound: str
    dtype: str
    energy_j: float
    signature: int

    @property
    def end(self) -> float:
        return self.start + self.seconds

    def to_json(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "op": self.op,
            "kind": self.kind,
            "layer": self.layer,
            "phase": self.phase,
            "device": self.device,
            "unit": self.unit,
            "start_s": self.start,
            "seconds": self.seconds,
            "flops": self.flops,
            "bytes": self.bytes,
            "bound": self.bound,
            "dtype": self.dtype,
            "energy_j": self.energy_j,
            "signature": self.signature,
        }


@dataclass
class Signature:
    """One distinct op (name + types + properties): costed once, used ``count`` times."""

    id: int
    op: str
    kind: str
    shape: str
    cost: OpCost
    dtype: str
    model_flops: int
    mm_flops: int
    count: int = 0
    result_bytes: tuple[int, ...] = ()

    def to_json(self) -> dict[str, Any]:
        c = self.cost
        return {
            "id": self.id,
            "op": self.op,
            "kind": self.kind,
            "shape": self.shape,
            "count": self.count,
            "seconds": c.seconds,
            "flops": c.flops,
            "bytes": c.bytes,
            "compute_s": c.compute_seconds,
            "memory_s": c.memory_seconds,
            "unit": c.unit,
            "bound": c.bound,
            "dtype": self.dtype,
        }


@dataclass
class SimReport:
    """Everything ``simulate`` predicts; ``to_json()`` is the documented JSON form."""

    target: Target
    latency_s: float
    rows: list[OpRow]
    signatures: list[Signature]
    model: dict[str, Any]
    memory: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, float] | None = None
    area_mm2: dict[str, float] | None = None
    # dense vs sparse latency (and energy) when ops carry sparsity attributes, else None
    sparsity: dict[str, Any] | None = None
    sim_seconds: float = 0.0

    # -- aggregates ------------------------------------------------------------------
    @property
    def flops(self) -> float:
        return sum(r.flops for r in self.rows)

    @property
    def bytes(self) -> float:
        return sum(r.bytes for r in self.rows)

    @property
    def busy_s(self) -> float:
        return sum(r.seconds for r in self.rows)

    @property
    def achieved_flops(self) -> float:
        return self.flops / self.latency_s if self.latency_s > 0 else 0.0

    def by_dtype(self) -> dict[str, dict[str, float]]:
        """Matmul and attention FLOPs per dtype against that dtype's peak."""
        out: dict[str, dict[str, float]] = {}
        for r in self.rows:
            if r.kind not in ("matmul", "attention"):
                continue
            d = out.setdefault(r.dtype, {"flops": 0.0, "seconds": 0.0})
            d["flops"] += r.flops
            d["seconds"] += r.seconds
        for name, d in out.items():
            d["peak_flops"] = self.target.peak_flops(name)
            d["achieved_flops"] = d["flops"] / self.latency_s if self.latency_s > 0 else 0.0
            d["utilisation"] = d["achieved_flops"] / d["peak_flops"] / self._devices()
        return out

    def utilisation(self) -> float:
        """Matmul + attention FLOPs at their dtype's peak, as a fraction of the run (per device)."""
        if self.latency_s <= 0:
            return 0.0
        at_peak = sum(d["flops"] / d["peak_flops"] for d in self.by_dtype().values())
        return at_peak / self.latency_s / self._devices()

    def _devices(self) -> int:
        return max(1, len({r.device for r in self.rows}))

    def throughput(self) -> dict[str, float | None]:
        tokens = self.model.get("tokens")
        if not tokens or self.latency_s <= 0:
            return {
                "tokens": tokens,
                "tokens_per_s": None,
                "iterations_per_s": 1 / self.latency_s if self.latency_s > 0 else None,
            }
        return {
            "tokens": tokens,
            "tokens_per_s": tokens / self.latency_s,
            "iterations_per_s": 1 / self.latency_s,
        }

    def group(self, key: str) -> list[dict[str, Any]]:
        """Sums of ops, seconds (busy time), FLOPs and bytes by "layer", "kind" or "phase"."""
        acc: dict[Any, dict[str, Any]] = {}
        for r in self.rows:
            k = getattr(r, key)
            if key == "layer" and k is None:
                k = EMBED_HEAD
            g = acc.get(k)
            if g is None:
                g = acc[k] = {key: k, "ops": 0, "seconds": 0.0, "flops": 0.0, "bytes": 0.0}
            g["ops"] += 1
            g["seconds"] += r.seconds
            g["flops"] += r.flops
            g["bytes"] += r.bytes
        busy = self.busy_s or 1.0
        for g in acc.values():
            g["share"] = g["seconds"] / busy
        if key == "layer":
            return sorted(
                acc.values(),
                key=lambda g: (
                    isinstance(g["layer"], str),
                    g["layer"] if isinstance(g["layer"], int) else 0,
                ),
            )
        return sorted(acc.values(), key=lambda g: -g["seconds"])

    def units(self) -> list[dict[str, Any]]:
        """Busy time per (device, unit)."""
        acc: dict[tuple[int, str], dict[str, Any]] = {}
        for r in self.rows:
            if not r.unit:
                continue
            g = acc.setdefault(
                (r.device, r.unit), {"device": r.device, "unit": r.unit, "ops": 0, "busy_s": 0.0}
            )
            g["ops"] += 1
            g["busy_s"] += r.seconds
        for g in acc.values():
            g["utilisation"] = g["busy_s"] / self.latency_s if self.latency_s > 0 else 0.0
        return sorted(acc.values(), key=lambda g: (g["device"], g["unit"]))

    def devices(self) -> list[dict[str, Any]]:
        acc: dict[int, dict[str, Any]] = {}
        for r in self.rows:
            g = acc.setdefault(
                r.device, {"device": r.device, "ops": 0, "end_s": 0.0, "busy_s": 0.0, "flops": 0.0}
            )
            g["ops"] += 1
            g["end_s"] = max(g["end_s"], r.end)
            g["busy_s"] += r.seconds
            g["flops"] += r.flops
        per_dev = self.memory.get("per_device", {})
        for d, g in acc.items():
            g["peak_memory_bytes"] = per_dev.get(d, 0)
        return [acc[d] for d in sorted(acc)]

    def top_signatures(self, n: int) -> list[Signature]:
        """The ``n`` distinct ops taking the most total time."""
        return sorted(self.signatures, key=lambda s: -s.cost.seconds * s.count)[:n]

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (schema: docs/report-schema.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target.facts(),
            "model": self.model,
            "options": self.options,
            "latency_s": self.latency_s,
            "totals": {
                "ops": len(self.rows),
                "flops": self.flops,
                "model_flops": sum(s.model_flops * s.count for s in self.signatures),
                "bytes": self.bytes,
                "busy_s": self.busy_s,
                "achieved_flops": self.achieved_flops,
                "utilisation": self.utilisation(),
                "by_dtype": self.by_dtype(),
            },
            "throughput": self.throughput(),
            "memory": {k: v for k, v in self.memory.items() if k != "per_device"},
            "energy": self.energy,
            "area_mm2": self.area_mm2,
            "sparsity": self.sparsity,
            "devices": self.devices(),
            "units": self.units(),
            "by_layer": self.group("layer"),
            "by_kind": self.group("kind"),
            "by_phase": self.group("phase"),
            "signatures": [s.to_json() for s in self.signatures],
            "ops": [r.to_json() for r in self.rows],
            "sim_seconds": self.sim_seconds,
        }
