"""Softmax and normalisation ops, with the backward ops the training graph needs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import I64, Float64Type, FloatAttr, IntegerAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import (
    irdl_op_definition,
    operand_def,
    opt_operand_def,
    opt_prop_def,
    prop_def,
    result_def,
    traits_def,
)
from xdsl.traits import Pure

from ir import estimates
from ir.base import TfmOp, float_attr, int_attr, props, vjp
from ir.enums import GeluApproximation, GeluApproximationAttr
from ir.lazy import F, torch
from ir.types import dtype, fmt, shape

if TYPE_CHECKING:
    from torch import Tensor


class _DimOp(TfmOp):
    dim = prop_def(IntegerAttr[I64])

    @property
    def axis(self) -> int:
        return self.dim.value.data

    def check_dim(self, value: SSAValue) -> None:
        rank = len(shape(value))
        d = self.axis
        self.expect(-rank <= d < max(rank, 1), f"dim {d} out of range for rank {rank}")


class _Softmax(_DimOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "softmax"

    def __init__(self, input: SSAValue, dim: int) -> None:
        super().__init__(
            operands=[input], result_types=[input.type], properties={"dim": int_attr(dim)}
        )

    def verify_(self) -> None:
        self.check_dim(self.input)
        self.expect(self.input.type == self.result.type, "result type must equal the input type")


@irdl_op_definition
class SoftmaxOp(_Softmax):
    """Softmax along `dim`.

    %p = tfm.softmax %s {dim = -1 : i64} : (tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.softmax"
    VECTOR_KIND: ClassVar[str] = "softmax"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.SOFTMAX

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [torch.softmax(args[0], dim=self.axis)]


@irdl_op_definition
class LogSoftmaxOp(_Softmax):
    """log(softmax(x)) along `dim`.

    %l = tfm.log_softmax %x {dim = -1 : i64} : (tensor<32x128xf32>) -> tensor<32x128xf32>
    """

    name = "tfm.log_softmax"
    VECTOR_KIND: ClassVar[str] = "log_softmax"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.LOG_SOFTMAX

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [torch.log_softmax(args[0], dim=self.axis)]


class _SoftmaxBackward(_DimOp):
    grad = operand_def(TensorType)
    output = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $output attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "softmax"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.SOFTMAX_BACKWARD

    def __init__(self, grad: SSAValue, output: SSAValue, dim: int) -> None:
        super().__init__(
            operands=[grad, output], result_types=[grad.type], properties={"dim": int_attr(dim)}
        )

    def verify_(self) -> None:
        self.check_dim(self.output)
        self.expect(
            self.grad.type == self.output.type == self.result.type,
            "grad, forward output and result must have one type",
        )


@irdl_op_definition
class SoftmaxBackwardOp(_SoftmaxBackward):
    """Input gradient of softmax from the output gradient and the softmax output.

    %dx = tfm.softmax_backward %dy, %y {dim = -1 : i64} : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    """

    name = "tfm.softmax_backward"
    VECTOR_KIND: ClassVar[str] = "softmax"

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        g, y = args
        return [y * (g - (g * y).sum(dim=self.axis, keepdim=True))]


@irdl_op_definition
class LogSoftmaxBackwardOp(_SoftmaxBackward):
    """Input gradient of log_softmax from the output gradient and the log_softmax output.

    %dx = tfm.log_softmax_backward %dy, %y {dim = -1 : i64} : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    """

    name = "tfm.log_softmax_backward"
    VECTOR_KIND: ClassVar[str] = "log_softmax"

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        g, y = args
        return [g - torch.exp(y) * g.sum(dim=self.axis, keepdim=True)]


class _Norm(TfmOp):
    """Normalisation over the last `ndim` dims, with epsilon `eps`."""

    eps = prop_def(FloatAttr[Float64Type])
    ndim = prop_def(IntegerAttr[I64])
    KIND: ClassVar[str] = "norm"
    VECTOR_KIND: ClassVar[str] = "layernorm"

    @property
    def norm_dims(self) -> int:
        return self.ndim.value.data

    @property
    def epsilon(self) -> float:
        return self.eps.value.data

    def check_params(self, x: SSAValue, params: Sequence[SSAValue | None]) -> None:
        n = self.norm_dims
        self.expect(1 <= n <= len(shape(x)), f"ndim {n} out of range for {fmt(shape(x))}")
        self.expect(self.epsilon >= 0, "eps must be non-negative")
        norm_shape = shape(x)[len(shape(x)) - n :]
        for p in params:
            if p is not None:
                self.expect(
                    shape(p) == norm_shape,
                    f"weight/bias {fmt(shape(p))} must match the normalised dims {fmt(norm_shape)}",
                )


def layer_norm_reference(x: Tensor, w: Tensor, b: Tensor, ndim: int, eps: float) -> Tensor:
    dims = tuple(range(-ndim, 0))
    xf = x.float()
    mean = xf.mean(dim=dims, keepdim=True)
    var = ((xf - mean) ** 2).mean(dim=dims, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    return (y * w.float() + b.float()).to(x.dtype)


@irdl_op_definition
class LayerNormOp(_Norm):
    """Layer normalisation over the last `ndim` dims with affine weight and bias.

    %y = tfm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.layer_norm"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)"
    )
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.LAYER_NORM

    def __init__(
        self, input: SSAValue, weight: SSAValue, bias: SSAValue, *, eps: float, ndim: int
    ) -> None:
        super().__init__(
            operands=[input, weight, bias],
            result_types=[input.type],
            properties={"eps": float_attr(eps), "ndim": int_attr(ndim)},
        )

    def verify_(self) -> None:
        self.check_params(self.input, (self.weight, self.bias))
        self.expect(self.input.type == self.result.type, "result type must equal the input type")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        x, w, b = args
        return [layer_norm_reference(x, w, b, self.norm_dims, self.epsilon)]


@irdl_op_definition
class LayerNormBackwardOp(_Norm):
    """Gradients of `tfm.layer_norm` (input, weight, bias); statistics are recomputed from x.

    %dx, %dw, %db = tfm.layer_norm_backward %dy, %x, %w, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>)
    """

    name = "tfm.layer_norm_backward"
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    grad_input = result_def(TensorType)
    grad_weight = result_def(TensorType)
    grad_bias = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = (
        "$grad `,` $input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)"
    )
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.LAYER_NORM_BACKWARD

    def __init__(
        self,
        grad: SSAValue,
        input: SSAValue,
        weight: SSAValue,
        bias: SSAValue,
        *,
        eps: float,
        ndim: int,
    ) -> None:
        super().__init__(
            operands=[grad, input, weight, bias],
            result_types=[input.type, weight.type, bias.type],
            properties={"eps": float_attr(eps), "ndim": int_attr(ndim)},
        )

    def verify_(self) -> None:
        self.check_params(self.input, (self.weight, self.bias))
        self.expect(
            self.grad.type == self.input.type == self.grad_input.type,
            "grad, input and input gradient must have one type",
        )
        self.expect(
            self.grad_weight.type == self.weight.type and self.grad_bias.type == self.bias.type,
            "weight and bias gradients must match the weight and bias types",
        )

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        g, x, w, b = args
        n, eps = self.norm_dims, self.epsilon
        return vjp(lambda x_, w_, b_: layer_norm_reference(x_, w_, b_, n, eps), [x, w, b], g)


@irdl_op_definition
class RmsNormOp(_Norm):
    """Root-mean-square normalisation over the last `ndim` dims: x * rsqrt(mean(x^2) + eps) * w.

    %y = tfm.rms_norm %x weight %w {eps = 1.0e-06 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.rms_norm"
    input = operand_def(TensorType)
    weight = opt_operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input (`weight` $weight^)? attr-dict `:` functional-type(operands, results)"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.RMS_NORM

    def __init__(
        self, input: SSAValue, weight: SSAValue | None = None, *, eps: float, ndim: int
    ) -> None:
        super().__init__(
            operands=[input, [] if weight is None else [weight]],
            result_types=[input.type],
            properties={"eps": float_attr(eps), "ndim": int_attr(ndim)},
        )

    def verify_(self) -> None:
        self.check_params(self.input, (self.weight,))
        self.expect(self.input.type == self.result.type, "result type must equal the input type")

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        x = args[0]
        dims = tuple(range(-self.norm_dims, 0))
        xf = x.float()
        y = xf * torch.rsqrt(xf.pow(2).mean(dim=dims, keepdim=True) + self.epsilon)
        if len(args) > 1:
            y = y * args[1].float()
        return [y.to(x.dtype)]


class _ActBackward(TfmOp):
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $input attr-dict `:` functional-type(operands, results)"

    def __init__(
        self, grad: SSAValue, input: SSAValue, properties: dict[str, Attribute] | None = None
    ) -> None:
        super().__init__(
            operands=[grad, input], result_types=[input.type], properties=properties or {}
        )

    def verify_(self) -> None:
        self.expect(
            self.grad.type == self.input.type == self.result.type,
            f"grad, input and result must have one type, got {fmt(shape(self.grad))}x{dtype(self.grad)}",
        )


@irdl_op_definition
class GeluBackwardOp(_ActBackward):
    """Input gradient of `tfm.gelu`.

    %dx = tfm.gelu_backward %dy, %x {approximate = #tfm<approximate tanh>} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    """

    name = "tfm.gelu_backward"
    approximate = opt_prop_def(GeluApproximationAttr)
    VECTOR_KIND: ClassVar[str] = "gelu"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.GELU_BACKWARD

    def __init__(self, grad: SSAValue, input: SSAValue, approximate: str = "none") -> None:
        approx = (
            None if approximate == "none" else GeluApproximationAttr(GeluApproximation(approximate))
        )
        super().__init__(grad, input, props(approximate=approx))

    @property
    def approximation(self) -> str:
        return "none" if self.approximate is None else self.approximate.data.value

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        approx = self.approximation
        return [vjp(lambda x: F.gelu(x, approximate=approx), [args[1]], args[0])[0]]


@irdl_op_definition
class SiluBackwardOp(_ActBackward):
    """Input gradient of `tfm.silu`.

    %dx = tfm.silu_backward %dy, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    """

    name = "tfm.silu_backward"
    FLOPS_PER_ELEMENT: ClassVar[float] = estimates.SILU_BACKWARD

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        g, x = args
        s = torch.sigmoid(x)
        return [g * s * (1 + x * (1 - s))]
