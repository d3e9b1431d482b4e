"""Capture a model as an ATen-level torch.fx graph: forward through torch.export, and
forward + loss + backward through AOTAutograd's joint graph (PyTorch's own autograd).

The result is a `Captured` graph whose placeholders and outputs are labelled: user input,
parameter, buffer, gradient-seed; loss, output, gradient of a parameter.
"""

from __future__ import annotations

import contextlib
import io
import os
import sys
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.compiler
from torch._decomp import core_aten_decompositions
from torch._subclasses.fake_tensor import FakeTensorMode

from frontends.aten import HANDLERS
from ir.errors import TandemError

aten = torch.ops.aten

# Ops tfm keeps whole instead of letting PyTorch decompose them.
KEEP = [
    aten.native_layer_norm.default,
    aten.native_layer_norm_backward.default,
    aten.layer_norm.default,
    aten._softmax.default,
    aten._log_softmax.default,
    aten._softmax_backward_data.default,
    aten._log_softmax_backward_data.default,
    aten.gelu.default,
    aten.gelu_backward.default,
    aten.silu.default,
    aten.silu_backward.default,
    aten.embedding.default,
    aten.embedding_dense_backward.default,
    aten.nll_loss_forward.default,
    aten.nll_loss_backward.default,
    aten.scaled_dot_product_attention.default,
    aten._scaled_dot_product_flash_attention_for_cpu.default,
    aten._scaled_dot_product_flash_attention_for_cpu_backward.default,
    aten._scaled_dot_product_efficient_attention.default,
    aten._scaled_dot_product_efficient_attention_backward.default,
    aten.rms_norm.default,
    aten.linear.default,
    aten.addmm.default,
    aten.matmul.default,
]


def _fused_attention(
    query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False
):
    """Route every SDPA call to one fused kernel whatever the tracing device, so the joint graph
    holds fused attention and its fused backward (on `meta` PyTorch would pick the math path)."""
    if enable_gqa and key.shape[-3] != query.shape[-3]:
        group = query.shape[-3] // key.shape[-3]
        key = key.repeat_interleave(group, dim=-3)
        value = value.repeat_interleave(group, dim=-3)
    out, _ = aten._scaled_dot_product_flash_attention_for_cpu.default(
        query, key, value, dropout_p, is_causal, attn_mask=attn_mask, scale=scale
    )
    return out


def decomposition_table(training: bool = False) -> dict:
    table = core_aten_decompositions()
    for op in KEEP:
        table.pop(op, None)
    if training:
        table[aten.scaled_dot_product_attention.default] = _fused_attention
    return dict(table)


# ATen ops tfm keeps as `tfm.generic` without decomposing (index arithmetic of attention masks).
GENERIC_OK = {
    "aten.cumsum.default",
    "aten.diff.default",
    "aten.index.Tensor",
    "aten.gather.default",
    "aten.wrap_with_set_grad_enabled",
    "wrap_with_set_grad_enabled",
    "wrap_with_autocast",
}


def needs_decomposition(gm: torch.fx.GraphModule) -> bool:
    """Whether the exported graph holds ops the importer does not map directly.

    torch.export's graph is already ATen; re-tracing it through the decomposition table costs
    as much as the export itself, so it is skipped when every op is known.
    """
    for mod in gm.modules():
        if not isinstance(mod, torch.fx.GraphModule):
            continue
        for node in mod.graph.nodes:
            if (
                node.op == "call_function"
                and str(node.target) not in HANDLERS
                and str(node.target) not in GENERIC_OK
            ):
                return True
    return False


@dataclass
class Captured:
    """An fx graph plus what each placeholder and output means."""

    graph: torch.fx.Graph
    # placeholder name -> ("input", index) | ("param", fqn) | ("buffer", fqn) | ("tangent", "")
    inputs: dict[str, tuple[str, str | int]]
    # one entry per output position: ("output", i) | ("loss", 0) | ("grad", fqn) | ("drop", "")
    outputs: list[tuple[str, str | int]]
    training: bool
    # parameter fqn -> canonical fqn (tied weights share one argument)
    aliases: dict[str, str] = field(default_factory=dict)
    constants: dict[str, torch.Tensor] = field(default_factory=dict)


@contextlib.contextmanager
def _compiling() -> Iterator[None]:
    """Tell libraries we are tracing, as torch.compile does, so they skip data-dependent checks."""
    old = torch.compiler._is_compiling_flag
    torch.compiler._is_compiling_flag = True
    try:
        yield
    finally:
        torch.compiler._is_compiling_flag = old


def tied_aliases(module: torch.nn.Module) -> dict[str, str]:
    """Map every parameter/buffer name to the first name of the same tensor object."""
    first: dict[int, str] = {}
    out: dict[str, str] = {}
    named = list(module.named_parameters(remove_duplicate=False)) + list(
        module.named_buffers(remove_duplicate=False)
    )
    for name, t in named:
        out[name] = first.setdefault(id(t), name)
    return out


_ROOT = Path(__file__).resolve().parent.parent
# torch itself, the standard library and Tandem's own packages: not the model's code
_LIBRARY_DIRS = tuple(
    str(d) + os.sep
    for d in (
        Path(str(torch.__file__)).resolve().parent,
        Path(str(contextlib.__file__)).resolve().parent,
        *(_ROOT / pkg for pkg in ("ir", "frontends", "backends", "passes", "tandem")),
    )
)


def _user_frame(exc: BaseException) -> traceback.FrameSummary | None:
    """The innermost frame of the model's own code (not torch, Python or Tandem) that raised."""
    frames = traceback.extract_tb(exc.__traceback__)
    for frame in reversed(frames):
        path = str(Path(frame.filename).resolve()) if frame.filename else ""
        if path and not path.startswith(_LIBRARY_DIRS) and not frame.filename.startswith("<"):
            return frame
    return None


def _data_dependent(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return "datadependent" in text or "data-dependent" in text or "data dependent" in text


def export_error(stage: str, exc: BaseException) -> TandemError:
    """One line for a failed capture: what failed, where in the model's code, and why.

    A branch on a tensor's value (`if x.sum() > 0:`) says so and names the source line."""
    lines = [ln.strip() for ln in str(exc).strip().splitlines() if ln.strip()]
    msg = f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__
    frame = _user_frame(exc)
    at = ""
    if frame is not None:
        code = f" `{frame.line.strip()}`" if frame.line else ""
        at = f" at {Path(frame.filename).name}:{frame.lineno}{code}"
    if _data_dependent(exc):
        return TandemError(
            f"{stage} failed{at}: the model's control flow depends on a tensor's value "
            f"(data-dependent branch, .item() or a value-sized tensor), which a static graph "
            f"cannot hold; branch on shapes, or use torch.where ({msg})"
        )
    return TandemError(f"{stage} failed{at}: {msg}")


def _fail(stage: str, exc: Exception) -> TandemError:
    return export_error(stage, exc)


@contextlib.contextmanager
def user_code() -> Iterator[None]:
    """While the model's own Python runs: its prints go to stderr, never into the IR on stdout."""
    with contextlib.redirect_stdout(sys.stderr):
        yield


def capture_inference(module: torch.nn.Module, args: tuple) -> Captured:
    """torch.export the forward pass and decompose it to the ATen ops tfm understands."""
    with fake_cpu_while(module, args) as fake_args:
        return _capture_inference(module, fake_args)


def _capture_inference(module: torch.nn.Module, args: tuple) -> Captured:
    try:
        # on failure torch.export prints the partial graph to stderr; the error says what failed
        with torch.no_grad(), contextlib.redirect_stderr(io.StringIO()):
            ep = torch.export.export(module, args, strict=False)
            if needs_decomposition(ep.graph_module):
                ep = ep.run_decompositions(decomposition_table())
    except TandemError:
        raise
    except Exception as exc:  # torch raises many types; the user needs one line
        raise _fail("torch.export of the model", exc) from exc
    kinds = {
        torch.export.graph_signature.InputKind.PARAMETER: "param",
        torch.export.graph_signature.InputKind.BUFFER: "buffer",
        torch.export.graph_signature.InputKind.CONSTANT_TENSOR: "buffer",
    }
    inputs: dict[str, tuple[str, str | int]] = {}
    constants: dict[str, torch.Tensor] = {}
    user = 0
    for spec in ep.graph_signature.input_specs:
        name = spec.arg.name
        if spec.kind == torch.export.graph_signature.InputKind.USER_INPUT:
            inputs[name] = ("input", user)
            user += 1
        elif spec.kind in kinds:
            inputs[name] = (kinds[spec.kind], spec.target)
            if spec.kind == torch.export.graph_signature.InputKind.CONSTANT_TENSOR:
                constants[spec.target] = ep.constants[spec.target]
        else:
            raise TandemError(f"unsupported exported input {name} of kind {spec.kind.name}")
    outputs: list[tuple[str, str | int]] = []
    for i, spec in enumerate(ep.graph_signature.output_specs):
        if spec.kind != torch.export.graph_signature.OutputKind.USER_OUTPUT:
            raise TandemError(
                f"the model mutates its state ({spec.kind.name} {spec.target}); tfm is value-semantic"
            )
        outputs.append(("output", i))
    return Captured(ep.graph, inputs, outputs, False, tied_aliases(module), constants)


def _on_meta(module: torch.nn.Module, args: tuple) -> bool:
    tensors = [
        *module.parameters(),
        *module.buffers(),
        *(a for a in args if isinstance(a, torch.Tensor)),
    ]
    return any(t.device.type == "meta" for t in tensors)


def swap_to_fake_cpu(module: torch.nn.Module, args: tuple) -> tuple:
    """Replace `module`'s parameters and buffers, in place, by fake CPU tensors (no memory)
    and return fake CPU copies of the tensor `args`, so tracing takes PyTorch's CPU code paths
    (fused attention, cross-entropy autograd) instead of the meta device's fallbacks.
    Tensors shared between submodules (tied weights) stay shared."""
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    memo: dict[int, torch.Tensor] = {}

    def fake(t: Any) -> Any:
        if id(t) not in memo:
            with mode:
                f = torch.empty(t.shape, dtype=t.dtype, device="cpu")
            memo[id(t)] = (
                torch.nn.Parameter(f, requires_grad=t.requires_grad)
                if isinstance(t, torch.nn.Parameter)
                else f
            )
        return memo[id(t)]

    for sub in module.modules():
        for name, p in list(sub._parameters.items()):
            if p is not None:
                sub._parameters[name] = fake(p)
        for name, b in list(sub._buffers.items()):
            if b is not None:
                sub._buffers[name] = fake(b)
    with mode:
        return tuple(
            torch.zeros(a.shape, dtype=a.dtype, device="cpu") if isinstance(a, torch.Tensor) else a
            for a in args
        )


@contextlib.contextmanager
def fake_cpu_while(module: torch.nn.Module, args: tuple) -> Iterator[tuple]:
    """`swap_to_fake_cpu` while inside (meta modules only); the module's own tensors after."""
    if not _on_meta(module, args):
        yield args
        return
    saved = [(sub, dict(sub._parameters), dict(sub._buffers)) for sub in module.modules()]
    try:
        yield swap_to_fake_cpu(module, args)
    finally:
        for sub, params, buffers in saved:
            sub._parameters.update(params)
            sub._buffers.update(buffers)


def capture_training(module: torch.nn.Module, args: tuple) -> Captured:
    """Joint forward+backward graph of a module whose forward returns a scalar loss."""
    with fake_cpu_while(module, args) as fake_args:
        return _capture_training(module, fake_args)


def _capture_training(module: torch.nn.Module, args: tuple) -> Captured:
    from torch._functorch._aot_autograd import descriptors as d
    from torch._functorch.aot_autograd import aot_export_joint_with_descriptors

    try:
        with _compiling(), contextlib.ExitStack() as stack:
            joint = aot_export_joint_with_descriptors(
                stack, module, args, decompositions=decomposition_table(True)
            )
            graph = joint.graph_module.graph
    except TandemError:
        raise
    except Exception as exc:
        raise _fail("tracing the training graph (AOTAutograd)", exc) from exc
    inputs: dict[str, tuple[str, str | int]] = {}
    for node in graph.find_nodes(op="placeholder"):
        desc = node.meta.get("desc")
        if isinstance(desc, d.ParamAOTInput):
            inputs[node.name] = ("param", desc.target)
        elif isinstance(desc, d.BufferAOTInput):
            inputs[node.name] = ("buffer", desc.target)
        elif isinstance(desc, d.PlainAOTInput):
            inputs[node.name] = ("input", desc.idx)
        elif isinstance(desc, d.TangentAOTInput):
            inputs[node.name] = ("tangent", "")
        else:
            raise TandemError(f"unsupported joint-graph input {node.name}: {desc}")
    out_node = next(iter(graph.find_nodes(op="output")))
    outputs: list[tuple[str, str | int]] = []
    for desc in out_node.meta.get("desc", []):
        if isinstance(desc, d.PlainAOTOutput):
            outputs.append(("loss", desc.idx))
        elif isinstance(desc, d.GradAOTOutput) and isinstance(desc.grad_of, d.ParamAOTInput):
            outputs.append(("grad", desc.grad_of.target))
        else:
            outputs.append(("drop", ""))
    if not any(kind == "loss" for kind, _ in outputs):
        raise TandemError("training needs a module whose forward returns the loss")
    for (kind, _), value in zip(outputs, out_node.args[0], strict=True):
        val = value.meta.get("val") if isinstance(value, torch.fx.Node) else None
        if kind == "loss" and isinstance(val, torch.Tensor) and val.dim() != 0:
            raise TandemError(
                f"training needs a module whose forward returns the scalar loss, "
                f"got a tensor of shape {list(val.shape)}"
            )
    return Captured(graph, inputs, outputs, True, tied_aliases(module))


def capture(module: torch.nn.Module, args: tuple, training: bool) -> Captured:
    with user_code():
        if training:
            return capture_training(module, args)
        return capture_inference(module, args)
