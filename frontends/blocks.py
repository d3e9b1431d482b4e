"""Find the stack of identical Transformer blocks in a module, and trace a shorter stack.

    stack = find_block_stack(model)          # e.g. model.transformer.h, 96 identical GPT blocks
    with stack.truncated(4):                 # the module now holds blocks 0..3 only
        small = trace_and_import(model, inputs)

Blocks are "identical" when they have the same classes, parameter and buffer shapes and
dtypes, and the same plain attributes (an attribute equal to the block's own index, such as
Hugging Face's `layer_idx`, may differ); `frontends/stamp.py` then checks the traced IR.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from torch import nn

__all__ = ["BlockStack", "find_block_stack"]

_PLAIN = (int, float, str, bool, type(None), tuple)


@dataclass
class BlockStack:
    """An `nn.ModuleList`/`nn.Sequential` of identical blocks at `path` inside a module."""

    parent: nn.Module
    name: str
    path: str  # fully qualified name of the list ("model.transformer.h")
    blocks: nn.ModuleList | nn.Sequential

    @property
    def count(self) -> int:
        return len(self.blocks)

    @contextmanager
    def truncated(self, keep: int) -> Iterator[None]:
        """Replace the list by its first `keep` blocks (the same objects) while inside."""
        kept = list(self.blocks)[:keep]
        shorter = (
            nn.Sequential(*kept) if isinstance(self.blocks, nn.Sequential) else nn.ModuleList(kept)
        )
        shorter.train(self.blocks.training)
        self.parent._modules[self.name] = shorter
        try:
            yield
        finally:
            self.parent._modules[self.name] = self.blocks


def find_block_stack(module: nn.Module, minimum: int = 2) -> BlockStack | None:
    """The longest list of at least `minimum` identical blocks in `module`, or None."""
    best: BlockStack | None = None
    for path, sub in module.named_modules(remove_duplicate=True):
        for name, child in sub._modules.items():
            if not isinstance(child, nn.ModuleList | nn.Sequential) or len(child) < minimum:
                continue
            if best is not None and len(child) <= best.count:
                continue
            if _uniform(child) and not _varies_by_layer(child):
                full = f"{path}.{name}" if path else name
                best = BlockStack(sub, name, full, child)
    return best


def _uniform(blocks: nn.ModuleList | nn.Sequential) -> bool:
    """Whether every block has the fingerprint of the first, once the plain int attributes that
    equal their block's index in every block (`layer_idx`) are set aside."""
    items = list(blocks)
    if any(not isinstance(b, nn.Module) for b in items):
        return False
    prints = [_fingerprint(b) for b in items]
    keys = set(prints[0]) if all(set(p) == set(prints[0]) for p in prints) else None
    if keys is None:
        return False
    index_keys = {
        k
        for k in keys
        if all(type(p[k]) is int and p[k] == i for i, p in enumerate(prints))  # noqa: E721
    }
    first = {k: v for k, v in prints[0].items() if k not in index_keys}
    return all({k: v for k, v in p.items() if k not in index_keys} == first for p in prints)


def _fingerprint(block: nn.Module) -> dict[tuple, object]:
    """Classes, tensor shapes/dtypes and plain attributes of a block and its submodules."""
    out: dict[tuple, object] = {}
    for name, sub in block.named_modules(remove_duplicate=False):
        out[(name, "class")] = type(sub).__qualname__
        if sub._forward_hooks or sub._forward_pre_hooks or sub._backward_hooks:
            out[(name, "hooks")] = id(sub)  # hooks are arbitrary code: never uniform
        for key, value in vars(sub).items():
            if key.startswith("_") or key == "training" or isinstance(value, nn.Module):
                continue
            out[(name, key)] = value if isinstance(value, _PLAIN) else type(value).__qualname__
    for name, p in block.named_parameters(remove_duplicate=False):
        out[(name, "param")] = (tuple(p.shape), p.dtype, p.requires_grad)
    for name, b in block.named_buffers(remove_duplicate=False):
        out[(name, "buffer")] = (tuple(b.shape), b.dtype)
    return out


def _varies_by_layer(blocks: nn.ModuleList | nn.Sequential) -> bool:
    """Hugging Face configurations that give layers different kinds (`layer_types`)."""
    for sub in list(blocks)[0].modules():
        types = getattr(getattr(sub, "config", None), "layer_types", None)
        if isinstance(types, list | tuple) and len(set(map(str, types))) > 1:
            return True
    return False
