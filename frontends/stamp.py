"""Build the IR of N identical blocks from the IR of a short traced stack of K blocks.

Tracing all 96 blocks of GPT-3 costs 96 times what one block costs, and every block gives
the same ops. So Tandem traces K = 4 blocks (`frontends/blocks.py`) and stamps the rest:

    traced  (K=4):  prologue  F0 F1 F2 F3        middle  B3 B2 B1 B0        epilogue
    stamped (N=6):  prologue  F0 F1 F2 F3 F4 F5  middle  B5 B4 B3 B2 B1 B0  epilogue
    copied from:              F0 '-F2 moved-' F3         B3 '-B1 moved-' B0

A *unit* is a run of ops found from the `layer` attributes: in each phase (forward; backward
in reverse layer order) a unit starts at the first op of its layer and ends where the next
unit starts (the last one at its own last op). The first and last units are copied once
(the first block reads the embeddings, the last feeds the head); the third unit is the
template of every block in between, once it is proven to be the second unit moved by one
layer: the same ops, properties, attributes and types, each operand the same function input
or outside value, the same position in a unit the same number of layers away, or the same
parameter of a block the same number of layers away. Ops outside the units may only use
the first unit or the last two. A copy renames parameters (`h.2.mlp.c_fc.weight` -> `h.57.mlp.c_fc.
weight`), shifts `layer` and reads the units and parameters its offsets name. Anything else
raises `NotStampable`, and the caller traces the whole model.

    full = stamp(small_ir, "model.transformer.h", traced=4, total=96)
"""

from __future__ import annotations

import re

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, ModuleOp, i64
from xdsl.ir import Block, BlockArgument, Operation, OpResult, Region, SSAValue

from frontends.fx_import import name_hint
from frontends.units import BACKWARD, FORWARD, Labels, NotStampable, layout, name_in
from ir import attrs

__all__ = ["NotStampable", "stamp"]

_NAME_KEYS = (attrs.PARAM, attrs.BUFFER)


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
        self.lay = layout(ops[:-1], traced)
        self.pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.(.+)$")
        self.prefix = prefix
        empty = DictionaryAttr({})
        arg_attrs = list(self.fn.arg_attrs.data) if self.fn.arg_attrs else []
        res_attrs = list(self.fn.res_attrs.data) if self.fn.res_attrs else []
        arg_attrs += [empty] * (len(self.block.args) - len(arg_attrs))
        res_attrs += [empty] * (len(self.ret.operands) - len(res_attrs))
        self.args = Labels(arg_attrs, _NAME_KEYS, self.pattern, traced)
        self.results = Labels(res_attrs, (attrs.GRAD_OF,), self.pattern, traced)
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
        """An operand of an op outside the units: the first unit stays the first; the last
        two (the last, and the template before it) stay the last two."""
        ends = {0: 0, self.k - 2: self.n - 2, self.k - 1: self.n - 1}
        if isinstance(v, BlockArgument):
            blk = self.args.blocks[v.index]
            if blk is None:
                return self.new_args[v.index]
            if blk[0] not in ends:
                raise NotStampable("an op outside the blocks uses a middle block's parameter")
            return self._block_arg(ends[blk[0]], blk[1])
        where = self._where(v)
        if where is None:
            return self.outside_map[v]
        p2, i2, _ = where
        if i2 not in ends:
            raise NotStampable("an op outside the blocks uses a middle block")
        return self._unit_value(v, p2, ends[i2])

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
                    name_hint(name_in(entry, _NAME_KEYS) or "") if old.name_hint else None
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
