"""The fuse pass: kernels that keep the model's meaning and FLOPs, priced within physics.

Every preset is proven on the reference interpreter against PyTorch (forward and training)
on the four tiny zoo models; the costs of fused kernels never beat peak bandwidth or compute;
whole measured layers and the GPT-3 2.7B head-count ratio are checked on a few shapes
(benchmarks/fusion_fidelity.py runs all 351 layers).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from backends.flops import count_module
from backends.sim import simulate
from backends.targets import load_target
from backends.verify import compare_with_pytorch
from ir import attrs
from ir.errors import PassError, TandemError
from ir.fused_ops import FusedOp
from ir.io import parse_text, print_module
from tandem.pipeline import run_pipeline

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")
PRESETS = ("eager", "fused", "flash", "inductor")
A100 = load_target("a100-sxm4-40gb")


def kernels(module) -> dict[str, int]:
    out: dict[str, int] = {}
    for op in module.walk():
        if isinstance(op, FusedOp):
            out[op.kernel_name] = out.get(op.kernel_name, 0) + 1
    return out


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", TINY)
def test_every_preset_keeps_meaning_and_flops(models, name: str, training: bool) -> None:
    spec, imported = models.get(name, training=training)
    before = count_module(imported.ir)
    for preset in PRESETS:
        ir = imported.ir.clone()
        run_pipeline(ir, f"fuse{{kernels={preset}}}")
        after = count_module(ir)
        assert (after.flops, after.mm_flops) == (before.flops, before.mm_flops), preset
        if preset != "eager":
            assert kernels(ir), f"{name} {preset}: nothing fused"
            assert after.bytes < before.bytes, preset  # intermediates stay on chip
        report = compare_with_pytorch(
            ir,
            spec.module,
            spec.example_inputs,
            training=training,
            constants=imported.constants,
            rtol=1e-4,
        )
        assert report.ok, f"{name} {preset}: {report.worst}"


def test_megatron_kernels_forward_and_backward(models) -> None:
    ir = models.ir_copy("gpt2-tiny", training=True)
    run_pipeline(ir, "fuse{kernels=fused}")
    found = kernels(ir)
    for k in ("gemm_bias", "bias_gelu", "bias_dropout_add", "layer_norm", "bias_gelu_backward"):
        assert k in found, (k, found)
    # GPT-2's tanh-GELU (8 ops) and its backward are one kernel each
    gelu = next(op for op in ir.walk() if isinstance(op, FusedOp) and op.kernel_name == "bias_gelu")
    assert {o.name for o in gelu.body_ops} >= {"tfm.tanh", "tfm.pow", "tfm.add", "tfm.mul"}
    att = [op for op in ir.walk() if op.name.startswith("tfm.attention")]
    assert att and all(op.attributes[attrs.KERNEL].data == attrs.MATERIALISED for op in att)
    assert ir.attributes[attrs.FUSE_KERNELS].data == "fused"


def test_llama_kernels(models) -> None:
    ir = models.ir_copy("llama-tiny", training=True)
    run_pipeline(ir, "fuse{kernels=flash}")
    found = kernels(ir)
    for k in ("swiglu", "rms_norm", "rope", "swiglu_backward", "rms_norm_backward"):
        assert k in found, (k, found)
    att = [op for op in ir.walk() if op.name.startswith("tfm.attention")]
    assert all(op.attributes[attrs.KERNEL].data == attrs.FLASH for op in att)


def test_inductor_fuses_more_than_megatron(models) -> None:
    launched = {}
    for preset in PRESETS:
        ir = models.ir_copy("gpt2-tiny", training=True)
        run_pipeline(ir, f"fuse{{kernels={preset}}}")
        launched[preset] = simulate(ir, A100).model["kernels"]
    assert launched["eager"] > launched["fused"] >= launched["flash"] > launched["inductor"]


@pytest.mark.parametrize(
    "pipeline,message",
    [
        ("fuse{kernels=megatron}", "fuse: kernels must be one of eager, fused, flash, inductor"),
        ("fuse{kernels=3}", "got 3"),
        ("fuse{kernels=true}", "got True"),
    ],
)
def test_bad_options_are_one_pass_error(models, pipeline: str, message: str) -> None:
    ir = models.ir_copy("gpt2-tiny")
    with pytest.raises(PassError) as info:
        run_pipeline(ir, pipeline)
    assert message in str(info.value) and "\n" not in str(info.value)


def test_fuse_runs_once(models) -> None:
    ir = models.ir_copy("gpt2-tiny")
    run_pipeline(ir, "fuse{kernels=fused}")
    text = print_module(ir)
    run_pipeline(ir, "fuse{kernels=fused}")  # the same preset again: nothing changes
    assert print_module(ir) == text
    with pytest.raises(PassError, match="already fused with kernels=fused"):
        run_pipeline(ir, "fuse{kernels=flash}")


def test_fused_ir_round_trips_and_runs(models) -> None:
    ir = models.ir_copy("gpt2-tiny", training=True)
    run_pipeline(ir, "fuse{kernels=inductor}")
    text = print_module(ir)
    assert print_module(parse_text(text)) == text
    generic = print_module(ir, generic=True)
    assert print_module(parse_text(generic)) == text


def test_fused_kernels_respect_physical_limits(models) -> None:
    for preset in ("fused", "inductor"):
        ir = models.ir_copy("gpt2-tiny", training=True)
        run_pipeline(ir, f"fuse{{kernels={preset}}}")
        rep = simulate(ir, A100)
        for s in rep.signatures:
            c = s.cost
            assert c.seconds >= c.bytes / A100.hbm_bandwidth * (1 - 1e-9), s.op
            peak = A100.peak_flops(s.dtype if s.dtype in ("f16", "bf16") else "f32")
            assert c.seconds >= c.flops / peak * (1 - 1e-9), s.op


def test_fusion_is_faster_and_counts_kernels(models) -> None:
    eager = models.ir_copy("gpt2-tiny", training=True)
    flash = models.ir_copy("gpt2-tiny", training=True)
    run_pipeline(eager, "fuse{kernels=eager}")
    run_pipeline(flash, "fuse{kernels=flash}")
    e, f = simulate(eager, A100), simulate(flash, A100)
    assert f.latency_s < e.latency_s
    assert f.model["kernels"] < e.model["kernels"]
    assert (e.options["kernels"], f.options["kernels"]) == ("eager", "flash")
    assert simulate(models.ir_copy("gpt2-tiny"), A100).options["kernels"] == "none"


def test_materialised_attention_costs_more_than_flash_on_gpu(models) -> None:
    times = {}
    for preset in ("fused", "flash"):
        ir = models.ir_copy("gpt2-tiny")
        run_pipeline(ir, f"fuse{{kernels={preset}}}")
        rep = simulate(ir, A100)
        times[preset] = sum(r.seconds for r in rep.rows if r.kind == "attention")
    assert times["fused"] > times["flash"] > 0


def test_api_simulate_fuses_a_copy(models) -> None:
    import tandem.api as api

    ir = models.ir_copy("gpt2-tiny")
    text = print_module(ir)
    rep = api.simulate(ir, "a100-sxm4-40gb", kernels="fused")
    assert rep.options["kernels"] == "fused"
    assert print_module(ir) == text  # the caller's module is not changed
    assert api.simulate(ir, "a100-sxm4-40gb").options["kernels"] == "flash"  # the default
    with pytest.raises(TandemError, match="kernels must be one of"):
        api.simulate(ir, "a100-sxm4-40gb", kernels="megatron")
    run_pipeline(ir, "fuse{kernels=eager}")
    with pytest.raises(TandemError, match="already fused with kernels=eager"):
        api.simulate(ir, "a100-sxm4-40gb", kernels="flash")


# ---- layer-level fidelity on measured A100 layers (a few shapes; the benchmark runs all) ----

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tools"))


@pytest.fixture(scope="module")
def fd():
    import fusion_data

    if not fusion_data.LAYERS_CSV.is_file():
        pytest.skip("shared/data/layers_a100 is not next to the checkout")
    return fusion_data


def test_measured_layers_within_ten_percent(fd) -> None:
    rows = fd.load_layers(fd.LAYERS_CSV)
    picked = [rows[0], rows[len(rows) // 2], rows[-1], next(r for r in rows if r["heads"] == "128")]
    layers = fd.build_layers(picked, A100)
    err = fd.layer_errors(A100, A100.fusion, layers)
    assert max(abs(err)) < 0.10, err


def test_gpt3_2_7b_head_count_ratio(fd) -> None:
    """Anthony et al.: h=2560, b=4, s=2048, 32 heads 119 TFLOP/s, 20 heads 141: 1.178."""
    t = {}
    for a in (32, 20):
        rep = simulate(fd.layer_ir(2560, a), A100)
        t[a] = sum(r.seconds for r in rep.rows if r.layer == 0) + fd.wall_overhead(A100)
    assert 1.12 < t[32] / t[20] < 1.24, t


def test_stored_kernel_efficiencies_match_the_ops_fit(fd) -> None:
    """[fusion] stream/residual/norm are the standalone kernels' fit; PyTorch's eager softmax
    chain (five streaming kernels) is predicted from them without a constant of its own."""
    ops = fd.load_ops(fd.OPS_CSV)
    fit = fd.fit_ops(A100, ops)
    stored = A100.fusion
    assert fit == pytest.approx(
        {"stream": stored.stream, "residual": stored.residual, "norm": stored.norm}, abs=2e-3
    )
    errors = fd.op_errors(A100, stored, ops)
    assert all(e["median"] < 0.03 for op, e in errors.items() if op in fd.OPS), errors
    assert errors["attention_softmax"]["median"] < 0.08


def test_fusion_table_is_validated(tmp_path) -> None:
    src = Path(A100.source).read_text().replace("softmax = 0.348", "softmax = 1.5")
    bad = tmp_path / "bad.toml"
    bad.write_text(src)
    with pytest.raises(
        TandemError, match=r"bad.toml: \[fusion\] softmax must be a positive number <= 1"
    ):
        load_target(str(bad))
    assert load_target("toy").fusion.stream == 1.0  # no [fusion]: the memory-op efficiencies


MOVED = """
func.func @f(%o: tensor<4x8xf32>, %b: tensor<8xf32>, %x: tensor<4x8xf32>, %w: tensor<8x8xf32>) -> (tensor<4x8xf32>, tensor<4x8xf32>) {
  %ob = tfm.add %o, %b {layer = 0 : i64} : (tensor<4x8xf32>, tensor<8xf32>) -> tensor<4x8xf32>
  %m = tfm.matmul %ob, %w {layer = 0 : i64} : (tensor<4x8xf32>, tensor<8x8xf32>) -> tensor<4x8xf32>
  %r = tfm.add %ob, %x {layer = 0 : i64} : (tensor<4x8xf32>, tensor<4x8xf32>) -> tensor<4x8xf32>
  func.return %r, %m : tensor<4x8xf32>, tensor<4x8xf32>
}
"""


def test_ops_between_a_kernel_and_its_users_move_after_it() -> None:
    """%m reads the bias add but does not feed the residual add: the kernel writes both sums
    and %m moves after it (the interpreter gives the same results)."""
    import torch

    from backends.interpreter import run_module

    before = parse_text(MOVED)
    after = parse_text(MOVED)
    run_pipeline(after, "fuse{kernels=fused}")
    ops = [
        op.name
        for op in after.walk()
        if op.parent_op() is not None and op.parent_op().name == "func.func"
    ]
    assert ops == ["tfm.fused", "tfm.matmul", "func.return"]
    kernel = next(op for op in after.walk() if isinstance(op, FusedOp))
    assert kernel.kernel_name == "bias_dropout_add" and len(kernel.outputs) == 2
    torch.manual_seed(0)
    args = [torch.randn(4, 8), torch.randn(8), torch.randn(4, 8), torch.randn(8, 8)]
    for want, got in zip(run_module(before, args), run_module(after, args), strict=True):
        assert torch.equal(want, got)
