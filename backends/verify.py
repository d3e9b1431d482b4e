"""Prove that tfm IR means what the model means: run it on the reference interpreter and
compare with PyTorch eager on the same inputs (outputs; in training also every gradient).

    report = compare_with_pytorch(ir, model, inputs, training=False)
    assert report.ok, report.worst

(``ir.io.verify_ir`` is the other check: IR well-formedness.)
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import DenseArrayBase, DictionaryAttr, ModuleOp, StringAttr

from backends.interpreter import entry, run_function
from backends.placement.check import global_inputs, run_placed
from backends.placement.plan import read_plan
from ir import attrs
from ir.errors import TandemError

# A tensor's error is judged against its own largest magnitude, floored at this fraction of the
# largest magnitude among all compared tensors: gradients that are zero in exact arithmetic
# (key biases under softmax) then cannot fail on round-off alone.
FLOOR = 1e-3


@dataclass
class Comparison:
    name: str
    max_abs: float  # max |ir - eager|
    scale: float  # max |eager|
    max_rel: float = 0.0  # max_abs / max(scale, FLOOR * largest scale)


@dataclass
class VerifyReport:
    rtol: float
    comparisons: list[Comparison] = field(default_factory=list)

    @property
    def max_abs(self) -> float:
        return max((c.max_abs for c in self.comparisons), default=0.0)

    @property
    def max_rel(self) -> float:
        return max((c.max_rel for c in self.comparisons), default=0.0)

    @property
    def worst(self) -> Comparison | None:
        return max(self.comparisons, key=lambda c: c.max_rel, default=None)

    @property
    def ok(self) -> bool:
        return bool(self.comparisons) and self.max_rel <= self.rtol


def compare(name: str, got: torch.Tensor, want: torch.Tensor) -> Comparison:
    if tuple(got.shape) != tuple(want.shape):
        raise TandemError(
            f"{name}: the IR gives shape {tuple(got.shape)}, PyTorch {tuple(want.shape)}"
        )
    g, w = got.detach().double(), want.detach().double()
    diff = (g - w).abs().max().item() if g.numel() else 0.0
    scale = w.abs().max().item() if w.numel() else 0.0
    return Comparison(name, diff, scale)


def judge(comparisons: list[Comparison]) -> None:
    """Fill in each relative error (see FLOOR)."""
    top = max((c.scale for c in comparisons), default=0.0)
    for c in comparisons:
        denom = max(c.scale, FLOOR * top)
        c.max_rel = c.max_abs / denom if denom > 0 else c.max_abs


def _attr(attrs, key: str) -> str | None:
    if not isinstance(attrs, DictionaryAttr) or key not in attrs.data:
        return None
    value = attrs.data[key]
    return value.data if isinstance(value, StringAttr) else None


def arguments(
    fn: func.FuncOp,
    module: torch.nn.Module,
    inputs: tuple,
    constants: dict[str, torch.Tensor] | None = None,
) -> list[torch.Tensor]:
    """One tensor per function argument, looked up by its tfm.input/param/buffer label."""
    named: dict[str, torch.Tensor] = dict(module.named_parameters(remove_duplicate=False))
    named.update(dict(module.named_buffers(remove_duplicate=False)))
    named.update(constants or {})
    arg_entries = (
        fn.arg_attrs.data if fn.arg_attrs is not None else [None] * len(fn.body.block.args)
    )
    out = []
    for i, a in enumerate(arg_entries):
        label = _attr(a, attrs.INPUT)
        if label is not None:
            out.append(inputs[int(label.removeprefix("in"))])
            continue
        name = _attr(a, attrs.PARAM) or _attr(a, attrs.BUFFER)
        if name is None or name not in named:
            raise TandemError(
                f"argument {i} of @{fn.sym_name.data} names no input, parameter or buffer ({name})"
            )
        out.append(pad_parameter(named[name].detach(), param_padding(a)))
    return out


def param_padding(entry) -> tuple[int, ...]:
    """High-side zero padding a pass applied to a parameter (`tfm.param_pad`), or ()."""
    pad = entry.data.get(attrs.PARAM_PAD) if isinstance(entry, DictionaryAttr) else None
    return tuple(pad.get_values()) if isinstance(pad, DenseArrayBase) else ()


def pad_parameter(t: torch.Tensor, pad: tuple[int, ...]) -> torch.Tensor:
    """Apply a recorded parameter transformation (zero rows/columns appended) to a checkpoint tensor."""
    if not any(pad):
        return t
    spec: list[int] = []
    for hi in reversed(pad):
        spec += [0, hi]
    return torch.nn.functional.pad(t, spec)


def unpad_gradient(t: torch.Tensor, pad: tuple[int, ...]) -> torch.Tensor:
    if not any(pad):
        return t
    return t[tuple(slice(0, s - p) for s, p in zip(t.shape, pad, strict=True))]


def eager_reference(
    module: torch.nn.Module,
    inputs: tuple,
    training: bool,
    context: contextlib.AbstractContextManager | None = None,
) -> dict[str, torch.Tensor]:
    """PyTorch's own answers: outputs, or loss plus the gradient of every parameter.

    `context` (e.g. a `frontends.dynaprop.DynaProp` runtime) is active during the forward.
    """
    ctx = context if context is not None else contextlib.nullcontext()
    if not training:
        with torch.no_grad(), ctx:
            out = module(*inputs)
        outs = out if isinstance(out, tuple | list) else [out]
        return {f"out{i}": o for i, o in enumerate(outs)}
    module.zero_grad(set_to_none=True)
    with ctx:
        loss = module(*inputs)
    loss.backward()
    ref = {"loss": loss.detach()}
    for name, p in module.named_parameters():
        if p.grad is not None:
            ref[name] = p.grad.detach().clone()
    return ref


def compare_with_pytorch(
    ir: ModuleOp,
    module: torch.nn.Module,
    inputs: tuple,
    *,
    training: bool,
    constants: dict[str, torch.Tensor] | None = None,
    rtol: float = 1e-4,
    context: contextlib.AbstractContextManager | None = None,
) -> VerifyReport:
    """Run `ir` on the interpreter and compare each result with eager PyTorch.

    Gradients of parameters a pass padded (`tfm.param_pad`) are cut back to the model's shape.
    A placed module (`place` pass) runs rank by rank on a global batch of its microbatches
    (`backends.placement.check`). `context` wraps the eager forward (the DynaProp runtime when
    the IR was pruned).
    """
    fn = entry(ir)
    args = arguments(fn, module, inputs, constants)
    plan = read_plan(ir)
    if plan is not None:
        micro, inputs = global_inputs(inputs, int(plan["d"]) * int(plan["microbatches"]))
        results = list(run_placed(ir, args, micro).values())
    else:
        results = run_function(fn, args)
    ref = eager_reference(module, inputs, training, context)
    report = VerifyReport(rtol)
    res_attrs = fn.res_attrs.data if fn.res_attrs is not None else [None] * len(results)
    pads = {}
    for a in fn.arg_attrs.data if fn.arg_attrs is not None else []:
        if _attr(a, attrs.PARAM) is not None:
            pads[_attr(a, attrs.PARAM)] = param_padding(a)
    for i, (value, res) in enumerate(zip(results, res_attrs, strict=True)):
        label = _attr(res, attrs.GRAD_OF) or _attr(res, attrs.OUTPUT) or f"out{i}"
        if _attr(res, attrs.GRAD_OF) is not None:
            value = unpad_gradient(value, pads.get(label, ()))
        if label not in ref:
            raise TandemError(f"result {i} ({label}) has no PyTorch counterpart")
        report.comparisons.append(compare(label, value, ref[label]))
    judge(report.comparisons)
    missing = sorted(set(ref) - {c.name for c in report.comparisons})
    if missing:
        raise TandemError(
            f"the IR computes no value for {', '.join(missing[:3])}{' ...' if len(missing) > 3 else ''}"
        )
    return report
