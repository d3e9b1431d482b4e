"""Shape advisor: the paper's facts (vocabulary padding, head dim 128 vs 80), budget, CLI."""

from __future__ import annotations

import json

import pytest

from backends.advisor import (
    Estimator,
    advise,
    analytic_params,
    shape_from_config,
    shape_from_ir,
)
from backends.targets import load_target
from frontends.zoo import Overrides, build_model
from ir.errors import TandemError
from tandem.cli import main

A100 = load_target("a100-sxm4-40gb")


def zoo_shape(name: str, tp: int = 1, **overrides: int):
    return shape_from_config(build_model(name, Overrides(**overrides), device="meta").config, tp=tp)


@pytest.mark.parametrize("training", [False, True], ids=["forward", "training"])
def test_gpt2_vocabulary_padded_to_multiple_of_64(training: bool) -> None:
    report = advise(zoo_shape("gpt2", batch=8), A100, budget=0.05, training=training)
    vocab = report.find("vocabulary")
    assert vocab.current.value == "50257"
    assert vocab.recommended.shape.vocab == 50304  # nanoGPT's choice
    change = vocab.to_json()
    assert change["model_throughput_change"] > 0.10  # nanoGPT measured ~25% end to end
    assert change["time_per_token_change"] < -0.10
    assert change["layer_throughput_change"] == pytest.approx(0.0)
    assert 0 < change["params_change"] < 0.001


def test_vocabulary_multiple_of_64_times_t() -> None:
    vocab = advise(zoo_shape("gpt2", tp=2, batch=8), A100).find("vocabulary")
    assert vocab.recommended.shape.vocab % 128 == 0
    assert vocab.recommended.shape.vocab >= 50257


def test_gpt3_2_7b_head_dim_128_beats_80() -> None:
    """Paper: h=2560, b=4, s=2048, one layer forward, non-flash attention: 32 heads (h/a=80)
    119 TFLOP/s, 20 heads (h/a=128) 141 TFLOP/s, +18%."""
    shape = zoo_shape("gpt3-2.7b", batch=4, seq=2048)
    est = Estimator(A100, dtype="f16", training=False, kernels="fused")
    a32 = est.estimate(shape)
    a20 = est.estimate(shape.replace(heads=20, kv_heads=20))
    gain = a20.layer_tflops / a32.layer_tflops - 1
    assert 0.10 < gain < 0.30
    assert a32.parts["mlp_up"] == a20.parts["mlp_up"]  # the whole difference is in attention
    heads = advise(shape, A100).find("head dim")
    assert heads.recommended.shape.head_dim == 128 and heads.recommended.shape.heads == 20
    assert heads.to_json()["params_change"] == pytest.approx(0.0)


def test_layer_gemm_flops_match_the_paper_formula() -> None:
    """Forward layer GEMMs: 24bsh^2 + 4bs^2h."""
    shape = zoo_shape("gpt3-2.7b", batch=4, seq=2048)
    b, s, h = 4, 2048, 2560
    est = Estimator(A100, training=False)
    assert est.estimate(shape).layer_flops == pytest.approx(24 * b * s * h * h + 4 * b * s * s * h)


def test_recommendations_stay_within_budget() -> None:
    for budget in (0.0, 0.02, 0.05):
        report = advise(zoo_shape("gpt3-2.7b", batch=4), A100, budget=budget)
        for a in report.advice:
            if a.guideline in ("vocabulary", "hidden size", "FFN width"):
                assert abs(a.to_json()["params_change"]) <= budget + 1e-9, a.guideline


def test_swiglu_ffn_uses_multiples_of_256() -> None:
    shape = zoo_shape("llama-7b", batch=2)
    assert shape.gated
    ffn = advise(shape, A100).find("FFN width")
    assert all(int(c.value) % 256 == 0 for c in ffn.candidates)


def test_analytic_params_match_the_zoo() -> None:
    for name in ("gpt2", "llama-7b", "bert-base"):
        cfg = build_model(name, device="meta").config
        shape = shape_from_config(cfg)
        assert analytic_params(shape) == pytest.approx(cfg["params"], rel=0.01), name


def test_tensor_parallel_prefers_the_smallest_t_that_fits() -> None:
    report = advise(zoo_shape("gpt3-2.7b", batch=4), A100, training=True)
    tp = report.find("tensor parallel")
    assert tp.recommended.shape.tp == 2  # 2.7B x 16 B of model states do not fit 40 GB at t=1
    assert [c.shape.tp for c in tp.candidates] == [1, 2, 4, 8]


def test_shape_from_ir_of_a_user_model() -> None:
    import tandem.api as api

    ir = api.import_model("llama-tiny", training=True)
    shape = shape_from_ir(ir)
    want = zoo_shape("llama-tiny")
    for key in ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq", "batch", "gated"):
        assert getattr(shape, key) == getattr(want, key), key


def test_cli_json_and_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "gpt2", "--batch", "8", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    vocab = next(a for a in data["advice"] if a["guideline"] == "vocabulary")
    assert vocab["recommended"] == "50304" and vocab["model_throughput_change"] > 0
    assert main(["advise", "gpt2", "--batch", "8", "--target", "h100-sxm"]) == 0
    out = capsys.readouterr().out
    assert "vocabulary" in out and "head dim" in out and "tensor parallel" in out


def test_cli_errors_are_one_line(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["advise", "gpt2", "--tp", "5"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "error: tensor-parallel degree 5 does not divide hidden=768"
    with pytest.raises(TandemError, match="budget"):
        advise(zoo_shape("gpt2"), A100, budget=2.0)


def test_v100_follows_its_own_alignment_rule() -> None:
    """On a V100 the tensor cores want multiples of 8 fp16 elements (16 bytes), not 64."""
    v100 = load_target("v100-sxm2")
    vocab = advise(zoo_shape("gpt2", batch=8), v100).find("vocabulary")
    assert vocab.rule == "multiple of 8*t = 8"
    assert vocab.recommended.shape.vocab == 50264
    assert vocab.to_json()["model_throughput_change"] > 0.05
    h100 = advise(zoo_shape("gpt2", batch=8), load_target("h100-sxm")).find("vocabulary")
    assert h100.recommended.shape.vocab == 50304
