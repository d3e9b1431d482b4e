"""The place pass: the sharded training step computes what PyTorch computes, rank by rank.

Tiny GPT-2 and Llama on 2 (tensor) x 2 (pipeline) x 2 (data) ranks, 2 microbatches per
replica: loss and every parameter gradient equal PyTorch's on the whole global batch. The
emulator's collectives, the stage check and a broken placement (a dropped all-reduce) show
that the comparison can fail.
"""

from __future__ import annotations

import pytest
import torch
from xdsl.dialects import func

from backends.placement.emulate import check_stages, emulate
from ir import comm_ops as co
from ir.errors import TandemError

PLACE = "place{gpus=8 global-batch=8 t=2 p=2 d=2 recompute=full sp=off vp=1 zero=off}"


@pytest.mark.parametrize("name", ["gpt2-tiny", "llama-tiny"])
def test_sharded_training_step_equals_pytorch(name: str) -> None:
    import tandem.api as tandem

    report = tandem.verify(tandem.model(name, training=True), pipeline=PLACE)
    assert report.ok, report.worst
    names = {c.name for c in report.comparisons}
    assert "loss" in names and len(names) > 10


def _placed(name: str):
    import tandem.api as tandem
    from frontends.importer import trace_and_import

    spec = tandem.model(name, training=True)
    imported = trace_and_import(spec.module, spec.example_inputs, training=True)
    tandem.run_pipeline(imported.ir, PLACE)
    return spec, imported


def test_a_dropped_all_reduce_is_caught() -> None:
    """Removing one tensor-parallel all-reduce leaves partial sums: the comparison fails."""
    from backends.verify import compare_with_pytorch

    spec, imported = _placed("gpt2-tiny")
    fn = next(op for op in imported.ir.ops if isinstance(op, func.FuncOp))
    victim = next(
        op for op in fn.body.block.ops if isinstance(op, co.AllReduceOp) and op.group_name == "tp"
    )
    victim.result.replace_all_uses_with(victim.input)
    fn.body.block.erase_op(victim)
    report = compare_with_pytorch(
        imported.ir, spec.module, spec.example_inputs, training=True, constants=imported.constants
    )
    assert not report.ok
    assert report.max_rel > 1e-2


def test_a_value_crossing_stages_needs_send_and_recv() -> None:
    _spec, imported = _placed("gpt2-tiny")
    fn = next(op for op in imported.ir.ops if isinstance(op, func.FuncOp))
    check_stages(fn)
    recv = next(op for op in fn.body.block.ops if isinstance(op, co.RecvOp))
    send = recv.input.owner
    assert isinstance(send, co.SendOp)
    recv.result.replace_all_uses_with(send.input)  # read the other stage's value directly
    with pytest.raises(TandemError, match="without a send/recv"):
        check_stages(fn)


def test_collectives_over_ranks() -> None:
    from xdsl.dialects.builtin import TensorType, f32
    from xdsl.ir import Block

    block = Block(arg_types=[TensorType(f32, [2, 6])])
    x = block.args[0]
    parts = [torch.arange(12.0).reshape(2, 6) + 100 * r for r in range(2)]
    reduce = co.AllReduceOp(x, "tp", 2)
    assert torch.equal(reduce.collective(parts)[1], parts[0] + parts[1])
    gather = co.AllGatherOp(x, "tp", 2, 1, 3, TensorType(f32, [2, 12]))
    whole = gather.collective(parts)[0]
    # 3 blocks: each rank held a third of every block
    assert torch.equal(co.chunks(whole, 1, 2, 3)[1], parts[1])
    scatter = co.ReduceScatterOp(x, "tp", 2, 1, 1, TensorType(f32, [2, 3]))
    assert torch.equal(scatter.collective(parts)[1], (parts[0] + parts[1])[:, 3:])
    split = co.SplitOp(x, "tp", 2, 1, 3, TensorType(f32, [2, 3]))
    assert torch.equal(split.local([parts[0]], 1)[0], parts[0][:, [1, 3, 5]])
    with pytest.raises(TandemError, match="needs every rank"):
        reduce.interpret([parts[0]])
    assert torch.equal(co.AllReduceOp(x, "tp", 1).interpret([parts[0]])[0], parts[0])


def test_emulator_runs_each_rank() -> None:
    from xdsl.dialects.builtin import TensorType, f32
    from xdsl.ir import Block, Region

    block = Block(arg_types=[TensorType(f32, [4])])
    total = co.AllReduceOp(block.args[0], "dp", 3, "mean")
    block.add_ops([total, func.ReturnOp(total.result)])
    fn = func.FuncOp("f", ([TensorType(f32, [4])], [TensorType(f32, [4])]), Region(block))
    outs = emulate(fn, {(i, 0): [torch.full((4,), float(i))] for i in range(3)}, t=1, d=3)
    assert all(torch.equal(outs[(i, 0)][0], torch.full((4,), 1.0)) for i in range(3))
