"""What every sharding rule uses: the op emitted again on new operands, the replicated
fallback, an operand brought to a layout.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from xdsl.dialects.builtin import TensorType
from xdsl.ir import Attribute, Operation, SSAValue

from backends.placement.specs import (
    AXES,
    REPLICATED,
    Spec,
)
from ir.types import shape

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder


Rule = Callable[["Sharder", Operation, list[SSAValue]], list[SSAValue]]


def _outs(op: Operation, specs: list[Spec]) -> list[tuple[tuple[int, ...], Attribute, Spec]]:
    out = []
    for r, sp in zip(op.results, specs, strict=True):
        t = r.type
        assert isinstance(t, TensorType)
        out.append((shape(r), t.element_type, sp))
    return out


def same(sh: Sharder, op: Operation, args: list[SSAValue], specs: list[Spec], **props) -> list:
    """Emit `op` again on `args` with its properties (some replaced) and result layouts."""
    p = dict(op.properties)
    p.update(props)
    return sh.emit(type(op), args, _outs(op, specs), p)


# ---- replicated fallback ---------------------------------------------------------------------
def replicated(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    """Gather every operand; the results are whole on every rank (and every microbatch)."""
    new = [sh.whole(a) for a in args]
    if sh.strict:
        new = [sh.need(a, "batch", None) for a in new]
    return same(sh, op, new, [REPLICATED] * len(op.results))


def _match(sh: Sharder, v: SSAValue, spec: Spec) -> SSAValue:
    for axis in AXES:
        v = sh.need(v, axis, spec.get(axis))
    return v
