"""The fallback for ATen ops without a tfm op: `tfm.generic`, which names the operator and
records its call as typed attributes, tensor operand i as `#tfm.operand<i>`:

    %y = tfm.generic %x {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x16xi64>) -> tensor<2x16xi64>

The interpreter rebuilds the call from the attributes (see `ir/generic_op.py`), so no model
is refused for a rare op and no text is ever evaluated.
"""

from __future__ import annotations

import torch
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr, UnitAttr
from xdsl.ir import Attribute, SSAValue

from frontends.aten.importer import Importer, torch_type
from ir.errors import TandemError
from ir.generic_op import GenericOp, encode

# placement arguments mean nothing to value-semantic IR
_DROPPED_KWARGS = ("device", "layout", "pin_memory", "memory_format")


def generic(imp: Importer, node: torch.fx.Node):
    """Keep an ATen op we have no tfm op for; the interpreter runs it through torch.ops."""
    if not isinstance(node.target, torch._ops.OpOverload):
        raise imp.error("is not an ATen operator and cannot be imported")
    operands: list[SSAValue] = []

    def operand(a: object) -> int | None:
        if not isinstance(a, torch.fx.Node):
            return None
        v = imp.values.get(a)
        if not isinstance(v, SSAValue):
            raise imp.error(f"argument {a.name} is not a single tensor")
        operands.append(v)
        return len(operands) - 1

    def record(a: object) -> Attribute:
        if isinstance(a, torch.device | torch.layout | torch.memory_format):
            return UnitAttr()
        if isinstance(a, list | tuple):
            return ArrayAttr([record(x) for x in a])
        try:
            return encode(a, operand)
        except TandemError as exc:
            raise imp.error(str(exc)) from None

    args = record(list(node.args))
    kwargs = DictionaryAttr(
        {k: record(v) for k, v in node.kwargs.items() if k not in _DROPPED_KWARGS}
    )
    val = node.meta.get("val")
    vals = list(val) if isinstance(val, list | tuple) else [val]
    types = [torch_type(v) for v in vals if isinstance(v, torch.Tensor)]
    if len(types) != len(vals):
        raise imp.error("has non-tensor results and cannot be imported")
    op = imp.emit(
        GenericOp,
        operands,
        types,
        {"target": StringAttr(str(node.target)), "args": args, "kwargs": kwargs},
    )
    return op.results[0] if not isinstance(val, list | tuple) else tuple(op.results)
