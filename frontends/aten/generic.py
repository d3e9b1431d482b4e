"""The fallback for ATen ops without a tfm op: `tfm.generic`, which names the operator and
records its arguments as Python text, operands as `%i`:

    %y = tfm.generic %x {target = "aten.cumsum.default", args = "(%0, 1), {}"} : (tensor<2x16xi64>) -> tensor<2x16xi64>

The interpreter runs it through `torch.ops`, so no model is refused for a rare op.
"""

from __future__ import annotations

import math

import torch
from xdsl.dialects.builtin import StringAttr
from xdsl.ir import SSAValue

from frontends.aten.importer import Importer, torch_type
from ir import misc_ops as misc


def _encode(a, operands: list, imp: Importer) -> str:
    if isinstance(a, torch.fx.Node):
        v = imp.values.get(a)
        if not isinstance(v, SSAValue):
            raise imp.error(f"argument {a.name} is not a single tensor")
        operands.append(v)
        return f"%{len(operands) - 1}"
    if isinstance(a, list | tuple):
        inner = ", ".join(_encode(x, operands, imp) for x in a)
        return f"[{inner}]" if isinstance(a, list) else f"({inner}{',' if len(a) == 1 else ''})"
    if isinstance(a, torch.dtype):
        return str(a)
    if isinstance(a, torch.device | torch.layout | torch.memory_format):
        return "None"
    if isinstance(a, float) and not math.isfinite(a):
        return f"float('{a}')"
    if a is None or isinstance(a, bool | int | float | str):
        return repr(a)
    raise imp.error(f"argument {a!r} of type {type(a).__name__} cannot be recorded on a generic op")


def generic(imp: Importer, node):
    """Keep an ATen op we have no tfm op for; the interpreter runs it through torch.ops."""
    if not isinstance(node.target, torch._ops.OpOverload):
        raise imp.error("is not an ATen operator and cannot be imported")
    operands: list[SSAValue] = []
    args = _encode(tuple(node.args), operands, imp)
    kwargs = {k: _encode(v, operands, imp) for k, v in node.kwargs.items()
              if k not in ("device", "layout", "pin_memory", "memory_format")}
    text = f"{args}, {{{', '.join(f'{k!r}: {v}' for k, v in kwargs.items())}}}"
    val = node.meta.get("val")
    vals = list(val) if isinstance(val, list | tuple) else [val]
    types = [torch_type(v) for v in vals if isinstance(v, torch.Tensor)]
    if len(types) != len(vals):
        raise imp.error("has non-tensor results and cannot be imported")
    op = imp.emit(misc.GenericOp, operands, types,
                  {"target": StringAttr(str(node.target)), "args": StringAttr(text)})
    return op.results[0] if not isinstance(val, list | tuple) else tuple(op.results)
