"""The entry function as scheduling segments: one per layer and phase, in program order.

Every op that costs time is a task; views and constants are free and only pass dependencies
through. Tasks are cut into segments at changes of (layer, phase), so a training step is
``rest fwd | layer 0 fwd | ... | layer 11 fwd | rest fwd | rest bwd | layer 11 bwd | ...``.
An unlabelled op between two ops of the same layer and phase (GPT-2's per-layer attention
mask) belongs to that layer. Each task's modes come from the cost model: the op on all units
of its kind, and on one unit where the kind has several (PHAZE cores, AccelTran PE groups).

Segments with the same ops (signatures, tiles, devices) and the same internal edges have equal
``key``s: identical layers are solved once.

    for seg in build_segments(fn, load_target("tpuv4-like")):
        seg.layer, seg.phase, len(seg.tasks), seg.key
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from backends.cost.base import OpCost
from backends.op_cost import op_cost, signature
from backends.schedule.problem import Mode, Problem, Resource
from backends.sim.units import dram_share, dram_slots, split_unit, unit_kinds
from backends.targets import Target
from ir.attrs import LAYER, PLACEMENT, layer_of, phase_of, read_int
from ir.errors import TandemError


@dataclass
class Task:
    index: int  # the op's position in the function body
    op: Operation
    modes: list[Mode]
    preds: list[int] = field(default_factory=list)  # task positions within the segment


@dataclass
class Segment:
    layer: int | None
    phase: str
    tasks: list[Task]
    key: tuple = ()

    def problem(self, capacity: dict[Resource, int]) -> Problem:
        return Problem(
            modes=[t.modes for t in self.tasks],
            preds=[t.preds for t in self.tasks],
            capacity=capacity,
        )

    @property
    def label(self) -> str:
        where = "rest" if self.layer is None else f"layer {self.layer}"
        return f"{where} {'bwd' if self.phase == 'backward' else 'fwd'}"


class Coster:
    """Op costs per mode, cached by signature (identical layers are costed once)."""

    def __init__(self, target: Target, fused_attention: bool = True) -> None:
        self.target = target
        self.fused = fused_attention
        self.kinds = unit_kinds(target)
        self.ids: dict[tuple, int] = {}  # signature -> small id (hashed once per op)
        self.cache: dict[tuple[int, bool], OpCost] = {}
        self.mode_cache: dict[tuple[int, int], list[Mode] | None] = {}

    def signature_id(self, op: Operation) -> int:
        return self.ids.setdefault(signature(op, self.fused), len(self.ids))

    def cost(self, op: Operation, key: int, single: bool) -> OpCost:
        full = (key, single)
        c = self.cache.get(full)
        if c is None:
            cores: int | str = 1 if single else "all"
            c = op_cost(op, self.target, fused=self.fused, cores=cores)
            self.cache[full] = c
        return c

    def modes(self, op: Operation, key: int, device: int) -> list[Mode] | None:
        """The op's modes, or None for a free op (no unit)."""
        if (key, device) not in self.mode_cache:
            self.mode_cache[(key, device)] = self._modes(op, key, device)
        return self.mode_cache[(key, device)]

    def _modes(self, op: Operation, key: int, device: int) -> list[Mode] | None:
        every = self.cost(op, key, False)
        if not every.unit:
            return None
        kind, _ = split_unit(every.unit)
        cap = self.kinds.get(kind, 1)
        res = (device, kind)
        wide = Mode(res, cap, every.seconds, dram_slots(dram_share(every, self.target)))
        if cap == 1:
            return [wide]
        one = self.cost(op, key, True)
        narrow = Mode(res, 1, one.seconds, dram_slots(dram_share(one, self.target)), True)
        if narrow.seconds <= wide.seconds and narrow.dram <= wide.dram:
            return [narrow]  # as fast on one unit: the wide mode only wastes units
        return [wide, narrow]

    def capacity(self, segments: list[Segment]) -> dict[Resource, int]:
        out: dict[Resource, int] = {}
        for seg in segments:
            for t in seg.tasks:
                for m in t.modes:
                    out[m.resource] = self.kinds.get(m.resource[1], 1)
        return out


def _device(op: Operation) -> int:
    device = read_int(op, PLACEMENT) or 0
    if device < 0:
        raise TandemError(
            f"{op.name}: attribute 'placement' must be a device id >= 0, got {device}"
        )
    return device


def _keys(tasks: list[tuple[int, Operation]]) -> list[tuple[int | None, str]]:
    """(layer, phase) per task; unlabelled tasks between two alike labelled ones join them."""
    labelled = [(layer_of(op), phase_of(op)) if LAYER in op.attributes else None for _, op in tasks]
    out: list[tuple[int | None, str]] = []
    prev: tuple | None = None
    nxt: list[tuple | None] = [None] * len(tasks)
    after: tuple | None = None
    for i in reversed(range(len(tasks))):
        nxt[i] = after
        if labelled[i] is not None:
            after = labelled[i]
    for i, (_, op) in enumerate(tasks):
        key = labelled[i]
        if key is None:
            key = prev if prev is not None and prev == nxt[i] else (None, phase_of(op))
        else:
            prev = key
        out.append(key)
    return out


def build_segments(
    fn: func.FuncOp, target: Target, fused_attention: bool = True, coster: Coster | None = None
) -> list[Segment]:
    """The function's tasks cut into segments (see the module docstring)."""
    coster = coster or Coster(target, fused_attention)
    producers: dict[SSAValue, frozenset[Operation]] = {}
    found: list[tuple[int, Operation]] = []
    info: dict[Operation, tuple[list[Mode], tuple]] = {}
    for index, op in enumerate(fn.body.block.ops):
        if isinstance(op, func.ReturnOp):
            continue
        device = _device(op)
        sig = coster.signature_id(op)
        modes = coster.modes(op, sig, device)
        if modes is None:  # free: results depend on whatever the operands depend on
            deps = frozenset().union(*(producers.get(v, frozenset()) for v in op.operands))
            for r in op.results:
                producers[r] = deps
            continue
        for r in op.results:
            producers[r] = frozenset((op,))
        found.append((index, op))
        info[op] = (modes, (sig, device))
    segments: list[Segment] = []
    where: dict[Operation, tuple[int, int]] = {}
    for (index, op), key in zip(found, _keys(found), strict=True):
        if not segments or (segments[-1].layer, segments[-1].phase) != key:
            segments.append(Segment(key[0], key[1], []))
        seg = segments[-1]
        deps = frozenset().union(*(producers.get(v, frozenset()) for v in op.operands))
        here = len(segments) - 1
        preds = sorted(where[d][1] for d in deps if where.get(d, (-1, 0))[0] == here)
        where[op] = (here, len(seg.tasks))
        seg.tasks.append(Task(index, op, info[op][0], preds))
    for seg in segments:
        seg.key = tuple((info[t.op][1], tuple(t.preds)) for t in seg.tasks)
    return segments
