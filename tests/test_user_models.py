"""Models users write themselves, with architectures the zoo lacks, through every command.

A small language model with a parallel-residual block, multi-query attention, learned
positions and tied embeddings that builds its causal mask and positions inside forward (and
prints); Hugging Face models built from configs (nothing downloaded) returning
`CausalLMOutputWithPast`. Each must verify against PyTorch, count the FLOPs torch's
FlopCounterMode counts, import, compile and train with the loss Tandem attaches.
"""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from frontends.importer import trace_and_import
from frontends.user_model import load_user_model
from ir.io import print_module

MODELS = '''
import torch
import torch.nn.functional as F
from torch import nn


class MultiQueryAttention(nn.Module):
    """Many query heads, one key/value head; the causal mask is built in forward."""

    def __init__(self, d, heads):
        super().__init__()
        self.heads, self.dh = heads, d // heads
        self.q = nn.Linear(d, d)
        self.kv = nn.Linear(d, 2 * self.dh)
        self.o = nn.Linear(d, d)

    def forward(self, x):
        b, s, d = x.shape
        q = self.q(x).view(b, s, self.heads, self.dh).transpose(1, 2)
        k, v = self.kv(x).view(b, s, 1, 2 * self.dh).transpose(1, 2).split(self.dh, dim=-1)
        mask = torch.ones(s, s, dtype=torch.bool).tril()
        att = (q @ k.transpose(-1, -2)) / self.dh**0.5
        att = att.masked_fill(~mask, float("-inf")).softmax(-1)
        return self.o((att @ v).transpose(1, 2).reshape(b, s, d))


class ParallelBlock(nn.Module):
    """x + attn(ln(x)) + mlp(ln(x)) (GPT-J / PaLM style)."""

    def __init__(self, d, heads):
        super().__init__()
        self.ln = nn.LayerNorm(d)
        self.attn = MultiQueryAttention(d, heads)
        self.mlp = nn.Sequential(nn.Linear(d, 4 * d), nn.GELU(), nn.Linear(4 * d, d))

    def forward(self, x):
        y = self.ln(x)
        return x + self.attn(y) + self.mlp(y)


class TinyLM(nn.Module):
    """Learned positions (arange in forward), tied input and output embeddings."""

    def __init__(self, vocab=96, d=32, heads=4, layers=2, ctx=32):
        super().__init__()
        self.tok = nn.Embedding(vocab, d)
        self.pos = nn.Embedding(ctx, d)
        self.blocks = nn.ModuleList([ParallelBlock(d, heads) for _ in range(layers)])
        self.ln_f = nn.LayerNorm(d)
        self.head = nn.Linear(d, vocab, bias=False)
        self.head.weight = self.tok.weight

    def forward(self, ids):
        x = self.tok(ids) + self.pos(torch.arange(ids.shape[1]))
        for block in self.blocks:
            x = block(x)
        print("forward ran")
        return self.head(self.ln_f(x))


def ids(vocab=96):
    return torch.randint(0, vocab, (2, 12))


def lm():
    return TinyLM(), ids()


def lm6():
    return TinyLM(layers=6), ids()


def lm_labels():
    return TinyLM(), ids(), ids()


def lm_loss_fn():
    return {"module": TinyLM(), "inputs": ids(), "loss_fn": lambda y: y.float().square().mean()}


def regressor():
    net = nn.Sequential(nn.Linear(8, 16), nn.GELU(), nn.Linear(16, 4))
    return net, torch.randn(3, 8), torch.randn(3, 4)


def no_loss():
    return nn.Linear(4, 4), torch.randn(2, 4)


def qwen():
    from transformers import Qwen2Config, Qwen2ForCausalLM

    cfg = Qwen2Config(vocab_size=128, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64)
    return Qwen2ForCausalLM(cfg), torch.randint(0, 128, (2, 16))


def neox():
    from transformers import GPTNeoXConfig, GPTNeoXForCausalLM

    cfg = GPTNeoXConfig(vocab_size=128, hidden_size=64, intermediate_size=128,
                        num_hidden_layers=2, num_attention_heads=4, max_position_embeddings=64,
                        use_parallel_residual=True, use_cache=False)
    return GPTNeoXForCausalLM(cfg), torch.randint(0, 128, (2, 16))


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 4)

    def forward(self, x):
        y = self.lin(x)
        if y.sum() > 0:
            return y * 2
        return y - 1


def branchy():
    return Branchy(), torch.randn(2, 4)
'''

LOSS = {
    "lm": "next-token cross-entropy",
    "qwen": "the model's own loss with labels=",
    "neox": "the model's own loss with labels=",
}


@pytest.fixture(scope="module")
def models_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("user") / "user_models.py"
    path.write_text(textwrap.dedent(MODELS))
    return path


def spec_of(path: Path, factory: str) -> str:
    return f"{path}:{factory}"


@pytest.mark.parametrize("factory", ["lm", "qwen", "neox"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_verify(tandem_cli, models_file: Path, factory: str, training: bool) -> None:
    argv = ["verify", spec_of(models_file, factory)] + (["--training"] if training else [])
    code, out, err = tandem_cli(*argv)
    assert code == 0, err
    assert "PASS" in out and "internal error" not in err
    assert "forward ran" not in out  # the model's prints go to stderr
    assert (f"training loss: {LOSS[factory]}" in out) == training


@pytest.mark.parametrize("factory", ["lm", "qwen", "neox"])
@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_flops_equal_flop_counter_mode(
    tandem_cli, models_file: Path, factory: str, training: bool
) -> None:
    """Shape-only (fake CPU tensors): the mask and positions made in forward are fine."""
    argv = ["flops", spec_of(models_file, factory), "--compare-torch", "--json"]
    code, out, err = tandem_cli(*(argv + (["--training"] if training else [])))
    assert code == 0, err
    data = json.loads(out)
    assert data["flop_counter_flops"] == data["torch_flop_counter_flops"] > 0
    assert (LOSS[factory] in data.get("loss", "")) == training


def test_import_prints_clean_ir_and_names_the_loss(
    tandem_cli, models_file: Path, tmp_path: Path
) -> None:
    code, out, err = tandem_cli("import", spec_of(models_file, "lm"), "--training")
    assert code == 0, err
    first, *_ = out.splitlines()
    assert (
        first
        == "// training loss: next-token cross-entropy (labels = the input ids shifted by one)"
    )
    assert "forward ran" not in out and "forward ran" in err
    ir = tmp_path / "lm.mlir"
    ir.write_text(out)
    code, again, err = tandem_cli(str(ir), opt=True)  # the comment and the IR parse
    assert code == 0 and "tfm.cross_entropy" in again or "tfm.log_softmax" in again, err
    assert 'tfm.param = "tok.weight"' in out and "head.weight" not in out  # tied: one argument


def test_compile_accepts_a_user_model(tandem_cli, models_file: Path) -> None:
    code, out, err = tandem_cli("compile", spec_of(models_file, "lm"), "--target", "toy")
    assert code == 0, err
    assert "user_models.py:lm (inference)" in out and "dtype bf16" in out
    code, out, err = tandem_cli(
        "compile", spec_of(models_file, "qwen"), "--target", "toy", "--training", "--json"
    )
    assert code == 0, err
    report = json.loads(out)
    assert report["compile"]["config"]["loss"].startswith("the model's own loss")


def test_factory_labels_loss_fn_and_regression(models_file: Path) -> None:
    import tandem.api as tandem

    cases = {
        "lm_labels": "cross-entropy against the factory's labels",
        "lm_loss_fn": "the factory's loss_fn",
        "regressor": "mean squared error against the factory's labels",
    }
    for factory, loss in cases.items():
        spec = load_user_model(spec_of(models_file, factory), training=True)
        assert spec.config["loss"] == loss
        assert spec.module(*spec.example_inputs).dim() == 0
        report = tandem.verify(spec)
        assert report.ok, (factory, report.worst)


def test_no_standard_loss_is_one_clear_error(tandem_cli, models_file: Path) -> None:
    code, _, err = tandem_cli("import", spec_of(models_file, "no_loss"), "--training")
    line = tandem_cli.one_error(code, err)
    assert "not a scalar loss" in line and "shape [2, 4]" in line and "labels" in line


def test_data_dependent_branch_names_the_source_line(tandem_cli, models_file: Path) -> None:
    for via in ("torch-export", "torch-mlir"):
        code, out, err = tandem_cli("import", spec_of(models_file, "branchy"), "--via", via)
        line = tandem_cli.one_error(code, err)
        assert "user_models.py:" in line and "`if y.sum() > 0:`" in line, line
        assert "data-dependent" in line and out == ""


def test_a_stack_of_user_blocks_is_stamped(models_file: Path) -> None:
    spec = load_user_model(spec_of(models_file, "lm6"), training=True, device="meta")
    with_stamp = trace_and_import(spec.module, spec.example_inputs, training=True)
    full = trace_and_import(spec.module, spec.example_inputs, training=True, stamp_blocks=False)
    assert with_stamp.how == "stamped: traced 4 of 6 blocks of blocks"
    assert print_module(with_stamp.ir) == print_module(full.ir)
