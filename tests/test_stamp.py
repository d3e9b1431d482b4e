"""Import at scale: a short stack of blocks is traced and the rest stamped into the IR.

The stamped IR must be the IR of the full trace, op for op and name for name, for every zoo
family in inference and training; blocks that are not provably identical fall back to the
full trace (`frontends/blocks.py`, `frontends/stamp.py`).
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

from frontends.blocks import find_block_stack
from frontends.importer import STAMP_TRACED, trace_and_import
from frontends.stamp import NotStampable, stamp
from frontends.user_model import resolve_model
from frontends.zoo import Overrides
from ir import attrs
from ir.io import print_module

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")


@pytest.mark.parametrize("name", TINY)
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_stamped_ir_equals_the_full_trace(name: str, training: bool) -> None:
    layers = 5 if training else 6
    spec = resolve_model(name, Overrides(layers=layers), training=training, device="meta")
    stamped = trace_and_import(spec.module, spec.example_inputs, training=training)
    assert stamped.how.startswith(f"stamped: traced {STAMP_TRACED} of {layers} blocks"), stamped.how
    full = trace_and_import(spec.module, spec.example_inputs, training=training, stamp_blocks=False)
    assert print_module(stamped.ir) == print_module(full.ir)
    layer_attrs = {attrs.layer_of(op) for op in stamped.ir.walk()} - {None}
    assert layer_attrs == set(range(layers))


def test_stamping_the_traced_stack_reproduces_it() -> None:
    """The template, moved back to block 1 and on to block 2, is the traced stack itself."""
    spec = resolve_model("llama-tiny", Overrides(layers=4), training=True, device="meta")
    traced = trace_and_import(spec.module, spec.example_inputs, training=True)
    assert traced.how.startswith("traced (no stack of more than 4")
    again = stamp(traced.ir, "model.model.layers", traced=4, total=4)
    assert print_module(again) == print_module(traced.ir)


def test_meta_tensors_stay_after_a_stamped_import() -> None:
    spec = resolve_model("gpt2-tiny", Overrides(layers=6), training=True, device="meta")
    trace_and_import(spec.module, spec.example_inputs, training=True)
    stack = find_block_stack(spec.module)
    assert stack is not None and stack.count == 6  # the short stack was put back
    assert all(p.is_meta for p in spec.module.parameters())


# ---- blocks that are not identical -------------------------------------------------------------


class Block(nn.Module):
    def __init__(self, index: int, width: int = 8, alternate: bool = False) -> None:
        super().__init__()
        self.index = index  # an attribute equal to the block's index, like HF's layer_idx
        self.alternate = alternate
        self.lin = nn.Linear(width, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.lin(x)
        if self.alternate and self.index % 2:
            y = torch.relu(y)  # every other block differs: only the trace shows it
        return x + y


class Stack(nn.Module):
    def __init__(self, blocks: list[nn.Module], width: int = 8) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.head = nn.Linear(width, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return self.head(x).square().mean()


class Indexing(Stack):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.blocks[5](x)).square().mean()  # needs the sixth block


def _import_both(module: nn.Module, training: bool = True):
    x = torch.randn(2, 8)
    stamped = trace_and_import(module, (x,), training=training)
    full = trace_and_import(module, (x,), training=training, stamp_blocks=False)
    return stamped, full


def test_blocks_differing_in_forward_fall_back_to_the_full_trace() -> None:
    model = Stack([Block(i, alternate=True) for i in range(7)])
    assert find_block_stack(model) is not None  # same modules: only the trace tells
    stamped, full = _import_both(model)
    assert stamped.how.startswith("traced (F blocks 1 and 2 "), stamped.how
    assert print_module(stamped.ir) == print_module(full.ir)
    assert sum(1 for op in stamped.ir.walk() if op.name == "tfm.relu") == 3


def test_blocks_of_different_shapes_are_no_stack() -> None:
    blocks: list[nn.Module] = [Block(i) for i in range(6)] + [Block(6, width=16)]
    assert find_block_stack(Stack(blocks)) is None
    same = [Block(i) for i in range(6)]
    same[3].lin.register_forward_hook(lambda *a: None)  # hooks are arbitrary code
    assert find_block_stack(Stack(same)) is None


def test_a_forward_that_needs_all_blocks_falls_back() -> None:
    stamped, full = _import_both(Indexing([Block(i) for i in range(7)]))
    assert stamped.how.startswith("traced (the short stack does not trace"), stamped.how
    assert print_module(stamped.ir) == print_module(full.ir)


def test_identical_blocks_of_a_plain_module_are_stamped() -> None:
    stamped, full = _import_both(Stack([Block(i) for i in range(9)]), training=False)
    assert stamped.how == "stamped: traced 4 of 9 blocks of blocks"
    assert print_module(stamped.ir) == print_module(full.ir)


def test_stamp_refuses_what_it_cannot_prove() -> None:
    spec = resolve_model("gpt2-tiny", Overrides(layers=4), device="meta")
    traced = trace_and_import(spec.module, spec.example_inputs).ir
    with pytest.raises(NotStampable, match="blocks 1 and 2 differ"):
        stamp(traced, "model.transformer.wte", traced=4, total=9)  # not the block list
    with pytest.raises(NotStampable, match="cannot stamp"):
        stamp(traced, "model.transformer.h", traced=3, total=9)


def test_stamped_ir_computes_what_pytorch_computes() -> None:
    """The reference interpreter runs the stamped training step: loss and every gradient."""
    import tandem.api as tandem

    spec = resolve_model("gpt2-tiny", Overrides(layers=5), training=True)
    report = tandem.verify(spec)
    assert report.ok, report.worst
    assert len(report.comparisons) == 1 + 2 + 12 * 5 + 2  # loss, embeddings, blocks, final norm
