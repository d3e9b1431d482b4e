"""Build the IR of N identical blocks from the IR of a short traced stack of K blocks.

Tracing all 96 blocks of GPT-3 costs 96 times what one block costs, and every block gives
the same ops. So Tandem traces K = 4 blocks (`frontends/blocks.py`) and stamps the rest:

    traced  (K=4):  prologue  F0 F1 F2 F3  middle  B3 B2 B1 B0  epilogue
    stamped (N=6):  prologue  F0 F1 F2 F3 F4 F5  middle  B5 B4 B3 B2 B1 B0  epilogue
                                 '---F2---'                '--B1---'

A *unit* is a run of ops found from the `layer` attributes: in each phase (forward; backward
in reverse layer order) a unit starts at the first op of its layer and ends where the next
unit starts (the last one at its own last op). The first and last units are copied once
(the first block reads the embeddings, the last feeds the head); the third unit is the
template of every block in between, once it is proven to be the second unit moved by one
layer: the same ops, properties, attributes and types, each operand the same function input
or outside value, the same position in a unit the same number of layers away, or the same
parameter of a block the same number of layers away. Ops outside the units may only use
the first or last unit. A copy renames parameters (`h.2.mlp.c_fc.weight` -> `h.57.mlp.c_fc.
weight`), shifts `layer` and reads the units and parameters its offsets name. Anything else
raises `NotStampable`, and the caller traces the whole model.

    full = stamp(small_ir, "model.transformer.h", traced=4, total=96)
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, StringAttr, i64
from xdsl.ir import Block, BlockArgument, Operation, OpResult, Region, SSAValue

from frontends.fx_import import name_hint
from ir import attrs

__all__ = ["NotStampable", "stamp"]

FORWARD, BACKWARD = "F", "B"
_NAME_KEYS = (attrs.PARAM, attrs.BUFFER)


class NotStampable(Exception):
    """The traced IR does not have the shape of identical blocks; trace the whole model."""


@dataclass
class _Layout:
    """Where every op and value of the traced function sits."""

    traced: int
    units: dict[tuple[str, int], list[Operation]] = field(default_factory=dict)
    # op -> (phase, appearance index, position in unit)
    place: dict[Operation, tuple[str, int, int]] = field(default_factory=dict)
    outside: list[list[Operation]] = field(default_factory=list)  # prologue, middle, epilogue
    phases: tuple[str, ...] = (FORWARD,)

    def layer(self, phase: str, index: int) -> int:
        return index if phase == FORWARD else self.traced - 1 - index


def _label(op: Operation) -> tuple[str, int | None]:
    return (BACKWARD if attrs.phase_of(op) == attrs.BACKWARD else FORWARD, attrs.layer_of(op))


def _layout(ops: list[Operation], traced: int) -> _Layout:
    lay = _Layout(traced)
    labels = [_label(op) for op in ops]
    first: dict[tuple[str, int], int] = {}
    last: dict[tuple[str, int], int] = {}
    for i, (phase, layer) in enumerate(labels):
        if layer is None:
            continue
        if not 0 <= layer < traced:
            raise NotStampable(f"an op of layer {layer} outside the traced stack")
        first.setdefault((phase, layer), i)
        last[(phase, layer)] = i
    lay.phases = (FORWARD, BACKWARD) if any(p == BACKWARD for p, _ in first) else (FORWARD,)
    bounds: list[tuple[int, int]] = []
    for phase in lay.phases:
        keys = [(phase, lay.layer(phase, i)) for i in range(traced)]
        if any(k not in first for k in keys):
            raise NotStampable(f"a traced block has no {phase} ops")
        starts = [first[k] for k in keys]
        if starts != sorted(starts):
            raise NotStampable(f"the {phase} ops do not run block after block")
        end = last[keys[-1]] + 1
        ends = [*starts[1:], end]
        for i, (s, e) in enumerate(zip(starts, ends, strict=True)):
            lay.units[(phase, i)] = ops[s:e]
            for p, op in enumerate(ops[s:e]):
                lay.place[op] = (phase, i, p)
        bounds.append((starts[0], end))
    cuts = [0] + [b for pair in bounds for b in pair] + [len(ops)]
    if cuts != sorted(cuts):
        raise NotStampable("the forward and backward blocks overlap")
    lay.outside = [ops[cuts[i] : cuts[i + 1]] for i in range(0, len(cuts), 2)]
    for region in lay.outside:
        if any(attrs.layer_of(op) is not None for op in region):
            raise NotStampable("an op of a block lies outside the blocks")
    return lay


class _Labels:
    """The labels of a function's arguments or results: outside ones, and per-block runs of
    the parameters (gradients) of blocks 0, 1, ..., each run with the same suffixes."""

    def __init__(
        self, entries: list[DictionaryAttr], keys: tuple[str, ...], prefix: re.Pattern, k: int
    ) -> None:
        self.entries, self.keys = entries, keys
        # per item: None (outside a block) or (layer, suffix)
        self.blocks: list[tuple[int, str] | None] = []
        for entry in entries:
            name = _name_in(entry, keys)
            m = prefix.match(name) if name else None
            self.blocks.append((int(m.group(1)), m.group(2)) if m else None)
        for seg in self._segments():
            runs: list[tuple[int, list[str]]] = []
            for t in seg:
                layer, suffix = self.block(t)
                if not runs or runs[-1][0] != layer:
                    runs.append((layer, []))
                runs[-1][1].append(suffix)
            if [layer for layer, _ in runs] != list(range(k)) or any(
                suffixes != runs[0][1] for _, suffixes in runs
            ):
                raise NotStampable("the blocks' parameters differ")

    def block(self, t: int) -> tuple[int, str]:
        found = self.blocks[t]
        assert found is not None
        return found

    def _segments(self) -> list[list[int]]:
        """Maximal runs of consecutive block items."""
        segs: list[list[int]] = []
        for t, blk in enumerate(self.blocks):
            if blk is None:
                continue
            if segs and segs[-1][-1] == t - 1:
                segs[-1].append(t)
            else:
                segs.append([t])
        return segs

    def expanded(self, prefix: str, total: int) -> list[tuple[int, int | None, DictionaryAttr]]:
        """(traced item, stamped block or None, label) for every stamped item, in order: outside
        items once, each segment as `total` runs named `prefix.<block>.<suffix>`."""
        out: list[tuple[int, int | None, DictionaryAttr]] = []
        segs = {seg[0]: seg for seg in self._segments()}
        t = 0
        while t < len(self.blocks):
            if t not in segs:
                out.append((t, None, self.entries[t]))
                t += 1
                continue
            first_run = [u for u in segs[t] if self.block(u)[0] == 0]
            for layer in range(total):
                for u in first_run:
                    name = f"{prefix}.{layer}.{self.block(u)[1]}"
                    out.append((u, layer, _renamed(self.entries[u], self.keys, name)))
            t = segs[t][-1] + 1
        return out


def _name_in(entry: DictionaryAttr, keys: tuple[str, ...]) -> str | None:
    for key in keys:
        value = entry.data.get(key)
        if isinstance(value, StringAttr):
            return value.data
    return None


def _renamed(entry: DictionaryAttr, keys: tuple[str, ...], name: str) -> DictionaryAttr:
    data = dict(entry.data)
    for key in keys:
        if key in data:
            data[key] = StringAttr(name)
    return DictionaryAttr(data)


def stamp(module: ModuleOp, prefix: str, *, traced: int, total: int) -> ModuleOp:
    """The IR of `total` blocks from `module`, the IR of the first `traced` blocks of the list
    whose parameters are named `prefix.<i>.<rest>`. Raises NotStampable."""
    return _Stamper(module, prefix, traced, total).run()


class _Stamper:
    def __init__(self, module: ModuleOp, prefix: str, traced: int, total: int) -> None:
        if traced < 4 or total < traced:
            raise NotStampable(f"cannot stamp {total} blocks from {traced}")
        fns = list(module.ops)
        if len(fns) != 1 or not isinstance(fns[0], func.FuncOp):
            raise NotStampable("expected one function")
        self.fn = fns[0]
        self.k, self.n = traced, total
        self.block = self.fn.body.block
        ops = list(self.block.ops)
        self.ret = ops[-1]
        if not isinstance(self.ret, func.ReturnOp):
            raise NotStampable("the function does not end in a return")
        if any(op.regions or op.successors for op in ops[:-1]):
            raise NotStampable("an op with regions")
        self.lay = _layout(ops[:-1], traced)
        self.pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.+)$")
        self.prefix = prefix
        empty = DictionaryAttr({})
        arg_attrs = list(self.fn.arg_attrs.data) if self.fn.arg_attrs else []
        res_attrs = list(self.fn.res_attrs.data) if self.fn.res_attrs else []
        arg_attrs += [empty] * (len(self.block.args) - len(arg_attrs))
        res_attrs += [empty] * (len(self.ret.operands) - len(res_attrs))
        self.args = _Labels(arg_attrs, _NAME_KEYS, self.pattern, traced)
        self.results = _Labels(res_attrs, (attrs.GRAD_OF,), self.pattern, traced)
        self.layer_attrs: dict[int, IntegerAttr] = {}

    # -- proof ------------------------------------------------------------------------------
    def _ref(self, v: SSAValue, phase: str, index: int) -> tuple:
        """An operand of an op in unit (phase, index), relative to that unit's layer."""
        base = self.lay.layer(phase, index)
        if isinstance(v, BlockArgument):
            blk = self.args.blocks[v.index]
            return ("arg", v) if blk is None else ("param", blk[0] - base, blk[1])
        where = self._where(v)
        if where is None:
            return ("outside", v)
        p2, i2, pos = where
        anchor = self._anchor(phase, index, p2, i2)
        if anchor == "end":
            pos -= len(self.lay.units[(p2, i2)])
        return ("unit", p2, self.lay.layer(p2, i2) - base, pos, _result_index(v))

    def _where(self, v: SSAValue) -> tuple[str, int, int] | None:
        """(phase, unit, position) of the op defining `v`, None outside the units."""
        return self.lay.place.get(v.op) if isinstance(v, OpResult) else None

    @staticmethod
    def _anchor(phase: str, index: int, phase2: str, index2: int) -> str:
        """How a reference from unit (phase, index) into (phase2, index2) counts positions:
        from the end into an earlier unit of the same phase (a block reads the outputs of the
        block before, and the first unit may start early), from the start otherwise."""
        return "end" if phase2 == phase and index2 < index else "start"

    def _signature(self, op: Operation, phase: str, index: int) -> tuple:
        base = self.lay.layer(phase, index)
        layer = attrs.layer_of(op)
        others = {k: v for k, v in op.attributes.items() if k != attrs.LAYER}
        return (
            type(op),
            op.properties,
            others,
            None if layer is None else layer - base,
            tuple(r.type for r in op.results),
            tuple(o.type for o in op.operands),
            tuple(self._ref(o, phase, index) for o in op.operands),
        )

    def _prove_template(self, phase: str) -> None:
        """Unit 2 is unit 1 moved by one layer."""
        a, b = self.lay.units[(phase, 1)], self.lay.units[(phase, 2)]
        if len(a) != len(b):
            raise NotStampable(f"{phase} blocks 1 and 2 have {len(a)} and {len(b)} ops")
        for x, y in zip(a, b, strict=True):
            if self._signature(x, phase, 1) != self._signature(y, phase, 2):
                raise NotStampable(f"{phase} blocks 1 and 2 differ at {x.name}")

    # -- building ---------------------------------------------------------------------------
    def _source(self, pos: int) -> int:
        """The traced unit a stamped unit at appearance position `pos` copies."""
        return 0 if pos == 0 else self.k - 1 if pos == self.n - 1 else 2

    def _stamped_layer(self, phase: str, pos: int) -> int:
        return pos if phase == FORWARD else self.n - 1 - pos

    def _position(self, phase: str, layer: int) -> int:
        if not 0 <= layer < self.n:
            raise NotStampable(f"a block refers to block {layer}")
        return layer if phase == FORWARD else self.n - 1 - layer

    def _unit_value(self, v: SSAValue, phase: str, pos: int, anchor: str = "start") -> SSAValue:
        """The stamped counterpart, in stamped unit (phase, pos), of traced value `v`."""
        where = self._where(v)
        assert where is not None
        _, index, p_orig = where
        built = self.built.get((phase, pos))
        if built is None:
            raise NotStampable("a block uses a later block")
        src = self.lay.units[(phase, self._source(pos))]
        orig = self.lay.units[(phase, index)]
        p = p_orig if anchor == "start" else len(src) - (len(orig) - p_orig)
        if not 0 <= p < len(src) or not _same_kind(src[p], orig[p_orig]):
            raise NotStampable("blocks of different shapes refer to each other")
        return built[p].results[_result_index(v)]

    def _block_arg(self, layer: int, suffix: str) -> SSAValue:
        key = (layer, suffix)
        if key not in self.new_block_args:
            raise NotStampable(f"no parameter {self.prefix}.{layer}.{suffix}")
        return self.new_block_args[key]

    def _map_in_unit(self, v: SSAValue, phase: str, index: int, shift: int) -> SSAValue:
        if isinstance(v, BlockArgument):
            blk = self.args.blocks[v.index]
            if blk is None:
                return self.new_args[v.index]
            return self._block_arg(blk[0] + shift, blk[1])
        where = self._where(v)
        if where is None:
            return self.outside_map[v]
        p2, i2, _ = where
        layer = self.lay.layer(p2, i2) + shift
        anchor = self._anchor(phase, index, p2, i2)
        return self._unit_value(v, p2, self._position(p2, layer), anchor)

    def _map_outside(self, v: SSAValue) -> SSAValue:
        if isinstance(v, BlockArgument):
            blk = self.args.blocks[v.index]
            if blk is None:
                return self.new_args[v.index]
            if blk[0] not in (0, self.k - 1):
                raise NotStampable("an op outside the blocks uses a middle block's parameter")
            return self._block_arg(0 if blk[0] == 0 else self.n - 1, blk[1])
        where = self._where(v)
        if where is None:
            return self.outside_map[v]
        p2, i2, _ = where
        if i2 not in (0, self.k - 1):
            raise NotStampable("an op outside the blocks uses a middle block")
        return self._unit_value(v, p2, 0 if i2 == 0 else self.n - 1)

    def _layer_attr(self, layer: int) -> IntegerAttr:
        if layer not in self.layer_attrs:
            self.layer_attrs[layer] = IntegerAttr(layer, i64)
        return self.layer_attrs[layer]

    def _copy(self, op: Operation, operands: list[SSAValue], shift: int) -> Operation:
        attributes = dict(op.attributes)
        layer = attrs.layer_of(op)
        if layer is not None and shift:
            attributes[attrs.LAYER] = self._layer_attr(layer + shift)
        new = type(op).create(
            operands=operands,
            result_types=[r.type for r in op.results],
            properties=dict(op.properties),
            attributes=attributes,
        )
        self.new_block.add_op(new)
        return new

    def _emit_outside(self, region: list[Operation]) -> None:
        for op in region:
            new = self._copy(op, [self._map_outside(o) for o in op.operands], 0)
            for old, r in zip(op.results, new.results, strict=True):
                self.outside_map[old] = r

    def _emit_units(self, phase: str) -> None:
        for pos in range(self.n):
            index = self._source(pos)
            shift = self._stamped_layer(phase, pos) - self.lay.layer(phase, index)
            built: list[Operation] = []
            self.built[(phase, pos)] = built
            for op in self.lay.units[(phase, index)]:
                operands = [self._map_in_unit(o, phase, index, shift) for o in op.operands]
                built.append(self._copy(op, operands, shift))

    def run(self) -> ModuleOp:
        for phase in self.lay.phases:
            self._prove_template(phase)
        arg_plan = self.args.expanded(self.prefix, self.n)
        self.new_block = Block(arg_types=[self.block.args[t].type for t, _, _ in arg_plan])
        self.new_args: dict[int, SSAValue] = {}
        self.new_block_args: dict[tuple[int, str], SSAValue] = {}
        for barg, (t, layer, entry) in zip(self.new_block.args, arg_plan, strict=True):
            old = self.block.args[t]
            if layer is None:
                self.new_args[t] = barg
                barg.name_hint = old.name_hint
            else:
                self.new_block_args[(layer, self.args.block(t)[1])] = barg
                barg.name_hint = (
                    name_hint(_name_in(entry, _NAME_KEYS) or "") if old.name_hint else None
                )
        self.outside_map: dict[SSAValue, SSAValue] = {}
        self.built: dict[tuple[str, int], list[Operation]] = {}
        self._emit_outside(self.lay.outside[0])
        self._emit_units(FORWARD)
        self._emit_outside(self.lay.outside[1])
        if BACKWARD in self.lay.phases:
            self._emit_units(BACKWARD)
            self._emit_outside(self.lay.outside[2])
        returned = list(self.ret.operands)
        self.result_index = {blk: u for u, blk in enumerate(self.results.blocks) if blk is not None}
        res_plan = self.results.expanded(self.prefix, self.n)
        values = [
            self._map_outside(returned[t])
            if layer is None
            else self._result_of_block(returned, t, layer)
            for t, layer, _ in res_plan
        ]
        self.new_block.add_op(func.ReturnOp(*values))
        fn = func.FuncOp(
            self.fn.sym_name.data,
            (list(self.new_block.arg_types), [v.type for v in values]),
            Region(self.new_block),
        )
        fn.arg_attrs = ArrayAttr([entry for _, _, entry in arg_plan])
        fn.res_attrs = ArrayAttr([entry for _, _, entry in res_plan])
        return ModuleOp([fn])

    def _result_of_block(self, returned: list[SSAValue], t: int, layer: int) -> SSAValue:
        """The stamped result for block `layer` of the run that result `t` belongs to: the
        traced result of the block that plays the same part (first, template or last),
        moved by the layers between them."""
        phase = BACKWARD if BACKWARD in self.lay.phases else FORWARD
        index = self._source(self._position(phase, layer))
        role = self.lay.layer(phase, index)
        suffix = self.results.block(t)[1]
        u = self.result_index.get((role, suffix))
        if u is None:
            raise NotStampable(f"no traced result for {self.prefix}.{role}.{suffix}")
        return self._map_in_unit(returned[u], phase, index, layer - role)


def _result_index(v: SSAValue) -> int:
    assert isinstance(v, OpResult)
    return v.index


def _same_kind(a: Operation, b: Operation) -> bool:
    return type(a) is type(b) and [r.type for r in a.results] == [r.type for r in b.results]
