"""Translate a captured ATen fx graph into a tfm `func.func`: the driver that makes the
function's arguments (inputs, parameters, buffers; tied weights share one) and results
(outputs, loss, gradients), runs the `Importer` over the graph and tidies the block.

    module = import_captured(capture(model, args, training=False))

Each fx node becomes zero or more tfm ops (see `frontends/aten/` for the handlers); views
and copies vanish into value semantics, and an ATen op without a handler becomes a
`tfm.generic` that names it, so no model is refused for a rare op.
"""

from __future__ import annotations

import re

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr
from xdsl.ir import Block, Region, SSAValue
from xdsl.transforms.dead_code_elimination import region_dce

from frontends.aten import HANDLERS
from frontends.aten.generic import generic
from frontends.aten.importer import VIEW_LIKE, Importer, torch_type
from frontends.trace import Captured
from ir import attrs
from ir.attrs import layer_of_name
from ir.binary_ops import AddOp
from ir.types import dtype


def import_captured(cap: Captured, name: str = "forward") -> ModuleOp:
    """Build `module { func.func @<name>(inputs, params, buffers) -> outputs }` from a capture."""
    arg_nodes = list(cap.graph.find_nodes(op="placeholder"))
    order = {"input": 0, "param": 1, "buffer": 2}
    real = [n for n in arg_nodes if cap.inputs[n.name][0] != "tangent"]
    canon = {
        n.name: cap.aliases.get(str(cap.inputs[n.name][1]), str(cap.inputs[n.name][1]))
        for n in real
    }
    # One argument per distinct tensor: tied weights share it.
    seen: dict[tuple[str, str], torch.fx.Node] = {}
    args: list[torch.fx.Node] = []
    for n in sorted(real, key=lambda n: order[cap.inputs[n.name][0]]):
        key = (
            cap.inputs[n.name][0],
            canon[n.name] if cap.inputs[n.name][0] != "input" else str(cap.inputs[n.name][1]),
        )
        if key not in seen:
            seen[key] = n
            args.append(n)
    block = Block(arg_types=[torch_type(n.meta["val"]) for n in args])
    imp = Importer(block, HANDLERS, generic)
    arg_attrs = []
    for n, barg in zip(args, block.args, strict=True):
        kind, what = cap.inputs[n.name]
        label = f"in{what}" if kind == "input" else canon[n.name]
        arg_attrs.append(
            DictionaryAttr(
                {
                    {"input": attrs.INPUT, "param": attrs.PARAM, "buffer": attrs.BUFFER}[
                        kind
                    ]: StringAttr(label)
                }
            )
        )
        barg.name_hint = name_hint(label)
        if kind != "input":
            imp.param_layers[barg] = layer_of_name(label)
    by_key = {key: block.args[i] for i, key in enumerate(seen)}
    for n in real:
        kind = cap.inputs[n.name][0]
        imp.values[n] = by_key[
            (kind, canon[n.name] if kind != "input" else str(cap.inputs[n.name][1]))
        ]
    for n in arg_nodes:
        if cap.inputs[n.name][0] == "tangent":
            imp.node = n
            imp.values[n] = imp.const(
                1.0, dtype(torch_type(n.meta["val"])), tuple(n.meta["val"].shape)
            )

    out_node = next(iter(cap.graph.find_nodes(op="output")))
    imp.translate(cap.graph)
    results, res_attrs = _outputs(imp, cap, out_node)
    block.add_op(func.ReturnOp(*results))
    fn = func.FuncOp(name, (block.arg_types, [r.type for r in results]), Region(block))
    region_dce(fn.body)
    _views_follow_users(block)
    fn.arg_attrs = ArrayAttr(arg_attrs)
    fn.res_attrs = ArrayAttr(res_attrs)
    return ModuleOp([fn])


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
                results[i] = imp.op1(AddOp, [results[i], v], results[i].type)
                continue
            grads[canon] = len(results)
            labels.append(DictionaryAttr({attrs.GRAD_OF: StringAttr(canon)}))
        else:
            labels.append(
                DictionaryAttr(
                    {attrs.OUTPUT: StringAttr("loss" if kind == "loss" else f"out{what}")}
                )
            )
        results.append(v)
    return results, labels


def name_hint(label: str) -> str | None:
    """An SSA name for an argument label (`h.0.attn.weight` -> `h_0_attn_weight`), if valid."""
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
