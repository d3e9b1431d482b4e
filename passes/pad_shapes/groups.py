"""Analysis for pad-shapes: the GEMMs of a function, the parameters they touch, and groups.

In a training step a 2-D parameter is read by its forward GEMM and by the backward GEMM
computing dX, and its gradient is the result of the dW GEMM:

    %y  = tfm.matmul %x, %w : (tensor<8192x768xf16>, tensor<768x50257xf16>) -> ...
    %dx = tfm.matmul %dy, %w {transpose_rhs} : (tensor<8192x50257xf16>, tensor<768x50257xf16>) -> ...
    %dw = tfm.matmul %xt, %dy : (tensor<768x8192xf16>, tensor<8192x50257xf16>) -> ...
    func.return ..., %dw : ...   // result attribute {tfm.grad_of = "lm_head.weight"}

The three form one `Group`. Each `GemmUse` records which weight axis its M, N and K are (axis 0,
768, is K of %y, N of %dx and M of %dw; axis 1, 50257, is N, K and N), so the search gives
the weight one padded size per axis. A GEMM on no parameter is a group of its own; a
`tfm.attention` and its `tfm.attention_backward` form an `AttentionGroup`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, StringAttr
from xdsl.ir import BlockArgument, SSAValue

from ir import attrs
from ir.elementwise_ops import ConvertOp
from ir.linalg_ops import AttentionBackwardOp, AttentionBase, AttentionOp, MatmulOp
from ir.shape_ops import PermuteOp
from ir.types import dtype, shape

Shape = tuple[int, ...]


def param_name(arg: BlockArgument) -> str | None:
    """The `tfm.param` name of a function argument (None for inputs)."""
    fn = arg.block.parent_op()
    if not isinstance(fn, func.FuncOp) or fn.arg_attrs is None:
        return None
    entry = fn.arg_attrs.data[arg.index]
    if not isinstance(entry, DictionaryAttr) or attrs.PARAM not in entry.data:
        return None
    name = entry.data[attrs.PARAM]
    return name.data if isinstance(name, StringAttr) else None


def root_of(value: SSAValue) -> tuple[SSAValue, tuple[int, ...]]:
    """Peel permutes and converts: (root value, root dim of each of `value`'s dims)."""
    dims = tuple(range(len(shape(value))))
    while isinstance(value.owner, PermuteOp | ConvertOp):
        op = value.owner
        if isinstance(op, PermuteOp):
            perm = op.permutation
            dims = tuple(perm[d] for d in dims)
        value = op.operands[0]
    return value, dims


def _trace_param(value: SSAValue) -> tuple[BlockArgument, tuple[int, int]] | None:
    """The 2-D parameter a rank-2 operand reads (through permutes/converts) and its axis map."""
    if len(shape(value)) != 2:
        return None
    root, dims = root_of(value)
    if not isinstance(root, BlockArgument) or len(shape(root)) != 2 or param_name(root) is None:
        return None
    return root, (dims[0], dims[1])


def _trace_grad(
    value: SSAValue, params: dict[str, BlockArgument]
) -> tuple[BlockArgument, tuple[int, int], bool] | None:
    """The parameter whose returned gradient `value` becomes (through permutes and adds).

    Returns (param, param axis of each of value's two dims, whether the path is only permutes,
    i.e. whether a padded `value` can be returned as the padded gradient without a copy).
    """
    if len(shape(value)) != 2:
        return None
    dims, direct = (0, 1), True
    while True:
        uses = list(value.uses)
        if len(uses) != 1:
            return None
        user, index = uses[0].operation, uses[0].index
        if isinstance(user, func.ReturnOp):
            fn = user.parent_op()
            if not isinstance(fn, func.FuncOp) or fn.res_attrs is None:
                return None
            entry = fn.res_attrs.data[index]
            label = entry.data.get(attrs.GRAD_OF) if isinstance(entry, DictionaryAttr) else None
            if not isinstance(label, StringAttr) or label.data not in params:
                return None
            return params[label.data], (dims[0], dims[1]), direct
        if isinstance(user, PermuteOp):
            inverse = {p: i for i, p in enumerate(user.permutation)}
            dims = (inverse[dims[0]], inverse[dims[1]])
        elif user.name == "tfm.add" and shape(user.results[0]) == shape(value):
            direct = False
        else:
            return None
        value = user.results[0]


@dataclass
class Operand:
    """One GEMM operand: its shape, the dims padding changes, where a run-time pad would go."""

    shape: Shape
    root: SSAValue
    root_dims: tuple[int, ...]  # root dim of each operand dim
    rooted: bool  # reads the group's parameter: padded at compile time, no copy


@dataclass
class GemmUse:
    """A tfm.matmul and the role a parameter plays in it: the weight axis (or None) of M, N, K."""

    op: MatmulOp
    batch: int
    dims: tuple[int, int, int]  # M, N, K
    dtype: str
    roles: tuple[int | None, int | None, int | None]
    lhs: Operand
    rhs: Operand
    ta: bool
    tb: bool

    def operand_shape(self, which: str, mnk: Sequence[int]) -> Shape:
        """The physical shape of lhs/rhs when the GEMM runs at (M, N, K) = mnk."""
        m, n, k = mnk
        if which == "lhs":
            last = (k, m) if self.ta else (m, k)
            return (*self.lhs.shape[:-2], *last)
        last = (n, k) if self.tb else (k, n)
        return (*self.rhs.shape[:-2], *last)


@dataclass
class Group:
    """GEMMs that share the dims of one parameter (param is None: a single GEMM)."""

    param: BlockArgument | None
    members: list[GemmUse] = field(default_factory=list)
    grad_copy: bool = False  # the gradient reaches the return through an add: padding costs a copy

    @property
    def name(self) -> str:
        if self.param is not None:
            return param_name(self.param) or "param"
        return "matmul"


@dataclass
class AttentionGroup:
    """A tfm.attention and the tfm.attention_backward ops on the same q, k, v."""

    ops: list[AttentionBase]

    @property
    def name(self) -> str:
        return "attention head dim"


def _operand(value: SSAValue, param: BlockArgument | None) -> Operand:
    root, dims = root_of(value)
    return Operand(shape(value), root, dims, param is not None and root is param)


def collect_groups(fn: func.FuncOp) -> tuple[list[Group], list[AttentionGroup]]:
    """The GEMM groups (one per parameter, then one per other GEMM) and attention groups of `fn`."""
    params = {}
    for arg in fn.args:
        name = param_name(arg)
        if name is not None:
            params[name] = arg
    groups: dict[BlockArgument, Group] = {}
    singles: list[Group] = []
    attention: dict[tuple[SSAValue, ...], AttentionGroup] = {}
    for op in fn.body.walk():
        if isinstance(op, AttentionOp | AttentionBackwardOp):
            key = (op.q, op.k, op.v)
            attention.setdefault(key, AttentionGroup([])).ops.append(op)
            continue
        if not isinstance(op, MatmulOp):
            continue
        gemm, param, grad_copy = _gemm_use(op, params)
        if param is None:
            singles.append(Group(None, [gemm]))
            continue
        group = groups.setdefault(param, Group(param))
        group.members.append(gemm)
        group.grad_copy |= grad_copy
    return [*groups.values(), *singles], list(attention.values())


def _gemm_use(
    op: MatmulOp, params: dict[str, BlockArgument]
) -> tuple[GemmUse, BlockArgument | None, bool]:
    """The GemmUse of `op`, the parameter it reads or computes the gradient of, and whether
    that gradient reaches the return through an add."""
    batch_shape, m, n, k = op.dims()
    ta, tb = op.transpose_lhs is not None, op.transpose_rhs is not None
    roles: list[int | None] = [None, None, None]
    param, grad_copy = None, False
    rhs, lhs = _trace_param(op.rhs), _trace_param(op.lhs)
    if rhs is not None:
        param, axes = rhs
        k_axis, n_axis = (axes[1], axes[0]) if tb else (axes[0], axes[1])
        roles[2], roles[1] = k_axis, n_axis
    elif lhs is not None:
        param, axes = lhs
        m_axis, k_axis = (axes[1], axes[0]) if ta else (axes[0], axes[1])
        roles[0], roles[2] = m_axis, k_axis
    elif (grad := _trace_grad(op.result, params)) is not None:
        param, axes, direct = grad
        roles[0], roles[1] = axes
        grad_copy = not direct
    gemm = GemmUse(
        op,
        math.prod(batch_shape),
        (m, n, k),
        dtype(op.result),
        (roles[0], roles[1], roles[2]),
        _operand(op.lhs, param),
        _operand(op.rhs, param),
        ta,
        tb,
    )
    return gemm, param, grad_copy
