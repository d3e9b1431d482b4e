"""Model zoo and user-model loader: builds, shapes, overrides, errors, torch.export."""

from __future__ import annotations

import textwrap
import time

import pytest
import torch
from torch import nn

from frontends.user_model import load_user_model, resolve_model
from frontends.zoo import ModelSpec, Overrides, build_model, model_names, parse_dtype
from ir.errors import TandemError

TINY = ["gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny"]


def _blocks(spec: ModelSpec) -> nn.ModuleList:
    """The model's list of Transformer blocks (the longest ModuleList)."""
    lists = [m for m in spec.module.modules() if isinstance(m, nn.ModuleList)]
    return max(lists, key=len)


def _raises(match: str, fn, *args, **kwargs) -> str:
    with pytest.raises(TandemError, match=match) as info:
        fn(*args, **kwargs)
    msg = str(info.value)
    assert "\n" not in msg, msg
    return msg


# ---------------------------------------------------------------------------- names, dtypes


def test_model_names() -> None:
    names = model_names()
    for n in [
        "gpt2",
        "gpt2-medium",
        "gpt2-large",
        "gpt2-xl",
        "bert-base",
        "bert-large",
        "opt-1.3b",
        "llama-7b",
        "llama-13b",
        "llama-70b",
        "gpt3-2.7b",
        "gpt3-175b",
        *TINY,
    ]:
        assert n in names


@pytest.mark.parametrize(
    "text,dtype",
    [
        ("f32", torch.float32),
        ("FP32", torch.float32),
        ("float32", torch.float32),
        ("f16", torch.float16),
        ("fp16", torch.float16),
        ("half", torch.float16),
        ("bf16", torch.bfloat16),
        ("bfloat16", torch.bfloat16),
    ],
)
def test_parse_dtype(text: str, dtype: torch.dtype) -> None:
    assert parse_dtype(text) is dtype


def test_parse_dtype_invalid() -> None:
    msg = _raises("unknown dtype 'f64'", parse_dtype, "f64")
    assert "bf16" in msg


# ---------------------------------------------------------------------------- tiny models


@pytest.mark.parametrize("name", TINY)
def test_tiny_inference(name: str) -> None:
    spec = build_model(name)
    cfg = spec.config
    (ids,) = spec.example_inputs
    assert ids.dtype == torch.int64 and ids.device.type == "cpu"
    assert ids.shape == (2, 16) and cfg["batch"] == 2 and cfg["seq"] == 16
    assert not spec.training and not spec.module.training
    assert cfg["layers"] == 2 and cfg["hidden"] == 64 and cfg["heads"] == 4
    assert cfg["params"] == sum(p.numel() for p in spec.module.parameters())
    logits = spec.module(*spec.example_inputs)
    assert logits.shape == (2, 16, cfg["vocab"]) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    # deterministic: dropout is off even in train mode
    spec.module.train()
    assert torch.equal(spec.module(*spec.example_inputs), logits)


@pytest.mark.parametrize("name", TINY)
def test_tiny_training(name: str) -> None:
    spec = build_model(name, training=True)
    assert spec.training and spec.module.training
    ids, labels = spec.example_inputs
    assert ids.shape == labels.shape == (2, 16) and labels.dtype == torch.int64
    loss = spec.module(*spec.example_inputs)
    assert loss.dim() == 0 and torch.isfinite(loss)
    loss.backward()
    assert all(p.grad is not None for p in spec.module.parameters() if p.requires_grad)


@pytest.mark.parametrize("training", [False, True])
@pytest.mark.parametrize("name", TINY)
def test_tiny_export(name: str, training: bool) -> None:
    spec = build_model(name, training=training)
    ep = torch.export.export(spec.module, spec.example_inputs)
    out = ep.module()(*spec.example_inputs)
    torch.testing.assert_close(out, spec.module(*spec.example_inputs))


def test_llama_tiny_is_gqa() -> None:
    spec = build_model("llama-tiny")
    assert spec.config["kv_heads"] == 2
    attn = _blocks(spec)[0].self_attn
    assert attn.k_proj.weight.shape == (2 * 16, 64)  # kv_heads * head_dim
    assert spec.module.model.config._attn_implementation == "sdpa"


def test_seed_reproducible() -> None:
    a = build_model("gpt2-tiny", seed=3).module.state_dict()
    b = build_model("gpt2-tiny", seed=3).module.state_dict()
    c = build_model("gpt2-tiny", seed=4).module.state_dict()
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], c[k]) for k in a)


def test_global_rng_untouched() -> None:
    state = torch.get_rng_state()
    build_model("opt-tiny", seed=7)
    assert torch.equal(state, torch.get_rng_state())


# ---------------------------------------------------------------------------- big models on meta


@pytest.mark.parametrize(
    "name,params,tol",
    [
        ("llama-70b", 69e9, 0.03),
        ("gpt3-175b", 175e9, 0.03),
        ("gpt2", 124e6, 0.02),
        ("llama-7b", 6.74e9, 0.02),
        ("opt-1.3b", 1.3e9, 0.03),
        ("bert-base", 110e6, 0.02),
    ],
)
def test_meta_param_counts(name: str, params: float, tol: float) -> None:
    start = time.perf_counter()
    spec = build_model(name, device="meta")
    assert time.perf_counter() - start < 10
    assert abs(spec.config["params"] - params) / params < tol, spec.config["params"]
    assert all(p.device.type == "meta" for p in spec.module.parameters())
    assert all(x.device.type == "meta" and x.dtype == torch.int64 for x in spec.example_inputs)


def test_default_shapes() -> None:
    assert build_model("llama-70b", device="meta").config | {"params": 0} == {
        "family": "llama",
        "layers": 80,
        "hidden": 8192,
        "heads": 64,
        "kv_heads": 8,
        "ffn": 28672,
        "vocab": 32000,
        "max_positions": 2048,
        "seq": 2048,
        "batch": 1,
        "dtype": "f32",
        "arch": "LlamaForCausalLM",
        "params": 0,
    }
    assert build_model("gpt2", device="meta").config["seq"] == 1024
    assert build_model("bert-base", device="meta").config["seq"] == 512
    gpt3 = build_model("gpt3-2.7b", device="meta", training=True)
    assert gpt3.config["seq"] == 2048 and gpt3.config["ffn"] == 4 * 2560
    assert [x.shape for x in gpt3.example_inputs] == [(1, 2048), (1, 2048)]


# ---------------------------------------------------------------------------- overrides


@pytest.mark.parametrize("name", TINY)
def test_layers_override(name: str) -> None:
    spec = build_model(name, Overrides(layers=3), device="meta")
    assert spec.config["layers"] == 3 and len(_blocks(spec)) == 3


def test_shape_overrides_llama() -> None:
    ov = Overrides(
        hidden=128, heads=8, kv_heads=4, ffn=96, vocab=100, seq=24, batch=3, dtype="bf16"
    )
    spec = build_model("llama-tiny", ov)
    cfg = spec.config
    assert (cfg["hidden"], cfg["heads"], cfg["kv_heads"], cfg["ffn"], cfg["vocab"]) == (
        128,
        8,
        4,
        96,
        100,
    )
    assert (cfg["seq"], cfg["batch"], cfg["dtype"]) == (24, 3, "bf16")
    block = _blocks(spec)[0]
    assert block.self_attn.q_proj.weight.shape == (128, 128)
    assert block.self_attn.k_proj.weight.shape == (4 * 16, 128)
    assert block.mlp.gate_proj.weight.shape == (96, 128)
    assert all(p.dtype == torch.bfloat16 for p in spec.module.parameters())
    (ids,) = spec.example_inputs
    assert ids.shape == (3, 24) and ids.dtype == torch.int64 and int(ids.max()) < 100
    logits = spec.module(ids)
    assert logits.shape == (3, 24, 100) and logits.dtype == torch.bfloat16


def test_seq_beyond_positions_grows_table() -> None:
    spec = build_model("gpt2-tiny", Overrides(seq=100))
    assert spec.config["max_positions"] == 100
    assert spec.module(*spec.example_inputs).shape == (2, 100, 256)
    big = build_model("bert-base", Overrides(seq=4096), device="meta")
    assert big.config["max_positions"] == 4096


def test_heads_override_keeps_mha() -> None:
    spec = build_model("gpt2-tiny", Overrides(heads=8))
    assert spec.config["heads"] == spec.config["kv_heads"] == 8
    assert spec.module.model.config.n_head == 8
    gqa = build_model("llama-70b", Overrides(heads=16), device="meta")
    assert gqa.config["kv_heads"] == 8


def test_small_vocab_special_tokens() -> None:
    spec = build_model("gpt2-tiny", Overrides(vocab=10))
    hf = spec.module.model.config
    assert hf.bos_token_id < 10 and hf.eos_token_id < 10
    assert spec.module(*spec.example_inputs).shape[-1] == 10


@pytest.mark.parametrize(
    "name,ov,match",
    [
        ("gpt2-tiny", Overrides(layers=0), "layers=0: must be a positive integer"),
        ("gpt2-tiny", Overrides(hidden=-64), "hidden=-64"),
        ("gpt2-tiny", Overrides(batch=True), "batch=True"),
        ("gpt2-tiny", Overrides(seq=2.5), "seq=2.5"),
        ("gpt2-tiny", Overrides(hidden=66), "hidden=66 is not divisible by heads=4"),
        ("llama-tiny", Overrides(kv_heads=3), "heads=4 is not divisible by kv_heads=3"),
        ("llama-tiny", Overrides(hidden=36), "even head size"),
        ("bert-tiny", Overrides(kv_heads=2), "no grouped-query attention"),
        ("gpt2-tiny", Overrides(dtype="f64"), "unknown dtype"),
        ("llama-70b", Overrides(hidden=6144, heads=12), "heads=12 is not divisible by kv_heads=8"),
    ],
)
def test_invalid_overrides(name: str, ov: Overrides, match: str) -> None:
    _raises(match, build_model, name, ov, device="meta")


def test_unknown_model() -> None:
    msg = _raises("unknown model 'gpt5'", build_model, "gpt5")
    assert "known: gpt2, gpt2-medium" in msg and "llama-tiny" in msg
    assert "did you mean 'llama-7b'" in _raises("unknown model", build_model, "lama-7b")


def test_invalid_device() -> None:
    _raises("invalid device 'gpu0'", build_model, "gpt2-tiny", device="gpu0")


# ---------------------------------------------------------------------------- user models

GOOD = """
import torch
from torch import nn

class Net(nn.Module):
    def __init__(self, training):
        super().__init__()
        self.lin = nn.Linear(8, 4)
        self.training_mode = training

    def forward(self, x):
        y = self.lin(x)
        return y.square().mean() if self.training_mode else y

def make(training: bool = False):
    return Net(training), torch.randn(2, 8)

def make_list():
    return [nn.Linear(8, 4), [torch.randn(2, 8)]]

def broken():
    raise ValueError("bad\\nshape")

def not_a_tuple():
    return nn.Linear(8, 4)

def not_a_module():
    return "linear", torch.randn(2, 8)

def bad_inputs():
    return nn.Linear(8, 4), 3

def bad_input_item():
    return nn.Linear(8, 4), (torch.randn(2, 8), "x")

VALUE = 3
"""


@pytest.fixture
def user_file(tmp_path):
    path = tmp_path / "my_model.py"
    path.write_text(textwrap.dedent(GOOD))
    return path


def test_user_model_inference(user_file) -> None:
    spec = load_user_model(f"{user_file}:make")
    assert spec.config["family"] == "user" and spec.config["params"] == 8 * 4 + 4
    assert not spec.training and not spec.module.training
    assert isinstance(spec.example_inputs, tuple) and len(spec.example_inputs) == 1
    assert spec.module(*spec.example_inputs).shape == (2, 4)
    torch.export.export(spec.module, spec.example_inputs)


def test_user_model_training(user_file) -> None:
    spec = load_user_model(f"{user_file}:make", training=True)
    assert spec.training and spec.module.training
    assert spec.module(*spec.example_inputs).dim() == 0


def test_user_model_list_and_seed(user_file) -> None:
    spec = load_user_model(f"{user_file}:make_list")
    assert isinstance(spec.example_inputs, tuple)
    again = load_user_model(f"{user_file}:make_list")
    assert torch.equal(spec.module.weight, again.module.weight)


def test_user_model_meta(user_file) -> None:
    spec = load_user_model(f"{user_file}:make", device="meta")
    assert spec.module.lin.weight.device.type == "meta"
    assert spec.example_inputs[0].device.type == "meta"


def test_user_model_errors(user_file, tmp_path) -> None:
    _raises("no ':factory' given", load_user_model, str(user_file))
    _raises("not found", load_user_model, f"{tmp_path}/missing.py:make")
    _raises("not a .py file", load_user_model, f"{tmp_path}/x.txt:make")
    msg = _raises("factory 'nope' not found", load_user_model, f"{user_file}:nope")
    assert "make, make_list" in msg and "Net" in msg and "torch" not in msg.split("found:")[1]
    _raises("'VALUE' is not callable", load_user_model, f"{user_file}:VALUE")
    msg = _raises("raised ValueError: bad shape", load_user_model, f"{user_file}:broken")
    assert str(user_file) in msg
    _raises("must return \\(module, example_inputs\\)", load_user_model, f"{user_file}:not_a_tuple")
    _raises("expected a torch.nn.Module", load_user_model, f"{user_file}:not_a_module")
    _raises("as example_inputs; expected a tensor", load_user_model, f"{user_file}:bad_inputs")
    _raises("example_inputs\\[1\\]", load_user_model, f"{user_file}:bad_input_item")
    bad = tmp_path / "bad.py"
    bad.write_text("def f(:\n")
    _raises("cannot import model file .*SyntaxError", load_user_model, f"{bad}:f")


def test_resolve_model(user_file) -> None:
    assert resolve_model("gpt2-tiny").config["family"] == "gpt2"
    assert resolve_model("llama-tiny", Overrides(layers=1), device="meta").config["layers"] == 1
    assert resolve_model(f"{user_file}:make").config["family"] == "user"
    _raises(
        "overrides \\(layers=2\\) apply only to zoo models",
        resolve_model,
        f"{user_file}:make",
        Overrides(layers=2),
    )
    _raises("no ':factory' given", resolve_model, str(user_file))
    _raises("unknown model", resolve_model, "nope")
