"""Elementwise ops (numpy broadcasting) and views (reshape, permute, broadcast, slice, concat,
pad): the split dim follows the data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xdsl.ir import Attribute, Operation, SSAValue

from backends.placement.rules.common import same
from backends.placement.specs import (
    AXES,
    REPLICATED,
    Spec,
    Split,
    map_broadcast,
    map_permute,
    map_reshape,
    map_slice,
)
from ir.base import int_attr
from ir.types import normalize_dim, shape

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder


# ---- elementwise -----------------------------------------------------------------------------
def elementwise(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Numpy broadcasting: operands follow the split of the first split operand."""
    out_shape = shape(op.results[0])
    rank = len(out_shape)
    spec = REPLICATED
    args = [sh.complete(a) for a in args]
    for axis in AXES:
        if sh.sizes[axis] == 1:
            continue
        choice = None
        for a in args:
            s = sh.spec(a).get(axis)
            gs = sh.gshape(a)
            if s is not None and gs[s.dim] == out_shape[s.dim + rank - len(gs)]:
                choice = Split(s.dim + rank - len(gs), s.blocks)
                break
        for i, a in enumerate(args):
            gs = sh.gshape(a)
            want = None
            if choice is not None:
                d = choice.dim - (rank - len(gs))
                if d >= 0 and gs[d] == out_shape[choice.dim]:
                    want = Split(d, choice.blocks)
            if want is not None and sh.spec(a).get(axis) is None and axis == "tp":
                sh.decide(a, want)  # a bias added to a split output is split with it
            args[i] = sh.need(a, axis, want)
        spec = spec.put(axis, choice)
    return same(sh, op, args, [spec] * len(op.results))


# ---- views -----------------------------------------------------------------------------------
def _follow(
    sh: Sharder, a: SSAValue, mapper: Callable[[Split, int], Split | None]
) -> tuple[SSAValue, Spec]:
    """Map each axis's split through a view; gather the axes that cannot follow."""
    a = sh.complete(a)
    spec = REPLICATED
    for axis in AXES:
        s = sh.spec(a).get(axis)
        if s is None:
            continue
        m = mapper(s, sh.sizes[axis])
        if m is None:
            a = sh.need(a, axis, None)
        spec = spec.put(axis, m)
    return a, spec


def reshape(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src, dst = sh.gshape(args[0]), shape(op.results[0])
    a, spec = _follow(sh, args[0], lambda s, n: map_reshape(src, dst, s, n))
    return same(sh, op, [a], [spec])


def permute(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    perm = tuple(op.permutation)  # type: ignore[attr-defined]
    a, spec = _follow(sh, args[0], lambda s, n: map_permute(perm, s))
    return same(sh, op, [a], [spec])


def broadcast(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src, dst = sh.gshape(args[0]), shape(op.results[0])
    a, spec = _follow(sh, args[0], lambda s, n: map_broadcast(src, dst, s))
    return same(sh, op, [a], [spec])


def slice_(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    src = sh.gshape(args[0])
    bounds = op.bounds  # type: ignore[attr-defined]
    dim = normalize_dim(bounds[0], len(src))
    a = sh.complete(args[0])
    spec = REPLICATED
    props: dict[str, Attribute] = {}
    for axis in AXES:
        s = sh.spec(a).get(axis)
        if s is None or s.dim != dim:
            spec = spec.put(axis, s)
            continue
        m = map_slice(src, s, bounds, sh.sizes[axis])
        if m is None:
            a = sh.need(a, axis, None)
            continue
        spec = spec.put(axis, m[0])
        props = {"start": int_attr(m[1]), "end": int_attr(m[2])}
    return same(sh, op, [a], [spec], **props)


def concat(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    dim = normalize_dim(op.dim.value.data, len(shape(op.results[0])))  # type: ignore[attr-defined]
    args = [sh.complete(a) for a in args]
    spec = REPLICATED
    for axis in AXES:
        splits = {sh.spec(a).get(axis) for a in args}
        if splits == {None}:
            continue
        first = next(iter(splits))
        if len(splits) == 1 and first is not None and first.dim != dim:
            spec = spec.put(axis, first)
            continue
        sizes = {sh.gshape(a)[dim] for a in args}
        if (
            len(splits) == 1
            and first is not None
            and first.blocks == 1
            and len(sizes) == 1
            and all(sh.can_split(a, axis, first) for a in args)
        ):
            spec = spec.put(axis, Split(dim, len(args)))
            continue
        args = [sh.need(a, axis, None) for a in args]
    return same(sh, op, args, [spec])


def pad(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    low, high = op.low.get_values(), op.high.get_values()  # type: ignore[attr-defined]
    padded = {i for i, (lo, hi) in enumerate(zip(low, high, strict=True)) if lo or hi}
    a, spec = _follow(sh, args[0], lambda s, n: None if s.dim in padded else s)
    return same(sh, op, [a], [spec])


def constant(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    return same(sh, op, args, [REPLICATED] * len(op.results))
