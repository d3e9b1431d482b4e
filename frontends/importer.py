"""The frontend entry point: a model (zoo name, `file.py:factory`, or nn.Module) -> tfm module.

spec = resolve_model("gpt2-tiny", Overrides(), training=True)
module = import_model(spec)
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import VerifyException

from frontends.fx_import import import_captured
from frontends.trace import capture
from frontends.zoo import ModelSpec
from ir.errors import TandemError


@dataclass
class Imported:
    """The IR plus tensors the exported program lifted out of the model (not parameters)."""

    ir: ModuleOp
    constants: dict[str, torch.Tensor]


def trace_and_import(
    module: torch.nn.Module, example_inputs: tuple, *, training: bool = False, verify: bool = True
) -> Imported:
    """Trace `module` on `example_inputs` and translate it to tfm (forward, or forward+backward)."""
    cap = capture(module, tuple(example_inputs), training)
    ir = import_captured(cap, "train_step" if training else "forward")
    if verify:
        try:
            ir.verify()
        except VerifyException as exc:
            raise TandemError(f"imported IR does not verify (importer bug): {exc}") from exc
    return Imported(ir, cap.constants)


def import_module(
    module: torch.nn.Module, example_inputs: tuple, *, training: bool = False, verify: bool = True
) -> ModuleOp:
    return trace_and_import(module, example_inputs, training=training, verify=verify).ir


def import_model(spec: ModelSpec, *, verify: bool = True) -> ModuleOp:
    return import_module(spec.module, spec.example_inputs, training=spec.training, verify=verify)
