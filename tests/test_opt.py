"""`tandem-opt`: parses tfm, runs passes, writes the output file only when everything succeeded,
and reports every failure as one `error:` line."""

from __future__ import annotations

from pathlib import Path

import pytest

from tandem.opt import main

GOOD = """func.func @f(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>) -> tensor<2x4xf32> {
  %t = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %0 = tfm.matmul %a, %t : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  func.return %0 : tensor<2x4xf32>
}
"""

BAD_SYNTAX = """func.func @f(%a: tensor<2x3xf32>) {
  %0 = tfm.exp %a : (tensor<2x3xf32>) -> tensor<2x3xf32
  func.return
}
"""

BAD_VERIFY = """func.func @g(%a: tensor<2x3xf32>) {
  %0 = tfm.matmul %a, %a : (tensor<2x3xf32>, tensor<2x3xf32>) -> tensor<2x3xf32>
  func.return
}
"""


def opt(capfd, *argv: str) -> tuple[int, str, str]:
    capfd.readouterr()
    try:
        code = main(list(argv))
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else 1
    out, err = capfd.readouterr()
    return code, out, err


def one_error(code: int, err: str) -> str:
    assert code != 0
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert "Traceback" not in err
    return lines[0]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    out = {}
    for name, text in [
        ("good", GOOD),
        ("syntax", BAD_SYNTAX),
        ("verify", BAD_VERIFY),
        ("late", GOOD + "// -----\n" + BAD_VERIFY),
    ]:
        out[name] = tmp_path / f"{name}.mlir"
        out[name].write_text(text)
    out["out"] = tmp_path / "out.mlir"
    return out


def test_parses_and_prints(capfd, files) -> None:
    code, out, err = opt(capfd, str(files["good"]))
    assert code == 0 and err == ""
    assert "tfm.matmul %a, %t" in out


def test_runs_a_pass(capfd, files) -> None:
    code, out, _ = opt(capfd, str(files["good"]), "-p", "fold-transposes")
    assert code == 0
    assert "tfm.matmul %a, %w {transpose_rhs}" in out and "tfm.permute" not in out


@pytest.mark.parametrize(
    "spelling", [["-o", "{}"], ["--output-file", "{}"], ["-o{}"], ["--output-file={}"]]
)
def test_output_file_spellings(capfd, files, spelling: list[str]) -> None:
    """Every spelling `tandem-opt --help` documents writes the file (not stdout)."""
    args = [a.format(files["out"]) for a in spelling]
    code, out, _ = opt(capfd, str(files["good"]), *args)
    assert code == 0 and out == ""
    assert "tfm.matmul" in files["out"].read_text()


def test_syntax_error_names_file_line_col(capfd, files) -> None:
    code, out, err = opt(capfd, str(files["syntax"]), "-o", str(files["out"]))
    line = one_error(code, err)
    assert line.startswith(f"error: {files['syntax']}:3:")
    assert out == "" and not files["out"].exists()


def test_verifier_error(capfd, files) -> None:
    code, _, err = opt(capfd, str(files["verify"]), "-o", str(files["out"]))
    line = one_error(code, err)
    assert "tfm.matmul: reduction dims differ: lhs 2x3 has K=3, rhs 2x3 has K=2" in line
    assert not files["out"].exists()


def test_late_failure_writes_nothing(capfd, files) -> None:
    """The first chunk is fine and printed; the second fails: no output file at all."""
    files["out"].write_text("keep me\n")
    code, out, err = opt(capfd, str(files["late"]), "--split-input-file", "-o", str(files["out"]))
    one_error(code, err)
    assert out == ""
    assert files["out"].read_text() == "keep me\n"
    assert sorted(p.name for p in files["out"].parent.iterdir() if p.name.startswith(".")) == []


def test_unknown_pass(capfd, files) -> None:
    code, _, err = opt(
        capfd, str(files["good"]), "-p", "fold-transposes,no-such-pass", "-o", str(files["out"])
    )
    assert "no-such-pass" in one_error(code, err)
    assert not files["out"].exists()


@pytest.mark.parametrize("pipeline", ["fold-transposes{bogus=1}", "fold-transposes{"])
def test_bad_pass_options(capfd, files, pipeline: str) -> None:
    code, _, err = opt(capfd, str(files["good"]), "-p", pipeline, "-o", str(files["out"]))
    one_error(code, err)
    assert not files["out"].exists()


def test_pass_failure_after_parsing(capfd, files) -> None:
    code, _, err = opt(
        capfd,
        str(files["good"]),
        "-p",
        "pad-shapes{target=no-such-target}",
        "-o",
        str(files["out"]),
    )
    assert "no-such-target" in one_error(code, err)
    assert not files["out"].exists()


def test_missing_input_file(capfd, tmp_path: Path) -> None:
    code, _, err = opt(capfd, str(tmp_path / "absent.mlir"))
    assert "absent.mlir" in one_error(code, err)


def test_verify_diagnostics_prints_and_succeeds(capfd, files) -> None:
    code, out, _ = opt(capfd, str(files["verify"]), "--verify-diagnostics")
    assert code == 0
    assert "tfm.matmul: reduction dims differ" in out


def test_unregistered_op_is_refused(capfd, tmp_path: Path) -> None:
    bad = tmp_path / "typo.mlir"
    bad.write_text(GOOD.replace("tfm.matmul", "tfm.matmull"))
    code, _, err = opt(capfd, str(bad))
    line = one_error(code, err)
    assert line.startswith(f"error: {bad}:3:") and "tfm.matmull is not registered" in line
