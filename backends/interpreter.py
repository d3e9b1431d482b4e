"""Reference interpreter: runs tfm IR on the CPU with PyTorch tensors, to prove semantics.

    outputs = run_module(module, [input_ids, *params])

Each op carries its own rule (`op.interpret(args)`, written from the op's definition next to
the op: attention is spelled out as matmul, mask and softmax; backward ops take
vector-Jacobian products of those definitions), so comparing against PyTorch eager checks the
IR, not a second copy of it. This module only walks the function: values in, values out,
each checked against the shape and dtype the IR declares, freed after their last use.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation, SSAValue

from ir.attrs import where
from ir.base import TfmOp
from ir.dtypes import torch_dtype
from ir.errors import TandemError
from ir.types import dtype, shape


def entry(module: ModuleOp, name: str | None = None) -> func.FuncOp:
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if name is not None:
        funcs = [f for f in funcs if f.sym_name.data == name]
    if not funcs:
        raise TandemError(f"no function {'@' + name if name else ''} in the module")
    return funcs[0]


Observer = Callable[[Operation, list[torch.Tensor], list[torch.Tensor]], None]


def run_function(
    fn: func.FuncOp, inputs: Sequence[torch.Tensor], observe: Observer | None = None
) -> list[torch.Tensor]:
    """Run `fn` on `inputs` (one tensor per argument); values die after their last use.

    `observe(op, operands, results)` is called after each op (to measure, e.g. sparsity)."""
    block = fn.body.block
    if len(inputs) != len(block.args):
        raise TandemError(
            f"@{fn.sym_name.data} takes {len(block.args)} arguments, got {len(inputs)}"
        )
    env: dict[SSAValue, torch.Tensor] = {}
    for a, t in zip(block.args, inputs, strict=True):
        if tuple(t.shape) != shape(a):
            raise TandemError(
                f"argument {a.name_hint or a.index}: expected shape {shape(a)}, got {tuple(t.shape)}"
            )
        env[a] = t.to(torch_dtype(dtype(a)))
    last_use = {}
    for i, op in enumerate(block.ops):
        for v in op.operands:
            last_use[v] = i
    for i, op in enumerate(block.ops):
        args = [env[v] for v in op.operands]
        if isinstance(op, func.ReturnOp):
            return args
        if not isinstance(op, TfmOp):
            raise TandemError(f"the reference interpreter cannot run {op.name}")
        with torch.no_grad():
            outs = op.interpret(args)
        if len(outs) != len(op.results):
            raise TandemError(
                f"{where(op)}: computed {len(outs)} results but the IR has {len(op.results)}"
            )
        for r, out in zip(op.results, outs, strict=True):
            env[r] = _check(op, r, out)
        if observe is not None:
            observe(op, args, [env[r] for r in op.results])
        for v in op.operands:
            if last_use.get(v) == i and v not in block.args:
                env.pop(v, None)
    raise TandemError(f"@{fn.sym_name.data} has no func.return")


def _check(op: Operation, r: SSAValue, t: torch.Tensor | None) -> torch.Tensor:
    if t is None or tuple(t.shape) != shape(r):
        got = "no value" if t is None else f"shape {tuple(t.shape)}"
        raise TandemError(f"{where(op)}: computed {got} but the IR says {shape(r)}")
    return t.to(torch_dtype(dtype(r)))


def run_module(
    module: ModuleOp, inputs: Sequence[torch.Tensor], name: str | None = None
) -> list[torch.Tensor]:
    return run_function(entry(module, name), inputs)
