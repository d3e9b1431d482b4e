"""Softmax and normalisation ops, with the backward ops the training graph needs."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, TensorType
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

from ir.base import TfmOp, get_float, get_int, get_str
from ir.types import dtype, fmt, shape


class _DimOp(TfmOp):
    def check_dim(self, value) -> None:
        rank = len(shape(value))
        d = get_int(self.dim)
        self.expect(-rank <= d < max(rank, 1), f"dim {d} out of range for rank {rank}")


class _Softmax(_DimOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.check_dim(self.input)
        self.expect(self.input.type == self.result.type, "result type must equal the input type")


@irdl_op_definition
class SoftmaxOp(_Softmax):
    """Softmax along `dim`.

        %p = tfm.softmax %s {dim = -1 : i64} : (tensor<2x4x16x16xf32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.softmax"


@irdl_op_definition
class LogSoftmaxOp(_Softmax):
    """log(softmax(x)) along `dim`.

        %l = tfm.log_softmax %x {dim = -1 : i64} : (tensor<32x128xf32>) -> tensor<32x128xf32>
    """

    name = "tfm.log_softmax"


class _SoftmaxBackward(_DimOp):
    grad = operand_def(TensorType)
    output = operand_def(TensorType)
    result = result_def(TensorType)
    dim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $output attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.check_dim(self.output)
        self.expect(self.grad.type == self.output.type == self.result.type,
                    "grad, forward output and result must have one type")


@irdl_op_definition
class SoftmaxBackwardOp(_SoftmaxBackward):
    """Input gradient of softmax from the output gradient and the softmax output.

        %dx = tfm.softmax_backward %dy, %y {dim = -1 : i64} : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    """

    name = "tfm.softmax_backward"


@irdl_op_definition
class LogSoftmaxBackwardOp(_SoftmaxBackward):
    """Input gradient of log_softmax from the output gradient and the log_softmax output.

        %dx = tfm.log_softmax_backward %dy, %y {dim = -1 : i64} : (tensor<8x16xf32>, tensor<8x16xf32>) -> tensor<8x16xf32>
    """

    name = "tfm.log_softmax_backward"


def _check_norm_params(op: TfmOp, x, params, ndim: int) -> None:
    norm_shape = shape(x)[len(shape(x)) - ndim:]
    for p in params:
        if p is not None:
            op.expect(shape(p) == norm_shape,
                      f"weight/bias {fmt(shape(p))} must match the normalised dims {fmt(norm_shape)}")


@irdl_op_definition
class LayerNormOp(TfmOp):
    """Layer normalisation over the last `ndim` dims with affine weight and bias.

        %y = tfm.layer_norm %x, %w, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.layer_norm"
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    result = result_def(TensorType)
    eps = prop_def(FloatAttr)
    ndim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        n = get_int(self.ndim)
        self.expect(1 <= n <= len(shape(self.input)), f"ndim {n} out of range for {fmt(shape(self.input))}")
        _check_norm_params(self, self.input, (self.weight, self.bias), n)
        self.expect(self.input.type == self.result.type, "result type must equal the input type")
        self.expect(get_float(self.eps) >= 0, "eps must be non-negative")


@irdl_op_definition
class LayerNormBackwardOp(TfmOp):
    """Gradients of `tfm.layer_norm` (input, weight, bias); statistics are recomputed from x.

        %dx, %dw, %db = tfm.layer_norm_backward %dy, %x, %w, %b {eps = 1.0e-05 : f64, ndim = 1 : i64} : (...) -> (...)
    """

    name = "tfm.layer_norm_backward"
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    weight = operand_def(TensorType)
    bias = operand_def(TensorType)
    grad_input = result_def(TensorType)
    grad_weight = result_def(TensorType)
    grad_bias = result_def(TensorType)
    eps = prop_def(FloatAttr)
    ndim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $input `,` $weight `,` $bias attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        n = get_int(self.ndim)
        _check_norm_params(self, self.input, (self.weight, self.bias), n)
        self.expect(self.grad.type == self.input.type == self.grad_input.type,
                    "grad, input and input gradient must have one type")
        self.expect(self.grad_weight.type == self.weight.type and self.grad_bias.type == self.bias.type,
                    "weight and bias gradients must match the weight and bias types")


@irdl_op_definition
class RmsNormOp(TfmOp):
    """Root-mean-square normalisation over the last `ndim` dims: x * rsqrt(mean(x^2) + eps) * w.

        %y = tfm.rms_norm %x weight %w {eps = 1.0e-06 : f64, ndim = 1 : i64} : (tensor<2x16x64xf32>, tensor<64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.rms_norm"
    input = operand_def(TensorType)
    weight = opt_operand_def(TensorType)
    result = result_def(TensorType)
    eps = prop_def(FloatAttr)
    ndim = prop_def(IntegerAttr)
    traits = traits_def(Pure())
    assembly_format = "$input (`weight` $weight^)? attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        n = get_int(self.ndim)
        self.expect(1 <= n <= len(shape(self.input)), f"ndim {n} out of range for {fmt(shape(self.input))}")
        _check_norm_params(self, self.input, (self.weight,), n)
        self.expect(self.input.type == self.result.type, "result type must equal the input type")


class _ActBackward(TfmOp):
    grad = operand_def(TensorType)
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $input attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        self.expect(self.grad.type == self.input.type == self.result.type,
                    f"grad, input and result must have one type, got {fmt(shape(self.grad))}x{dtype(self.grad)}")


@irdl_op_definition
class GeluBackwardOp(_ActBackward):
    """Input gradient of `tfm.gelu`.

        %dx = tfm.gelu_backward %dy, %x {approximate = "tanh"} : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    """

    name = "tfm.gelu_backward"
    approximate = opt_prop_def(StringAttr)

    def check(self) -> None:
        super().check()
        self.expect(get_str(self.approximate, "none") in ("none", "tanh"), "approximate must be none or tanh")


@irdl_op_definition
class SiluBackwardOp(_ActBackward):
    """Input gradient of `tfm.silu`.

        %dx = tfm.silu_backward %dy, %x : (tensor<8xf32>, tensor<8xf32>) -> tensor<8xf32>
    """

    name = "tfm.silu_backward"
