"""`tandem sparsity` and `--checkpoint`: measured sparsity as a table and as JSON, the annotated
IR, the tau sweep, and one clear error for each bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from frontends.zoo import build_model
from ir.io import read_module

TINY = ["--layers", "1"]


def test_json_schema_and_training_sites(tandem_cli) -> None:
    code, out, err = tandem_cli("sparsity", "gpt2-tiny", *TINY, "--training", "--json")
    assert code == 0, err
    data = json.loads(out)
    assert {"sites", "forward", "backward", "loss_dense", "loss_pruned"} <= set(data)
    site = data["sites"][0]
    assert set(site) == {"site", "layer", "phase", "sparsity", "elements"}
    phases = {s["phase"] for s in data["sites"]}
    assert phases == {"forward", "backward"}
    assert 0 < data["forward"] < 1 and 0 < data["backward"] <= 1
    fwd = [s for s in data["sites"] if s["phase"] == "forward"]
    zeros = sum(s["sparsity"] * s["elements"] for s in fwd)
    assert data["forward"] == pytest.approx(zeros / sum(s["elements"] for s in fwd))
    assert data["loss_dense"] > 0 and data["loss_pruned"] > 0


def test_text_report_and_annotated_ir(tandem_cli, tmp_path: Path) -> None:
    out_ir = tmp_path / "annotated.mlir"
    code, out, err = tandem_cli("sparsity", "bert-tiny", *TINY, "-o", str(out_ir))
    assert code == 0, err
    assert "ffn_in" in out and "loss: dense" in out
    module = read_module(str(out_ir))
    text = out_ir.read_text()
    assert "tfm.prune" in text and "sparsity.lhs" in text and "@forward" in text
    code, out, err = tandem_cli("simulate", str(out_ir), "-t", "acceltran-edge", "--json")
    assert code == 0, err
    sim = json.loads(out)["sparsity"]
    assert sim["annotated_ops"] > 0 and sim["speedup"] > 1.0
    assert module is not None


def test_sweep_table_and_plot(tandem_cli, tmp_path: Path) -> None:
    png = tmp_path / "sweep.png"
    code, out, err = tandem_cli(
        "sparsity", "opt-tiny", *TINY, "--sweep", "0,0.05,0.1", "--plot", str(png)
    )
    assert code == 0, err
    rows = [ln.split() for ln in out.splitlines() if ln[:1].isdigit()]
    assert [r[0] for r in rows] == ["0", "0.05", "0.1"]
    fwd = [float(r[1].rstrip("%")) for r in rows]
    assert fwd == sorted(fwd)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_text_inputs_and_checkpoint(tandem_cli, tmp_path: Path) -> None:
    """A byte-level model reads a text file; `--checkpoint` loads the weights it names."""
    spec = build_model("gpt2-tiny", training=True, seed=7)
    ckpt = tmp_path / "w.pt"
    torch.save(spec.module.state_dict(), ckpt)
    text = tmp_path / "text.txt"
    text.write_text("def f(x):\n    return x + 1\n" * 40)
    args = ["sparsity", "gpt2-tiny", "--json", "--inputs", str(text), "--batches", "2"]
    code, out, err = tandem_cli(*args)
    assert code == 0, err
    random_weights = json.loads(out)
    code, out, err = tandem_cli(*args, "--checkpoint", str(ckpt))
    assert code == 0, err
    loaded = json.loads(out)
    assert loaded["batches"] == 2
    assert loaded["loss_dense"] != random_weights["loss_dense"]
    code, out, err = tandem_cli("verify", "gpt2-tiny", "--checkpoint", str(ckpt), "-p", "dynaprop")
    assert code == 0 and "PASS" in out, err


@pytest.mark.parametrize(
    "argv,message",
    [
        (["--tau-fwd", "-0.1"], "tau-fwd must be a finite number >= 0, got -0.1"),
        (["--tau-bwd=-1e-4"], "tau-bwd must be a finite number >= 0"),
        (["--sites", "q,attn"], "unknown DynaProp site 'attn'"),
        (["--sweep", "0,-1"], "--sweep value must be a finite number >= 0"),
        (["--plot", "x.png"], "--plot draws a sweep"),
    ],
)
def test_bad_settings(tandem_cli, argv: list[str], message: str) -> None:
    code, _, err = tandem_cli("sparsity", "gpt2-tiny", *argv)
    assert message in tandem_cli.one_error(code, err)


def test_bad_checkpoints(tandem_cli, tmp_path: Path) -> None:
    state = build_model("gpt2-tiny").module.state_dict()
    missing = dict(state)
    missing.pop("model.transformer.h.0.mlp.c_fc.weight")
    extra = {**state, "model.transformer.h.9.extra": torch.zeros(2)}
    shaped = {**state, "model.transformer.h.0.mlp.c_fc.weight": torch.zeros(3, 3)}
    cases = {
        "missing": (missing, "missing keys for this model: model.transformer.h.0.mlp.c_fc.weight"),
        "extra": (extra, "keys the model does not have: model.transformer.h.9.extra"),
        "shape": (shaped, "shape mismatch: model.transformer.h.0.mlp.c_fc.weight is [3, 3]"),
    }
    for name, (sd, message) in cases.items():
        path = tmp_path / f"{name}.pt"
        torch.save(sd, path)
        for command in ("sparsity", "verify"):
            code, _, err = tandem_cli(command, "gpt2-tiny", "--checkpoint", str(path))
            assert message in tandem_cli.one_error(code, err), (name, command)
    junk = tmp_path / "junk.pt"
    junk.write_text("not a checkpoint")
    code, _, err = tandem_cli("sparsity", "gpt2-tiny", "--checkpoint", str(junk))
    assert "not a PyTorch state dict" in tandem_cli.one_error(code, err)
    code, _, err = tandem_cli("sparsity", "gpt2-tiny", "--checkpoint", str(tmp_path / "no.pt"))
    assert "no such file" in tandem_cli.one_error(code, err)


def test_unprefixed_checkpoint_loads(tandem_cli, tmp_path: Path) -> None:
    """A Hugging Face model's own state dict (no `model.` prefix) fits a zoo model."""
    spec = build_model("bert-tiny", seed=3)
    path = tmp_path / "hf.pt"
    torch.save(spec.module.model.state_dict(), path)
    code, out, err = tandem_cli("verify", "bert-tiny", "--checkpoint", str(path))
    assert code == 0 and "PASS" in out, err


def test_outputs_are_checked_first_and_never_an_input(tandem_cli, tmp_path: Path) -> None:
    """Outputs are planned before the slow measurement (an input is never overwritten, a bad
    folder fails at once) and written only when everything succeeded."""
    text = tmp_path / "text.txt"
    text.write_text("def f(x):\n    return x * 2\n" * 40)
    code, _, err = tandem_cli("sparsity", "gpt2-tiny", "--inputs", str(text), "-o", str(text))
    assert "is an input of this command" in tandem_cli.one_error(code, err)
    assert text.read_text().startswith("def f")
    code, _, err = tandem_cli("sparsity", "gpt2-tiny", "-o", str(tmp_path / "no" / "ir.mlir"))
    assert "ir.mlir" in tandem_cli.one_error(code, err)
    png = tmp_path / "sweep.png"
    code, _, err = tandem_cli(
        "sparsity", "gpt2-tiny", *TINY, "--sweep", "0,nan", "--plot", str(png)
    )
    assert "--sweep value must be a finite number" in tandem_cli.one_error(code, err)
    assert not png.exists()
