"""Where DynaProp prunes in the IR: projections, attention ops and their backward consumers.

The rules mirror the PyTorch runtime (`frontends.dynaprop`), written on tfm ops:

* a projection is a forward `tfm.matmul` with a parameter operand (through views) named
  inside a numbered block; its site value is the matmul result, or the bias add after it;
* tags flow in program order: `ctx` from a `tfm.attention` result through views, `act` from
  an activation (gelu, silu, relu, tanh, sigmoid) through views and elementwise arithmetic;
* a projection reading `ctx` is out_proj, reading `act` is ffn_out, after its layer's
  out_proj otherwise ffn_in, else qkv_proj (feeds attention: no site of its own).

In a training graph each projection also knows the backward ops that consume the gradient of
its output (dX = dY W^T, dW = X^T dY, db = sum dY) and the matmul that computes dW:

    %dx = tfm.matmul %dy, %wt {phase = "backward"}      # uses the weight: dX, operand 0 is dY
    %dw = tfm.matmul %xt, %dy {phase = "backward"}      # returned as tfm.grad_of the weight
    %db = tfm.reduce %dy {kind = #tfm<reduce_kind sum>} # returned as tfm.grad_of the bias
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, StringAttr
from xdsl.ir import BlockArgument, Operation, SSAValue

from ir import attrs
from ir import binary_ops as bi
from ir import unary_ops as un
from ir.base import TfmOp
from ir.elementwise_ops import ConvertOp, WhereOp
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.misc_ops import ReduceOp
from ir.shape_ops import BroadcastOp, PadOp, ReshapeOp
from ir.types import numel, shape

ACTIVATIONS = (un.GeluOp, un.SiluOp, un.ReluOp, un.TanhOp, un.SigmoidOp)
# elementwise ops an `act` tag survives (the runtime's list, by op)
ELEMENTWISE = (
    bi.AddOp,
    bi.SubOp,
    bi.MulOp,
    bi.DivOp,
    bi.PowOp,
    un.ExpOp,
    un.ErfOp,
    un.SqrtOp,
    un.AbsOp,
    un.NegOp,
    WhereOp,
)


def is_view(op: object) -> bool:
    """A one-operand view (reshape, permute, broadcast, slice) or a dtype conversion."""
    return (
        isinstance(op, TfmOp) and op.IS_VIEW and len(op.operands) == 1 or isinstance(op, ConvertOp)
    )


def view_root(v: SSAValue) -> SSAValue:
    """The value `v` is a view of (through reshape, permute, broadcast, slice, convert)."""
    while isinstance(v.owner, Operation) and is_view(v.owner):
        v = v.owner.operands[0]
    return v


def is_backward(v: SSAValue) -> bool:
    """Whether the data of `v` is computed in the backward pass (views do not count)."""
    root = view_root(v)
    return isinstance(root.owner, Operation) and attrs.phase_of(root.owner) == attrs.BACKWARD


def _label(entries, key: str) -> str | None:
    if not isinstance(entries, DictionaryAttr) or key not in entries.data:
        return None
    value = entries.data[key]
    return value.data if isinstance(value, StringAttr) else None


@dataclass
class Projection:
    """A block's weight matmul and what DynaProp needs to know about it."""

    matmul: MatmulOp
    weight: str  # parameter name
    weight_arg: BlockArgument
    layer: int
    role: str = "qkv_proj"
    output: SSAValue | None = None  # the site value: matmul result or the bias add
    bias: str | None = None
    # training: (op, operand index) of each backward use of the output's gradient
    grad_uses: list[tuple[Operation, int]] = field(default_factory=list)
    dw: MatmulOp | None = None


@dataclass
class Sites:
    projections: list[Projection]
    attention: list[AttentionOp]
    backward_of: dict[AttentionOp, AttentionBackwardOp]


class Analysis:
    """The projections and attention ops of one function, classified (see module doc)."""

    def __init__(self, fn: func.FuncOp) -> None:
        self.fn = fn
        block = fn.body.block
        self.params: dict[SSAValue, str] = {}
        arg_entries = fn.arg_attrs.data if fn.arg_attrs is not None else []
        for a, entries in zip(block.args, arg_entries, strict=False):
            name = _label(entries, attrs.PARAM)
            if name is not None:
                self.params[a] = name
        self.grads: dict[str, SSAValue] = {}
        ret = block.last_op
        res_entries = fn.res_attrs.data if fn.res_attrs is not None else []
        if isinstance(ret, func.ReturnOp):
            for v, entries in zip(ret.operands, res_entries, strict=False):
                name = _label(entries, attrs.GRAD_OF)
                if name is not None:
                    self.grads[name] = v

    def param(self, v: SSAValue) -> str | None:
        return self.params.get(view_root(v))

    def run(self) -> Sites:
        tags: dict[SSAValue, str] = {}
        seen_out: set[int] = set()
        projections: list[Projection] = []
        attention: list[AttentionOp] = []
        backward_of: dict[AttentionOp, AttentionBackwardOp] = {}
        for op in self.fn.body.block.ops:
            if attrs.phase_of(op) == attrs.BACKWARD:
                if isinstance(op, AttentionBackwardOp) and isinstance(op.out.owner, AttentionOp):
                    backward_of[op.out.owner] = op
                continue
            if isinstance(op, AttentionOp):
                attention.append(op)
                tags[op.result] = "ctx"
            elif is_view(op) or isinstance(op, PadOp):  # pad-shapes' zero padding keeps tags
                if op.operands[0] in tags:
                    tags[op.results[0]] = tags[op.operands[0]]
            elif isinstance(op, ACTIVATIONS):
                tags[op.results[0]] = "act"
            elif isinstance(op, ELEMENTWISE):
                if any(tags.get(v) == "act" for v in op.operands):
                    tags[op.results[0]] = "act"
            elif isinstance(op, MatmulOp):
                p = self.projection(op)
                if p is None:
                    continue
                x = op.rhs if p.weight_arg is view_root(op.lhs) else op.lhs
                tag = tags.get(x)
                if tag == "ctx":
                    p.role = "out_proj"
                    seen_out.add(p.layer)
                elif tag == "act":
                    p.role = "ffn_out"
                elif p.layer in seen_out:
                    p.role = "ffn_in"
                projections.append(p)
        for p in projections:
            self.backward_uses(p)
        return Sites(projections, attention, backward_of)

    def projection(self, op: MatmulOp) -> Projection | None:
        for operand in (op.rhs, op.lhs):
            name = self.param(operand)
            layer = attrs.layer_of_name(name) if name is not None else None
            if name is None or layer is None:
                continue
            arg = view_root(operand)
            assert isinstance(arg, BlockArgument)
            p = Projection(op, name, arg, layer, output=op.result)
            value = op.result
            while len(list(value.uses)) == 1 and is_view(next(iter(value.uses)).operation):
                value = next(iter(value.uses)).operation.results[0]  # pad-shapes' slice
            uses = list(value.uses)
            if len(uses) == 1 and isinstance(uses[0].operation, bi.AddOp):
                add = uses[0].operation
                other = add.operands[1 - uses[0].index]
                bias = self.param(other)
                if bias is not None:
                    p.output, p.bias = add.results[0], bias
            return p
        return None

    def backward_uses(self, p: Projection) -> None:
        """The backward ops reading the gradient of `p.output`, and the dW matmul."""
        for use in p.weight_arg.uses:
            self._dx_uses(p, use.operation)
        dw = self._producer(self.grads.get(p.weight), MatmulOp)
        if isinstance(dw, MatmulOp):
            p.dw = dw
            for i, v in enumerate(dw.operands):
                if is_backward(v):
                    p.grad_uses.append((dw, i))
        if p.bias is not None:
            db = self._producer(self.grads.get(p.bias), ReduceOp)
            if isinstance(db, ReduceOp):
                p.grad_uses.append((db, 0))

    def _dx_uses(self, p: Projection, op: Operation) -> None:
        """Follow the weight through views to backward matmuls: their other operand is dY."""
        if is_view(op):
            for use in op.results[0].uses:
                self._dx_uses(p, use.operation)
            return
        if not isinstance(op, MatmulOp) or attrs.phase_of(op) != attrs.BACKWARD:
            return
        for i, v in enumerate(op.operands):
            if view_root(v) is not p.weight_arg:
                p.grad_uses.append((op, i))

    @staticmethod
    def _producer(v: SSAValue | None, kind: type) -> Operation | None:
        if v is None:
            return None
        owner = view_root(v).owner
        return owner if isinstance(owner, Operation) and isinstance(owner, kind) else None


def unrepeat(v: SSAValue) -> tuple[SSAValue, ReshapeOp | None]:
    """For a key/value repeated over query groups (grouped-query attention),

        %r = tfm.reshape %k (B, Hkv, S, D) -> (B, Hkv, 1, S, D)
        %b = tfm.broadcast %r -> (B, Hkv, g, S, D)
        %v = tfm.reshape %b -> (B, Hkv * g, S, D)

    the unrepeated %k and the first reshape; else (`v`, None)."""
    last = v.owner
    if not isinstance(last, ReshapeOp) or not isinstance(last.input.owner, BroadcastOp):
        return v, None
    first = last.input.owner.input.owner
    if not isinstance(first, ReshapeOp):
        return v, None
    src, mid, out = shape(first.input), shape(first.result), shape(v)
    if len(src) != 4 or len(out) != 4 or mid != (*src[:2], 1, *src[2:]):
        return v, None
    return first.input, first


def folded_gradient(grad: SSAValue, like: SSAValue) -> SSAValue | None:
    """The sum over query groups of a repeated key/value's gradient: a `tfm.reduce` (sum)
    reached from `grad` through views with as many elements as `like` (keepdim or not)."""
    for use in grad.uses:
        op = use.operation
        if isinstance(op, ReduceOp) and numel(op.result) == numel(like):
            return op.result
        if is_view(op):
            found = folded_gradient(op.results[0], like)
            if found is not None:
                return found
    return None
