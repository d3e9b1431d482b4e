"""The frontend entry point: a model (zoo name, `file.py:factory`, or nn.Module) -> tfm module.

spec = resolve_model("gpt2-tiny", Overrides(), training=True)
module = import_model(spec)

A model with a list of more than `STAMP_TRACED` identical blocks is traced with its first
`STAMP_TRACED` blocks only and the others are stamped into the IR (`frontends/stamp.py`);
when the blocks are not provably identical the whole model is traced.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from xdsl.dialects.builtin import ModuleOp
from xdsl.utils.exceptions import VerifyException

from frontends.blocks import find_block_stack
from frontends.fx_import import import_captured
from frontends.stamp import NotStampable, stamp
from frontends.trace import capture
from frontends.zoo import ModelSpec
from ir.errors import TandemError

# blocks traced when the rest are stamped (stamp.py needs four: first, two to compare, last)
STAMP_TRACED = 4


@dataclass
class Imported:
    """The IR plus tensors the exported program lifted out of the model (not parameters), and
    how it was made: "traced", or "stamped: traced 4 of 96 blocks of model.transformer.h"."""

    ir: ModuleOp
    constants: dict[str, torch.Tensor]
    how: str = "traced"


def _trace(module: torch.nn.Module, inputs: tuple, training: bool, verify: bool) -> Imported:
    cap = capture(module, inputs, training)
    ir = import_captured(cap, "train_step" if training else "forward")
    if verify:
        try:
            ir.verify()
        except VerifyException as exc:
            raise TandemError(f"imported IR does not verify (importer bug): {exc}") from exc
    return Imported(ir, cap.constants)


def _stamped(module: torch.nn.Module, inputs: tuple, training: bool) -> Imported | str:
    """The IR from a short traced stack with the other blocks stamped, or why not."""
    stack = find_block_stack(module)
    if stack is None or stack.count <= STAMP_TRACED:
        return "no stack of more than 4 identical blocks"
    try:
        with stack.truncated(STAMP_TRACED):
            small = _trace(module, inputs, training, verify=True)
    except TandemError as exc:  # e.g. a forward that indexes blocks past the short stack
        return f"the short stack does not trace: {exc}"
    prefix = stack.path + "."
    if any(name.startswith(prefix) for name in small.constants):
        return "the blocks hold lifted constants"
    try:
        ir = stamp(small.ir, stack.path, traced=STAMP_TRACED, total=stack.count)
    except NotStampable as exc:
        return str(exc)
    how = f"stamped: traced {STAMP_TRACED} of {stack.count} blocks of {stack.path}"
    return Imported(ir, small.constants, how)


def trace_and_import(
    module: torch.nn.Module,
    example_inputs: tuple,
    *,
    training: bool = False,
    verify: bool = True,
    stamp_blocks: bool = True,
) -> Imported:
    """Trace `module` on `example_inputs` and translate it to tfm (forward, or forward+backward).

    With `stamp_blocks`, identical blocks past the fourth are stamped instead of traced (the
    IR is the same; the short stack's IR is verified, the stamped copies are copies of it).
    """
    inputs = tuple(example_inputs)
    why = "stamping off"
    if stamp_blocks:
        got = _stamped(module, inputs, training)
        if isinstance(got, Imported):
            return got
        why = got
    full = _trace(module, inputs, training, verify)
    full.how = f"traced ({why})"
    return full


def import_module(
    module: torch.nn.Module,
    example_inputs: tuple,
    *,
    training: bool = False,
    verify: bool = True,
    stamp_blocks: bool = True,
) -> ModuleOp:
    return trace_and_import(
        module, example_inputs, training=training, verify=verify, stamp_blocks=stamp_blocks
    ).ir


def import_model(spec: ModelSpec, *, verify: bool = True, stamp_blocks: bool = True) -> ModuleOp:
    return import_module(
        spec.module,
        spec.example_inputs,
        training=spec.training,
        verify=verify,
        stamp_blocks=stamp_blocks,
    )
