"""Embedding lookup and its backward -> `tfm.embedding` / `tfm.embedding_backward`:

aten.embedding(%w, %ids)  ->  %e = tfm.embedding %w, %ids : (tensor<256x64xf32>, tensor<2x16xi64>) -> tensor<2x16x64xf32>
"""

from __future__ import annotations

from frontends.aten.generic import generic
from frontends.aten.importer import Importer
from frontends.aten.registry import arg, handles
from ir import misc_ops as misc
from ir.base import int_attr


@handles("aten.embedding.default")
def embedding(imp: Importer, node):
    return imp.op1(
        misc.EmbeddingOp, [imp.value(node.args[0]), imp.value(node.args[1])], imp.out_type()
    )


@handles("aten.embedding_dense_backward.default")
def embedding_backward(imp: Importer, node):
    g, ids = imp.value(node.args[0]), imp.value(node.args[1])
    if arg(node, 4, "scale_grad_by_freq", False):
        return generic(imp, node)
    return imp.op1(
        misc.EmbeddingBackwardOp, [g, ids], imp.out_type(), {"padding_idx": int_attr(node.args[3])}
    )
