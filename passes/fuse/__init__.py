"""fuse: group ops into the kernels a real training stack runs, forward and backward.

    %s = tfm.add %h, %bias {layer = 0 : i64} : (tensor<8192x3072xf16>, tensor<3072xf16>) -> tensor<8192x3072xf16>
    %g = tfm.gelu %s {layer = 0 : i64, approximate = #tfm<approximate tanh>} : ...

becomes one kernel (`tfm.fused`, see ir/fused_ops.py)

    %g = tfm.fused {layer = 0 : i64, kernel = "bias_gelu"} (%x = %h : tensor<8192x3072xf16>, %b = %bias : tensor<3072xf16>) -> tensor<8192x3072xf16> {
      %s = tfm.add %x, %b : ...
      %g = tfm.gelu %s {approximate = #tfm<approximate tanh>} : ...
      tfm.yield %g : tensor<8192x3072xf16>
    }

Presets (option `kernels`, see `backends.fusion`): eager, fused (Megatron-LM's kernels,
attention materialised), flash (`fused` with FlashAttention), inductor (torch.compile-style).
Which ops become one kernel is the analysis `backends.fusion.plan_kernels` (the planner
costs layers from the same plan); this pass only rewrites each block from it
(`rewrite.Fuser`) and records how attention runs on the attention ops
(`kernel = "materialised"` or `"flash"`).

The module records the preset (`fuse.kernels = "flash"`). Fusion keeps the model's meaning
(`tandem verify -p 'fuse{kernels=fused}'`) and its FLOPs; it runs once per module.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Operation
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import PatternRewriter, PatternRewriteWalker, RewritePattern
from xdsl.transforms.dead_code_elimination import region_dce

from backends.fusion import PRESETS, Kernel, KernelPlan, plan_kernels
from ir import attrs
from ir import linalg_ops as la
from ir.errors import PassError
from ir.fused_ops import FusedOp
from passes.fuse.rewrite import Fuser


class FuseKernels(RewritePattern):
    """Every block of an op with regions (a function body): plan its kernels, fuse them."""

    def __init__(self, kernels: str) -> None:
        self.kernels = kernels

    def match_and_rewrite(self, op: Operation, rewriter: PatternRewriter) -> None:
        if isinstance(op, FusedOp):
            return
        for region in op.regions:
            for block in region.blocks:
                replay(Fuser(block), plan_kernels(block, self.kernels), rewriter)


def replay(fuser: Fuser, plan: KernelPlan, rewriter: PatternRewriter) -> None:
    """Fuse the planned kernels and drop the ops the plan found dead, in the planned order."""
    fused: dict[Kernel, FusedOp] = {}
    for step, node in plan.steps:
        if isinstance(node, Kernel) and step == "fuse" and node.base is not None:
            # a kernel grown by an epilogue (a prune): its ops back in the block, then fused
            base = node.base
            ops = fuser.inline(fused.pop(base), rewriter)
            fused[node] = fuser.fuse([*ops, *node.ops[len(base.ops) :]], node.name, rewriter)
        elif isinstance(node, Kernel) and step == "fuse":
            fused[node] = fuser.fuse(node.ops, node.name, rewriter)
        else:
            rewriter.erase_op(fused.pop(node) if isinstance(node, Kernel) else node)
    if plan.attention is None:
        return
    kind = StringAttr(plan.attention)
    for op in fuser.block.ops:
        if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
            if op.attributes.get(attrs.KERNEL) != kind:
                op.attributes[attrs.KERNEL] = kind
                rewriter.notify_op_modified(op)


def check_kernels(kernels: object) -> str:
    """The preset name, or a PassError naming the choices."""
    if not isinstance(kernels, str) or kernels not in PRESETS:
        raise PassError(f"fuse: kernels must be one of {', '.join(PRESETS)}, got {kernels!r}")
    return kernels


@dataclass(frozen=True)
class Fuse(ModulePass):
    """Fuse ops into kernels; option `kernels` = eager | fused | flash | inductor (default flash)."""

    name = "fuse"

    kernels: str | int | float | bool = "flash"  # any type parses; check_kernels says what fits

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        kernels = check_kernels(self.kernels)
        done = op.attributes.get(attrs.FUSE_KERNELS)
        if isinstance(done, StringAttr):
            if done.data == kernels:
                return
            raise PassError(
                f"fuse: the module was already fused with kernels={done.data}; "
                f"fuse the unfused IR with kernels={kernels} instead"
            )
        PatternRewriteWalker(FuseKernels(kernels), apply_recursively=False).rewrite_module(op)
        region_dce(op.body)
        op.attributes[attrs.FUSE_KERNELS] = StringAttr(kernels)


__all__ = ["PRESETS", "Fuse", "check_kernels"]
