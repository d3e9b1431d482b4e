"""The state handlers work on: the block being filled, fx node -> SSA value, layer and phase.

    imp = Importer(block, HANDLERS, generic)
    imp.translate(graph)                     # every call node, through the handler table
    y = imp.op1(ReshapeOp, [x], out_type)    # what a handler does: emit ops, return values

Each emitted op carries the transformer block it belongs to (`tfm.layer`) and, in the
backward pass, `tfm.phase = "backward"`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import torch
from xdsl.dialects.builtin import IntegerAttr, StringAttr, TensorType, i64
from xdsl.ir import Block, Operation, SSAValue

from ir import attrs
from ir.base import float_attr
from ir.dtypes import from_torch
from ir.elementwise_ops import ConstantOp, ConvertOp
from ir.errors import TandemError
from ir.shape_ops import BroadcastOp, PermuteOp, ReshapeOp, SliceOp
from ir.types import dtype, shape, tensor

# Ops that only relayout or convert their first operand: free, they follow their users' block.
VIEW_LIKE = (ReshapeOp, PermuteOp, BroadcastOp, SliceOp, ConvertOp)


def torch_type(t: torch.Tensor) -> TensorType:
    return tensor(tuple(int(s) for s in t.shape), from_torch(t.dtype))


@dataclass
class Importer:
    """State of one graph translation: the block being filled and the node -> value map.

    `handlers` maps an fx node target (`str(node.target)`) to the function translating it;
    targets without one go to `fallback`.
    """

    block: Block
    handlers: Mapping[str, Handler]
    fallback: Handler
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

    # -- translation --------------------------------------------------------------------------
    def translate(self, graph: torch.fx.Graph) -> None:
        """Translate every call node of `graph` in order (placeholders must already have values)."""
        for node in graph.nodes:
            if node.op == "call_function":
                self.translate_node(node)

    def translate_node(self, node: torch.fx.Node) -> None:
        self.node = node
        self.phase = "backward" if node.meta.get("partitioner_tag") == "is_backward" else "forward"
        seq = node.meta.get("seq_nr")
        backward = self.phase == "backward"
        self.forced_layer = (self.seq_layers[seq],) if backward and seq in self.seq_layers else None
        self.last_layer = None
        handler = self.handlers.get(str(node.target), self.fallback)
        try:
            result = handler(self, node)
        except TandemError:
            raise
        except Exception as exc:
            raise self.error(f"could not import: {type(exc).__name__}: {exc}") from exc
        finally:
            self.forced_layer = None
        self.values[node] = result
        if not backward and seq is not None and self.seq_layers.get(seq) is None:
            self.seq_layers[seq] = self._node_layer(result)

    def _node_layer(self, result) -> int | None:
        """The block of a translated forward node: of its result, else of the last op it emitted."""
        first = result[0] if isinstance(result, tuple) and result else result
        if isinstance(first, SSAValue) and first in self.layers:
            return self.layers[first]
        return self.last_layer

    # -- emission ---------------------------------------------------------------------------
    def emit(
        self, cls: type[Operation], operands, result_types, props: dict | None = None
    ) -> Operation:
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
            self.param_layers[op.results[0]] = self.param_layers[
                op.operands[0]
            ]  # a view of a weight
        if self.phase == "backward":
            op.attributes[attrs.PHASE] = StringAttr("backward")
        self.block.add_op(op)
        return op

    def _layer(self, operands) -> int | None:
        """An op using parameters (or views of them) belongs to their block (none for
        embedding/head parameters); other ops inherit from their operands: the latest block in
        the forward pass, the earliest in the backward pass. Backward ops whose forward op is
        known take its block instead (see `translate_node`)."""
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
            raise self.error(
                f"uses {arg.name}, an auxiliary output (statistics, masks) that tfm ops do not expose"
            )
        if not isinstance(v, SSAValue):
            raise self.error(f"argument {arg.name} has no single tensor value")
        return v

    def out_type(self, index: int | None = None) -> TensorType:
        val = self.node.meta.get("val") if self.node is not None else None
        if index is not None and isinstance(val, list | tuple):
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


# A handler translates one fx node: it returns the node's SSA value, a tuple of values (None
# for outputs tfm does not expose) for multi-output ops, or None.
Handler = Callable[[Importer, torch.fx.Node], object]
