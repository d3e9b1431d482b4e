"""fuse: group ops into the kernels a real training stack runs, forward and backward.

    %s = tfm.add %h, %bias {layer = 0 : i64} : (tensor<8192x3072xf16>, tensor<3072xf16>) -> tensor<8192x3072xf16>
    %g = tfm.gelu %s {layer = 0 : i64, approximate = #tfm<approximate tanh>} : ...

becomes one kernel (`tfm.fused`, see ir/fused_ops.py)

    %g = tfm.fused {layer = 0 : i64, kernel = "bias_gelu"} (%x = %h : tensor<8192x3072xf16>, %b = %bias : tensor<3072xf16>) -> tensor<8192x3072xf16> {
      %s = tfm.add %x, %b : ...
      %g = tfm.gelu %s {approximate = #tfm<approximate tanh>} : ...
      tfm.yield %g : tensor<8192x3072xf16>
    }

Presets (option `kernels`):
  eager     no fusion: every op is a kernel, attention ops run as one kernel (SDPA).
  fused     Megatron-LM's kernels: bias+GELU (or SwiGLU), scale+mask+softmax,
            bias+dropout+add, decomposed norms as one kernel, rotary embedding, GEMM bias
            epilogues, and the backward of each; attention scores materialised
            (`kernel = "materialised"` on attention ops: QK^T GEMM, fused softmax, PV GEMM).
  flash     `fused` with FlashAttention forward and backward (`kernel = "flash"`).
  inductor  torch.compile-style: any connected pointwise and reduction ops in one kernel,
            GEMM bias epilogues, flash attention.

The module records the preset (`fuse.kernels = "flash"`). Fusion keeps the model's meaning
(`tandem verify -p 'fuse{kernels=fused}'`) and its FLOPs; it runs once per module.
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    GreedyRewritePatternApplier,
    PatternRewriteWalker,
    RewritePattern,
)
from xdsl.transforms.dead_code_elimination import region_dce

from ir import attrs
from ir.errors import PassError
from passes.fuse.patterns import (
    ActivationKernel,
    AttentionKernel,
    BackwardKernel,
    Fusions,
    GemmBiasKernel,
    InductorKernel,
    NormKernel,
    NormOpKernel,
    PruneEpilogue,
    ResidualKernel,
    RopeKernel,
    SoftmaxKernel,
)

PRESETS = ("eager", "fused", "flash", "inductor")


def stages(kernels: str) -> list[list[RewritePattern]]:
    """The pattern sets of a preset, applied one walk after another (earlier ones win)."""
    if kernels == "eager":
        return []
    f = Fusions()
    if kernels == "inductor":
        return [
            [AttentionKernel(attrs.FLASH)],
            [InductorKernel(f)],
            [GemmBiasKernel(f)],
            [PruneEpilogue(f)],
        ]
    attention = attrs.FLASH if kernels == "flash" else attrs.MATERIALISED
    return [
        [ActivationKernel(f), SoftmaxKernel(f), NormKernel(f), NormOpKernel(f), RopeKernel(f)],
        [ResidualKernel(f)],
        [BackwardKernel(f)],
        [GemmBiasKernel(f)],
        [PruneEpilogue(f)],
        [AttentionKernel(attention)],
    ]


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
        for patterns in stages(kernels):
            PatternRewriteWalker(
                GreedyRewritePatternApplier(patterns), apply_recursively=False
            ).rewrite_module(op)
        region_dce(op.body)
        op.attributes[attrs.FUSE_KERNELS] = StringAttr(kernels)


__all__ = ["PRESETS", "Fuse", "check_kernels"]
