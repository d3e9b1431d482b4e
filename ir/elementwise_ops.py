"""Elementwise tfm ops: unary math, broadcasting binary ops, comparisons, select, casts, splats."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, TensorType
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from ir.base import TfmOp, get_str
from ir.types import broadcast_shapes, dtype, fmt, shape


class UnaryOp(TfmOp):
    """`%y = tfm.<op> %x : (tensor<...>) -> tensor<...>`, same shape and dtype."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def __init__(self, input, result_type=None, **props):
        super().__init__(operands=[input], result_types=[result_type or input.type],
                         properties={k: v for k, v in props.items() if v is not None})

    def check(self) -> None:
        self.expect(shape(self.input) == shape(self.result),
                    f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}")
        self.expect(dtype(self.input) == dtype(self.result),
                    f"dtype changes from {dtype(self.input)} to {dtype(self.result)}")


@irdl_op_definition
class GeluOp(UnaryOp):
    """GELU, exact (`approximate = "none"`) or tanh-approximated.

        %y = tfm.gelu %x {approximate = "tanh"} : (tensor<2x16x256xf32>) -> tensor<2x16x256xf32>
    """

    name = "tfm.gelu"
    approximate = opt_prop_def(StringAttr)

    def check(self) -> None:
        super().check()
        self.expect(get_str(self.approximate, "none") in ("none", "tanh"),
                    f"approximate must be \"none\" or \"tanh\", got {get_str(self.approximate)!r}")


def _unary(op_name: str, doc: str) -> type[UnaryOp]:
    cls = type(op_name.split(".")[1].title().replace("_", "") + "Op", (UnaryOp,),
               {"name": op_name, "__doc__": f"{doc}\n\n    %y = {op_name} %x : (tensor<4xf32>) -> tensor<4xf32>\n"})
    return irdl_op_definition(cls)


SiluOp = _unary("tfm.silu", "x * sigmoid(x).")
ReluOp = _unary("tfm.relu", "max(x, 0).")
TanhOp = _unary("tfm.tanh", "Hyperbolic tangent.")
SigmoidOp = _unary("tfm.sigmoid", "1 / (1 + exp(-x)).")
ExpOp = _unary("tfm.exp", "Exponential.")
LogOp = _unary("tfm.log", "Natural logarithm.")
SqrtOp = _unary("tfm.sqrt", "Square root.")
RsqrtOp = _unary("tfm.rsqrt", "1 / sqrt(x).")
NegOp = _unary("tfm.neg", "-x.")
AbsOp = _unary("tfm.abs", "|x|.")
ErfOp = _unary("tfm.erf", "Error function.")
ReciprocalOp = _unary("tfm.reciprocal", "1 / x.")
SinOp = _unary("tfm.sin", "Sine.")
CosOp = _unary("tfm.cos", "Cosine.")
NotOp = _unary("tfm.not", "Logical (i1) or bitwise (integer) not.")

UNARY_OPS = [GeluOp, SiluOp, ReluOp, TanhOp, SigmoidOp, ExpOp, LogOp, SqrtOp, RsqrtOp, NegOp,
             AbsOp, ErfOp, ReciprocalOp, SinOp, CosOp, NotOp]


class BinaryOp(TfmOp):
    """`%z = tfm.<op> %x, %y`, numpy-broadcasting, both operands of one dtype."""

    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs, rhs, result_type):
        super().__init__(operands=[lhs, rhs], result_types=[result_type])

    def result_dtype(self) -> str:
        return dtype(self.lhs)

    def check(self) -> None:
        a, b = shape(self.lhs), shape(self.rhs)
        want = broadcast_shapes(a, b)
        self.expect(want is not None, f"operand shapes {fmt(a)} and {fmt(b)} do not broadcast")
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(dtype(self.lhs) == dtype(self.rhs),
                    f"operand dtypes differ: {dtype(self.lhs)} and {dtype(self.rhs)}")
        out = self.result_dtype()
        self.expect(dtype(self.result) == out, f"result dtype must be {out}, got {dtype(self.result)}")


class CompareOp(BinaryOp):
    """A binary op with an i1 result."""

    def result_dtype(self) -> str:
        return "i1"


def _binary(op_name: str, doc: str, compares: bool = False, elem: str = "f32") -> type[BinaryOp]:
    out = "i1" if compares else elem
    example = f"%z = {op_name} %x, %y : (tensor<2x16x{elem}>, tensor<16x{elem}>) -> tensor<2x16x{out}>"
    cls = type(op_name.split(".")[1].title().replace("_", "") + "Op", (CompareOp if compares else BinaryOp,),
               {"name": op_name, "__doc__": f"{doc}\n\n    {example}\n"})
    return irdl_op_definition(cls)


AddOp = _binary("tfm.add", "Elementwise sum.")
SubOp = _binary("tfm.sub", "Elementwise difference.")
MulOp = _binary("tfm.mul", "Elementwise product.")
DivOp = _binary("tfm.div", "Elementwise true division.")
PowOp = _binary("tfm.pow", "Elementwise power.")
MaxOp = _binary("tfm.max", "Elementwise maximum.")
MinOp = _binary("tfm.min", "Elementwise minimum.")
AndOp = _binary("tfm.and", "Logical (i1) or bitwise (integer) and.", elem="i1")
OrOp = _binary("tfm.or", "Logical (i1) or bitwise (integer) or.", elem="i1")
EqOp = _binary("tfm.eq", "x == y, i1 result.", True)
NeOp = _binary("tfm.ne", "x != y, i1 result.", True)
LtOp = _binary("tfm.lt", "x < y, i1 result.", True)
LeOp = _binary("tfm.le", "x <= y, i1 result.", True)
GtOp = _binary("tfm.gt", "x > y, i1 result.", True)
GeOp = _binary("tfm.ge", "x >= y, i1 result.", True)

BINARY_OPS = [AddOp, SubOp, MulOp, DivOp, PowOp, MaxOp, MinOp, AndOp, OrOp,
              EqOp, NeOp, LtOp, LeOp, GtOp, GeOp]


@irdl_op_definition
class WhereOp(TfmOp):
    """`cond ? x : y`, broadcasting all three operands.

        %z = tfm.where %c, %x, %y : (tensor<1x1x16x16xi1>, tensor<2x4x16x16xf32>, tensor<f32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.where"
    cond = operand_def(TensorType)
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$cond `,` $lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(dtype(self.cond) == "i1", f"condition must be i1, got {dtype(self.cond)}")
        want = broadcast_shapes(shape(self.cond), shape(self.lhs), shape(self.rhs))
        self.expect(want is not None, "operand shapes do not broadcast")
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(dtype(self.lhs) == dtype(self.rhs) == dtype(self.result), "value dtypes differ")


@irdl_op_definition
class ConvertOp(TfmOp):
    """Element type conversion; the shape is unchanged.

        %y = tfm.convert %x : (tensor<2x16xf16>) -> tensor<2x16xf32>
    """

    name = "tfm.convert"
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(shape(self.input) == shape(self.result),
                    f"shape changes from {fmt(shape(self.input))} to {fmt(shape(self.result))}")


@irdl_op_definition
class ConstantOp(TfmOp):
    """A tensor filled with one scalar (never weights: those are function arguments).

        %c = tfm.constant {value = 0.5 : f64} : tensor<2x16xf32>
    """

    name = "tfm.constant"
    value = prop_def(FloatAttr | IntegerAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"


@irdl_op_definition
class ArangeOp(TfmOp):
    """`start, start + step, ...` filling a rank-1 tensor.

        %i = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>
    """

    name = "tfm.arange"
    start = prop_def(IntegerAttr | FloatAttr)
    step = prop_def(IntegerAttr | FloatAttr)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "attr-dict `:` type($result)"

    def check(self) -> None:
        self.expect(len(shape(self.result)) == 1, f"result must have rank 1, got {fmt(shape(self.result))}")
