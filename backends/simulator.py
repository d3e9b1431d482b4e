"""Simulate a tfm module on a hardware target: ``simulate(module, target) -> SimReport``.

The simulator interprets the entry function's ops on the target's compute units. Each op
gets its cost from ``backends.op_cost`` (cached by op signature, so the 96 identical layers
of a GPT-3 are costed once) and a start time::

    start = max(sched.start, when its operands are ready, when its unit is free)
    end   = start + seconds

Schedule convention (discardable op attributes, written by a scheduling pass):

* ``sched.unit = "mac"`` (string): the unit that runs the op. A unit is a kind, optionally
  with an index: GPU ``sm`` (``sm0``, ``sm1``... are concurrent streams, each op at its
  standalone speed); AccelTran ``mac``, ``softmax``, ``layernorm``, ``dma``; PHAZE ``tc``/``vc``
  (all tensor / vector cores: waits for and occupies every ``tc<i>``/``vc<i>``) or
  ``tc3``/``vc1`` (one core, costed single-core). The kind must be the one the op runs on.
* ``sched.start = 1.5e-06 : f64`` (seconds): the earliest start the schedule asks for.
  Ops with a ``sched.start`` are issued in order of it (ties: program order); an op without
  one follows its latest producer.

Without these attributes ops are issued in program order, one unit per kind (GPU: one stream
``sm``; AccelTran: matmuls on ``mac``, softmax on ``softmax``, norms on ``layernorm``, data on
``dma``; PHAZE: ``tc`` and ``vc``, all cores each), so ops of different units overlap where
their operands allow. Placement convention: ``placement = 2 : i64`` puts the op on device 2
(default 0); every device has its own units; transfers between devices are free (a
placement pass inserts explicit communication ops).

    %1 = tfm.matmul %0, %w {layer = 3 : i64, sched.unit = "tc1", sched.start = 2.0e-06 : f64}
        : (tensor<128x64xf16>, tensor<64x64xf16>) -> tensor<128x64xf16>

Memory: arguments live throughout; an op result from its op's start to the end of its last
user (returned values to the end); views (reshape, permute, broadcast, slice) alias their
input and cost nothing. The JSON form of the report is documented in docs/report-schema.md.
"""

from __future__ import annotations

import heapq
import math
import re
import time
from dataclasses import dataclass, field
from typing import Any

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Operation, SSAValue

from backends.cost import OpCost
from backends.flops import count_op
from backends.op_cost import compute_dtype, op_cost, op_gemm, signature
from backends.sim.memory import Allocation, peak_memory
from ir import linalg_ops as la
from ir.attrs import BUFFER, INPUT, PARAM, PLACEMENT, SCHED_START, SCHED_UNIT
from ir.errors import TandemError
from ir.types import dtype, fmt, nbytes, numel, shape

SCHEMA_VERSION = 1
EMBED_HEAD = "embed/head"
_UNIT_RE = re.compile(r"^([A-Za-z_]+?)(\d*)$")


# ---------------------------------------------------------------------------------------
# Report


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
        return {"index": self.index, "op": self.op, "kind": self.kind, "layer": self.layer,
                "phase": self.phase, "device": self.device, "unit": self.unit,
                "start_s": self.start, "seconds": self.seconds, "flops": self.flops,
                "bytes": self.bytes, "bound": self.bound, "dtype": self.dtype,
                "energy_j": self.energy_j, "signature": self.signature}


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
        return {"id": self.id, "op": self.op, "kind": self.kind, "shape": self.shape,
                "count": self.count, "seconds": c.seconds, "flops": c.flops, "bytes": c.bytes,
                "compute_s": c.compute_seconds, "memory_s": c.memory_seconds,
                "unit": c.unit, "bound": c.bound, "dtype": self.dtype}


@dataclass
class SimReport:
    """Everything ``simulate`` predicts; ``to_json()`` is the documented JSON form."""

    target: Any
    latency_s: float
    rows: list[OpRow]
    signatures: list[Signature]
    model: dict[str, Any]
    memory: dict[str, Any]
    options: dict[str, Any] = field(default_factory=dict)
    energy: dict[str, float] | None = None
    area_mm2: dict[str, float] | None = None
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
            return {"tokens": tokens, "tokens_per_s": None,
                    "iterations_per_s": 1 / self.latency_s if self.latency_s > 0 else None}
        return {"tokens": tokens, "tokens_per_s": tokens / self.latency_s,
                "iterations_per_s": 1 / self.latency_s}

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
            return sorted(acc.values(), key=lambda g: (isinstance(g["layer"], str), g["layer"]
                                                       if isinstance(g["layer"], int) else 0))
        return sorted(acc.values(), key=lambda g: -g["seconds"])

    def units(self) -> list[dict[str, Any]]:
        """Busy time per (device, unit)."""
        acc: dict[tuple[int, str], dict[str, Any]] = {}
        for r in self.rows:
            if not r.unit:
                continue
            g = acc.setdefault((r.device, r.unit), {"device": r.device, "unit": r.unit,
                                                    "ops": 0, "busy_s": 0.0})
            g["ops"] += 1
            g["busy_s"] += r.seconds
        for g in acc.values():
            g["utilisation"] = g["busy_s"] / self.latency_s if self.latency_s > 0 else 0.0
        return sorted(acc.values(), key=lambda g: (g["device"], g["unit"]))

    def devices(self) -> list[dict[str, Any]]:
        acc: dict[int, dict[str, Any]] = {}
        for r in self.rows:
            g = acc.setdefault(r.device, {"device": r.device, "ops": 0, "end_s": 0.0,
                                          "busy_s": 0.0, "flops": 0.0})
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

    def target_json(self) -> dict[str, Any]:
        t = self.target
        peaks = getattr(t, "peak_flops_by_dtype", None) or {"all": t.peak_flops("f16")}
        return {"name": t.name, "kind": t.kind, "description": t.description,
                "peak_flops": dict(peaks), "mem_bandwidth": t.mem_bandwidth,
                "mem_capacity": t.mem_capacity}

    def to_json(self) -> dict[str, Any]:
        """The report as JSON-ready data (schema: docs/report-schema.md)."""
        return {
            "schema_version": SCHEMA_VERSION,
            "target": self.target_json(),
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
            "devices": self.devices(),
            "units": self.units(),
            "by_layer": self.group("layer"),
            "by_kind": self.group("kind"),
            "by_phase": self.group("phase"),
            "signatures": [s.to_json() for s in self.signatures],
            "ops": [r.to_json() for r in self.rows],
            "sim_seconds": self.sim_seconds,
        }


# ---------------------------------------------------------------------------------------
# Simulation


def entry_function(module: ModuleOp) -> func.FuncOp:
    """The function to simulate: ``@forward`` if present, else the first one."""
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise TandemError("the module has no func.func to simulate")
    named = [f for f in funcs if f.sym_name.data == "forward"]
    return (named or funcs)[0]


def _attr_str(op: Operation, name: str) -> str | None:
    a = op.attributes.get(name)
    if a is None:
        return None
    if not isinstance(a, StringAttr):
        raise TandemError(f"{op.name}: attribute {name!r} must be a string, got {a}")
    return a.data


def _attr_float(op: Operation, name: str) -> float | None:
    a = op.attributes.get(name)
    if a is None:
        return None
    if not isinstance(a, FloatAttr | IntegerAttr) or not math.isfinite(float(a.value.data)) \
            or float(a.value.data) < 0:
        raise TandemError(f"{op.name}: attribute {name!r} must be a non-negative float "
                          f"(seconds), got {a}")
    return float(a.value.data)


def _attr_int(op: Operation, name: str) -> int | None:
    a = op.attributes.get(name)
    if a is None:
        return None
    if not isinstance(a, IntegerAttr):
        raise TandemError(f"{op.name}: attribute {name!r} must be an integer, got {a}")
    return int(a.value.data)


class _Units:
    """Free times of the compute units, per device; groups (PHAZE "tc") span their members."""

    def __init__(self, target) -> None:
        self.free: dict[tuple[int, str], float] = {}
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
            raise TandemError(f"{op.name}: {SCHED_UNIT} {unit!r} cannot run this op on "
                              f"{self.target.name} (it runs on {natural!r} units)")
        if m and m.group(2):
            members = self.members.get(kind)
            if members is None and self.target.kind != "gpu":
                raise TandemError(f"{op.name}: {SCHED_UNIT} {unit!r}: {self.target.name} has one "
                                  f"{kind!r} unit (no index)")
            if members is not None and unit not in members:
                raise TandemError(f"{op.name}: {SCHED_UNIT} {unit!r}: {self.target.name} has "
                                  f"{len(members)} {kind} units ({members[0]}..{members[-1]})")
            return [unit]
        return self.members.get(kind, [unit])

    def earliest(self, device: int, names: list[str]) -> float:
        free = self.free
        return max(free.get((device, n), 0.0) for n in names)

    def occupy(self, device: int, names: list[str], end: float) -> None:
        for n in names:
            self.free[(device, n)] = end


def _shape_text(op: Operation) -> str:
    if isinstance(op, la.MatmulOp):
        g = op_gemm(op)
        prefix = f"{g.batch}x " if g.batch > 1 else ""
        return f"{prefix}m={g.m} n={g.n} k={g.k}"
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        b, h, sq, d = shape(op.q)
        return f"b={b} h={h}/{shape(op.k)[1]} s={sq}x{shape(op.k)[2]} d={d}"
    vals = op.results or op.operands
    return ", ".join(fmt(shape(v)) for v in vals[:2]) + (f" {dtype(vals[0])}" if vals else "")


def _issue_order(ops: list[Operation], starts: list[float | None]) -> list[int]:
    """Program order, or with a schedule: topological order by sched.start (ties: program)."""
    if all(s is None for s in starts):
        return list(range(len(ops)))
    index = {op: i for i, op in enumerate(ops)}
    users: list[set[int]] = [set() for _ in ops]
    indegree = [0] * len(ops)
    for i, op in enumerate(ops):
        producers = {index[v.owner] for v in op.operands
                     if isinstance(v.owner, Operation) and v.owner in index}
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


def _arguments(fn: func.FuncOp) -> tuple[dict[str, Any], list[tuple[SSAValue, int, str]]]:
    """Model facts from the arguments, and (value, bytes, role) per argument."""
    block = fn.body.block
    attrs = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else [None] * len(block.args)
    args, inputs = [], {}
    params = param_bytes = 0
    tokens = None
    for a, d in zip(block.args, attrs, strict=False):
        entries = d.data if isinstance(d, DictionaryAttr) else {}
        role = "param" if PARAM in entries else "buffer" if BUFFER in entries else "input"
        size = nbytes(a)
        args.append((a, size, role))
        if role == "param":
            params += numel(a)
            param_bytes += size
        if INPUT in entries:
            label = entries[INPUT].data if isinstance(entries[INPUT], StringAttr) else str(a.index)
            inputs[label] = {"shape": list(shape(a)), "dtype": dtype(a)}
            if tokens is None and dtype(a) == "i64" and len(shape(a)) >= 1:
                tokens = numel(a)
    model = {"function": fn.sym_name.data, "params": params, "param_bytes": param_bytes,
             "inputs": inputs, "tokens": tokens}
    return model, args


def _energy_split(cost: OpCost, target) -> tuple[float, float]:
    """(dynamic J, leakage J of the op's active modules) of an AccelTran op's energy.

    The buffers' leakage is counted once for the whole run by the caller, so it is taken out
    of every op's energy here. Ops whose model has no breakdown (materialised attention) count
    only the buffers as leakage.
    """
    buf_w = target.buffer_leakage_mw_per_mb * (target.activation_buffer_mb
                                               + target.weight_buffer_mb
                                               + target.mask_buffer_mb) * 1e-3
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


class _Engine:
    """The state of one simulation: cost cache, unit and value timelines, lifetimes."""

    def __init__(self, target, fused_attention: bool, args: list) -> None:
        self.target = target
        self.fused = fused_attention
        self.units = _Units(target)
        self.cache: dict[tuple, Signature] = {}
        self.signatures: list[Signature] = []
        self.ready: dict[SSAValue, float] = {}
        self.alias: dict[SSAValue, SSAValue] = {}
        self.last_use: dict[SSAValue, float] = {}
        self.allocs: list[Allocation] = []
        self.rows: list[OpRow] = []
        self.arg_devices: dict[SSAValue, set[int]] = {a: set() for a, _size, _role in args}
        self.training = False

    def signature_of(self, op: Operation, single: bool) -> Signature:
        """The op's cached cost; costed (once per signature) on a miss."""
        key = signature(op, self.fused, single)
        sig = self.cache.get(key)
        if sig is None:
            counts = count_op(op)
            kind = counts.kind
            cost = op_cost(op, self.target, fused=self.fused, cores=1 if single else "all",
                           counts=counts)
            sig = Signature(len(self.signatures), op.name, kind, _shape_text(op), cost,
                            compute_dtype(op), counts.flops, counts.mm_flops,
                            result_bytes=tuple(nbytes(r) for r in op.results))
            self.cache[key] = sig
            self.signatures.append(sig)
        sig.count += 1
        return sig

    def run(self, i: int, op: Operation, sched_start: float | None) -> None:
        """Issue one op: cost, start time, unit, row, lifetimes."""
        attrs = op.attributes
        sched_unit = _attr_str(op, SCHED_UNIT)
        single = self.target.kind == "phaze" and sched_unit is not None and \
            sched_unit[-1:].isdigit()
        sig = self.signature_of(op, single)
        cost = sig.cost
        layer_a = attrs.get("layer")
        layer = int(layer_a.value.data) if isinstance(layer_a, IntegerAttr) else None
        phase_a = attrs.get("phase")
        phase = phase_a.data if isinstance(phase_a, StringAttr) else "forward"
        self.training = self.training or phase == "backward"
        device = _attr_int(op, PLACEMENT) if PLACEMENT in attrs else 0
        if device < 0:
            raise TandemError(f"{op.name}: attribute 'placement' must be a device id >= 0, "
                              f"got {device}")

        start = sched_start or 0.0
        for v in op.operands:
            t = self.ready.get(v)
            if t is not None and t > start:
                start = t
        unit = ""
        end = start
        if cost.unit:
            units = self.units
            names = units.resolve(op, sched_unit, cost.unit) if sched_unit else \
                units.members.get(cost.unit, [cost.unit])
            start = max(start, units.earliest(device, names))
            end = start + cost.seconds
            units.occupy(device, names, end)
            unit = sched_unit or cost.unit
        self.rows.append(OpRow(i, op.name, sig.kind, layer, phase, device, unit, start,
                               cost.seconds, cost.flops, cost.bytes, cost.bound, sig.dtype,
                               cost.energy_j, sig.id))
        self._lifetimes(op, sig, device, start, end)

    def _lifetimes(self, op: Operation, sig: Signature, device: int, start: float,
                   end: float) -> None:
        """Uses extend their root buffer; views alias their input, other results allocate."""
        alias, last_use = self.alias, self.last_use
        for v in op.operands:
            root = alias.get(v, v)
            if last_use.get(root, -1.0) < end:
                last_use[root] = end
            devs = self.arg_devices.get(root)
            if devs is not None:
                devs.add(device)
        if sig.kind == "view" and op.operands:
            root = alias.get(op.operands[0], op.operands[0])
            for r in op.results:
                alias[r] = root
                self.ready[r] = end
            return
        for r, size in zip(op.results, sig.result_bytes, strict=True):
            self.ready[r] = end
            self.allocs.append(Allocation(r, size, start, end, device))


def simulate(module: ModuleOp, target, *, fused_attention: bool = True,
             name: str | None = None) -> SimReport:
    """Run ``module``'s entry function on ``target`` (a Target or a built-in name / path).

    ``fused_attention``: flash-style attention kernels on GPUs (else materialised).
    ``name``: the model's name for the report (default: the function's).
    """
    t0 = time.perf_counter()
    if isinstance(target, str):
        from backends.target import load_target

        target = load_target(target)
    fn = entry_function(module)
    model, args = _arguments(fn)
    ops = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    ret = fn.body.block.last_op
    outputs = list(ret.operands) if isinstance(ret, func.ReturnOp) else []
    sched_starts = [_attr_float(op, SCHED_START) for op in ops]

    engine = _Engine(target, fused_attention, args)
    for i in _issue_order(ops, sched_starts):
        engine.run(i, ops[i], sched_starts[i])

    rows = engine.rows
    latency = max((r.end for r in rows), default=0.0)
    for v in outputs:
        engine.last_use[engine.alias.get(v, v)] = math.inf
    memory = peak_memory(args, engine.allocs, engine.last_use, engine.arg_devices, latency,
                         target.mem_capacity)
    model.update(name=name or fn.sym_name.data, ops=len(ops),
                 costed_ops=sum(1 for r in rows if r.unit),
                 signatures=len(engine.signatures), training=engine.training)
    scheduled = any(s is not None for s in sched_starts) or \
        any(SCHED_UNIT in op.attributes for op in ops)
    report = SimReport(target=target, latency_s=latency, rows=rows,
                       signatures=engine.signatures, model=model, memory=memory,
                       options={"fused_attention": fused_attention, "scheduled": scheduled})
    if target.kind == "acceltran":
        report.energy, report.area_mm2 = _acceltran_energy(report, target)
    report.sim_seconds = time.perf_counter() - t0
    return report


def _acceltran_energy(report: SimReport, target) -> tuple[dict[str, float], dict[str, float]]:
    from backends.cost.accel import acceltran_area

    dynamic = module_leak = 0.0
    for s in report.signatures:
        dyn, leak = _energy_split(s.cost, target)
        dynamic += dyn * s.count
        module_leak += leak * s.count
    buf_w = target.buffer_leakage_mw_per_mb * (target.activation_buffer_mb
                                               + target.weight_buffer_mb
                                               + target.mask_buffer_mb) * 1e-3
    leakage = module_leak + buf_w * report.latency_s
    total = dynamic + leakage
    energy = {"dynamic_j": dynamic, "leakage_j": leakage, "total_j": total,
              "average_power_w": total / report.latency_s if report.latency_s > 0 else 0.0}
    return energy, acceltran_area(target)
