"""Higher-order ops of torch.export graphs: grad-mode and autocast regions. Their submodule's
graph is inlined: its placeholders take the operands' values and its nodes are translated
in place, so the region leaves no trace in the IR.
"""

from __future__ import annotations

import torch

from frontends.aten.importer import Importer
from frontends.aten.registry import handles


@handles("wrap_with_set_grad_enabled", "wrap_with_autocast")
def inline_submodule(imp: Importer, node):
    """Inline the submodule a higher-order op wraps (grad-mode and autocast regions)."""
    first = 1 if str(node.target) == "wrap_with_set_grad_enabled" else 4
    sub_node = node.args[first]
    sub = getattr(node.graph.owning_module, sub_node.target)
    places = list(sub.graph.find_nodes(op="placeholder"))
    for p, a in zip(places, node.args[first + 1 :], strict=True):
        imp.values[p] = imp.values[a] if isinstance(a, torch.fx.Node) else a
    outer = imp.node
    imp.translate(sub.graph)
    imp.node = outer
    out = next(iter(sub.graph.find_nodes(op="output"))).args[0]
    outs = out if isinstance(out, list | tuple) else (out,)
    return tuple(imp.values.get(o) if isinstance(o, torch.fx.Node) else None for o in outs)
