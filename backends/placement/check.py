"""Compare a placed training step with PyTorch: loss and every parameter gradient.

The placed function computes one microbatch on one rank. The global batch is `d x m`
microbatches: microbatch j of data-parallel replica i is the example input rolled by
`i * m + j` positions along the sequence (distinct tokens, the same number of labels, so
the mean of the microbatch losses is the global mean). Each microbatch runs on every rank
(`emulate`); gradients are accumulated (averaged) over the microbatches, the `"dp"`
all-reduces in the IR average over replicas, split parameters are cut from the checkpoint
and their gradients put back together; PyTorch runs the whole global batch at once.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp, StringAttr

from backends.placement.emulate import emulate
from backends.placement.plan import read_plan
from ir import attrs
from ir.comm_ops import chunks, unchunk
from ir.errors import TandemError


def _shard_of(entry) -> tuple[int, int] | None:
    s = entry.data.get(attrs.SHARD) if isinstance(entry, DictionaryAttr) else None
    if not isinstance(s, StringAttr):
        return None
    dim, blocks = s.data.split("/")
    return int(dim), int(blocks)


def _label(entry, key: str) -> str | None:
    v = entry.data.get(key) if isinstance(entry, DictionaryAttr) else None
    return v.data if isinstance(v, StringAttr) else None


def global_inputs(inputs: tuple, count: int) -> tuple[list[tuple], tuple]:
    """`count` microbatches made from the example inputs, and their concatenation."""
    micro = [
        tuple(
            x.roll(k, dims=-1) if isinstance(x, torch.Tensor) and x.dim() >= 1 else x
            for x in inputs
        )
        for k in range(count)
    ]
    whole = tuple(
        torch.cat([m[i] for m in micro]) if isinstance(inputs[i], torch.Tensor) else inputs[i]
        for i in range(len(inputs))
    )
    return micro, whole


def run_placed(
    ir: ModuleOp, full_args: list[torch.Tensor], micro_inputs: list[tuple]
) -> dict[str, torch.Tensor]:
    """Loss and gradients (whole parameters) of the placed step over all microbatches.

    `full_args`: one tensor per argument for microbatch 0 (whole parameters); the inputs of
    microbatch k are `micro_inputs[k]`, in argument order of the `tfm.input` labels.
    """
    plan = read_plan(ir)
    if plan is None:
        raise TandemError("the module has no tfm.plan: run the place pass first")
    t, d, m = int(plan["t"]), int(plan["d"]), int(plan["microbatches"])
    fn = next(op for op in ir.ops if isinstance(op, func.FuncOp))
    arg_entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    res_entries = fn.res_attrs.data if isinstance(fn.res_attrs, ArrayAttr) else []
    shards = {_label(e, attrs.PARAM): _shard_of(e) for e in arg_entries if _label(e, attrs.PARAM)}
    totals: list[torch.Tensor] | None = None
    for j in range(m):
        args: dict[tuple[int, int], Sequence[torch.Tensor]] = {}
        for i in range(d):
            inputs = micro_inputs[i * m + j]
            for r in range(t):
                per_rank = []
                for k, (value, entry) in enumerate(zip(full_args, arg_entries, strict=True)):
                    label = _label(entry, attrs.INPUT)
                    if label is not None:
                        value = inputs[int(label.removeprefix("in"))]
                    shard = _shard_of(entry)
                    if shard is not None:
                        value = chunks(value, shard[0], t, shard[1])[r]
                    per_rank.append(value)
                    del k
                args[(i, r)] = per_rank
        outs = emulate(fn, args, t, d)
        step = _assemble(outs, res_entries, shards, t)
        totals = step if totals is None else [a + b for a, b in zip(totals, step, strict=True)]
    assert totals is not None
    result = {}
    for value, entry in zip(totals, res_entries, strict=True):
        name = _label(entry, attrs.GRAD_OF) or _label(entry, attrs.OUTPUT) or "out"
        result[name] = value / m
    return result


def _assemble(outs, res_entries, shards, t: int) -> list[torch.Tensor]:
    """Whole results of one microbatch from replica 0's tensor-parallel ranks."""
    whole = []
    for k, entry in enumerate(res_entries):
        grad_of = _label(entry, attrs.GRAD_OF)
        shard = shards.get(grad_of) if grad_of else None
        if shard is None:
            whole.append(outs[(0, 0)][k].double())
        else:
            whole.append(unchunk([outs[(0, r)][k] for r in range(t)], shard[0], shard[1]).double())
    return whole
