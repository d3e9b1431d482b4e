"""Reductions: sum / mean / amax / amin / any / all / prod -> `tfm.reduce` with its kind:

aten.sum.dim_IntList(%g, [0], True)  ->  %r = tfm.reduce %g {kind = "sum", dims = array<i64: 0>, keepdim} : (tensor<32x256xf32>) -> tensor<1x256xf32>
"""

from __future__ import annotations

import torch
from xdsl.dialects.builtin import UnitAttr
from xdsl.ir import SSAValue

from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import misc_ops as misc
from ir.base import ints_attr
from ir.enums import ReduceKind, ReduceKindAttr
from ir.types import dtype, normalize_dim, shape


def reduce_value(
    imp: Importer, x: SSAValue, kind: str, dims: list[int], keepdim: bool, out
) -> SSAValue:
    """Reduce `x` over `dims` (all dimensions when empty) into type `out`."""
    rank = len(shape(x))
    dims = sorted({normalize_dim(d, rank) for d in dims}) if dims else list(range(rank))
    x = imp.convert(x, dtype(out)) if kind not in ("any", "all") else x
    props = {
        "kind": ReduceKindAttr(ReduceKind(kind)),
        "dims": ints_attr(dims),
        "keepdim": UnitAttr() if keepdim else None,
    }
    return imp.op1(misc.ReduceOp, [x], out, props)


def _reduce_handler(kind: str):
    def handle(imp: Importer, node):
        x = imp.value(node.args[0])
        dims = arg(node, 1, "dim")
        if isinstance(dims, int):
            dims = [dims]
        if dims is None or isinstance(dims, torch.dtype):
            dims = []
        keep = bool(arg(node, 2, "keepdim", False))
        return reduce_value(imp, x, kind, list(dims), keep, imp.out_type())

    return handle


for _targets, _kind in [
    (("aten.sum.dim_IntList", "aten.sum.default"), "sum"),
    (("aten.mean.dim", "aten.mean.default"), "mean"),
    (("aten.amax.default",), "max"),
    (("aten.amin.default",), "min"),
    (("aten.any.dim", "aten.any.dims", "aten.any.default"), "any"),
    (("aten.all.dim", "aten.all.dims", "aten.all.default"), "all"),
    (("aten.prod.dim_int", "aten.prod.default"), "prod"),
]:
    handles(*_targets)(_reduce_handler(_kind))
