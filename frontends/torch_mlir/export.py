"""Export a model with torch-mlir's fx importer to torch-dialect MLIR (generic form).

    exported = export_torch_mlir(module, example_inputs)
    exported.text   # "builtin.module"() ({ "func.func"() <{... sym_name = "main"}> ({ ... }) })

The ATen graph is the one the torch.export route imports (same export, same decomposition
rule), so both routes see the same operators; every ATen op of that graph is declared
backend-legal, so torch-mlir's backend pipeline keeps it instead of decomposing it. ATen ops
the torch dialect lacks (it would print them as `torch.operator`, which the pipeline refuses)
are decomposed first. Weights become `dense_resource<parameter.name>` handles without data:
nothing is copied, and a model on the meta device exports too.
"""

from __future__ import annotations

import contextlib
import io
import re
from dataclasses import dataclass, field
from typing import Any

import torch

from frontends.trace import (
    decomposition_table,
    export_error,
    fake_cpu_while,
    needs_decomposition,
    tied_aliases,
    user_code,
)
from ir.errors import TandemError

_BARE_KEY = re.compile(r"^[A-Za-z_][\w$.]*$")


@dataclass
class TorchMlirExport:
    text: str  # torch dialect, generic form
    buffers: set[str] = field(
        default_factory=set
    )  # resource keys that are buffers or lifted constants
    # tensors that are neither parameters nor buffers of the module (lifted constants), by key
    constants: dict[str, torch.Tensor] = field(default_factory=dict)
    output_type: str = "torch"
    names: dict[str, str] = field(default_factory=dict)  # resource key -> parameter name


def _torch_mlir() -> tuple[Any, Any, Any, Any]:
    try:
        from torch_mlir import fx, ir
        from torch_mlir.dialects import torch as torch_d
        from torch_mlir.extras import fx_importer
    except ImportError as exc:
        raise TandemError(
            "--via torch-mlir needs the torch-mlir package (pip install torch-mlir)"
        ) from exc
    return fx, ir, torch_d, fx_importer


def mlir_op_name(target) -> str:
    """torch-dialect spelling of an ATen overload: aten.view.default -> aten.view."""
    name = str(target)
    return name.removesuffix(".default")


def _named_weights_hooks(
    names: dict[int, str], constants: dict[str, torch.Tensor], keys: dict[str, str]
):
    """FxImporterHooks that turn every weight into a data-less `dense_resource<name>` literal."""
    _, ir, _, fx_importer = _torch_mlir()
    hooks_base: Any = fx_importer.FxImporterHooks

    class NamedWeights(hooks_base):
        def __init__(self) -> None:
            self.attrs: dict[str, object] = {}

        def resolve_literal(self, gni, literal, info):
            if not isinstance(literal, torch.Tensor):
                return None
            name = names.get(id(literal))
            if name is None:
                if literal.numel() == 1 and literal.device.type != "meta":
                    return None  # a scalar: torch-mlir writes a splat literal
                name = f"literal{len(constants)}"
                constants[name] = literal
            if name not in self.attrs:
                key = name if _BARE_KEY.match(name) else '"' + name.replace('"', '\\"') + '"'
                shape = "".join(f"{d}x" for d in literal.shape)
                element = fx_importer.TORCH_DTYPE_TO_MLIR_TYPE[literal.dtype]()
                attr = ir.Attribute.parse(f"dense_resource<{key}> : tensor<{shape}{element}>")
                self.attrs[name] = attr
                keys[_resource_key(str(attr))] = name  # MLIR renames a key it has seen
            vtype = gni._cc.tensor_to_vtensor_type(literal)
            return ir.Operation.create(
                "torch.vtensor.literal", results=[vtype], attributes={"value": self.attrs[name]}
            ).result

    return NamedWeights()


def _resource_key(attr: str) -> str:
    """`dense_resource<"0.w"> : tensor<2xf32>` -> `0.w`."""
    key = attr[attr.index("<") + 1 : attr.rindex("> :")]
    return key[1:-1].replace('\\"', '"') if key.startswith('"') else key


def _unregistered(ep: torch.export.ExportedProgram) -> set:
    """ATen overloads of the graph that the torch dialect has no op for."""
    _, ir, torch_d, _ = _torch_mlir()
    ctx = ir.Context()
    torch_d.register_dialect(ctx)
    return {
        n.target
        for n in ep.graph.nodes
        if n.op == "call_function"
        and isinstance(n.target, torch._ops.OpOverload)
        and not ctx.is_registered_operation("torch." + mlir_op_name(n.target))
    }


def _first_error(exc: Exception) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    return (
        (errors[0].split("error:", 1)[1].strip() if errors else lines[0])
        if lines
        else type(exc).__name__
    )


def aten_program(module: torch.nn.Module, example_inputs: tuple) -> torch.export.ExportedProgram:
    """The ATen graph the torch.export route imports, minus ops the torch dialect lacks."""
    try:
        # on failure torch.export prints the partial graph to stderr; the error says what failed
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ep = torch.export.export(module, example_inputs, strict=False)
            if needs_decomposition(ep.graph_module):
                ep = ep.run_decompositions(decomposition_table())
            missing = _unregistered(ep)
            if missing:
                defaults = torch.export.default_decompositions()
                table = {op: defaults[op] for op in missing if op in defaults}
                if table:
                    ep = ep.run_decompositions(table)
    except TandemError:
        raise
    except Exception as exc:  # torch raises many types; the user needs one line
        raise export_error("torch.export of the model", exc) from exc
    return ep


def export_torch_mlir(
    module: torch.nn.Module, example_inputs: tuple, *, embed_weights: bool = False
) -> TorchMlirExport:
    """torch.export `module`, then import it with torch-mlir into the torch dialect.

    With `embed_weights` the file carries the weights, as torch-mlir writes them by default
    (`dense_resource<torch_tensor_...>` blobs): self-contained, but slow for big models and
    impossible on the meta device.
    """
    fx, _, _, _ = _torch_mlir()
    if embed_weights and any(
        t.device.type == "meta" for t in [*module.parameters(), *module.buffers()]
    ):
        raise TandemError(
            "embedding weights in torch-mlir's output needs a model with real weights, not one on meta"
        )
    args = tuple(example_inputs)
    with user_code(), fake_cpu_while(module, args) as fake_args:  # CPU paths, as capture does
        ep = aten_program(module, fake_args)
    sig = ep.graph_signature
    aliases = tied_aliases(module)
    # torch-mlir looks buffers up in the state dict, which lacks non-persistent ones
    for key in sig.inputs_to_buffers.values():
        if key not in ep.state_dict and key in ep.constants:
            ep.state_dict[key] = ep.constants[key]
    names = {id(t): aliases.get(k, k) for k, t in ep.state_dict.items()}
    constants: dict[str, torch.Tensor] = {}
    for k, t in ep.constants.items():
        if id(t) not in names:
            names[id(t)] = k
            constants[k] = t
    buffers = {aliases.get(k, k) for k in sig.inputs_to_buffers.values()} | set(constants)
    legal = sorted(
        {
            mlir_op_name(n.target)
            for n in ep.graph.nodes
            if n.op == "call_function" and isinstance(n.target, torch._ops.OpOverload)
        }
    )
    output_type = "raw" if _unregistered(ep) else "torch"
    keys: dict[str, str] = {}
    try:
        hooks = None if embed_weights else _named_weights_hooks(names, constants, keys)
        mod = fx.export_and_import(
            ep,
            output_type=output_type,
            decomposition_table={},
            backend_legal_ops=legal,
            hooks=hooks,
        )
        text = mod.operation.get_asm(print_generic_op_form=True)
    except Exception as exc:  # noqa: BLE001 - torch-mlir's pipeline failures carry MLIR diagnostics
        raise TandemError(f"torch-mlir import failed: {_first_error(exc)}") from exc
    if embed_weights:
        return TorchMlirExport(text, output_type=output_type)  # the weights are in the text
    rank = {name: i for i, name in enumerate(names.values())}  # state_dict order
    keys = dict(sorted(keys.items(), key=lambda kv: rank.get(kv[1], len(rank))))
    return TorchMlirExport(text, buffers, constants, output_type, keys)
