"""The `tandem` command line: happy paths, and bad input that must give one `error:` line,
a non-zero exit, no traceback and no output file (however late the failure)."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

from backends.flops import count_module
from tandem.cli import main

FLOPS_KEYS = {"flops", "flop_counter_flops", "bytes", "ops", "by_kind"}


def cli(capfd, *argv: str) -> tuple[int, str, str]:
    """Run `tandem argv...`; (exit code, stdout, stderr) captured at the file-descriptor level,
    so output that libraries print behind Python's back counts too."""
    capfd.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capfd.readouterr()
    return code, out, err


def assert_one_error(code: int, err: str, *, usage: bool = False) -> str:
    """Non-zero exit, exactly one `error:` line, no traceback; without `usage` (argparse's own
    errors print a usage text first) stderr is that one line and nothing else."""
    assert code != 0
    assert "Traceback" not in err and "internal error" not in err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    errors = [ln for ln in lines if "error:" in ln]
    assert len(errors) == 1, err
    if not usage:
        assert lines == errors, err
        assert errors[0].startswith("error: ")
    return errors[0]


@pytest.fixture
def data_dependent(tmp_path: Path) -> str:
    """A model file whose forward branches on a tensor value: torch.export must refuse it."""
    path = tmp_path / "branchy.py"
    path.write_text(
        textwrap.dedent("""
        import torch

        class Branchy(torch.nn.Module):
            def __init__(self):
                super().__init__()
                self.lin = torch.nn.Linear(4, 4)

            def forward(self, x):
                y = self.lin(x)
                if y.sum() > 0:
                    return y * 2
                return y - 1

        def factory():
            return Branchy(), torch.randn(2, 4)
    """)
    )
    return f"{path}:factory"


# ---- bad input ---------------------------------------------------------------------------------


def test_unknown_model(capfd, tmp_path: Path) -> None:
    out = tmp_path / "out.mlir"
    code, stdout, err = cli(capfd, "import", "gpt5", "-o", str(out))
    line = assert_one_error(code, err)
    assert "unknown model 'gpt5'" in line and "gpt2-tiny" in line
    assert stdout == "" and not out.exists()


def test_unknown_override_flag(capfd, tmp_path: Path) -> None:
    out = tmp_path / "out.mlir"
    code, _, err = cli(capfd, "import", "gpt2-tiny", "--layerz", "3", "-o", str(out))
    line = assert_one_error(code, err, usage=True)
    assert "--layerz" in line
    assert not out.exists()


def test_non_positive_override(capfd) -> None:
    code, _, err = cli(capfd, "flops", "gpt2-tiny", "--seq", "0")
    assert "expected a positive integer, got 0" in assert_one_error(code, err, usage=True)


def test_invalid_override(capfd, tmp_path: Path) -> None:
    out = tmp_path / "out.mlir"
    code, _, err = cli(capfd, "import", "gpt2-tiny", "--heads", "5", "-o", str(out))
    line = assert_one_error(code, err)
    assert "hidden=64 is not divisible by heads=5" in line
    assert not out.exists()


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_model_that_fails_to_export(
    capfd, tmp_path: Path, data_dependent: str, training: bool
) -> None:
    """The failure comes late (after the file was loaded and the output path checked)."""
    out = tmp_path / "out.mlir"
    args = ["import", data_dependent, "-o", str(out)] + (["--training"] if training else [])
    code, stdout, err = cli(capfd, *args)
    line = assert_one_error(code, err)
    assert "failed" in line and "data-dependent" in line.lower() or "DataDependent" in line
    assert stdout == "" and not out.exists()
    assert "def forward" not in err  # torch's partial-graph dump is not shown


def test_failure_keeps_an_existing_output_file(capfd, tmp_path: Path, data_dependent: str) -> None:
    out = tmp_path / "out.mlir"
    out.write_text("previous contents\n")
    code, _, err = cli(capfd, "import", data_dependent, "-o", str(out))
    assert_one_error(code, err)
    assert out.read_text() == "previous contents\n"
    assert [p.name for p in tmp_path.iterdir() if p.name != "branchy.py"] == [
        "out.mlir"
    ]  # no temp files


def test_missing_output_directory(capfd, tmp_path: Path) -> None:
    out = tmp_path / "nowhere" / "out.mlir"
    code, _, err = cli(capfd, "import", "gpt2-tiny", "-o", str(out))
    assert "does not exist" in assert_one_error(code, err)


def test_missing_model_file(capfd, tmp_path: Path) -> None:
    code, _, err = cli(capfd, "import", f"{tmp_path}/absent.py:factory")
    assert "not found" in assert_one_error(code, err)


def test_malformed_mlir_names_file_line_col(capfd, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mlir"
    bad.write_text(
        "func.func @f(%a: tensor<2x3xf32>) {\n"
        "  %0 = tfm.exp %a : (tensor<2x3xf32>) -> tensor<2x3xf32\n"
        "  func.return\n}\n"
    )
    code, stdout, err = cli(capfd, "flops", str(bad))
    line = assert_one_error(code, err)
    assert line.startswith(f"error: {bad}:3:")
    assert stdout == ""


def test_invalid_ir_file(capfd, tmp_path: Path) -> None:
    bad = tmp_path / "bad.mlir"
    bad.write_text(
        "func.func @f(%a: tensor<2x3xf32>) {\n"
        "  %0 = tfm.matmul %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>\n"
        "  func.return\n}\n"
    )
    code, _, err = cli(capfd, "flops", str(bad))
    line = assert_one_error(code, err)
    assert str(bad) in line and "tfm.matmul: reduction dims differ" in line


def test_unknown_pass_in_verify(capfd) -> None:
    code, _, err = cli(capfd, "verify", "gpt2-tiny", "-p", "no-such-pass")
    assert "no-such-pass" in assert_one_error(code, err)


def test_unknown_pass_option_in_verify(capfd) -> None:
    code, _, err = cli(capfd, "verify", "gpt2-tiny", "-p", "fold-transposes{bogus=1}")
    assert "bogus" in assert_one_error(code, err)


# ---- happy paths -------------------------------------------------------------------------------


def test_import_writes_a_file_tandem_opt_reads(capfd, tmp_path: Path) -> None:
    from tandem.opt import main as opt_main

    out = tmp_path / "gpt2-tiny.mlir"
    code, stdout, err = cli(capfd, "import", "gpt2-tiny", "-o", str(out))
    assert code == 0 and stdout == "" and err == ""
    text = out.read_text()
    assert "func.func @forward" in text and "tfm.attention" in text
    again = tmp_path / "again.mlir"
    capfd.readouterr()
    assert opt_main([str(out), "-o", str(again)]) == 0
    assert (
        again.read_text().rstrip() == text.rstrip()
    )  # the custom format round-trips through tandem-opt
    code, stdout, _ = cli(capfd, "flops", str(out), "--json")
    assert code == 0 and json.loads(stdout)["ops"] > 0


def test_flops_json(capfd, models) -> None:
    code, stdout, err = cli(capfd, "flops", "gpt2-tiny", "--json")
    assert code == 0 and err == ""
    data = json.loads(stdout)
    assert set(data) == FLOPS_KEYS
    assert {"matmul", "attention", "view"} <= set(data["by_kind"])
    assert set(data["by_kind"]["matmul"]) == {"ops", "flops", "bytes"}
    _, imported = models.get("gpt2-tiny")
    totals = count_module(imported.ir)  # the CLI imports on meta: same IR, same numbers
    assert data["flop_counter_flops"] == totals.mm_flops
    assert (
        data["flops"] == totals.flops
        and data["bytes"] == totals.bytes
        and data["ops"] == totals.ops
    )


def test_flops_table(capfd) -> None:
    code, stdout, _ = cli(capfd, "flops", "gpt2-tiny", "--training")
    assert code == 0
    assert "matmul" in stdout and "FlopCounterMode" in stdout


def test_verify_training_passes(capfd) -> None:
    code, stdout, err = cli(capfd, "verify", "gpt2-tiny", "--training")
    assert code == 0, err
    assert "PASS" in stdout and "compared 29 tensors" in stdout


def test_verify_json(capfd) -> None:
    code, stdout, _ = cli(capfd, "verify", "bert-tiny", "--json")
    assert code == 0
    data = json.loads(stdout)
    assert data["ok"] is True and data["max_rel"] <= 1e-4
    assert [t["name"] for t in data["tensors"]] == ["out0"]
