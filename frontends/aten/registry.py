"""The ATen handler table and the decorator that fills it.

    @handles("aten.mm.default", "aten.bmm.default")
    def mm(imp: Importer, node): ...

Keys are `str(node.target)` of fx nodes (`aten.mm.default`, `<built-in function getitem>`).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from frontends.aten.importer import Handler

HANDLERS: dict[str, Handler] = {}


def handles(*targets: str) -> Callable[[Handler], Handler]:
    """Register the decorated function as the handler of `targets`."""

    def register(fn: Handler) -> Handler:
        for t in targets:
            HANDLERS[t] = fn
        return fn

    return register


def arg(node: torch.fx.Node, i: int, name: str, default=None):
    """Argument `name` of an ATen call, passed positionally at `i` or by keyword."""
    if len(node.args) > i:
        return node.args[i]
    return node.kwargs.get(name, default)
