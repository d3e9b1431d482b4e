"""The kernel rules: each finds an anchor op, grows its group and makes it one kernel.

Megatron-LM's kernels (presets `fused` and `flash`):

    ActivationKernel   bias + GELU (tanh or erf, decomposed or not), SwiGLU, ReLU: bias_gelu ...
    SoftmaxKernel      scale + mask + softmax (+ dropout): scale_mask_softmax
    NormKernel         a decomposed RMSNorm / LayerNorm (mean, rsqrt, scale): rms_norm
    NormOpKernel       a layer_norm / rms_norm op (and layer_norm_backward): its own kernel
    RopeKernel         rotary embedding (x * cos + rotate_half(x) * sin): rope
    ResidualKernel     bias + dropout + residual add: bias_dropout_add
    BackwardKernel     the backward of each of those (and of softmax, GELU, SiLU ops)
    GemmBiasKernel     a GEMM with its bias add as epilogue (cuBLASLt): gemm_bias
    PruneEpilogue      a DynaProp `tfm.prune` left alone joins the kernel writing its input
                       (a GEMM's epilogue: gemm_prune; a lone add or sum: pointwise or
                       reduction; any other kernel keeps its name)

torch.compile-style (preset `inductor`): InductorKernel fuses any connected pointwise and
reduction ops (pointwise / reduction), then GemmBiasKernel and PruneEpilogue. A prune is
pointwise, so most join their neighbours' kernels (bias_gelu, scale_mask_softmax,
bias_dropout_add) before PruneEpilogue runs. How attention runs ("materialised" or "flash")
is the preset's (`backends.fusion.ATTENTION`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

from xdsl.ir import Operation

from backends.fusion.graph import Kernel, KernelGraph
from backends.fusion.kinds import (
    ACTIVATION_GRADS,
    DATA_MOVEMENT,
    REDUCTIONS,
    activation_kernel,
    bias_of_matmul,
    gemm_bias_group,
    is_activation,
    is_residual_add,
    is_view,
    pointwise,
)
from ir import attrs
from ir import binary_ops as bi
from ir import linalg_ops as la
from ir import misc_ops as mi
from ir import norm_ops as no
from ir import shape_ops as sh
from ir import unary_ops as un
from ir.fused_ops import FusedOp
from ir.sparse_ops import PruneOp

# The forward kernel a backward group differentiates, most specific first.
BACKWARD_OF = (
    "bias_gelu",
    "swiglu",
    "bias_silu",
    "bias_relu",
    "rms_norm",
    "layer_norm",
    "scale_mask_softmax",
    "rope",
    "bias_dropout_add",
)


class Rule:
    """Anchor -> group -> kernel. Subclasses say what anchors a kernel and what it may hold."""

    def __init__(self, graph: KernelGraph) -> None:
        self.g = graph

    def anchor(self, op: Operation) -> bool:
        raise NotImplementedError

    def member(self, op: object) -> bool:
        raise NotImplementedError

    def member_for(self, anchor: Operation) -> Callable[[object], bool]:
        """What the group grown from `anchor` may hold (default: `member`)."""
        return self.member

    def name(self, group: list[Operation]) -> str | None:
        """The kernel's name, or None to leave the group unfused."""
        raise NotImplementedError

    def apply(self, op: Operation) -> bool:
        """Make the kernel anchored at `op`, if any; whether one was made."""
        if isinstance(op, FusedOp) or not self.anchor(op):
            return False
        group = self.g.grow(op, self.member_for(op))
        name = self.name(sorted(group, key=self.g.pos.__getitem__))
        if name is None:
            return False
        self.g.collapse(group, name)
        return True


def _forward(op: Operation) -> bool:
    return attrs.phase_of(op) == attrs.FORWARD


def _pointwise_or_view(exclude: Callable[[Operation], bool]) -> Callable[[object], bool]:
    def member(op: object) -> bool:
        return isinstance(op, Operation) and (pointwise(op) or is_view(op)) and not exclude(op)

    return member


class ActivationKernel(Rule):
    """bias + activation (+ gating) in one elementwise kernel, up to the GEMMs around it."""

    def anchor(self, op: Operation) -> bool:
        return _forward(op) and is_activation(op)

    def member(self, op: object) -> bool:
        return _pointwise_or_view(lambda o: isinstance(o, mi.DropoutOp))(op)

    def name(self, group: list[Operation]) -> str | None:
        return activation_kernel(group)


class SoftmaxKernel(Rule):
    """Megatron's FusedScaleMaskSoftmax: the scale, the mask, softmax and its dropout."""

    def anchor(self, op: Operation) -> bool:
        return _forward(op) and isinstance(op, no.SoftmaxOp)

    def member(self, op: object) -> bool:
        return isinstance(op, no.SoftmaxOp) or _pointwise_or_view(is_activation)(op)

    def name(self, group: list[Operation]) -> str | None:
        return "scale_mask_softmax"


class NormKernel(Rule):
    """A normalisation written as ops (mean of squares, rsqrt, scale): one kernel."""

    def anchor(self, op: Operation) -> bool:
        return _forward(op) and isinstance(op, un.RsqrtOp)

    def member(self, op: object) -> bool:
        if isinstance(op, mi.ReduceOp):
            return True
        return _pointwise_or_view(
            lambda o: is_activation(o) or isinstance(o, mi.DropoutOp) or is_residual_add(self.g, o)
        )(op)

    def name(self, group: list[Operation]) -> str | None:
        if not any(isinstance(op, mi.ReduceOp) for op in group):
            return None
        return "layer_norm" if any(isinstance(op, bi.SubOp) for op in group) else "rms_norm"


class NormOpKernel(Rule):
    """A layer/RMS norm op (or its backward) is one kernel of its own (apex / TE)."""

    NAMES: ClassVar[dict[type, str]] = {
        no.LayerNormOp: "layer_norm",
        no.RmsNormOp: "rms_norm",
        no.LayerNormBackwardOp: "layer_norm_backward",
    }

    def anchor(self, op: Operation) -> bool:
        return type(op) in self.NAMES

    def member(self, op: object) -> bool:
        return False

    def name(self, group: list[Operation]) -> str | None:
        return self.NAMES[type(group[0])]


class RopeKernel(Rule):
    """Rotary embedding: x * cos + concat(-x2, x1) * sin, one kernel per tensor."""

    def anchor(self, op: Operation) -> bool:
        return _forward(op) and isinstance(op, un.NegOp)

    def member(self, op: object) -> bool:
        return isinstance(op, sh.ConcatOp) or _pointwise_or_view(is_activation)(op)

    def name(self, group: list[Operation]) -> str | None:
        return "rope" if any(isinstance(op, sh.ConcatOp) for op in group) else None


class ResidualKernel(Rule):
    """bias + dropout + residual add (Megatron's bias_dropout_add)."""

    def anchor(self, op: Operation) -> bool:
        return _forward(op) and (isinstance(op, mi.DropoutOp) or is_residual_add(self.g, op))

    def member(self, op: object) -> bool:
        return _pointwise_or_view(is_activation)(op)

    def name(self, group: list[Operation]) -> str | None:
        return "bias_dropout_add"


class BackwardKernel(Rule):
    """The backward of a fused kernel: pointwise gradient ops that read its saved outputs."""

    def anchor(self, op: Operation) -> bool:
        if _forward(op):
            return False
        if isinstance(op, ACTIVATION_GRADS + (no.SoftmaxBackwardOp,)):
            return True
        return pointwise(op) and self.forward_kernel(op) is not None

    def member(self, op: object) -> bool:
        return isinstance(op, no.SoftmaxBackwardOp) or _pointwise_or_view(lambda o: False)(op)

    def member_for(self, anchor: Operation) -> Callable[[object], bool]:
        """A norm's backward also holds its reductions (dx needs row sums, dw column sums)."""
        if self.forward_kernel(anchor) in ("rms_norm", "layer_norm"):
            return lambda op: isinstance(op, mi.ReduceOp) or self.member(op)
        return self.member

    def name(self, group: list[Operation]) -> str | None:
        if any(isinstance(op, ACTIVATION_GRADS) for op in group):
            return activation_kernel(group)
        if any(isinstance(op, no.SoftmaxBackwardOp) for op in group):
            return "scale_mask_softmax_backward"
        names = {self.forward_kernel(op) for op in group}
        best = next((n for n in BACKWARD_OF if n in names), None)
        return None if best is None else f"{best}_backward"

    def forward_kernel(self, op: Operation) -> str | None:
        """The name of a forward kernel (not a GEMM) whose output `op` reads, if any."""
        for v in op.operands:
            owner = self.g.owner(v)
            if isinstance(owner, Kernel) and owner.forward and owner.name in BACKWARD_OF:
                return owner.name
        return None


class GemmBiasKernel(Rule):
    """`matmul` then `add bias`: the bias is added in the GEMM's epilogue (cuBLASLt)."""

    def apply(self, op: Operation) -> bool:
        group = gemm_bias_group(self.g, op)
        if group is None or not all(o in self.g.pos for o in group):
            return False
        if not self.g.convex(group):
            return False
        self.g.collapse(group, "gemm_bias")
        return True


class PruneEpilogue(Rule):
    """A prune on its own (after a GEMM, a norm kernel, or views of one) is applied by the
    kernel that writes its input, as it stores the result: no kernel, no extra traffic."""

    def apply(self, op: Operation) -> bool:
        if not isinstance(op, PruneOp) or op not in self.g.pos:
            return False
        group: list[Operation] = [op]
        owner = self.g.owner(op.input)
        # views in between join too (a view other ops also read is written out as well)
        while isinstance(owner, Operation) and is_view(owner) and len(owner.operands) == 1:
            group.append(owner)
            owner = self.g.owner(owner.operands[0])
        name = _epilogue_of(owner)
        if name is None or owner is None:
            return False
        if not self.g.compatible(owner, attrs.phase_of(op), attrs.layer_of(op)):
            return False
        if not self.g.convex([owner, *group]):
            return False
        if isinstance(owner, Kernel):
            self.g.extend(owner, group)
        else:
            self.g.collapse([owner, *group], name)
        return True


def _epilogue_of(owner: object) -> str | None:
    """The kernel a prune of `owner`'s result joins: a kernel keeps its name."""
    if isinstance(owner, Kernel):
        return owner.name
    if isinstance(owner, la.MatmulOp):
        return "gemm_prune"
    if isinstance(owner, mi.ReduceOp):
        return "reduction"  # a gradient summed over a head group (grouped-query attention)
    if isinstance(owner, Operation) and pointwise(owner):
        return "pointwise"  # a gradient accumulated over two branches
    return None


class InductorKernel(Rule):
    """torch.compile-style: any connected pointwise and reduction ops (and concat/pad)."""

    def anchor(self, op: Operation) -> bool:
        return self.member(op) and not is_view(op)

    def member(self, op: object) -> bool:
        return isinstance(op, Operation) and (
            pointwise(op) or is_view(op) or isinstance(op, REDUCTIONS + DATA_MOVEMENT)
        )

    def name(self, group: list[Operation]) -> str | None:
        work = [op for op in group if not is_view(op)]
        if len(work) == 1 and bias_of_matmul(self.g, work[0]) is not None:
            return None  # a lone bias add: the GEMM's epilogue
        return "reduction" if any(isinstance(op, REDUCTIONS) for op in work) else "pointwise"
