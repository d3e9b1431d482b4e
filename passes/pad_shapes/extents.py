"""Zero-extent analysis for pad-shapes: which trailing rows/cols of a value are known zero.

`extent(v)[d]` bounds the non-zero part of `v` along dim d: entries at index >= extent are
zero. A zero pad keeps its input's extent, a slice from 0 shrinks it, and a matmul's M and N
extents are those of its operands, so in

    %xp = tfm.pad %x {low = array<i64: 0, 0>, high = array<i64: 0, 15>, value = 0.0 : f64}
        : (tensor<4096x4097xf16>) -> tensor<4096x4112xf16>
    %yp = tfm.matmul %w, %xp : (tensor<64x4096xf16>, tensor<4096x4112xf16>) -> tensor<64x4112xf16>

`extent(%yp)` is (64, 4097): columns 4097.. of %yp are zero, so padding `slice(%yp)` back to
4112 columns is %yp itself and needs no copy. Parameters padded at compile time (zero rows or
cols, `tfm.param_pad`) are registered in `params` with their unpadded shape.
"""

from __future__ import annotations

from xdsl.ir import BlockArgument, SSAValue

from ir.elementwise_ops import ConvertOp
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.shape_ops import PadOp, PermuteOp, SliceOp
from ir.types import shape

Shape = tuple[int, ...]


class Extents:
    """Bounds on the non-zero part of values (not cached: the IR changes while it is used)."""

    def __init__(self) -> None:
        self.params: dict[BlockArgument, Shape] = {}  # padded parameter -> its unpadded shape

    def extent(self, v: SSAValue) -> Shape:
        s = shape(v)
        if isinstance(v, BlockArgument):
            return self.params.get(v, s)
        op = v.owner
        if isinstance(op, PadOp):
            return self._pad_extent(op)
        if isinstance(op, PermuteOp):
            inner = self.extent(op.input)
            return tuple(inner[p] for p in op.permutation)
        if isinstance(op, ConvertOp):
            return self.extent(op.input)
        if isinstance(op, SliceOp) and op.bounds[1] == 0 and op.bounds[3] == 1:
            clipped = list(self.extent(op.input))
            d = op.bounds[0] % len(s)
            clipped[d] = min(clipped[d], s[d])
            return tuple(clipped)
        if isinstance(op, MatmulOp):
            return self._matmul_extent(op)
        if isinstance(op, AttentionOp):
            return (*s[:-1], min(s[-1], self.extent(op.v)[-1]))
        if isinstance(op, AttentionBackwardOp):
            source = {0: op.k, 1: op.q, 2: op.grad}[op.results.index(v)]
            return (*s[:-1], min(s[-1], self.extent(source)[-1]))
        return s

    def _pad_extent(self, op: PadOp) -> Shape:
        if any(op.low.get_values()) or op.value.value.data != 0.0:
            return shape(op.result)
        return self.extent(op.input)

    def _matmul_extent(self, op: MatmulOp) -> Shape:
        s = shape(op.result)
        lhs, rhs = self.extent(op.lhs), self.extent(op.rhs)
        m_ext = lhs[-1] if op.transpose_lhs is not None else lhs[-2]
        n_ext = rhs[-2] if op.transpose_rhs is not None else rhs[-1]
        return (*s[:-2], min(s[-2], m_ext), min(s[-1], n_ext))
