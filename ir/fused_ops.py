"""One GPU kernel made of several tfm ops: `tfm.fused` and its terminator `tfm.yield`.

The `fuse` pass groups a producer with the elementwise, normalisation, softmax and residual
ops that follow it; each group becomes one `tfm.fused` op whose region holds the original
ops. The region is isolated from above: its block arguments are the kernel's inputs (read
once from memory), the values `tfm.yield` returns are its outputs (written once).

    %y = tfm.fused {layer = 0 : i64, kernel = "bias_gelu"} (%x = %h : tensor<8x32xf16>, %b = %bias : tensor<32xf16>) -> tensor<8x32xf16> {
      %s = tfm.add %x, %b : (tensor<8x32xf16>, tensor<32xf16>) -> tensor<8x32xf16>
      %g = tfm.gelu %s {approximate = #tfm<approximate tanh>} : (tensor<8x32xf16>) -> tensor<8x32xf16>
      tfm.yield %g : tensor<8x32xf16>
    }

`kernel` names the kernel (a Megatron-LM kernel such as "bias_gelu", "scale_mask_softmax",
"bias_dropout_add", or an inductor-style "pointwise"/"reduction"); the cost model reads the
body to price it. FLOPs are the body's FLOPs (fusion never changes them); bytes are the
inputs read once plus the outputs written once.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar, Self

from xdsl.dialects.builtin import StringAttr, TensorType
from xdsl.ir import Attribute, Region, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    lazy_traits_def,
    prop_def,
    region_def,
    traits_def,
    var_operand_def,
    var_result_def,
)
from xdsl.parser import Parser, UnresolvedOperand
from xdsl.printer import Printer
from xdsl.traits import HasParent, IsolatedFromAbove, IsTerminator, RecursiveMemoryEffect

from ir.base import TfmOp
from ir.dtypes import torch_dtype
from ir.errors import TandemError
from ir.types import dtype, nbytes, shape
from ir.work import GemmShape, OpWork

if TYPE_CHECKING:
    from torch import Tensor

# A fused kernel reports the category of the heaviest op inside it.
KIND_ORDER = (
    "matmul",
    "attention",
    "softmax",
    "norm",
    "loss",
    "reduce",
    "embedding",
    "elementwise",
    "data-movement",
    "generic",
)


@irdl_op_definition
class YieldOp(TfmOp):
    """The outputs of a `tfm.fused` kernel; ends its region.

    %y = tfm.fused {kernel = "copy"} (%x = %h : tensor<8x32xf16>) -> tensor<8x32xf16> {
      tfm.yield %x : tensor<8x32xf16>
    }
    """

    name = "tfm.yield"
    values = var_operand_def(TensorType)
    traits = lazy_traits_def(lambda: (IsTerminator(), HasParent(FusedOp)))
    assembly_format = "$values attr-dict `:` type($values)"
    KIND: ClassVar[str] = "view"
    IS_VIEW: ClassVar[bool] = True

    def __init__(self, values: Sequence[SSAValue]) -> None:
        super().__init__(operands=[values])

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        return []


@irdl_op_definition
class FusedOp(TfmOp):
    """One kernel: the ops of its region run without writing their intermediates to memory.

    %g = tfm.fused {kernel = "bias_gelu"} (%x = %h : tensor<8x32xf16>, %bx = %b : tensor<32xf16>) -> tensor<8x32xf16> {
      %xb = tfm.add %x, %bx : (tensor<8x32xf16>, tensor<32xf16>) -> tensor<8x32xf16>
      %y = tfm.gelu %xb : (tensor<8x32xf16>) -> tensor<8x32xf16>
      tfm.yield %y : tensor<8x32xf16>
    }
    """

    name = "tfm.fused"
    inputs = var_operand_def(TensorType)
    outputs = var_result_def(TensorType)
    kernel = prop_def(StringAttr)
    body = region_def("single_block")
    traits = traits_def(IsolatedFromAbove(), RecursiveMemoryEffect())

    def __init__(
        self,
        inputs: Sequence[SSAValue],
        result_types: Sequence[Attribute],
        body: Region,
        kernel: str,
        attributes: dict[str, Attribute] | None = None,
    ) -> None:
        super().__init__(
            operands=[inputs],
            result_types=[result_types],
            regions=[body],
            properties={"kernel": StringAttr(kernel)},
            attributes=attributes or {},
        )

    @property
    def kernel_name(self) -> str:
        return self.kernel.data

    @property
    def body_ops(self) -> list[TfmOp]:
        """The ops of the kernel, without the terminator."""
        return [
            op for op in self.body.block.ops if isinstance(op, TfmOp) and op is not self.yield_op
        ]

    @property
    def yield_op(self) -> YieldOp | None:
        last = self.body.block.last_op
        return last if isinstance(last, YieldOp) else None

    def verify_(self) -> None:
        block = self.body.block
        arg_types = [a.type for a in block.args]
        in_types = [v.type for v in self.inputs]
        if arg_types != in_types:
            self.expect(
                False,
                f"block arguments {_types(arg_types)} must match the inputs {_types(in_types)}",
            )
        term = self.yield_op
        self.expect(term is not None, "the region must end with tfm.yield")
        assert term is not None
        got = [v.type for v in term.values]
        want = [r.type for r in self.outputs]
        if got != want:
            self.expect(False, f"tfm.yield returns {_types(got)} but the op has {_types(want)}")
        for op in block.ops:
            if not isinstance(op, TfmOp) or isinstance(op, FusedOp):
                self.expect(
                    False, f"the body holds only tfm ops (no nested tfm.fused), got {op.name}"
                )
        self.expect(bool(self.kernel_name), "kernel must be a non-empty name")

    # ---- behaviour ----------------------------------------------------------------------

    def work(self) -> OpWork:
        """The body's FLOPs and GEMMs; inputs read once and outputs written once."""
        works = [op.work() for op in self.body_ops]
        kinds = {w.kind for w in works}
        kind = next((k for k in KIND_ORDER if k in kinds), "elementwise")
        gemms: tuple[GemmShape, ...] = tuple(g for w in works for g in w.gemms)
        return OpWork(
            kind,
            sum(w.flops for w in works),
            sum(w.mm_flops for w in works),
            sum(nbytes(v) for v in self.inputs),
            sum(nbytes(r) for r in self.outputs),
            gemms,
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        """Each body op's own rule, in order; results take the dtype the IR declares."""
        env: dict[SSAValue, Tensor] = dict(zip(self.body.block.args, args, strict=True))
        for op in self.body.block.ops:
            if isinstance(op, YieldOp):
                return [env[v] for v in op.values]
            assert isinstance(op, TfmOp)
            outs = op.interpret([env[v] for v in op.operands])
            for r, t in zip(op.results, outs, strict=True):
                if t is None or tuple(t.shape) != shape(r):
                    got = "no value" if t is None else f"shape {tuple(t.shape)}"
                    raise TandemError(
                        f"{self.name} ({self.kernel_name}): {op.name} computed {got} "
                        f"but the IR says {shape(r)}"
                    )
                env[r] = t.to(torch_dtype(dtype(r)))
        raise TandemError(f"{self.name} ({self.kernel_name}): the region has no tfm.yield")

    def body_key(self) -> tuple:
        """A hashable description of the body (op names, types, properties, wiring)."""
        index: dict[SSAValue, int] = {a: i for i, a in enumerate(self.body.block.args)}
        key = []
        for op in self.body.block.ops:
            key.append(
                (
                    op.name,
                    tuple(index.get(v, -1) for v in op.operands),
                    tuple(r.type for r in op.results),
                    tuple(op.properties.items()),
                )
            )
            for r in op.results:
                index[r] = len(index)
        return tuple(key)

    # ---- custom format ------------------------------------------------------------------

    def print(self, printer: Printer) -> None:
        printer.print_op_attributes({**self.attributes, **self.properties})
        printer.print_string(" (")
        printer.print_list(
            zip(self.body.block.args, self.inputs, strict=True),
            lambda pair: _print_binding(printer, *pair),
        )
        printer.print_string(") -> ")
        types = [r.type for r in self.outputs]
        if len(types) == 1:
            printer.print_attribute(types[0])
        else:
            printer.print_string("(")
            printer.print_list(types, printer.print_attribute)
            printer.print_string(")")
        printer.print_string(" ")
        printer.print_region(self.body, print_entry_block_args=False)

    @classmethod
    def parse(cls, parser: Parser) -> Self:
        attrs = parser.parse_optional_attr_dict()
        pos = parser.pos
        bindings = parser.parse_comma_separated_list(
            Parser.Delimiter.PAREN, lambda: _parse_binding(parser)
        )
        parser.parse_punctuation("->")
        if parser.parse_optional_punctuation("(") is not None:
            result_types = parser.parse_comma_separated_list(
                Parser.Delimiter.NONE, parser.parse_type
            )
            parser.parse_punctuation(")")
        else:
            result_types = [parser.parse_type()]
        inputs = parser.resolve_operands([b[1] for b in bindings], [b[2] for b in bindings], pos)
        args = [arg.resolve(t) for arg, _, t in bindings]
        body = parser.parse_region(args)
        kernel = attrs.pop("kernel", None)
        if not isinstance(kernel, StringAttr):
            parser.raise_error('tfm.fused needs a kernel name: {kernel = "..."}')
        op = cls.create(
            operands=inputs,
            result_types=result_types,
            regions=[body],
            properties={"kernel": kernel},
            attributes=attrs,
        )
        return op


def _print_binding(printer: Printer, arg: SSAValue, value: SSAValue) -> None:
    printer.print_ssa_value(arg)
    printer.print_string(" = ")
    printer.print_ssa_value(value)
    printer.print_string(" : ")
    printer.print_attribute(value.type)


def _parse_binding(
    parser: Parser,
) -> tuple[Parser.UnresolvedArgument, UnresolvedOperand, Attribute]:
    arg = parser.parse_argument(expect_type=False)
    parser.parse_punctuation("=")
    value = parser.parse_unresolved_operand()
    parser.parse_punctuation(":")
    return arg, value, parser.parse_type()


def _types(types: Sequence[Attribute]) -> str:
    return "(" + ", ".join(str(t) for t in types) + ")"


def top_level(op: object) -> bool:
    """False for ops inside a `tfm.fused` region (counted and costed through the kernel)."""
    parent = getattr(op, "parent_op", lambda: None)()
    return not isinstance(parent, FusedOp)


FUSED_OPS: list[type[TfmOp]] = [FusedOp, YieldOp]
