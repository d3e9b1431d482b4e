"""Hostile and edge-case input to every command (issue 9): one `error:` line, a non-zero exit,
no traceback, no file left behind, no input overwritten. Ctrl-C: one line, exit 130."""

from __future__ import annotations

import json
import math
import os
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from ir.errors import TandemError
from tandem.files import Outputs, json_text

ROOT = Path(__file__).resolve().parent.parent
TOY = ROOT / "backends" / "targets" / "toy.toml"

GOOD = """func.func @f(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %t = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %0 = tfm.matmul %a, %t : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
"""


@pytest.fixture
def work(tmp_path: Path) -> Path:
    (tmp_path / "good.mlir").write_text(GOOD)
    (tmp_path / "adir").mkdir()
    return tmp_path


def listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- output paths ------------------------------------------------------------------------------


BAD_OUTPUTS = {
    "missing folder": ("nodir/o.mlir", "directory nodir does not exist"),
    "directory": ("adir", "is a directory"),
    "/proc": ("/proc/x.mlir", "cannot write in /proc"),
    "empty": ("", "empty output path"),
}


@pytest.mark.parametrize("case", BAD_OUTPUTS, ids=list(BAD_OUTPUTS))
def test_tandem_opt_bad_output(tandem_cli, work: Path, monkeypatch, case: str) -> None:
    monkeypatch.chdir(work)
    path, message = BAD_OUTPUTS[case]
    before = listing(work)
    code, out, err = tandem_cli("good.mlir", "-p", "fold-transposes", "-o", path, opt=True)
    assert message in tandem_cli.one_error(code, err)
    assert out == "" and listing(work) == before


@pytest.mark.parametrize("option", ["--trace", "--plot"])
@pytest.mark.parametrize("case", BAD_OUTPUTS, ids=list(BAD_OUTPUTS))
def test_simulate_bad_output(tandem_cli, work: Path, monkeypatch, option: str, case: str) -> None:
    monkeypatch.chdir(work)
    path, message = BAD_OUTPUTS[case]
    before = listing(work)
    code, out, err = tandem_cli("simulate", "good.mlir", "--target", "toy", option, path)
    assert message in tandem_cli.one_error(code, err)
    assert out == "" and listing(work) == before


def test_a_full_device_is_an_error_and_stays_a_device(tandem_cli, work: Path) -> None:
    full = Path("/dev/full")
    if not full.exists() or not stat.S_ISCHR(full.stat().st_mode):
        pytest.skip("no /dev/full")
    code, _, err = tandem_cli(
        "simulate", str(work / "good.mlir"), "-t", "toy", "--trace", "/dev/full"
    )
    assert "/dev/full: cannot write" in tandem_cli.one_error(code, err)
    assert stat.S_ISCHR(full.stat().st_mode)  # written in place, never replaced by a file
    code, _, err = tandem_cli(
        "simulate", str(work / "good.mlir"), "-t", "toy", "--trace", os.devnull
    )
    assert code == 0, err


def test_late_failing_output_leaves_nothing(tandem_cli, work: Path, monkeypatch) -> None:
    """compile -o o.mlir --trace adir: refused before any work, o.mlir never written."""
    monkeypatch.chdir(work)
    code, _, err = tandem_cli(
        "compile", "good.mlir", "-t", "toy", "-o", "o.mlir", "--trace", "adir"
    )
    assert "adir: is a directory" in tandem_cli.one_error(code, err)
    assert not (work / "o.mlir").exists()


def test_an_output_is_never_an_input_or_twice(tandem_cli, work: Path, monkeypatch) -> None:
    monkeypatch.chdir(work)
    code, _, err = tandem_cli("simulate", "good.mlir", "-t", "toy", "--trace", "good.mlir")
    assert "is an input of this command" in tandem_cli.one_error(code, err)
    assert (work / "good.mlir").read_text() == GOOD
    code, _, err = tandem_cli("compile", "good.mlir", "-t", "toy", "-o", "x", "--trace", "./x")
    assert "named by both -o and --trace" in tandem_cli.one_error(code, err)
    code, _, err = tandem_cli("good.mlir", "-o", "good.mlir", opt=True)
    assert "is an input" in tandem_cli.one_error(code, err)
    os.link(work / "good.mlir", work / "alias.mlir")  # the same file under another name
    code, _, err = tandem_cli("good.mlir", "-o", "alias.mlir", opt=True)
    assert "is an input" in tandem_cli.one_error(code, err)
    assert not any(p.name.endswith(".tmp") for p in work.iterdir())


def test_outputs_are_written_together(tmp_path: Path) -> None:
    out = Outputs()
    a, b = out.add(tmp_path / "a.txt"), out.add(tmp_path / "b.bin", "--plot")
    out.write({a: "text", b: b"\x00bytes"})
    assert (tmp_path / "a.txt").read_text() == "text"
    assert (tmp_path / "b.bin").read_bytes() == b"\x00bytes"
    with pytest.raises(TandemError, match="not planned"):
        out.write({str(tmp_path / "c.txt"): "x"})


# ---- inputs ------------------------------------------------------------------------------------


def test_non_utf8_files(tandem_cli, work: Path) -> None:
    for name in ("bad.mlir", "bad.toml", "bad.csv"):
        (work / name).write_bytes(b"batch,m\n\xff\xfe oops\n")
    runs = [
        (["simulate", str(work / "bad.mlir"), "-t", "toy"], False),
        ([str(work / "bad.mlir")], True),
        (["simulate", str(work / "good.mlir"), "-t", str(work / "bad.toml")], False),
        (["cost", "gemm", "-t", "toy", "--csv", str(work / "bad.csv")], False),
    ]
    for argv, opt in runs:
        code, _, err = tandem_cli(*argv, opt=opt)
        assert "not UTF-8 text" in tandem_cli.one_error(code, err), argv


def test_tandem_opt_names_the_input(tandem_cli, work: Path) -> None:
    code, _, err = tandem_cli(str(work / "adir"), opt=True)
    assert f"{work / 'adir'}: is a directory" in tandem_cli.one_error(code, err)
    notes = work / "notes.txt"
    notes.write_text(GOOD)  # MLIR whatever the extension
    code, out, err = tandem_cli(str(notes), opt=True)
    assert code == 0 and "tfm.matmul" in out, err
    notes.write_text("not mlir\n")
    code, _, err = tandem_cli(str(notes), opt=True)
    assert tandem_cli.one_error(code, err).startswith(f"error: {notes}:1:")


def test_tandem_opt_prints_mlir_only(tandem_cli, work: Path) -> None:
    code, _, err = tandem_cli(str(work / "good.mlir"), "-t", "x86-asm", opt=True)
    line = tandem_cli.one_error(code, err, usage=True)
    assert "x86-asm" in line and len(err) < 2000


def test_csv_with_bom_and_huge_dims(tandem_cli, work: Path) -> None:
    bom = work / "bom.csv"
    bom.write_bytes(b"\xef\xbb\xbfbatch,m,n,k\n1,128,128,128\n")
    code, out, err = tandem_cli("cost", "gemm", "-t", "toy", "--csv", str(bom))
    assert code == 0 and out.startswith("batch,m,n,k,predicted_seconds"), err
    big = work / "big.csv"
    big.write_text("batch,m,n,k\n1,1000000000000000000000,128,128\n")
    code, _, err = tandem_cli("cost", "gemm", "-t", "toy", "--csv", str(big))
    assert "column 'm' must be at most" in tandem_cli.one_error(code, err)
    code, _, err = tandem_cli("cost", "gemm", "-t", "toy", "--csv", str(bom), "-o", str(bom))
    assert "is an input" in tandem_cli.one_error(code, err)


# ---- values ------------------------------------------------------------------------------------


def test_absurd_sizes_fail_fast(tandem_cli) -> None:
    for argv in (
        ["import", "gpt2-tiny", "--batch", "99999999999999999999999"],
        ["flops", "llama-7b", "--layers", "100000"],
        ["advise", "llama-7b", "--layers", "100000"],
        ["flops", "llama-7b", "--seq", "4000000", "--batch", "1000000"],
    ):
        start = time.perf_counter()
        code, _, err = tandem_cli(*argv)
        assert "invalid" in tandem_cli.one_error(code, err), argv
        assert time.perf_counter() - start < 20, argv


def test_verify_says_how_much_memory_it_needs(tandem_cli, monkeypatch) -> None:
    from tandem.commands import verify

    monkeypatch.setattr(verify, "available_memory", lambda: 2 * 10**9)
    code, _, err = tandem_cli("verify", "llama-7b", "--layers", "4")
    line = tandem_cli.one_error(code, err)
    assert "need about" in line and "GB" in line and "2 GB is available" in line


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "gpt2-tiny", "--rtol", "-1"], "--rtol: expected a finite positive number"),
        (["verify", "gpt2-tiny", "--rtol", "nan"], "--rtol: expected a finite positive number"),
        (["simulate", "X", "-t", "toy", "--top", "-1"], "--top: expected a non-negative integer"),
    ],
)
def test_bad_numbers_in_arguments(tandem_cli, argv: list[str], message: str) -> None:
    code, _, err = tandem_cli(*argv)
    assert message in tandem_cli.one_error(code, err, usage=True)


def test_bad_pass_option_value(tandem_cli, work: Path) -> None:
    code, _, err = tandem_cli(
        str(work / "good.mlir"), "-p", "pad-shapes{target=toy min-gain=-5}", opt=True
    )
    assert "min-gain must be in [0, 1]" in tandem_cli.one_error(code, err)


def test_target_values_must_be_physical(tandem_cli, work: Path) -> None:
    text = TOY.read_text()
    for bad in ("1e-310", "1e300", "nan", "inf"):
        (work / "t.toml").write_text(text.replace("hbm_bandwidth = 1e12", f"hbm_bandwidth = {bad}"))
        code, out, err = tandem_cli(
            "simulate", str(work / "good.mlir"), "-t", str(work / "t.toml"), "--json"
        )
        assert "hbm_bandwidth must be" in tandem_cli.one_error(code, err), bad
        assert out == ""
    # the slowest allowed memory still gives finite numbers, valid JSON and no warnings
    (work / "t.toml").write_text(text.replace("hbm_bandwidth = 1e12", "hbm_bandwidth = 1e-15"))
    code, out, err = tandem_cli(
        "simulate", str(work / "good.mlir"), "-t", str(work / "t.toml"), "--json"
    )
    assert code == 0 and err == "", err
    report = json.loads(out, parse_constant=lambda c: pytest.fail(f"JSON holds {c}"))
    assert math.isfinite(report["latency_s"])


def test_json_never_holds_nan_or_infinity() -> None:
    assert json_text({"a": [1.5, 2]}) == '{\n  "a": [\n    1.5,\n    2\n  ]\n}'
    with pytest.raises(TandemError, match=r"result a\[1\] is inf"):
        json_text({"a": [1.0, math.inf]})
    with pytest.raises(TandemError, match="result b.c is nan"):
        json_text({"b": {"c": math.nan}})


DYNAMIC = """func.func @f(%x: tensor<?x3xf32>, %w: tensor<3x3xf32>) -> tensor<?x3xf32> {
  %y = tfm.matmul %x, %w : (tensor<?x3xf32>, tensor<3x3xf32>) -> tensor<?x3xf32>
  func.return %y : tensor<?x3xf32>
}
"""


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (DYNAMIC, "operand 0 has a dynamic shape (tensor<?x3xf32>)"),
        (
            DYNAMIC.replace("?x3xf32", "2x3xcomplex<f32>").replace("3x3xf32", "3x3xcomplex<f32>"),
            "element type complex<f32>",
        ),
        (
            "func.func @f(%x: tensor<?x3xf32>) -> tensor<?x3xf32> {\n  func.return %x : tensor<?x3xf32>\n}\n",
            "@f argument 0 has a dynamic shape",
        ),
        (
            DYNAMIC.replace("?x3xf32", "2x3xf64").replace("3x3xf32", "3x3xf64"),
            "tfm.matmul: toy: no peak_flops for dtype f64",
        ),
        (GOOD.replace("array<i64: 1, 0>", "array<i0>"), "invalid IR (ZeroDivisionError"),
        ('func.func @f() {\n  %0 = "' + "a" * 200 + "\n}\n", "before closing string literal"),
        (".func @f() {\n}\n", ":1:1: Expected three consecutive '.'"),
    ],
    ids=[
        "dynamic",
        "complex",
        "dynamic-argument",
        "f64-gemm",
        "parser-crash",
        "open-string",
        "first-token",
    ],
)
def test_ir_the_cost_model_cannot_price(tandem_cli, work: Path, text: str, message: str) -> None:
    (work / "x.mlir").write_text(text)
    code, _, err = tandem_cli("simulate", str(work / "x.mlir"), "-t", "toy")
    assert message in tandem_cli.one_error(code, err)


# ---- Ctrl-C ------------------------------------------------------------------------------------


def _interrupt(argv: list[str], after: float) -> subprocess.CompletedProcess:
    proc = subprocess.Popen(
        [sys.executable, "-c", "import sys; from tandem.cli import main; sys.exit(main())", *argv],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    time.sleep(after)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


SLOW = """
import pathlib, time, torch

def factory():
    pathlib.Path(__file__).with_name("started").write_text("")
    time.sleep(60)
    return torch.nn.Linear(2, 2), torch.zeros(1, 2)
"""


def test_ctrl_c_during_start_up(tmp_path: Path) -> None:
    done = _interrupt(["import", "gpt2-tiny", "-o", str(tmp_path / "o.mlir")], 0.8)
    assert done.returncode == 130, done.stderr
    assert done.stderr == "interrupted\n" and done.stdout == ""
    assert listing(tmp_path) == []


def test_ctrl_c_while_working(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(SLOW)
    out = tmp_path / "o.mlir"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tandem.cli import main; sys.exit(main())",
            "import",
            f"{tmp_path / 'slow.py'}:factory",
            "-o",
            str(out),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 60
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    stdout, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "interrupted\n" and stdout == "", err
    assert not out.exists()


def test_ctrl_c_in_tandem_opt(tmp_path: Path) -> None:
    """The input is a pipe nobody writes: tandem-opt is still starting or waits on it when
    Ctrl-C comes, never finished (a fast machine finished a real file in under 0.5 s)."""
    os.mkfifo(tmp_path / "in.mlir")
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys; from tandem.opt import main; sys.exit(main())",
            str(tmp_path / "in.mlir"),
            "-o",
            str(tmp_path / "o.mlir"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    time.sleep(1.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and err == "interrupted\n", (proc.returncode, err)
    assert listing(tmp_path) == ["in.mlir"]


def test_a_file_or_directory_is_not_a_model_name(tandem_cli, work: Path) -> None:
    (work / "notes.txt").write_text("hello\n")
    for path, what in ((work / "adir", "a directory"), (work / "notes.txt", "a file")):
        code, _, err = tandem_cli("flops", str(path))
        assert f"{path}: is {what}, not a model" in tandem_cli.one_error(code, err)
