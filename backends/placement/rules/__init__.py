"""Per-op sharding rules: given the new operands (with their layouts), emit the op for one rank.

Each rule brings its operands to layouts the op can compute on (`Sharder.need`: split, gather
or complete a partial sum), emits the op with each rank's shapes and returns its results.
`apply` dispatches on the op class; unknown ops (and `tfm.generic`) run replicated.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from xdsl.ir import Operation, SSAValue

from backends.placement.rules.common import Rule, replicated
from backends.placement.rules.linalg import attention, matmul, norm, reduce, softmax
from backends.placement.rules.tables import embedding, embedding_backward, generic, loss
from backends.placement.rules.views import (
    broadcast,
    concat,
    constant,
    elementwise,
    pad,
    permute,
    reshape,
    slice_,
)
from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import shape_ops as sh_ops
from ir import unary_ops as un
from ir.generic_op import GenericOp

if TYPE_CHECKING:
    from backends.placement.sharding import Sharder


RULES: list[tuple[type | tuple[type, ...], Rule]] = [
    (la.MatmulOp, matmul),
    ((la.AttentionOp, la.AttentionBackwardOp), attention),
    ((no.LayerNormOp, no.LayerNormBackwardOp, no.RmsNormOp), norm),
    ((no.SoftmaxOp, no.LogSoftmaxOp, no.SoftmaxBackwardOp, no.LogSoftmaxBackwardOp), softmax),
    (sh_ops.ReshapeOp, reshape),
    (sh_ops.PermuteOp, permute),
    (sh_ops.BroadcastOp, broadcast),
    (sh_ops.SliceOp, slice_),
    (sh_ops.ConcatOp, concat),
    (sh_ops.PadOp, pad),
    ((el.ConstantOp, el.ArangeOp), constant),
    (
        (
            bi.BinaryOp,
            un.UnaryOp,
            el.WhereOp,
            el.ConvertOp,
            mi.DropoutOp,
            no.GeluBackwardOp,
            no.SiluBackwardOp,
        ),
        elementwise,
    ),
    (mi.ReduceOp, reduce),
    (mi.EmbeddingOp, embedding),
    (mi.EmbeddingBackwardOp, embedding_backward),
    ((mi.NllLossOp, mi.CrossEntropyOp, mi.NllLossBackwardOp), loss),
    (GenericOp, generic),
]


def apply(sh: Sharder, op: Operation, args: list[SSAValue]) -> list[SSAValue]:
    if not args and op.results:
        return constant(sh, op, args)
    for cls, rule in RULES:
        if isinstance(op, cls):
            return rule(sh, op, args)
    return replicated(sh, op, args)
