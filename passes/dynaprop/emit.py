"""A small op builder for the dynaprop pass: new ops go before an anchor op and carry the
anchor's `layer` and `phase`, so every inserted op belongs to the block it serves.

    e = Emitter(attention_op)
    s = e.matmul(q, k, transpose_rhs=True)
    p = e.prune(s, 0.06, "scores")
"""

from __future__ import annotations

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, f64, i64
from xdsl.ir import Block, Operation, SSAValue

from ir import attrs
from ir import binary_ops as bi
from ir import linalg_ops as la
from ir import shape_ops as sh
from ir.elementwise_ops import ArangeOp, ConstantOp, WhereOp
from ir.misc_ops import ReduceOp
from ir.norm_ops import SoftmaxBackwardOp, SoftmaxOp
from ir.sparse_ops import PruneOp
from ir.types import broadcast_shapes, dtype, shape, tensor


class Emitter:
    """Inserts ops before `anchor` (or after `after`), copying its layer and phase."""

    def __init__(self, anchor: Operation, *, after: bool = False) -> None:
        self.anchor = anchor
        self.after = after
        self.layer = attrs.layer_of(anchor)
        self.phase = attrs.phase_of(anchor)

    def put(self, op: Operation) -> SSAValue:
        attrs.set_layer(op, self.layer)
        if self.phase == attrs.BACKWARD:
            op.attributes[attrs.PHASE] = StringAttr(attrs.BACKWARD)
        block = self.anchor.parent
        assert isinstance(block, Block)
        if self.after:
            block.insert_op_after(op, self.anchor)
            self.anchor = op
        else:
            block.insert_op_before(op, self.anchor)
        return op.results[0]

    def prune(self, x: SSAValue, tau: float, site: str) -> SSAValue:
        op = PruneOp(x, tau)
        op.attributes[attrs.DYNAPROP_SITE] = StringAttr(site)
        return self.put(op)

    def const(self, value: float, like: SSAValue) -> SSAValue:
        return self.put(ConstantOp(FloatAttr(float(value), f64), tensor((), dtype(like))))

    def matmul(
        self, a: SSAValue, b: SSAValue, *, transpose_lhs: bool = False, transpose_rhs: bool = False
    ) -> SSAValue:
        batch, m, n, _, _ = la.matmul_dims(shape(a), shape(b), transpose_lhs, transpose_rhs)
        assert batch is not None
        out = tensor((*batch, m, n), dtype(a))
        return self.put(la.MatmulOp(a, b, out, transpose_lhs, transpose_rhs))

    def binary(self, kind: type[bi.BinaryOp], a: SSAValue, b: SSAValue) -> SSAValue:
        out = broadcast_shapes(shape(a), shape(b))
        assert out is not None
        dt = "i1" if kind.COMPARES else dtype(a)
        return self.put(kind(a, b, tensor(out, dt)))

    def scale(self, x: SSAValue, factor: float) -> SSAValue:
        return self.binary(bi.MulOp, x, self.const(factor, x))

    def where(self, cond: SSAValue, x: SSAValue, y: SSAValue) -> SSAValue:
        out = broadcast_shapes(shape(cond), shape(x), shape(y))
        assert out is not None
        return self.put(WhereOp(cond, x, y, tensor(out, dtype(x))))

    def softmax(self, x: SSAValue) -> SSAValue:
        return self.put(SoftmaxOp(x, -1))

    def softmax_backward(self, grad: SSAValue, probs: SSAValue) -> SSAValue:
        return self.put(SoftmaxBackwardOp(grad, probs, -1))

    def reshape(self, x: SSAValue, to: tuple[int, ...]) -> SSAValue:
        return self.put(sh.ReshapeOp(x, tensor(to, dtype(x))))

    def broadcast(self, x: SSAValue, to: tuple[int, ...]) -> SSAValue:
        return self.put(sh.BroadcastOp(x, tensor(to, dtype(x))))

    def sum(self, x: SSAValue, dim: int) -> SSAValue:
        out = tuple(d for i, d in enumerate(shape(x)) if i != dim)
        return self.put(ReduceOp(x, "sum", [dim], tensor(out, dtype(x))))

    def arange(self, n: int) -> SSAValue:
        return self.put(ArangeOp(IntegerAttr(0, i64), IntegerAttr(1, i64), tensor((n,), "i64")))
