"""Translate a captured ATen fx graph into a tfm `func.func`.

    module = import_captured(capture(model, args, training=False))

Each fx node becomes zero or more tfm ops (see `frontends/aten_ops.py` for the table);
views and copies vanish into value semantics, and an ATen op outside the table becomes a
`tfm.generic` that names it, so no model is refused for a rare op.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    TensorType,
    i64,
)
from xdsl.ir import Block, Operation, Region, SSAValue

from frontends.trace import Captured
from ir import attrs, tfm
from ir.base import float_attr
from ir.dtypes import from_torch
from ir.elementwise_ops import ConstantOp, ConvertOp
from ir.errors import TandemError
from ir.shape_ops import BroadcastOp, PermuteOp, ReshapeOp, SliceOp
from ir.types import dtype, shape, tensor

_LAYER_RE = re.compile(r"\.(\d+)\.")
VIEW_LIKE = (ReshapeOp, PermuteOp, BroadcastOp, SliceOp, ConvertOp)


def torch_type(t: torch.Tensor) -> TensorType:
    return tensor(tuple(int(s) for s in t.shape), from_torch(t.dtype))


def layer_of_name(name: str) -> int | None:
    m = _LAYER_RE.search(name)
    return int(m.group(1)) if m else None


@dataclass
class Importer:
    """State of one graph translation: the block being filled and the node -> value map."""

    block: Block
    values: dict[torch.fx.Node, object] = field(default_factory=dict)
    layers: dict[SSAValue, int] = field(default_factory=dict)
    # parameter/buffer arguments -> their block index (None for embeddings, final norm, head)
    param_layers: dict[SSAValue, int | None] = field(default_factory=dict)
    # autograd sequence number of a forward node -> its block; backward nodes share it
    seq_layers: dict[object, int | None] = field(default_factory=dict)
    # set while translating a backward node whose forward node is known: its block
    forced_layer: tuple[int | None] | None = None
    last_layer: int | None = None
    node: torch.fx.Node | None = None
    phase: str = "forward"

    # -- emission ---------------------------------------------------------------------------
    def emit(self, cls: type[Operation], operands, result_types, props: dict | None = None) -> Operation:
        op = cls.create(
            operands=list(operands),
            result_types=list(result_types),
            properties={k: v for k, v in (props or {}).items() if v is not None},
        )
        layer = self.forced_layer[0] if self.forced_layer is not None else self._layer(op.operands)
        self.last_layer = layer
        if layer is not None:
            op.attributes[attrs.LAYER] = IntegerAttr(layer, i64)
            for r in op.results:
                self.layers[r] = layer
        if isinstance(op, VIEW_LIKE) and op.operands[0] in self.param_layers:
            self.param_layers[op.results[0]] = self.param_layers[op.operands[0]]  # a view of a weight
        if self.phase == "backward":
            op.attributes[attrs.PHASE] = StringAttr("backward")
        self.block.add_op(op)
        return op

    def _layer(self, operands) -> int | None:
        """An op using parameters (or views of them) belongs to their block (none for
        embedding/head parameters); other ops inherit from their operands: the latest block in
        the forward pass, the earliest in the backward pass. Backward ops whose forward op is
        known take its block instead (see `translate_nodes`)."""
        params = [self.param_layers[v] for v in operands if v in self.param_layers]
        if params:
            known = [p for p in params if p is not None]
            return (min(known) if self.phase == "backward" else max(known)) if known else None
        known = [self.layers[v] for v in operands if v in self.layers]
        if not known:
            return None
        return min(known) if self.phase == "backward" else max(known)

    def op1(self, cls, operands, result_type, props: dict | None = None) -> SSAValue:
        return self.emit(cls, operands, [result_type], props).results[0]

    def const(self, value: float | int | bool, like: str, shape_: tuple[int, ...] = ()) -> SSAValue:
        is_int = like.startswith("i")
        attr = IntegerAttr(int(value), i64) if is_int else float_attr(float(value))
        return self.op1(ConstantOp, [], tensor(shape_, like), {"value": attr})

    def convert(self, v: SSAValue, to: str) -> SSAValue:
        if dtype(v) == to:
            return v
        return self.op1(ConvertOp, [v], tensor(shape(v), to))

    # -- fx values ----------------------------------------------------------------------------
    def value(self, arg) -> SSAValue:
        if not isinstance(arg, torch.fx.Node):
            raise self.error(f"expected a tensor argument, got {arg!r}")
        v = self.values.get(arg)
        if v is None and arg in self.values:
            raise self.error(f"uses {arg.name}, an auxiliary output (statistics, masks) that tfm ops do not expose")
        if not isinstance(v, SSAValue):
            raise self.error(f"argument {arg.name} has no single tensor value")
        return v

    def out_type(self, index: int | None = None) -> TensorType:
        val = self.node.meta.get("val")
        if index is not None:
            val = val[index]
        if not isinstance(val, torch.Tensor):
            raise self.error("has no tensor metadata")
        return torch_type(val)

    def out_dtype(self) -> str:
        return dtype(self.out_type())

    def error(self, msg: str) -> TandemError:
        node = self.node
        where = ""
        if node is not None:
            trace = (node.meta.get("stack_trace") or "").strip().splitlines()
            frames = [t.strip() for t in trace if t.strip().startswith("File ")]
            where = f" ({frames[-1]})" if frames else ""
            return TandemError(f"node {node.name} ({node.target}){where}: {msg}")
        return TandemError(msg)


Handler = Callable[[Importer, torch.fx.Node], object]


def import_captured(cap: Captured, name: str = "forward") -> ModuleOp:
    """Build `module { func.func @<name>(inputs, params, buffers) -> outputs }` from a capture."""
    arg_nodes = list(cap.graph.find_nodes(op="placeholder"))
    order = {"input": 0, "param": 1, "buffer": 2}
    real = [n for n in arg_nodes if cap.inputs[n.name][0] != "tangent"]
    canon = {n.name: cap.aliases.get(str(cap.inputs[n.name][1]), str(cap.inputs[n.name][1])) for n in real}
    # One argument per distinct tensor: tied weights share it.
    seen: dict[tuple[str, str], torch.fx.Node] = {}
    args: list[torch.fx.Node] = []
    for n in sorted(real, key=lambda n: order[cap.inputs[n.name][0]]):
        key = (cap.inputs[n.name][0], canon[n.name] if cap.inputs[n.name][0] != "input" else str(cap.inputs[n.name][1]))
        if key not in seen:
            seen[key] = n
            args.append(n)
    block = Block(arg_types=[torch_type(n.meta["val"]) for n in args])
    imp = Importer(block)
    arg_attrs = []
    for n, barg in zip(args, block.args, strict=True):
        kind, what = cap.inputs[n.name]
        label = f"in{what}" if kind == "input" else canon[n.name]
        arg_attrs.append(DictionaryAttr({{"input": attrs.INPUT, "param": attrs.PARAM, "buffer": attrs.BUFFER}[kind]: StringAttr(label)}))
        barg.name_hint = _hint(label)
        if kind != "input":
            imp.param_layers[barg] = layer_of_name(label)
    by_key = {key: block.args[i] for i, key in enumerate(seen)}
    for n in real:
        kind = cap.inputs[n.name][0]
        imp.values[n] = by_key[(kind, canon[n.name] if kind != "input" else str(cap.inputs[n.name][1]))]
    for n in arg_nodes:
        if cap.inputs[n.name][0] == "tangent":
            imp.node = n
            imp.values[n] = imp.const(1.0, dtype(torch_type(n.meta["val"])), tuple(n.meta["val"].shape))

    out_node = next(iter(cap.graph.find_nodes(op="output")))
    translate_nodes(imp, cap.graph)
    results, res_attrs = _outputs(imp, cap, out_node)
    block.add_op(func.ReturnOp(*results))
    _dce(block)
    _views_follow_users(block)
    fn = func.FuncOp(name, (block.arg_types, [r.type for r in results]), Region(block))
    fn.arg_attrs = ArrayAttr(arg_attrs)
    fn.res_attrs = ArrayAttr(res_attrs)
    return ModuleOp([fn])


def translate_nodes(imp: Importer, graph: torch.fx.Graph) -> None:
    """Translate every call node of `graph` in order (placeholders must already have values)."""
    from frontends.aten_ops import HANDLERS, generic

    for node in graph.nodes:
        if node.op != "call_function":
            continue
        imp.node = node
        imp.phase = "backward" if node.meta.get("partitioner_tag") == "is_backward" else "forward"
        seq = node.meta.get("seq_nr")
        backward = imp.phase == "backward"
        imp.forced_layer = (imp.seq_layers[seq],) if backward and seq in imp.seq_layers else None
        imp.last_layer = None
        handler = HANDLERS.get(str(node.target), generic)
        try:
            result = handler(imp, node)
        except TandemError:
            raise
        except Exception as exc:
            raise imp.error(f"could not import: {type(exc).__name__}: {exc}") from exc
        finally:
            imp.forced_layer = None
        imp.values[node] = result
        if not backward and seq is not None and imp.seq_layers.get(seq) is None:
            imp.seq_layers[seq] = _node_layer(imp, result)


def _node_layer(imp: Importer, result) -> int | None:
    """The block of a translated forward node: of its result, else of the last op it emitted."""
    first = result[0] if isinstance(result, tuple) and result else result
    if isinstance(first, SSAValue) and first in imp.layers:
        return imp.layers[first]
    return imp.last_layer


def _outputs(imp: Importer, cap: Captured, out_node: torch.fx.Node):
    flat = out_node.args[0]
    flat = list(flat) if isinstance(flat, list | tuple) else [flat]
    results: list[SSAValue] = []
    labels: list[DictionaryAttr] = []
    grads: dict[str, int] = {}
    imp.node = out_node
    for (kind, what), arg in zip(cap.outputs, flat, strict=True):
        if kind == "drop" or arg is None:
            continue
        v = imp.value(arg)
        if kind == "grad":
            canon = cap.aliases.get(str(what), str(what))
            if canon in grads:  # tied weights: their gradients add up
                i = grads[canon]
                imp.phase = "backward"
                results[i] = imp.op1(tfm.BINARY_OPS[0], [results[i], v], results[i].type)
                continue
            grads[canon] = len(results)
            labels.append(DictionaryAttr({attrs.GRAD_OF: StringAttr(canon)}))
        else:
            labels.append(DictionaryAttr({attrs.OUTPUT: StringAttr("loss" if kind == "loss" else f"out{what}")}))
        results.append(v)
    return results, labels


def _hint(label: str) -> str | None:
    hint = re.sub(r"[^A-Za-z0-9_]", "_", label)
    return hint if re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", hint) else None


def _views_follow_users(block: Block) -> None:
    """A view (free op) belongs to the block of its users when they agree: the flattening of a
    block's input is part of that block, not of the block that produced the input."""
    for op in reversed(list(block.ops)):
        if not isinstance(op, VIEW_LIKE) or not op.results[0].uses:
            continue
        layers = {u.operation.attributes.get(attrs.LAYER) for u in op.results[0].uses}
        if len(layers) == 1 and None not in layers:
            op.attributes[attrs.LAYER] = layers.pop()


def _dce(block: Block) -> None:
    """Drop pure ops whose results are unused (views of dead values, unused statistics)."""
    for op in reversed(list(block.ops)):
        if op.results and all(not r.uses for r in op.results) and op.name.startswith("tfm."):
            block.erase_op(op)

