"""What a chain position of a sharded template holds, read from the IR once per t.

`structure(fn, positions, k, specs, kernels)` lists the position's forward and backward
ops, its tensor-parallel collectives, parameters, the activations its backward reads
(views resolved to their buffer; a fused kernel's interior replaced by the kernel's inputs,
which its backward recomputes from; kernels as `backends.fusion` plans them for the
preset), its attention ops, residual adds
(where hidden dropout sits), its input and its buffers' lifetimes. Sizes are read later, at
each microbatch (`template._numbers`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr
from xdsl.ir import Operation, SSAValue

from backends.fusion import Kernel
from backends.placement.kernels import Kernels, is_view
from backends.placement.specs import Spec
from ir import attrs
from ir import binary_ops as bi
from ir import comm_ops as co
from ir import linalg_ops as la
from ir.base import TfmOp
from ir.types import dtype, numel, shape


@dataclass
class Structure:
    """What a chain position holds, independent of the microbatch size (sizes read later)."""

    fwd: list[Operation]
    bwd: list[Operation]
    repl: set[Operation]  # ops on tensor-replicated values (not matmuls)
    comm: list[tuple[co._Collective, bool]]  # tensor-parallel collectives, backward?
    params: list[SSAValue]
    saved_repl: list[SSAValue]
    saved_split: list[SSAValue]
    attention: list[la.AttentionOp]
    residual_adds: list[Operation]
    inputs: list[SSAValue]
    live: list[tuple[int, int, SSAValue]]  # (first op, last use + 1, value)


def structure(
    fn: func.FuncOp,
    pos: dict[Operation, int | None],
    k: int,
    specs: dict[SSAValue, Spec],
    kernels: Kernels,
) -> Structure:
    ops = [op for op in fn.body.block.ops if pos.get(op) == k]
    mine = set(ops)
    fwd: list[Operation] = []
    bwd: list[Operation] = []
    comm: list[tuple[co._Collective, bool]] = []
    repl = set()
    for op in ops:
        backward = attrs.phase_of(op) == attrs.BACKWARD
        if isinstance(op, co._Collective):
            if op.group_name == "tp" and op.size > 1 and not isinstance(op, co.SplitOp):
                comm.append((op, backward))
            continue
        (bwd if backward else fwd).append(op)
        if (
            op.results
            and not isinstance(op, la.MatmulOp)
            and all(specs.get(r, Spec()).tp is None and numel(r) > 1 for r in op.results)
        ):
            repl.add(op)
    alias = aliases(fn)
    saved = _saved(fwd, alias, kernels)
    saved_repl = [v for v in saved if specs.get(v, Spec()).tp is None]
    saved_split = [v for v in saved if specs.get(v, Spec()).tp is not None]
    inputs = sorted(_inputs(fwd, mine, alias), key=lambda v: id(v))
    return Structure(
        fwd,
        bwd,
        repl,
        comm,
        _params(fn, mine),
        saved_repl,
        saved_split,
        [op for op in fwd if isinstance(op, la.AttentionOp)],
        _residual_adds(fwd, mine, alias),
        inputs,
        _lifetimes(fn, mine),
    )


def aliases(fn: func.FuncOp) -> dict[SSAValue, SSAValue]:
    alias: dict[SSAValue, SSAValue] = {}
    for op in fn.body.block.ops:
        if is_view(op) and op.operands:
            for r in op.results:
                alias[r] = alias.get(op.operands[0], op.operands[0])
    return alias


def _params(fn: func.FuncOp, mine: set[Operation]) -> list[SSAValue]:
    entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    return [
        a
        for a, entry in zip(fn.body.block.args, entries, strict=False)
        if isinstance(entry, DictionaryAttr) and attrs.PARAM in entry.data and _used_by(a, mine)
    ]


def _used_by(v: SSAValue, ops: set[Operation], depth: int = 0) -> bool:
    for u in v.uses:
        user = u.operation
        if user in ops:
            return True
        if depth < 4 and isinstance(user, TfmOp) and user.IS_VIEW:
            if any(_used_by(r, ops, depth + 1) for r in user.results):
                return True
    return False


def _saved(
    forward: list[Operation], alias: dict[SSAValue, SSAValue], kernels: Kernels
) -> list[SSAValue]:
    """Forward values a backward op reads (inside a fused kernel: the kernel's inputs)."""
    saved: set[SSAValue] = set()

    def kernel_inputs(kernel: Kernel) -> set[SSAValue]:
        produced = {r for m in kernel.ops for r in m.results}
        out = set()
        for v in kernel.inputs:
            root = alias.get(v, v)
            if root not in produced and numel(root) > 1 and isinstance(root.owner, Operation):
                out.add(root)
        return out

    for op in forward:
        if is_view(op):
            continue
        for r in op.results:
            users = _all_users(r, alias)
            if not any(attrs.phase_of(u) == attrs.BACKWARD for u in users):
                continue
            owner = kernels.kernel_of(op)
            if owner is not None:
                fwd_users = [u for u in users if attrs.phase_of(u) != attrs.BACKWARD]
                if fwd_users and all(kernels.kernel_of(u) is owner for u in fwd_users):
                    saved |= kernel_inputs(owner)
                    continue
            saved.add(r)
    return [
        v
        for v in sorted(saved, key=id)
        if isinstance(v.owner, Operation) and v.owner.name != "tfm.constant"
    ]


def _all_users(v: SSAValue, alias: dict[SSAValue, SSAValue]) -> list[Operation]:
    """Users of `v` and of every view of it."""
    out: list[Operation] = []
    stack = [v]
    while stack:
        x = stack.pop()
        for u in x.uses:
            op = u.operation
            if is_view(op):
                stack.extend(op.results)
            else:
                out.append(op)
    return out


def _inputs(forward: list[Operation], mine: set[Operation], alias) -> set[SSAValue]:
    """Activations entering the position (produced earlier, not parameters or constants)."""
    out: set[SSAValue] = set()
    for op in forward:
        for v in op.operands:
            root = alias.get(v, v)
            owner = root.owner
            if (
                isinstance(owner, Operation)
                and owner not in mine
                and dtype(root).startswith(("f", "bf"))
            ):
                if attrs.phase_of(owner) != attrs.BACKWARD and owner.name != "tfm.constant":
                    if _is_activation(owner):
                        out.add(root)
    return out


def _is_activation(op: Operation) -> bool:
    """Not a constant of the step (masks, rotary tables): it depends on an input."""
    stack, seen = [op], 0
    while stack and seen < 2000:
        o = stack.pop()
        seen += 1
        for v in o.operands:
            if isinstance(v.owner, Operation):
                stack.append(v.owner)
            else:
                return True
    return False


def _residual_adds(forward: list[Operation], mine: set[Operation], alias) -> list[Operation]:
    """Adds joining a block's output to the residual stream (where hidden dropout sits)."""
    stream = {v for v in _inputs(forward, mine, alias)}
    adds: list[Operation] = []
    for op in forward:
        if not isinstance(op, bi.AddOp):
            continue
        roots = [alias.get(v, v) for v in op.operands]
        if any(r in stream for r in roots) and all(
            shape(v) == shape(op.result) for v in op.operands
        ):
            adds.append(op)
            stream.add(op.result)
    return adds


def _lifetimes(fn: func.FuncOp, mine: set[Operation]) -> list[tuple[int, int, SSAValue]]:
    """(defined at, dead after, value) of the position's own buffers (views free)."""
    ops = list(fn.body.block.ops)
    alias: dict[SSAValue, SSAValue] = {}
    last: dict[SSAValue, int] = {}
    for i, op in enumerate(ops):
        for v in op.operands:
            last[alias.get(v, v)] = i
        if is_view(op) and op.operands:
            for r in op.results:
                alias[r] = alias.get(op.operands[0], op.operands[0])
    out: list[tuple[int, int, SSAValue]] = []
    for i, op in enumerate(ops):
        if op not in mine or is_view(op) or isinstance(op, co.SendOp | co.RecvOp):
            continue
        for r in op.results:
            out.append((i, last.get(r, i) + 1, r))
    return out
