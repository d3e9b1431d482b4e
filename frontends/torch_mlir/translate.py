"""Translate parsed torch-dialect MLIR to tfm through the ATen handler table.

Each `torch.aten.*` op becomes a torch.fx node calling the same ATen operator, operands bound
to its schema (`torch.constant.*` and `torch.prim.ListConstruct` folded into Python values,
result shapes from the torch types), so `frontends.fx_import.import_captured` and the
handlers of `frontends.aten` translate it exactly as they translate torch.export graphs:

    %w = "torch.vtensor.literal"() <{value = dense_resource<lm_head.weight> : tensor<256x64xf32>}> : ...
    %y = "torch.aten.linear"(%x, %w, %none) : (...) -> !torch.vtensor<[2,16,256],f32>
  becomes
    func.func @forward(%in0: tensor<2x16x64xf32> {tfm.input = "in0"},
                       %lm_head_weight: tensor<256x64xf32> {tfm.param = "lm_head.weight"}) -> ...
      %0 = tfm.matmul %in0, %lm_head_weight {transpose_rhs} : ...

Weights (dense_resource and non-splat dense literals) become parameters named after their
resource key; splat literals become tfm.constant; ATen ops outside the table become
tfm.generic. Errors name the file and line of the torch op.
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from typing import Any

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    FloatAttr,
    IntegerAttr,
    ModuleOp,
    UnregisteredAttr,
)
from xdsl.ir import Attribute, Operation, SSAValue
from xdsl.utils.exceptions import VerifyException

from frontends.fx_import import import_captured
from frontends.torch_mlir.literals import (
    ELEMENT_TYPES,
    VTENSOR,
    meta_tensor,
    schema_value,
    show_attr,
    splat_value,
    tensor_from_blob,
)
from frontends.torch_mlir.parse import ParsedTorch, op_name
from frontends.trace import Captured
from ir.errors import TandemError

# Value-preserving casts between torch types.
IDENTITY = {
    "torch.derefine",
    "torch.tensor_static_info_cast",
    "torch.copy.to_vtensor",
    "torch.copy.to_tensor",
}


@dataclass
class TorchTranslation:
    ir: ModuleOp
    # parameter name -> tensor for weights the file itself holds (resource blobs, inline literals)
    weights: dict[str, torch.Tensor]


@dataclass
class _Translator:
    parsed: ParsedTorch
    names: dict[str, str]  # resource key -> parameter name
    buffers: set[str]
    graph: torch.fx.Graph = field(default_factory=torch.fx.Graph)
    env: dict[SSAValue, object] = field(default_factory=dict)
    inputs: dict[str, tuple[str, str | int]] = field(default_factory=dict)
    params: dict[str, torch.fx.Node] = field(default_factory=dict)
    weights: dict[str, torch.Tensor] = field(default_factory=dict)
    outputs: int = 0
    elided: int = 0  # weights printed as dense_resource<__elided__>

    # -- diagnostics ---------------------------------------------------------------------------
    def error(self, op: Operation, msg: str) -> TandemError:
        return TandemError(f"{self.parsed.where(op)}: {op_name(op)}: {msg}")

    # -- types -----------------------------------------------------------------------------------
    def tensor_type(self, t: Attribute, op: Operation) -> tuple[tuple[int, ...], torch.dtype]:
        if not isinstance(t, UnregisteredAttr) or t.attr_name.data != "torch.vtensor":
            raise self.error(op, f"expected a !torch.vtensor, got {show_attr(t)}")
        m = VTENSOR.match(t.value.data)
        if m is None:
            raise self.error(op, f"{show_attr(t)} is unranked; tfm needs static shapes")
        dims = [d.strip() for d in m.group(1).split(",") if d.strip()]
        if any(not re.fullmatch(r"\d+", d) for d in dims):
            raise self.error(op, f"{show_attr(t)} has dynamic dimensions; tfm needs static shapes")
        element = m.group(2).strip()
        if element not in ELEMENT_TYPES:
            raise self.error(op, f"element type {element} of {show_attr(t)} is not supported")
        return tuple(int(d) for d in dims), ELEMENT_TYPES[element]

    def is_tensor(self, t: Attribute) -> bool:
        return isinstance(t, UnregisteredAttr) and t.attr_name.data == "torch.vtensor"

    def is_tensor_list(self, t: Attribute) -> bool:
        return (
            isinstance(t, UnregisteredAttr)
            and t.attr_name.data == "torch.list"
            and "vtensor" in t.value.data
        )

    def meta(self, t: Attribute, op: Operation) -> torch.Tensor:
        return meta_tensor(*self.tensor_type(t, op))

    # -- values ----------------------------------------------------------------------------------
    def get(self, v: SSAValue, op: Operation):
        if v not in self.env:
            raise self.error(
                op, f"operand {v.name_hint or ''} has no value (defined by an unsupported op)"
            )
        return self.env[v]

    def call(self, op: Operation, target, args: tuple, kwargs: dict | None = None) -> torch.fx.Node:
        node = self.graph.call_function(target, args, kwargs or {})
        node.meta["stack_trace"] = f'File "{self.parsed.where(op)}", in {op_name(op)}'
        return node

    # -- driver ----------------------------------------------------------------------------------
    def run(self, fn: func.FuncOp, name: str) -> ModuleOp:
        block = fn.body.block
        for i, arg in enumerate(block.args):
            node = self.graph.placeholder(f"in{i}")
            node.meta["val"] = self.meta(arg.type, fn)
            self.inputs[node.name] = ("input", i)
            self.env[arg] = node
        ops = list(block.ops)
        self.weights_as_parameters(ops)
        for op in ops:
            self.visit(op)
        cap = Captured(self.graph, self.inputs, [("output", i) for i in range(self.outputs)], False)
        return import_captured(cap, name)

    def visit(self, op: Operation) -> None:
        name = op_name(op)
        if op.regions and name.startswith("torch."):
            raise self.error(
                op,
                "ops with regions (control flow) are not supported; tfm needs one straight-line graph",
            )
        if name == "func.return":
            return self.ret(op)
        if name.startswith("torch.constant."):
            self.env[op.results[0]] = self.constant(op)
        elif name == "torch.vtensor.literal":
            self.literal(op)
        elif name in ("torch.prim.ListConstruct", "torch.prim.TupleConstruct"):
            vals = [self.get(v, op) for v in op.operands]
            self.env[op.results[0]] = vals if name.endswith("ListConstruct") else tuple(vals)
        elif name in ("torch.prim.ListUnpack", "torch.prim.TupleUnpack"):
            self.unpack(op)
        elif name in ("torch.prim.TupleIndex", "torch.aten.__getitem__.t"):
            seq, index = (self.get(v, op) for v in op.operands)
            self.env[op.results[0]] = seq[index]
        elif name in IDENTITY:
            self.env[op.results[0]] = self.get(op.operands[0], op)
        elif name == "torch.prim.NumToTensor.Scalar":
            self.num_to_tensor(op)
        elif name == "torch.operator":
            self.aten(op, _prop(op, "name").data.removeprefix("torch."))
        elif name.startswith(("torch.aten.", "torch.prims.")):
            self.aten(op, name.removeprefix("torch."))
        else:
            raise self.error(
                op, "is not supported (only ATen ops, torch constants, lists and literals are)"
            )

    def ret(self, op: Operation) -> None:
        vals = [self.get(v, op) for v in op.operands]
        if not all(isinstance(v, torch.fx.Node) for v in vals):
            raise self.error(op, "the function returns a non-tensor value")
        self.graph.output(vals)
        self.outputs = len(vals)

    # -- constants -------------------------------------------------------------------------------
    def constant(self, op: Operation):
        kind = op_name(op).removeprefix("torch.constant.")
        if kind == "none":
            return None
        value = _prop(op, "value")
        if kind == "bool":
            return bool(value.value.data)
        if kind == "int":
            return int(value.value.data)
        if kind in ("float", "number"):
            return (
                value.value.data
                if isinstance(value, FloatAttr | IntegerAttr)
                else float(value.data)
            )
        if kind == "str":
            return value.data
        if kind == "device":
            return torch.device(value.data)
        raise self.error(op, "unknown torch constant")

    def weight_label(self, op: Operation) -> str | None:
        """The parameter name of a weight literal (dense_resource or non-splat dense); None for a splat."""
        value = _prop(op, "value")
        if isinstance(value, DenseIntOrFPElementsAttr) and value.is_splat():
            return None
        shape, dtype = self.tensor_type(op.results[0].type, op)
        if isinstance(value, DenseResourceAttr):
            key = value.resource_handle.data
            if key == "__elided__":  # printed with elided weights: each literal is its own
                self.elided += 1
                return f"elided{self.elided - 1}"
            label = self.names.get(key, key)
            if key in self.parsed.blobs and label not in self.weights:
                self.weights[label] = tensor_from_blob(self.parsed.blobs[key], shape, dtype)
            return label
        if isinstance(value, DenseIntOrFPElementsAttr):
            label = f"literal{len(self.weights)}"
            self.weights[label] = torch.tensor(value.get_values(), dtype=dtype).reshape(shape)
            return label
        raise self.error(op, f"unsupported literal {show_attr(value)}")

    def weights_as_parameters(self, ops: list[Operation]) -> None:
        """One placeholder per distinct weight, in the order of `names` (a state_dict's), then of use."""
        labelled = [
            (label, op)
            for op in ops
            if op_name(op) == "torch.vtensor.literal"
            for label in [self.weight_label(op)]
            if label is not None
        ]
        rank = {label: i for i, label in enumerate(self.names.values())}
        labelled.sort(key=lambda lo: rank.get(lo[0], len(rank)))
        for label, op in labelled:
            shape, dtype = self.tensor_type(op.results[0].type, op)
            node = self.params.get(label)
            if node is None:
                node = self.graph.placeholder(re.sub(r"\W", "_", label))
                node.meta["val"] = meta_tensor(shape, dtype)
                self.inputs[node.name] = ("buffer" if label in self.buffers else "param", label)
                self.params[label] = node
            elif tuple(node.meta["val"].shape) != shape:
                raise self.error(op, f"weight {label} is used with two shapes")
            self.env[op.results[0]] = node

    def literal(self, op: Operation) -> None:
        if op.results[0] in self.env:
            return  # a weight
        shape, dtype = self.tensor_type(op.results[0].type, op)
        value = splat_value(_prop(op, "value"), self.parsed.text.get(op, ""), dtype)
        node = self.call(op, torch.ops.aten.full.default, (list(shape), value), {"dtype": dtype})
        node.meta["val"] = meta_tensor(shape, dtype)
        self.env[op.results[0]] = node

    def num_to_tensor(self, op: Operation) -> None:
        value = self.get(op.operands[0], op)
        if isinstance(value, torch.fx.Node):
            raise self.error(op, "the scalar comes from tensor data; tfm needs it known")
        shape, dtype = self.tensor_type(op.results[0].type, op)
        node = self.call(op, torch.ops.aten.full.default, (list(shape), value), {"dtype": dtype})
        node.meta["val"] = meta_tensor(shape, dtype)
        self.env[op.results[0]] = node

    def unpack(self, op: Operation) -> None:
        src = self.get(op.operands[0], op)
        if isinstance(src, list | tuple):
            if len(src) != len(op.results):
                raise self.error(op, f"unpacks {len(op.results)} values from a list of {len(src)}")
            for r, v in zip(op.results, src, strict=True):
                self.env[r] = v
            return
        if not isinstance(src, torch.fx.Node):
            raise self.error(op, "unpacks a value that is not a list")
        vals = [self.meta(r.type, op) for r in op.results]
        src.meta["val"] = vals
        for i, r in enumerate(op.results):
            item = self.call(op, operator.getitem, (src, i))
            item.meta["val"] = vals[i]
            self.env[r] = item

    # -- ATen ops --------------------------------------------------------------------------------
    def aten(self, op: Operation, qualname: str) -> None:
        overload = _overload(qualname)
        if overload is None:
            raise self.error(op, f"no operator {qualname} in this PyTorch")
        if not op.results:
            return  # side effects only (runtime assertions): nothing to compute
        args, kwargs = self.bind(op, overload, [self.get(v, op) for v in op.operands])
        if not any(self.is_tensor(r.type) or self.is_tensor_list(r.type) for r in op.results):
            for r, v in zip(op.results, self.fold(op, overload, args, kwargs), strict=True):
                self.env[r] = v
            return
        node = self.call(op, overload, tuple(args), kwargs)
        if len(op.results) == 1:
            r = op.results[0]
            node.meta["val"] = self.meta(r.type, op) if self.is_tensor(r.type) else None
            self.env[r] = node
            return
        vals = tuple(self.meta(r.type, op) if self.is_tensor(r.type) else None for r in op.results)
        node.meta["val"] = vals
        for i, r in enumerate(op.results):
            if r.uses:
                item = self.call(op, operator.getitem, (node, i))
                item.meta["val"] = vals[i]
                self.env[r] = item

    def bind(self, op: Operation, overload, values: list) -> tuple[list, dict]:
        """Positional and keyword arguments of the ATen call, in the operator's schema."""
        schema = overload._schema.arguments
        if len(values) > len(schema):
            raise self.error(op, f"has {len(values)} operands; the ATen schema takes {len(schema)}")
        args, kwargs = [], {}
        for a, v in zip(schema, values, strict=False):
            v = schema_value(str(a.type), v)
            if a.kwarg_only:
                kwargs[a.name] = v
            else:
                args.append(v)
        return args, kwargs

    def fold(self, op: Operation, overload, args: list, kwargs: dict) -> list:
        """Evaluate an op that computes scalars (sizes, integer arithmetic) at import time."""

        def concrete(x):
            if isinstance(x, torch.fx.Node):
                return x.meta["val"]
            if isinstance(x, list | tuple):
                return type(x)(concrete(y) for y in x)
            return x

        try:
            out = overload(*concrete(args), **{k: concrete(v) for k, v in kwargs.items()})
        except Exception as exc:  # noqa: BLE001 - data-dependent scalars cannot be computed on meta
            detail = (str(exc).strip().splitlines() or [""])[0]
            raise self.error(
                op,
                "cannot be evaluated at import time (tfm needs scalars known statically): "
                f"{type(exc).__name__}: {detail}",
            ) from exc
        outs = list(out) if len(op.results) > 1 else [out]
        if any(isinstance(o, torch.Tensor) for o in outs):
            raise self.error(op, "computes a scalar from tensor data; tfm needs static values")
        return outs


def _overload(qualname: str):
    """torch.ops overload for `aten.add.Tensor` / `aten.view` (default overload), or None."""
    parts = qualname.split(".")
    if len(parts) < 2:
        return None
    namespace, name = parts[0], parts[1]
    overload = ".".join(parts[2:]) or "default"
    try:
        return getattr(getattr(getattr(torch.ops, namespace), name), overload)
    except (AttributeError, RuntimeError):
        return None


def _prop(op: Operation, name: str) -> Any:
    """A property (or attribute) of an unregistered torch op: its builtin attribute."""
    value = op.properties.get(name)
    if value is None:
        value = op.attributes.get(name)
    if value is None:
        raise TandemError(f"{op_name(op)}: missing `{name}`")
    return value


def entry_function(parsed: ParsedTorch) -> func.FuncOp:
    funcs = [op for op in parsed.module.ops if isinstance(op, func.FuncOp)]
    if not funcs:
        raise TandemError(f"{parsed.path}: no func.func in the module")
    for preferred in ("main", "forward"):
        for f in funcs:
            if f.sym_name.data == preferred:
                return f
    return funcs[0]


def translate(
    parsed: ParsedTorch,
    *,
    name: str = "forward",
    names: dict[str, str] | None = None,
    buffers: set[str] | frozenset[str] = frozenset(),
    verify: bool = True,
) -> TorchTranslation:
    """tfm IR of the module's entry function (`@main`, `@forward`, or the first one).

    `names` renames resource keys to parameter names; names in `buffers` become `tfm.buffer`.
    """
    fn = entry_function(parsed)
    if len(fn.body.blocks) != 1:
        raise TandemError(
            f"{parsed.path}: @{fn.sym_name.data} has {len(fn.body.blocks)} blocks; tfm needs one"
        )
    t = _Translator(parsed, dict(names or {}), set(buffers))
    ir = t.run(fn, name)
    if verify:
        try:
            ir.verify()
        except VerifyException as exc:
            first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip()), "")
            raise TandemError(
                f"{parsed.path}: the translated IR does not verify ({first}): "
                "inconsistent types in the file, or an importer bug"
            ) from exc
    return TorchTranslation(ir, t.weights)
