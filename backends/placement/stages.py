"""Pipeline stages on a (sharded) function: which stage runs each op, and the sends between them.

Ops of a transformer block go to the stage holding that block. Other ops follow the data: a
forward op goes to the latest stage among its producers (the final norm and the head to the
last stage), a backward op to the earliest stage among its backward producers (the residual
gradient joins the block it flows into); an op that only reads arguments goes to its first
consumer (the embedding to stage 0, label shifting to the loss). Ops that read no input and
no parameter (masks, positions, rotary tables: constants of the step) get no stage: every
stage computes its own. A value used on another stage crosses by `tfm.send` / `tfm.recv`:

    %s = tfm.send %h {stage = 0 : i64, dst = 1 : i64} : (tensor<2x16x64xbf16>) -> tensor<2x16x64xbf16>
    %r = tfm.recv %s {stage = 1 : i64, src = 0 : i64} : (tensor<2x16x64xbf16>) -> tensor<2x16x64xbf16>
"""

from __future__ import annotations

from collections.abc import Callable

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, IntegerAttr, i64
from xdsl.ir import Block, Operation, SSAValue

from ir import attrs
from ir import comm_ops as co

Stages = dict[Operation, int | None]


def constant_ops(fn: func.FuncOp) -> set[Operation]:
    """Ops that depend on no input and no parameter (only constants and buffers)."""
    block = fn.body.block
    entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    live_args: set[SSAValue] = set()
    for a, entry in zip(block.args, entries, strict=False):
        if isinstance(entry, DictionaryAttr) and (
            attrs.INPUT in entry.data or attrs.PARAM in entry.data
        ):
            live_args.add(a)
    const: set[Operation] = set()
    for op in block.ops:
        if isinstance(op, func.ReturnOp):
            continue
        if all(
            (isinstance(v.owner, Operation) and v.owner in const)
            or (not isinstance(v.owner, Operation) and v not in live_args)
            for v in op.operands
        ):
            const.add(op)
    return const


def assign(fn: func.FuncOp, stage_of_layer: Callable[[int], int], last: int) -> Stages:
    """The stage of every op (None: computed on every stage); see the module docstring."""
    ops = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    const = constant_ops(fn)
    stages: Stages = {}
    deferred: list[Operation] = []
    for op in ops:
        if op in const:
            stages[op] = None
            continue
        layer = attrs.layer_of(op)
        if layer is not None:
            stages[op] = stage_of_layer(layer)
            continue
        producers = [
            v.owner
            for v in op.operands
            if isinstance(v.owner, Operation) and stages.get(v.owner) is not None
        ]
        backward = [p for p in producers if attrs.phase_of(p) == attrs.BACKWARD]
        if attrs.phase_of(op) == attrs.BACKWARD and backward:
            stages[op] = min(stages[p] for p in backward)  # type: ignore[type-var]
        elif producers:
            stages[op] = max(stages[p] for p in producers)  # type: ignore[type-var]
        else:
            deferred.append(op)
    for op in reversed(deferred):
        users = [
            stages[u.operation]
            for r in op.results
            for u in r.uses
            if stages.get(u.operation) is not None
        ]
        stages[op] = min(users) if users else last  # type: ignore[type-var]
    return stages


def insert_p2p(block: Block, stages: Stages) -> int:
    """Write each op's stage and route values between stages through send/recv; the count."""
    sent: dict[tuple[SSAValue, int], SSAValue] = {}
    for op in list(block.ops):
        if isinstance(op, func.ReturnOp):
            continue
        st = stages.get(op)
        if st is None:
            continue
        op.attributes[attrs.STAGE] = IntegerAttr(st, i64)
        for i, v in enumerate(op.operands):
            src = stages.get(v.owner) if isinstance(v.owner, Operation) else None
            if src is None or src == st:
                continue
            key = (v, st)
            if key not in sent:
                send = co.SendOp(v, st)
                send.attributes[attrs.STAGE] = IntegerAttr(src, i64)
                recv = co.RecvOp(send.result, src)
                recv.attributes[attrs.STAGE] = IntegerAttr(st, i64)
                _copy_tags(op, send)
                _copy_tags(op, recv)
                block.insert_ops_before([send, recv], op)
                sent[key] = recv.result
            op.operands[i] = sent[key]
    return len(sent)


def _copy_tags(src: Operation, dst: Operation) -> None:
    if attrs.PHASE in src.attributes:
        dst.attributes[attrs.PHASE] = src.attributes[attrs.PHASE]
