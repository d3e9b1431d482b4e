"""The tfm dialect: Transformer ops on value-semantic, statically shaped builtin tensors.

A model is a `func.func` whose arguments are the inputs, parameters and buffers:

    func.func @forward(%ids: tensor<2x16xi64> {tfm.input = "ids"},
                       %wte: tensor<128x64xf32> {tfm.param = "transformer.wte.weight"}) -> ...

Ops carry `layer` (the transformer block they belong to) and `phase` ("forward" or
"backward") as discardable attributes so passes can analyse one layer and reuse it.
"""

from __future__ import annotations

from xdsl.context import Context
from xdsl.dialects import builtin, func
from xdsl.ir import Dialect

import ir.xdsl_fixes  # noqa: F401  (parser fixes, before any parsing)
from ir.binary_ops import BINARY_OPS
from ir.comm_ops import COMM_OPS
from ir.elementwise_ops import ArangeOp, ConstantOp, ConvertOp, WhereOp
from ir.enums import ENUM_ATTRS
from ir.fused_ops import FUSED_OPS
from ir.generic_op import GenericOp, OperandRefAttr
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.misc_ops import (
    CrossEntropyOp,
    DropoutOp,
    EmbeddingBackwardOp,
    EmbeddingOp,
    NllLossBackwardOp,
    NllLossOp,
    ReduceOp,
)
from ir.norm_ops import (
    GeluBackwardOp,
    LayerNormBackwardOp,
    LayerNormOp,
    LogSoftmaxBackwardOp,
    LogSoftmaxOp,
    RmsNormOp,
    SiluBackwardOp,
    SoftmaxBackwardOp,
    SoftmaxOp,
)
from ir.shape_ops import SHAPE_OPS
from ir.sparse_ops import PruneOp
from ir.unary_ops import UNARY_OPS

TFM = Dialect(
    "tfm",
    [
        MatmulOp,
        AttentionOp,
        AttentionBackwardOp,
        SoftmaxOp,
        LogSoftmaxOp,
        SoftmaxBackwardOp,
        LogSoftmaxBackwardOp,
        LayerNormOp,
        LayerNormBackwardOp,
        RmsNormOp,
        GeluBackwardOp,
        SiluBackwardOp,
        *UNARY_OPS,
        *BINARY_OPS,
        WhereOp,
        ConvertOp,
        ConstantOp,
        ArangeOp,
        *SHAPE_OPS,
        EmbeddingOp,
        EmbeddingBackwardOp,
        ReduceOp,
        CrossEntropyOp,
        NllLossOp,
        NllLossBackwardOp,
        DropoutOp,
        PruneOp,
        GenericOp,
        *FUSED_OPS,
        *COMM_OPS,
    ],
    [*ENUM_ATTRS, OperandRefAttr],
)


def make_context() -> Context:
    """A context with builtin, func and tfm loaded (unregistered ops are refused)."""
    ctx = Context()
    ctx.load_dialect(builtin.Builtin)
    ctx.load_dialect(func.Func)
    ctx.load_dialect(TFM)
    return ctx
