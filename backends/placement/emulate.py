"""Run placed IR rank by rank on the CPU, collectives emulated: the proof that placement is right.

The placed function is one program for every rank (`passes/place.py`). `emulate` runs it on a
grid of data-parallel x tensor-parallel ranks in lock step: ordinary ops run on each rank with
the reference interpreter's rules; `tfm.all_reduce` / `tfm.all_gather` / `tfm.reduce_scatter`
combine the operands of the ranks of their group (`"tp"`: same data-parallel index, `"dp"`:
same tensor-parallel index); `tfm.split` keeps each rank's part. Pipeline stages are checked
statically (`check_stages`): an op reads only values of its own stage, values computed on
every stage (no `stage` attribute), arguments, or what a `tfm.recv` received from a
`tfm.send` of another stage.

    outs = emulate(fn, args, t=2, d=2)   # args[(dp, tp)] = that rank's argument tensors
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from xdsl.dialects import func
from xdsl.ir import Operation, SSAValue

from ir import comm_ops as co
from ir.attrs import STAGE, read_int, where
from ir.base import TfmOp
from ir.dtypes import torch_dtype
from ir.errors import TandemError
from ir.types import dtype, shape

Rank = tuple[int, int]  # (data-parallel index, tensor-parallel index)


def stage_of(op: Operation) -> int | None:
    return read_int(op, STAGE)


def check_stages(fn: func.FuncOp) -> None:
    """Every value an op reads is on its stage, or everywhere, or received from a send."""
    where_made: dict[SSAValue, int | None] = {}
    for op in fn.body.block.ops:
        st = stage_of(op)
        if isinstance(op, co.RecvOp):
            sender = op.input.owner
            if not isinstance(sender, co.SendOp):
                raise TandemError(f"{where(op)}: receives a value no tfm.send sent")
            if sender.dst.value.data != st or op.src.value.data != stage_of(sender):
                raise TandemError(
                    f"{where(op)} on stage {st}: the send goes from stage {stage_of(sender)} "
                    f"to {sender.dst.value.data}, the recv says from {op.src.value.data}"
                )
        elif st is not None and not isinstance(op, func.ReturnOp):
            for v in op.operands:
                src = where_made.get(v)
                if src is not None and src != st:
                    raise TandemError(
                        f"{where(op)} on stage {st} reads a value of stage {src} without a "
                        "send/recv"
                    )
        for r in op.results:
            where_made[r] = st


def _check(op: Operation, r: SSAValue, t: torch.Tensor) -> torch.Tensor:
    if tuple(t.shape) != shape(r):
        raise TandemError(f"{where(op)}: computed shape {tuple(t.shape)}, the IR says {shape(r)}")
    return t.to(torch_dtype(dtype(r)))


def _groups(op: co._Collective, grid: list[Rank]) -> list[list[Rank]]:
    """The rank groups of a collective, each in rank order."""
    axis = 1 if op.group_name == "tp" else 0 if op.group_name == "dp" else None
    if axis is None:
        raise TandemError(f"{op.name}: the emulator has no group {op.group_name!r}")
    groups: dict[int, list[Rank]] = {}
    for r in grid:
        groups.setdefault(r[1 - axis], []).append(r)
    out = [sorted(g, key=lambda r: r[axis]) for g in groups.values()]
    if any(len(g) != op.size for g in out):
        raise TandemError(
            f"{where(op)}: group {op.group_name} of {op.size} ranks, the grid has {len(out[0])}"
        )
    return out


def emulate(
    fn: func.FuncOp, args: dict[Rank, Sequence[torch.Tensor]], t: int, d: int
) -> dict[Rank, list[torch.Tensor]]:
    """Run `fn` on every rank of a d x t grid; the results of every rank."""
    check_stages(fn)
    grid = [(i, j) for i in range(d) for j in range(t)]
    block = fn.body.block
    env: dict[Rank, dict[SSAValue, torch.Tensor]] = {r: {} for r in grid}
    for r in grid:
        if len(args[r]) != len(block.args):
            raise TandemError(f"rank {r}: {len(block.args)} arguments expected, got {len(args[r])}")
        for a, value in zip(block.args, args[r], strict=True):
            if tuple(value.shape) != shape(a):
                raise TandemError(
                    f"rank {r}, argument {a.index}: expected {shape(a)}, got {tuple(value.shape)}"
                )
            env[r][a] = value.to(torch_dtype(dtype(a)))
    for op in block.ops:
        if isinstance(op, func.ReturnOp):
            return {r: [env[r][v] for v in op.operands] for r in grid}
        if not isinstance(op, TfmOp):
            raise TandemError(f"the emulator cannot run {op.name}")
        if isinstance(op, co.SplitOp):
            for r in grid:
                (out,) = op.local([env[r][op.input]], r[1] if op.group_name == "tp" else r[0])
                env[r][op.result] = _check(op, op.result, out)
        elif isinstance(op, co._Collective):
            for group in _groups(op, grid):
                outs = op.collective([env[r][op.input] for r in group])
                for r, out in zip(group, outs, strict=True):
                    env[r][op.result] = _check(op, op.result, out)
        else:
            for r in grid:
                with torch.no_grad():
                    computed = op.interpret([env[r][v] for v in op.operands])
                for res, got in zip(op.results, computed, strict=True):
                    if got is None:
                        raise TandemError(f"{where(op)}: computed no value")
                    env[r][res] = _check(op, res, got)
    raise TandemError(f"@{fn.sym_name.data} has no func.return")
