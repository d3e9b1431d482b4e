"""Which ops of a block run as one GPU kernel under a fusion preset (analysis, no rewrite).

    plan = plan_kernels(block, "fused")
    plan.kernels[0].name, plan.kernels[0].ops      # "layer_norm", [%ln]
    plan.attention                                  # "materialised"

Presets:
  eager     no fusion: every op is a kernel, attention ops run as one kernel (SDPA).
  fused     Megatron-LM's kernels: bias+GELU (or SwiGLU), scale+mask+softmax,
            bias+dropout+add, decomposed norms as one kernel, rotary embedding, GEMM bias
            epilogues, and the backward of each; attention scores materialised (QK^T GEMM,
            fused softmax, PV GEMM).
  flash     `fused` with FlashAttention forward and backward.
  inductor  torch.compile-style: any connected pointwise and reduction ops in one kernel,
            GEMM bias epilogues, flash attention.

In every preset but eager a DynaProp prune left alone joins the kernel writing its input
(`rules.PruneEpilogue`, the last rule set).

The rule sets of a preset run one sweep over the block after another (earlier ones win;
`rules.py`); each sweep visits the ops in order, drops the trivially dead ones and tries
the rules on the others. The `fuse` pass rewrites a block from this plan
(`passes/fuse`); the planner costs a layer's kernels from it
(`backends/placement/kernels.py`), so both see the same kernels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.ir import Block, Operation

from backends.fusion.graph import Kernel, KernelGraph
from backends.fusion.rules import (
    ActivationKernel,
    BackwardKernel,
    GemmBiasKernel,
    InductorKernel,
    NormKernel,
    NormOpKernel,
    PruneEpilogue,
    ResidualKernel,
    RopeKernel,
    Rule,
    SoftmaxKernel,
)
from ir import attrs

PRESETS = ("eager", "fused", "flash", "inductor")
# how attention ops run under each preset (their `kernel` attribute); None: the op's own
ATTENTION: dict[str, str | None] = {
    "eager": None,
    "fused": attrs.MATERIALISED,
    "flash": attrs.FLASH,
    "inductor": attrs.FLASH,
}


@dataclass
class KernelPlan:
    """The kernels of one block under a preset, in the order they were formed."""

    preset: str
    kernels: list[Kernel]
    dead: set[Operation]  # ops dropped as trivially dead (and the ops of dead kernels)
    attention: str | None
    kernel_of: dict[Operation, Kernel] = field(default_factory=dict)
    steps: list[tuple[str, Kernel | Operation]] = field(
        default_factory=list
    )  # what the pass replays


def stages(preset: str) -> list[list[type[Rule]]]:
    """The rule sets of a preset, one sweep each (an empty set only drops dead ops)."""
    if preset == "eager":
        return []
    if preset == "inductor":
        return [[], [InductorKernel], [GemmBiasKernel], [PruneEpilogue]]
    return [
        [ActivationKernel, SoftmaxKernel, NormKernel, NormOpKernel, RopeKernel],
        [ResidualKernel],
        [BackwardKernel],
        [GemmBiasKernel],
        [PruneEpilogue],
        [],
    ]


def plan_kernels(block: Block, preset: str) -> KernelPlan:
    """The kernels `block`'s ops run as under `preset` (see the module docstring)."""
    g = KernelGraph(block)
    for classes in stages(preset):
        rules = [cls(g) for cls in classes]
        for node in g.order():
            if node not in g.pos:
                continue  # fused or dropped earlier in this sweep
            if g.is_dead(node):
                g.erase(node)
                continue
            if isinstance(node, Kernel):
                continue
            for rule in rules:
                if rule.apply(node):
                    break
    dead = set(g.dead) | {op for k in g.dead_kernels for op in k.ops}
    kernels = [k for k in g.kernels if k not in g.dead_kernels]
    return KernelPlan(preset, kernels, dead, ATTENTION[preset], dict(g.kernel_of), g.steps)


__all__ = ["ATTENTION", "PRESETS", "Kernel", "KernelPlan", "plan_kernels", "stages"]
