"""The planner costs a layer with the `fuse` pass's kernels and the simulator's op costs: on
a training step, its kernels are the pass's `tfm.fused` ops and its total kernel time is what
`op_cost` gives the fused IR, under every preset."""

from __future__ import annotations

import pytest

from backends.interpreter import entry
from backends.op_cost import op_cost
from backends.placement.kernels import Kernels
from backends.targets import load_target
from ir.base import TfmOp
from ir.fused_ops import FusedOp
from tandem.pipeline import run_pipeline

A100 = load_target("a100-sxm4-80gb")


@pytest.mark.parametrize("preset", ["eager", "fused", "flash", "inductor"])
@pytest.mark.parametrize("name", ["gpt2-tiny", "llama-tiny"])
def test_planner_kernels_are_the_fuse_pass_kernels(models, name: str, preset: str) -> None:
    ir = models.ir_copy(name, training=True)
    kernels = Kernels(entry(ir).body.block, preset)
    times = kernels.seconds(A100, dropout=False)
    fused = ir.clone()
    run_pipeline(fused, f"fuse{{kernels={preset}}}")
    top = [op for op in entry(fused).body.block.ops if isinstance(op, TfmOp)]
    got = sorted(op.kernel_name for op in top if isinstance(op, FusedOp))
    assert sorted(k.name for k in kernels.plan.kernels) == got
    assert bool(got) == (preset != "eager")
    simulated = sum(op_cost(op, A100).seconds for op in top)
    assert sum(times.of.values()) == pytest.approx(simulated, rel=1e-9)


def test_sustained_speed_and_dropout_only_add_time(models) -> None:
    ir = models.ir_copy("gpt2-tiny", training=True)
    kernels = Kernels(entry(ir).body.block, "fused")
    base = kernels.seconds(A100)
    slow = kernels.seconds(A100, sustained=0.5)
    drop = kernels.seconds(A100, dropout=True)
    assert sum(slow.of.values()) > sum(base.of.values())
    assert sum(drop.of.values()) > sum(base.of.values()) and drop.backward  # attention, residual
    for op, s in base.of.items():
        assert slow.of[op] >= s and drop.of[op] >= s, op.name
