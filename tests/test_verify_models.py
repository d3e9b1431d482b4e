"""End-to-end semantics: the imported IR, run on the reference interpreter, computes what
PyTorch eager computes (logits; or loss and every parameter's gradient), and a wrong IR fails."""

from __future__ import annotations

import pytest
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, UnitAttr
from xdsl.ir import Operation

import tandem.api as api
from backends.verify import compare_with_pytorch
from ir import attrs
from ir.base import float_attr
from ir.types import shape

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", TINY)
def test_verify_passes(models, name: str, training: bool) -> None:
    spec, _ = models.get(name, training=training)
    report = api.verify(spec)
    assert report.ok, report.worst
    assert report.max_rel <= 1e-4
    names = [c.name for c in report.comparisons]
    if not training:
        assert names == ["out0"]
        return
    with_grads = {n for n, p in spec.module.named_parameters() if p.grad is not None}
    assert len(with_grads) == len(dict(spec.module.named_parameters()))  # every parameter learns
    assert names[0] == "loss"
    assert len(names) == 1 + len(with_grads)
    assert set(names[1:]) == with_grads


# ---- a wrong IR must fail ----------------------------------------------------------------------


def _ops(ir, name: str) -> list[Operation]:
    return [op for op in ir.walk() if op.name == name]


def _verify(models, name: str, ir, training: bool):
    spec, imported = models.get(name, training=training)
    ir.verify()  # the corruption keeps the IR well-formed: only the numbers are wrong
    return compare_with_pytorch(
        ir, spec.module, spec.example_inputs, training=training, constants=imported.constants
    )


def test_uncorrupted_copy_passes(models) -> None:
    """The control for the tests below: a cloned IR verifies."""
    assert _verify(models, "gpt2-tiny", models.ir_copy("gpt2-tiny"), False).ok


def test_flipped_transpose_fails(models) -> None:
    ir = models.ir_copy("gpt2-tiny")
    square = [op for op in _ops(ir, "tfm.matmul") if shape(op.rhs)[-1] == shape(op.rhs)[-2]]
    op = square[0]  # attn.c_proj of block 0: 64x64, so flipping keeps the shapes valid
    op.properties["transpose_rhs"] = UnitAttr()
    report = _verify(models, "gpt2-tiny", ir, False)
    assert not report.ok and report.max_rel > 1e-2


def test_changed_attention_scale_fails(models) -> None:
    ir = models.ir_copy("llama-tiny")
    op = _ops(ir, "tfm.attention")[1]
    op.properties["scale"] = float_attr(op.scale_value * 1.5)
    assert not _verify(models, "llama-tiny", ir, False).ok


def test_dropped_layer_norm_eps_fails(models) -> None:
    ir = models.ir_copy("gpt2-tiny")
    for op in _ops(ir, "tfm.layer_norm"):
        op.properties["eps"] = float_attr(0.0)
    report = _verify(models, "gpt2-tiny", ir, False)
    assert not report.ok, report.max_rel


def test_wrong_attention_backward_fails_on_gradients_only(models) -> None:
    ir = models.ir_copy("opt-tiny", training=True)
    op = _ops(ir, "tfm.attention_backward")[0]
    op.properties["scale"] = float_attr(op.scale_value * 0.5)
    report = _verify(models, "opt-tiny", ir, True)
    assert not report.ok
    by_name = {c.name: c for c in report.comparisons}
    assert by_name["loss"].max_rel <= 1e-4  # the forward is untouched
    assert report.worst.name != "loss"


def test_dropped_tied_gradient_term_fails(models) -> None:
    """gpt2's wte gradient is the sum of its embedding and logits uses; keep only one."""
    ir = models.ir_copy("gpt2-tiny", training=True)
    fn = next(op for op in ir.ops if isinstance(op, func.FuncOp))
    ret = fn.body.block.last_op
    index = next(
        i
        for i, a in enumerate(fn.res_attrs.data)
        if isinstance(a, DictionaryAttr)
        and a.data.get(attrs.GRAD_OF) is not None
        and a.data[attrs.GRAD_OF].data == "model.transformer.wte.weight"
    )
    total = ret.operands[index].owner
    assert total.name == "tfm.add"
    ret.operands = [*ret.operands[:index], total.operands[0], *ret.operands[index + 1 :]]
    report = _verify(models, "gpt2-tiny", ir, True)
    assert not report.ok
    assert report.worst.name == "model.transformer.wte.weight"


def test_mish_model_imports_as_one_op_and_verifies() -> None:
    """The ARCHITECTURE.md worked example: an op added in two files works end to end."""
    import torch

    from frontends.zoo import ModelSpec

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.Mish())
    x = torch.randn(2, 8)
    ir = api.import_torch(model, (x,))
    assert "tfm.mish" in {op.name for op in ir.walk()}
    report = api.verify(ModelSpec("mish", model, (x,), {}, False))
    assert report.ok, report.worst
