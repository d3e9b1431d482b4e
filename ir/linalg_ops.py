"""Compute-heavy tfm ops: batched matmul and fused attention (forward and backward)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import Float64Type, FloatAttr, TensorType, UnitAttr
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
from ir.base import TfmOp, flag, float_attr, props, vjp
from ir.lazy import torch
from ir.types import broadcast_shapes, dtype, fmt, shape
from ir.work import GemmShape, OpWork

if TYPE_CHECKING:
    from torch import Tensor


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
    KIND: ClassVar[str] = "matmul"

    def __init__(
        self,
        lhs: SSAValue,
        rhs: SSAValue,
        result_type: Attribute,
        transpose_lhs: bool = False,
        transpose_rhs: bool = False,
    ) -> None:
        super().__init__(
            operands=[lhs, rhs],
            result_types=[result_type],
            properties=props(transpose_lhs=flag(transpose_lhs), transpose_rhs=flag(transpose_rhs)),
        )

    @property
    def transposed(self) -> tuple[bool, bool]:
        return self.transpose_lhs is not None, self.transpose_rhs is not None

    def dims(self) -> tuple[tuple[int, ...], int, int, int]:
        """(batch shape, M, N, K)."""
        b, m, n, k, _ = matmul_dims(shape(self.lhs), shape(self.rhs), *self.transposed)
        return b, m, n, k

    def gemm(self) -> GemmShape:
        """The op's GEMM with the broadcast batch dims flattened into one count."""
        batch, m, n, k = self.dims()
        count = 1
        for d in batch:
            count *= d
        return GemmShape(count, m, n, k)

    def verify_(self) -> None:
        a, b = shape(self.lhs), shape(self.rhs)
        self.expect(
            len(a) >= 2 and len(b) >= 2, f"operands must have rank >= 2, got {fmt(a)} and {fmt(b)}"
        )
        self.expect(
            dtype(self.lhs) == dtype(self.rhs) == dtype(self.result),
            f"dtypes differ: {dtype(self.lhs)}, {dtype(self.rhs)} -> {dtype(self.result)}",
        )
        batch, m, n, k, k2 = matmul_dims(a, b, *self.transposed)
        self.expect(
            k == k2, f"reduction dims differ: lhs {fmt(a)} has K={k}, rhs {fmt(b)} has K={k2}"
        )
        self.expect(batch is not None, f"batch dims of {fmt(a)} and {fmt(b)} do not broadcast")
        want = (*batch, m, n)
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )

    def work(self) -> OpWork:
        g = self.gemm()
        return OpWork(self.KIND, g.flops, g.flops, self.bytes_read(), self.bytes_written(), (g,))

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        a, b = args
        ta, tb = self.transposed
        return [torch.matmul(a.transpose(-1, -2) if ta else a, b.transpose(-1, -2) if tb else b)]


def attention_reference(
    q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None, scale: float, causal: bool
) -> Tensor:
    """softmax(q k^T * scale + mask) v, with k/v heads repeated for grouped-query attention."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    # low precision accumulates in f32, f64 stays f64
    acc = torch.promote_types(q.dtype, torch.float32)
    scores = torch.matmul(q, k.transpose(-1, -2)).to(acc) * scale
    sq, sk = scores.shape[-2], scores.shape[-1]
    if causal:
        keep = torch.ones(sq, sk, dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = (
            scores.masked_fill(~mask, float("-inf"))
            if mask.dtype == torch.bool
            else scores + mask.float()
        )
    probs = torch.softmax(scores, dim=-1)
    # fully masked rows give zeros, as the fused kernels do
    probs = torch.nan_to_num(probs, nan=0.0)
    return torch.matmul(probs.to(v.dtype), v)


class AttentionBase(TfmOp):
    """What forward and backward attention share: q, k, v, an optional mask, scale, causal."""

    KIND: ClassVar[str] = "attention"
    if TYPE_CHECKING:  # defined by each subclass
        q: SSAValue
        k: SSAValue
        v: SSAValue
        mask: SSAValue | None
        scale: FloatAttr[Float64Type]
        causal: UnitAttr | None

    @property
    def scale_value(self) -> float:
        return self.scale.value.data

    @property
    def is_causal(self) -> bool:
        return self.causal is not None

    def check_qkv(self) -> tuple[int, ...]:
        qs, ks, vs = shape(self.q), shape(self.k), shape(self.v)
        self.expect(
            len(qs) == len(ks) == len(vs) == 4,
            f"q, k, v must be [batch, heads, seq, head_dim], got {fmt(qs)}, {fmt(ks)}, {fmt(vs)}",
        )
        self.expect(qs[0] == ks[0] == vs[0], f"batch sizes differ: {qs[0]}, {ks[0]}, {vs[0]}")
        self.expect(ks[1] == vs[1], f"k and v head counts differ: {ks[1]} and {vs[1]}")
        self.expect(
            ks[1] > 0 and qs[1] % ks[1] == 0,
            f"query heads {qs[1]} must be a multiple of key/value heads {ks[1]} (grouped-query)",
        )
        self.expect(qs[3] == ks[3], f"q and k head dims differ: {qs[3]} and {ks[3]}")
        self.expect(ks[2] == vs[2], f"k and v sequence lengths differ: {ks[2]} and {vs[2]}")
        self.expect(dtype(self.q) == dtype(self.k) == dtype(self.v), "q, k and v dtypes differ")
        self.expect(self.scale_value > 0, "scale must be positive")
        if self.mask is not None:
            want = (qs[0], qs[1], qs[2], ks[2])
            got = broadcast_shapes(shape(self.mask), want)
            self.expect(
                got == want,
                f"mask {fmt(shape(self.mask))} does not broadcast to scores {fmt(want)}",
            )
            self.expect(
                dtype(self.mask) in ("i1", dtype(self.q)),
                f"mask must be i1 or {dtype(self.q)}, got {dtype(self.mask)}",
            )
        return (qs[0], qs[1], qs[2], vs[3])

    def forward_gemms(self) -> tuple[GemmShape, GemmShape]:
        """QK^T and PV as batched GEMMs (FlopCounterMode's accounting)."""
        b, hq, sq, d = shape(self.q)
        sk, dv = shape(self.k)[2], shape(self.v)[3]
        return GemmShape(b * hq, sq, sk, d), GemmShape(b * hq, sq, dv, sk)

    def softmax_flops(self) -> int:
        b, hq, sq, _ = shape(self.q)
        return estimates.SOFTMAX * b * hq * sq * shape(self.k)[2]

    def attention_work(self, gemms: tuple[GemmShape, ...]) -> OpWork:
        mm = sum(g.flops for g in gemms)
        return OpWork(
            self.KIND, mm + self.softmax_flops(), mm, self.bytes_read(), self.bytes_written(), gemms
        )

    def reference(self, q: Tensor, k: Tensor, v: Tensor, mask: Tensor | None) -> Tensor:
        return attention_reference(q, k, v, mask, self.scale_value, self.is_causal)


@irdl_op_definition
class AttentionOp(AttentionBase):
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
    scale = prop_def(FloatAttr[Float64Type])
    causal = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = (
        "$q `,` $k `,` $v (`mask` $mask^)? attr-dict `:` functional-type(operands, results)"
    )

    def __init__(
        self,
        q: SSAValue,
        k: SSAValue,
        v: SSAValue,
        result_type: Attribute,
        *,
        scale: float,
        causal: bool = False,
        mask: SSAValue | None = None,
    ) -> None:
        super().__init__(
            operands=[q, k, v, [] if mask is None else [mask]],
            result_types=[result_type],
            properties=props(scale=float_attr(scale), causal=flag(causal)),
        )

    def verify_(self) -> None:
        want = self.check_qkv()
        self.expect(
            shape(self.result) == want, f"result must be {fmt(want)}, got {fmt(shape(self.result))}"
        )

    def work(self) -> OpWork:
        return self.attention_work(self.forward_gemms())

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        q, k, v, *mask = args
        return [self.reference(q, k, v, mask[0] if mask else None)]


@irdl_op_definition
class AttentionBackwardOp(AttentionBase):
    """Gradients (dQ, dK, dV) of `tfm.attention` given the output gradient and the forward output.

    %dq, %dk, %dv = tfm.attention_backward %do, %q, %k, %v, %o {causal, scale = 0.125 : f64} : (tensor<2x4x16x16xf32>, tensor<2x4x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x4x16x16xf32>) -> (tensor<2x4x16x16xf32>, tensor<2x2x16x16xf32>, tensor<2x2x16x16xf32>)
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
    scale = prop_def(FloatAttr[Float64Type])
    causal = opt_prop_def(UnitAttr)
    traits = traits_def(Pure())
    assembly_format = "$grad `,` $q `,` $k `,` $v `,` $out (`mask` $mask^)? attr-dict `:` functional-type(operands, results)"

    def __init__(
        self,
        grad: SSAValue,
        q: SSAValue,
        k: SSAValue,
        v: SSAValue,
        out: SSAValue,
        *,
        scale: float,
        causal: bool = False,
        mask: SSAValue | None = None,
    ) -> None:
        super().__init__(
            operands=[grad, q, k, v, out, [] if mask is None else [mask]],
            result_types=[q.type, k.type, v.type],
            properties=props(scale=float_attr(scale), causal=flag(causal)),
        )

    def verify_(self) -> None:
        want = self.check_qkv()
        self.expect(
            shape(self.grad) == want and shape(self.out) == want,
            f"grad and out must be {fmt(want)}, got {fmt(shape(self.grad))} and {fmt(shape(self.out))}",
        )
        for res, src in ((self.dq, self.q), (self.dk, self.k), (self.dv, self.v)):
            self.expect(
                shape(res) == shape(src),
                f"gradient {fmt(shape(res))} must match input {fmt(shape(src))}",
            )

    def work(self) -> OpWork:
        # recompute scores; dP = dO V^T; dV = P^T dO; dQ = dS K; dK = dS^T Q
        b, hq, sq, d = shape(self.q)
        sk, dv = shape(self.k)[2], shape(self.v)[3]
        bh = b * hq
        gemms = (
            GemmShape(bh, sq, sk, d),
            GemmShape(bh, sq, sk, dv),
            GemmShape(bh, sk, dv, sq),
            GemmShape(bh, sq, d, sk),
            GemmShape(bh, sk, d, sq),
        )
        return self.attention_work(gemms)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor | None]:
        g, q, k, v, _out, *mask = args
        m = mask[0] if mask else None
        return vjp(lambda a, b, c: self.reference(a, b, c, m), [q, k, v], g)[:3]
