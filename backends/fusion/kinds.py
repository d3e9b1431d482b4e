"""Which ops a kernel may hold: pointwise, activation, reduction and view ops, by class.

A compiler fuses ops that read and write the same elements (pointwise), ops that reduce a
row into a value (softmax, norms, sums) and the index arithmetic between them (views);
matmuls, attention, gathers and generic ATen calls stay kernels of their own (a GEMM may
take a bias epilogue).

Predicates that look past an op (its producers, how often a value is used) ask the
`Graph` being grouped: an op already inside a kernel is seen as that kernel, as the
`fuse` pass's rewritten IR would show it.
"""

from __future__ import annotations

from typing import Protocol

from xdsl.ir import Operation, SSAValue

from ir import binary_ops as bi
from ir import elementwise_ops as el
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import shape_ops as sh
from ir import sparse_ops as sp
from ir import unary_ops as un
from ir.base import TfmOp
from ir.types import shape

POINTWISE = (
    un.UnaryOp,
    bi.BinaryOp,
    el.WhereOp,
    el.ConvertOp,
    mi.DropoutOp,
    no.GeluBackwardOp,
    no.SiluBackwardOp,
    sp.PruneOp,  # DynaProp's magnitude mask: an epilogue of whatever kernel writes its input
)
ACTIVATIONS = (un.GeluOp, un.SiluOp, un.ReluOp, un.TanhOp, un.SigmoidOp, un.ErfOp)
ACTIVATION_GRADS = (no.GeluBackwardOp, no.SiluBackwardOp)
SOFTMAX = (no.SoftmaxOp, no.SoftmaxBackwardOp)
# ops that reduce rows; inductor fuses them with their pointwise neighbours
REDUCTIONS = (
    mi.ReduceOp,
    no.SoftmaxOp,
    no.SoftmaxBackwardOp,
    no.LogSoftmaxOp,
    no.LogSoftmaxBackwardOp,
    no.LayerNormOp,
    no.LayerNormBackwardOp,
    no.RmsNormOp,
)
DATA_MOVEMENT = (sh.ConcatOp, sh.PadOp)


class Graph(Protocol):
    """What the predicates ask of the block being grouped (`graph.KernelGraph`)."""

    def owner(self, v: SSAValue) -> object:
        """The op (or kernel holding it) that defines `v`; None for a block argument."""
        ...

    def use_count(self, v: SSAValue) -> int:
        """How many ops (a kernel counts once) use `v`."""
        ...


def is_view(op: Operation) -> bool:
    return isinstance(op, TfmOp) and op.IS_VIEW


def is_constant(op: Operation) -> bool:
    """A view with no operands (splat constant, arange): cloned into every kernel using it."""
    return is_view(op) and not op.operands


def pointwise(op: Operation) -> bool:
    return isinstance(op, POINTWISE)


def is_activation(op: Operation) -> bool:
    return isinstance(op, ACTIVATIONS + ACTIVATION_GRADS)


def is_residual_add(g: Graph, op: Operation) -> bool:
    """`x + y` of two same-shaped activations (not a bias or a scalar): a residual branch."""
    if not isinstance(op, bi.AddOp):
        return False
    r = op.result.type
    return all(v.type == r and not _is_broadcast(g, v) for v in (op.lhs, op.rhs))


def _is_broadcast(g: Graph, v: SSAValue) -> bool:
    return isinstance(g.owner(v), sh.BroadcastOp | el.ConstantOp)


def bias_of_matmul(g: Graph, op: Operation) -> la.MatmulOp | None:
    """For `add(matmul(...), bias)` with a 1-D bias over the last dim: the matmul."""
    if not isinstance(op, bi.AddOp):
        return None
    for a, b in ((op.lhs, op.rhs), (op.rhs, op.lhs)):
        src = _through_views(g, a)
        if isinstance(src, la.MatmulOp) and _is_bias(b, op):
            return src
    return None


def _through_views(g: Graph, v: SSAValue) -> object:
    owner = g.owner(v)
    while isinstance(owner, sh.ReshapeOp) and g.use_count(owner.results[0]) == 1:
        owner = g.owner(owner.operands[0])
    return owner


def gemm_bias_group(g: Graph, op: Operation) -> dict[Operation, None] | None:
    """{matmul, reshapes, add} of `add(matmul(...), bias)` when the add is the GEMM's only use
    (in the order found: the add first)."""
    mm = bias_of_matmul(g, op)
    if mm is None or g.use_count(mm.result) != 1:
        return None
    for v in op.operands:
        group: dict[Operation, None] = {op: None}
        owner = g.owner(v)
        while isinstance(owner, sh.ReshapeOp) and g.use_count(owner.results[0]) == 1:
            group[owner] = None
            owner = g.owner(owner.operands[0])
        if owner is mm:
            group[mm] = None
            return group
    return None


def _is_bias(v: SSAValue, add: bi.AddOp) -> bool:
    bias, out = shape(v), shape(add.result)
    return len(bias) == 1 and len(out) > 0 and bias[0] == out[-1]


def activation_kernel(ops: list[Operation]) -> str:
    """Megatron's name for an activation kernel from the ops it holds."""
    names = {type(op) for op in ops}
    if no.GeluBackwardOp in names:
        return "bias_gelu_backward"
    if no.SiluBackwardOp in names:
        return "swiglu_backward"
    if un.GeluOp in names or un.ErfOp in names or (un.TanhOp in names and bi.PowOp in names):
        return "bias_gelu"
    if un.SiluOp in names:
        return "swiglu" if bi.MulOp in names else "bias_silu"
    for cls, name in ((un.ReluOp, "bias_relu"), (un.SigmoidOp, "bias_sigmoid")):
        if cls in names:
            return name
    return "bias_tanh"
