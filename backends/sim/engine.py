"""The simulation engine: ``simulate(module, target) -> SimReport``.

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
  ``tc3``/``vc1`` (one core, costed single-core); AccelTran with ``pe_groups`` > 1 likewise
  ``mac`` (all PE groups) or ``mac2`` (one group). The kind must be the one the op runs on.
* ``sched.start = 1.5e-06 : f64`` (seconds): the earliest start the schedule asks for.
  Ops with a ``sched.start`` are issued in order of it (ties: program order); an op without
  one follows its latest producer.
* A function with ``sched.makespan`` carries a complete schedule (the ``schedule`` pass): it is
  checked, not repaired. An op that cannot start at its ``sched.start`` (an operand not ready,
  its unit still busy), a costed op without one, or overlapping ops that together need more
  than the main-memory bandwidth is an error naming the ops (``schedule_check.py``).

Without these attributes ops are issued in program order, one unit per kind (GPU: one stream
``sm``; AccelTran: matmuls on ``mac``, softmax on ``softmax``, norms on ``layernorm``, data on
``dma``; PHAZE: ``tc`` and ``vc``, all cores each), so ops of different units overlap where
their operands allow. Placement convention: ``placement = 2 : i64`` puts the op on device 2
(default 0); every device has its own units; transfers between devices are free (a
placement pass inserts explicit communication ops).

    %1 = tfm.matmul %0, %w {layer = 3 : i64, sched.unit = "tc1", sched.start = 2.0e-06 : f64}
        : (tensor<128x64xf16>, tensor<64x64xf16>) -> tensor<128x64xf16>

Sparsity: when ops carry sparsity attributes (``backends/op_cost.py``; measured by ``tandem
sparsity -o``), the run is repeated with them ignored and ``report.sparsity`` gives the dense
and the sparse latency (and energy) side by side.

Memory: arguments live throughout; an op result from its op's start to the end of its last
user (returned values to the end); views (reshape, permute, broadcast, slice) alias their
input and cost nothing. The JSON form of the report is documented in docs/report-schema.md.
"""

from __future__ import annotations

import math
import time
from typing import Any

from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    ModuleOp,
    StringAttr,
)
from xdsl.ir import Operation, SSAValue

from backends.cost import phaze_area
from backends.flops import count_op
from backends.op_cost import compute_dtype, has_sparsity, op_cost, op_gemm, signature
from backends.sim.energy import acceltran_energy
from backends.sim.memory import Allocation, peak_memory
from backends.sim.report import OpRow, Signature, SimReport
from backends.sim.schedule_check import ScheduleCheck, describe
from backends.sim.units import Units, issue_order
from backends.targets import AccelTranTarget, GpuTarget, PhazeTarget, Target, load_target
from ir import linalg_ops as la
from ir.attrs import (
    BACKWARD,
    BUFFER,
    FUSE_KERNELS,
    INPUT,
    PARAM,
    PLACEMENT,
    SCHED_START,
    SCHED_UNIT,
    layer_of,
    phase_of,
    read_float,
    read_int,
    read_str,
)
from ir.errors import TandemError
from ir.fused_ops import FusedOp
from ir.types import dtype, fmt, nbytes, numel, shape


def kernels_of(module: ModuleOp) -> str:
    """The fusion preset the module was compiled with ("none" if `fuse` did not run)."""
    preset = module.attributes.get(FUSE_KERNELS)
    return preset.data if isinstance(preset, StringAttr) else "none"


def entry_function(module: ModuleOp) -> func.FuncOp:
    """The function to simulate: ``@forward`` if present, else the first one."""
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise TandemError("the module has no func.func to simulate")
    named = [f for f in funcs if f.sym_name.data == "forward"]
    return (named or funcs)[0]


def _op_label(op: Operation) -> str:
    """`tfm.matmul`, or `tfm.fused:bias_gelu` for a kernel of several ops."""
    return f"{op.name}:{op.kernel_name}" if isinstance(op, FusedOp) else op.name


def _shape_text(op: Operation) -> str:
    if isinstance(op, FusedOp):
        mm = next((o for o in op.body_ops if isinstance(o, la.MatmulOp)), None)
        if mm is not None:
            return _shape_text(mm)
    if isinstance(op, la.MatmulOp):
        g = op_gemm(op)
        prefix = f"{g.batch}x " if g.batch > 1 else ""
        return f"{prefix}m={g.m} n={g.n} k={g.k}"
    if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        b, h, sq, d = shape(op.q)
        return f"b={b} h={h}/{shape(op.k)[1]} s={sq}x{shape(op.k)[2]} d={d}"
    vals = op.results or op.operands
    return ", ".join(fmt(shape(v)) for v in vals[:2]) + (f" {dtype(vals[0])}" if vals else "")


def _arguments(fn: func.FuncOp) -> tuple[dict[str, Any], list[tuple[SSAValue, int, str]]]:
    """Model facts from the arguments, and (value, bytes, role) per argument."""
    block = fn.body.block
    entries_of = (
        fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else [None] * len(block.args)
    )
    args: list[tuple[SSAValue, int, str]] = []
    inputs: dict[str, Any] = {}
    params = param_bytes = 0
    tokens = None
    for a, d in zip(block.args, entries_of, strict=False):
        entries = d.data if isinstance(d, DictionaryAttr) else {}
        role = "param" if PARAM in entries else "buffer" if BUFFER in entries else "input"
        size = nbytes(a)
        args.append((a, size, role))
        if role == "param":
            params += numel(a)
            param_bytes += size
        if INPUT in entries:
            given = entries[INPUT]
            label = given.data if isinstance(given, StringAttr) else str(a.index)
            inputs[label] = {"shape": list(shape(a)), "dtype": dtype(a)}
            if tokens is None and dtype(a) == "i64" and len(shape(a)) >= 1:
                tokens = numel(a)
    model: dict[str, Any] = {
        "function": fn.sym_name.data,
        "params": params,
        "param_bytes": param_bytes,
        "inputs": inputs,
        "tokens": tokens,
    }
    return model, args


class _Engine:
    """The state of one simulation: cost cache, unit and value timelines, lifetimes."""

    def __init__(
        self, target: Target, args: list, check: ScheduleCheck | None, sparse: bool = True
    ) -> None:
        self.target = target
        self.check = check
        self.sparse = sparse
        self.units = Units(target)
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
        key = signature(op, single)
        sig = self.cache.get(key)
        if sig is None:
            counts = count_op(op)
            kind = counts.kind
            cost = op_cost(
                op,
                self.target,
                cores=1 if single else "all",
                counts=counts,
                sparse=self.sparse,
            )
            sig = Signature(
                len(self.signatures),
                _op_label(op),
                kind,
                _shape_text(op),
                cost,
                compute_dtype(op),
                counts.flops,
                counts.mm_flops,
                result_bytes=tuple(nbytes(r) for r in op.results),
            )
            self.cache[key] = sig
            self.signatures.append(sig)
        sig.count += 1
        return sig

    def run(self, i: int, op: Operation, sched_start: float | None) -> None:
        """Issue one op: cost, start time, unit, row, lifetimes."""
        sched_unit = read_str(op, SCHED_UNIT)
        sig = self.signature_of(op, self.units.single(sched_unit))
        cost = sig.cost
        layer = layer_of(op)
        phase = phase_of(op)
        self.training = self.training or phase == BACKWARD
        device = read_int(op, PLACEMENT) or 0
        if device < 0:
            raise TandemError(
                f"{op.name}: attribute 'placement' must be a device id >= 0, got {device}"
            )

        start = sched_start or 0.0
        late = None
        for v in op.operands:
            t = self.ready.get(v)
            if t is not None and t > start:
                start, late = t, v
        if self.check is not None:
            self.check.operands(i, op, sched_start, start, late, cost)
        unit = ""
        end = start
        if cost.unit:
            units = self.units
            names = (
                units.resolve(op, sched_unit, cost.unit)
                if sched_unit
                else units.members.get(cost.unit, [cost.unit])
            )
            unit = sched_unit or cost.unit
            if cost.seconds > 0:  # an op that takes no time needs no free unit
                free = units.earliest(device, names)
                if self.check is not None and free > start:
                    self.check.unit_busy(
                        i, op, sched_start, unit, free, *units.busiest(device, names)
                    )
                start = max(start, free)
                end = start + cost.seconds
                units.occupy(device, names, end, describe(i, op))
        self.rows.append(
            OpRow(
                i,
                sig.op,
                sig.kind,
                layer,
                phase,
                device,
                unit,
                start,
                cost.seconds,
                cost.flops,
                cost.bytes,
                cost.bound,
                sig.dtype,
                cost.energy_j,
                sig.id,
            )
        )
        self._lifetimes(op, sig, device, start, end)

    def _lifetimes(
        self, op: Operation, sig: Signature, device: int, start: float, end: float
    ) -> None:
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


def simulate(module: ModuleOp, target: Target | str, *, name: str | None = None) -> SimReport:
    """Run ``module``'s entry function on ``target`` (a Target or a built-in name / path).

    Kernels are what the IR says: each top-level op is one kernel (a ``tfm.fused`` op holds
    several ops), attention runs as its ``kernel`` attribute says (flash when absent). The
    ``fuse`` pass chooses them; the report names its preset (``options.kernels``) and counts
    the kernels launched (``model.kernels``).
    ``name``: the model's name for the report (default: the function's).
    """
    t0 = time.perf_counter()
    if isinstance(target, str):
        target = load_target(target)
    fn = entry_function(module)
    model, args = _arguments(fn)
    ops = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    ret = fn.body.block.last_op
    outputs = list(ret.operands) if isinstance(ret, func.ReturnOp) else []
    sched_starts = [read_float(op, SCHED_START, low=0.0) for op in ops]

    check = ScheduleCheck.of(fn, target)
    engine = _Engine(target, args, check)
    for i in issue_order(ops, sched_starts):
        engine.run(i, ops[i], sched_starts[i])
    if check is not None:
        check.bandwidth(engine.rows, ops)

    rows = engine.rows
    latency = max((r.end for r in rows), default=0.0)
    for v in outputs:
        engine.last_use[engine.alias.get(v, v)] = math.inf
    memory = peak_memory(
        args, engine.allocs, engine.last_use, engine.arg_devices, latency, target.mem_capacity
    )
    model.update(
        name=name or fn.sym_name.data,
        ops=len(ops),
        costed_ops=sum(1 for r in rows if r.unit),
        kernels=sum(1 for r in rows if r.unit and r.seconds > 0),
        signatures=len(engine.signatures),
        training=engine.training,
    )
    scheduled = any(s is not None for s in sched_starts) or any(
        SCHED_UNIT in op.attributes for op in ops
    )
    report = SimReport(
        target=target,
        latency_s=latency,
        rows=rows,
        signatures=engine.signatures,
        model=model,
        memory=memory,
        options={"kernels": kernels_of(module), "scheduled": scheduled},
    )
    if isinstance(target, AccelTranTarget):
        report.energy, report.area_mm2 = acceltran_energy(report, target)
    elif isinstance(target, PhazeTarget):
        report.area_mm2 = phaze_area(target)
    annotated = sum(1 for op in ops if has_sparsity(op))
    if annotated:
        report.sparsity = _dense_comparison(report, ops, sched_starts, args, annotated)
    report.sim_seconds = time.perf_counter() - t0
    return report


def _dense_comparison(
    report: SimReport, ops: list[Operation], sched_starts: list, args: list, annotated: int
) -> dict[str, Any]:
    """The same run with every sparsity attribute ignored, next to the sparse one."""
    target = report.target
    dense = _Engine(target, args, None, sparse=False)  # a schedule is not re-checked
    for i in issue_order(ops, sched_starts):
        dense.run(i, ops[i], sched_starts[i])
    latency = max((r.end for r in dense.rows), default=0.0)
    out: dict[str, Any] = {
        "annotated_ops": annotated,
        "dense_latency_s": latency,
        "sparse_latency_s": report.latency_s,
        "speedup": latency / report.latency_s if report.latency_s > 0 else 1.0,
        "dense_energy_j": None,
        "sparse_energy_j": None,
        "energy_ratio": None,
        "skips_zeros": isinstance(target, AccelTranTarget),
    }
    if isinstance(target, AccelTranTarget) and report.energy is not None:
        shadow = SimReport(target, latency, dense.rows, dense.signatures, {}, {})
        energy, _ = acceltran_energy(shadow, target)
        out["dense_energy_j"] = energy["total_j"]
        out["sparse_energy_j"] = report.energy["total_j"]
        out["energy_ratio"] = energy["total_j"] / report.energy["total_j"]
    if isinstance(target, GpuTarget):
        out["note"] = "dense GPU kernels skip no zeros: unstructured sparsity gains nothing" + (
            f"; {target.structured_sparsity.pattern} ops run {target.structured_sparsity.speedup:g}x faster math"
            if target.structured_sparsity is not None
            else "; this GPU declares no structured sparsity"
        )
    elif not isinstance(target, AccelTranTarget):
        out["note"] = "dense systolic arrays skip no zeros: unstructured sparsity gains nothing"
    return out
