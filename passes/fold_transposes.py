"""fold-transposes: fold a swap of the last two dims into the matmul that consumes it.

    %wt = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<256x64xf32>) -> tensor<64x256xf32>
    %y = tfm.matmul %x, %wt : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>

becomes

    %y = tfm.matmul %x, %w {transpose_rhs} : (tensor<32x64xf32>, tensor<256x64xf32>) -> tensor<32x256xf32>

so the cost model sees one GEMM with a transposed operand, as cuBLAS runs it. Permutes left
without uses are removed (xDSL's `region_dce`: tfm ops are `Pure`).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp, UnitAttr
from xdsl.passes import ModulePass
from xdsl.pattern_rewriter import (
    PatternRewriter,
    PatternRewriteWalker,
    RewritePattern,
    op_type_rewrite_pattern,
)
from xdsl.transforms.dead_code_elimination import region_dce

from ir.linalg_ops import MatmulOp
from ir.shape_ops import PermuteOp


def _swaps_last_two(op: PermuteOp) -> bool:
    perm = list(op.permutation)
    n = len(perm)
    return n >= 2 and perm == [*range(n - 2), n - 1, n - 2]


class FoldTransposeIntoMatmul(RewritePattern):
    @op_type_rewrite_pattern
    def match_and_rewrite(self, op: MatmulOp, rewriter: PatternRewriter) -> None:
        operands = [op.lhs, op.rhs]
        flags = [op.transpose_lhs is not None, op.transpose_rhs is not None]
        changed = False
        for i, v in enumerate(operands):
            src = v.owner
            if isinstance(src, PermuteOp) and _swaps_last_two(src):
                operands[i], flags[i], changed = src.input, not flags[i], True
        if not changed:
            return
        props = {
            name: UnitAttr()
            for name, on in zip(("transpose_lhs", "transpose_rhs"), flags, strict=True)
            if on
        }
        new = MatmulOp.create(
            operands=operands,
            result_types=[op.result.type],
            properties=props,
            attributes=dict(op.attributes),
        )
        rewriter.replace(op, new)


@dataclass(frozen=True)
class FoldTransposes(ModulePass):
    """Fold last-two-dim permutes into `tfm.matmul` transpose flags. No options."""

    name = "fold-transposes"

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        PatternRewriteWalker(FoldTransposeIntoMatmul()).rewrite_module(op)
        region_dce(op.body)
