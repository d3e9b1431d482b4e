"""`tfm.generic`: an ATen op outside the tfm set, kept by name so no model is refused.

Its call is data, never code: `args` and `kwargs` hold typed attributes that the reference
interpreter turns back into the call, with `#tfm.operand<i>` standing for tensor operand i:

    %y = tfm.generic %x {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x16xi64>) -> tensor<2x16xi64>

| Python value | attribute                              |
|--------------|----------------------------------------|
| tensor i     | `#tfm.operand<i>`                      |
| int / bool   | `3 : i64` / `true`                     |
| float        | `0.5 : f64` (infinities in hex)        |
| str          | `"tanh"`                               |
| None         | `unit`                                 |
| list, tuple  | `[...]`                                |
| dtype        | an element type: `f32`, `i64`, `i1`    |

Only side-effect-free ATen operators run: the target must name an `OpOverload` of
`torch.ops.aten` whose schema mutates nothing.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, ClassVar

from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    TensorType,
    UnitAttr,
    f64,
    i1,
    i64,
)
from xdsl.ir import Attribute, Data, SSAValue
from xdsl.irdl import (
    irdl_attr_definition,
    irdl_op_definition,
    prop_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import AttrParser
from xdsl.printer import Printer
from xdsl.traits import Pure

from ir.base import TfmOp
from ir.dtypes import element_name, element_type, from_torch, is_element_type, torch_dtype
from ir.errors import TandemError
from ir.lazy import torch

if TYPE_CHECKING:
    from torch import Tensor

TARGET = re.compile(r"^aten\.([a-z_][a-z0-9_]*)\.([A-Za-z_][A-Za-z0-9_]*)$")
# ATen ops with an effect outside their results
UNSAFE = {"_print"}


@irdl_attr_definition
class OperandRefAttr(Data[int]):
    """`#tfm.operand<i>`: tensor operand i of the enclosing `tfm.generic`."""

    name = "tfm.operand"

    @classmethod
    def parse_parameter(cls, parser: AttrParser) -> int:
        with parser.in_angle_brackets():
            return parser.parse_integer(allow_boolean=False, allow_negative=False)

    def print_parameter(self, printer: Printer) -> None:
        with printer.in_angle_brackets():
            printer.print_string(str(self.data))


def encode(value: Any, operand: Any = None) -> Attribute:
    """The attribute of a Python call argument; `operand(v)` encodes tensors (returns an index)."""
    if operand is not None:
        index = operand(value)
        if index is not None:
            return OperandRefAttr(index)
    if value is None:
        return UnitAttr()
    if isinstance(value, bool):
        return IntegerAttr(int(value), i1)
    if isinstance(value, int):
        return IntegerAttr(value, i64)
    if isinstance(value, float):
        return FloatAttr(value, f64)
    if isinstance(value, str):
        return StringAttr(value)
    if isinstance(value, list | tuple):
        return ArrayAttr([encode(v, operand) for v in value])
    if type(value).__name__ == "dtype" and type(value).__module__ == "torch":
        return element_type(from_torch(value))
    raise TandemError(
        f"a {type(value).__name__} argument ({value!r}) cannot be recorded on tfm.generic"
    )


def decode(attr: Attribute, operands: Sequence[Tensor]) -> Any:
    """The Python value of an encoded argument, tensors taken from `operands`."""
    if isinstance(attr, OperandRefAttr):
        return operands[attr.data]
    if isinstance(attr, UnitAttr):
        return None
    if isinstance(attr, IntegerAttr):
        value = attr.value.data
        return bool(value) if attr.type == i1 else int(value)
    if isinstance(attr, FloatAttr):
        return float(attr.value.data)
    if isinstance(attr, StringAttr):
        return attr.data
    if isinstance(attr, ArrayAttr):
        return [decode(a, operands) for a in attr.data]
    return torch_dtype(element_name(attr))


def _check_arg(op: GenericOp, attr: Attribute, used: set[int], where: str) -> None:
    if isinstance(attr, ArrayAttr):
        for i, a in enumerate(attr.data):
            _check_arg(op, a, used, f"{where}[{i}]")
        return
    if isinstance(attr, OperandRefAttr):
        op.expect(
            attr.data < len(op.inputs),
            f"{where} refers to operand {attr.data} but the op has {len(op.inputs)}",
        )
        used.add(attr.data)
        return
    ok = (
        isinstance(attr, UnitAttr | StringAttr | FloatAttr)
        or is_element_type(attr)
        or (isinstance(attr, IntegerAttr) and attr.type in (i1, i64))
    )
    op.expect(
        ok,
        f"{where} is {attr}: expected an operand reference, integer, float, string, "
        "unit (None), array or element type",
    )


@irdl_op_definition
class GenericOp(TfmOp):
    """An ATen op outside the tfm set, kept by name and a typed call (see the module docstring).

    %y = tfm.generic %x {target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {}} : (tensor<2x16xi64>) -> tensor<2x16xi64>
    """

    name = "tfm.generic"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    target = prop_def(StringAttr)
    args = prop_def(ArrayAttr)
    kwargs = prop_def(DictionaryAttr)
    traits = traits_def(Pure())
    assembly_format = "$inputs attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "generic"
    VECTOR_KIND: ClassVar[str] = "copy"

    def __init__(
        self,
        target: str,
        inputs: Sequence[SSAValue],
        args: ArrayAttr,
        kwargs: DictionaryAttr,
        result_types: Sequence[Attribute],
    ) -> None:
        super().__init__(
            operands=[list(inputs)],
            result_types=[list(result_types)],
            properties={"target": StringAttr(target), "args": args, "kwargs": kwargs},
        )

    def verify_(self) -> None:
        name = self.target.data
        self.expect(
            TARGET.match(name) is not None,
            f"target {name!r} is not an ATen op name (aten.<op>.<overload>)",
        )
        used: set[int] = set()
        _check_arg(self, self.args, used, "args")
        for key, value in self.kwargs.data.items():
            _check_arg(self, value, used, f"kwargs.{key}")
        unused = sorted(set(range(len(self.inputs))) - used)
        if unused:
            self.expect(False, f"operand {unused[0]} is not used by the call")

    def overload(self) -> Any:
        """The ATen `OpOverload` the op names; refuses anything else."""
        name = self.target.data
        m = TARGET.match(name)
        if m is None or m.group(1) in UNSAFE:
            raise TandemError(f"tfm.generic: {name!r} is not an ATen operator the interpreter runs")
        packet = getattr(torch.ops.aten, m.group(1), None)
        overload = getattr(packet, m.group(2), None) if packet is not None else None
        if not isinstance(overload, torch._ops.OpOverload):
            raise TandemError(f"tfm.generic: unknown ATen op {name}")
        if overload._schema.is_mutable:
            raise TandemError(f"tfm.generic: {name} mutates its arguments; tfm is value-semantic")
        return overload

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        fn = self.overload()
        call_args = decode(self.args, args)
        call_kwargs = {k: decode(v, args) for k, v in self.kwargs.data.items()}
        out = fn(*call_args, **call_kwargs)
        return list(out) if isinstance(out, tuple | list) else [out]
