"""Compute-heavy tfm ops: batched matmul and fused attention (forward and backward)."""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, TensorType, UnitAttr
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

from ir.base import TfmOp, get_float
from ir.types import broadcast_shapes, dtype, fmt, shape


def matmul_dims(lhs: tuple[int, ...], rhs: tuple[int, ...], ta: bool, tb: bool):
    """(batch shape, M, N, K, K of rhs) of `op(lhs) @ op(rhs)`; rank-1 operands are not allowed."""
    m, k = (lhs[-1], lhs[-2]) if ta else (lhs[-2], lhs[-1])
    k2, n = (rhs[-1], rhs[-2]) if tb else (rhs[-2], rhs[-1])
    return broadcast_shapes(lhs[:-2], rhs[:-2]), m, n, k, k2


@irdl_op_definition
class MatmulOp(TfmOp):
    """Batched matrix product with optional transposes and broadcast batch dims.

    `C[..., M, N] = op(A)[..., M, K] @ op(B)[..., K, N]`, where `op` transposes the last two
    dims when `transpose_lhs` / `transpose_rhs` is set.

        %c = tfm.matmul %a, %w {transpose_rhs} : (tensor<2x16x64xf32>, tensor<256x64xf32>) -> tensor<2x16x256xf32>
    """

    name = "tfm.matmul"
    lhs = operand_def(TensorType)
    rhs = operand_def(TensorType)
    result = result_def(TensorType)
    transpose_lhs = opt_prop_def(UnitAttr)
    transpose_rhs = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$lhs `,` $rhs attr-dict `:` functional-type(operands, results)"

    def __init__(self, lhs, rhs, result_type, transpose_lhs=False, transpose_rhs=False):
        props = {}
        if transpose_lhs:
            props["transpose_lhs"] = UnitAttr()
        if transpose_rhs:
            props["transpose_rhs"] = UnitAttr()
        super().__init__(operands=[lhs, rhs], result_types=[result_type], properties=props)

    def dims(self):
        """(batch shape, M, N, K)."""
        b, m, n, k, _ = matmul_dims(
            shape(self.lhs), shape(self.rhs), self.transpose_lhs is not None, self.transpose_rhs is not None
        )
        return b, m, n, k

    def check(self) -> None:
        a, b = shape(self.lhs), shape(self.rhs)
        self.expect(len(a) >= 2 and len(b) >= 2, f"operands must have rank >= 2, got {fmt(a)} and {fmt(b)}")
        self.expect(dtype(self.lhs) == dtype(self.rhs) == dtype(self.result),
                    f"dtypes differ: {dtype(self.lhs)}, {dtype(self.rhs)} -> {dtype(self.result)}")
        batch, m, n, k, k2 = matmul_dims(a, b, self.transpose_lhs is not None, self.transpose_rhs is not None)
        self.expect(k == k2, f"reduction dims differ: lhs {fmt(a)} has K={k}, rhs {fmt(b)} has K={k2}")
        self.expect(batch is not None, f"batch dims of {fmt(a)} and {fmt(b)} do not broadcast")
        want = (*batch, m, n)
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")


def _check_attention(op: TfmOp, q, k, v) -> tuple[int, ...]:
    qs, ks, vs = shape(q), shape(k), shape(v)
    op.expect(len(qs) == len(ks) == len(vs) == 4,
              f"q, k, v must be [batch, heads, seq, head_dim], got {fmt(qs)}, {fmt(ks)}, {fmt(vs)}")
    op.expect(qs[0] == ks[0] == vs[0], f"batch sizes differ: {qs[0]}, {ks[0]}, {vs[0]}")
    op.expect(ks[1] == vs[1], f"k and v head counts differ: {ks[1]} and {vs[1]}")
    op.expect(ks[1] > 0 and qs[1] % ks[1] == 0,
              f"query heads {qs[1]} must be a multiple of key/value heads {ks[1]} (grouped-query)")
    op.expect(qs[3] == ks[3], f"q and k head dims differ: {qs[3]} and {ks[3]}")
    op.expect(ks[2] == vs[2], f"k and v sequence lengths differ: {ks[2]} and {vs[2]}")
    op.expect(dtype(q) == dtype(k) == dtype(v), "q, k and v dtypes differ")
    return (qs[0], qs[1], qs[2], vs[3])


def _check_mask(op: TfmOp, mask, q, k) -> None:
    if mask is None:
        return
    want = (shape(q)[0], shape(q)[1], shape(q)[2], shape(k)[2])
    got = broadcast_shapes(shape(mask), want)
    op.expect(got == want, f"mask {fmt(shape(mask))} does not broadcast to scores {fmt(want)}")
    op.expect(dtype(mask) in ("i1", dtype(q)), f"mask must be i1 or {dtype(q)}, got {dtype(mask)}")


@irdl_op_definition
class AttentionOp(TfmOp):
    """Fused scaled dot-product attention, `softmax(Q K^T * scale + mask) V`.

    Q is [B, Hq, Sq, D], K and V are [B, Hkv, Sk, D] with Hq a multiple of Hkv (grouped-query
    attention). `causal` masks keys after the query position (top-left aligned); the optional
    mask is boolean (true keeps) or additive and broadcasts to [B, Hq, Sq, Sk].

        %o = tfm.attention %q, %k, %v {causal, scale = 0.125 : f64} : (tensor<2x4x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>) -> tensor<2x4x16x16xf32>
    """

    name = "tfm.attention"
    q = operand_def(TensorType)
    k = operand_def(TensorType)
    v = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    result = result_def(TensorType)
    scale = prop_def(FloatAttr)
    causal = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$q `,` $k `,` $v (`mask` $mask^)? attr-dict `:` functional-type(operands, results)"

    def check(self) -> None:
        want = _check_attention(self, self.q, self.k, self.v)
        _check_mask(self, self.mask, self.q, self.k)
        self.expect(shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}")
        self.expect(get_float(self.scale) > 0, "scale must be positive")


@irdl_op_definition
class AttentionBackwardOp(TfmOp):
    """Gradients (dQ, dK, dV) of `tfm.attention` given the output gradient and the forward output.

        %dq, %dk, %dv = tfm.attention_backward %do, %q, %k, %v, %o {causal, scale = 0.125 : f64} : (...) -> (...)
    """

    name = "tfm.attention_backward"
    grad = operand_def(TensorType)
    q = operand_def(TensorType)
    k = operand_def(TensorType)
    v = operand_def(TensorType)
    out = operand_def(TensorType)
    mask = opt_operand_def(TensorType)
    dq = result_def(TensorType)
    dk = result_def(TensorType)
    dv = result_def(TensorType)
    scale = prop_def(FloatAttr)
    causal = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$grad `,` $q `,` $k `,` $v `,` $out (`mask` $mask^)? attr-dict `:` functional-type(operands, results)"
    )

    def check(self) -> None:
        want = _check_attention(self, self.q, self.k, self.v)
        _check_mask(self, self.mask, self.q, self.k)
        self.expect(shape(self.grad) == want and shape(self.out) == want,
                    f"grad and out must be {fmt(want)}, got {fmt(shape(self.grad))} and {fmt(shape(self.out))}")
        for res, src in ((self.dq, self.q), (self.dk, self.k), (self.dv, self.v)):
            self.expect(shape(res) == shape(src), f"gradient {fmt(shape(res))} must match input {fmt(shape(src))}")
