"""Fuzzing: mangled IR text, TOML targets, CSVs and command lines give a clean error or a
success, never a traceback or an `internal error:` (issue 9).

Hypothesis draws a bounded number of cases per input kind (40, derandomized, so a failure
reproduces; `TANDEM_FUZZ_EXAMPLES=500` for a longer random run); each runs the command in
process.
"""

from __future__ import annotations

import os
import re
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parent.parent
TOY = (ROOT / "backends" / "targets" / "toy.toml").read_text()

IR = """func.func @f(%a: tensor<2x3xf32>, %w: tensor<4x3xf32>, %b: tensor<4xf32>) -> tensor<2x4xf32> {
  %t = tfm.permute %w {perm = array<i64: 1, 0>} : (tensor<4x3xf32>) -> tensor<3x4xf32>
  %0 = tfm.matmul %a, %t {layer = 0 : i64} : (tensor<2x3xf32>, tensor<3x4xf32>) -> tensor<2x4xf32>
  %1 = tfm.add %0, %b : (tensor<2x4xf32>, tensor<4xf32>) -> tensor<2x4xf32>
  %2 = tfm.softmax %1 {dim = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %2 : tensor<2x4xf32>
}
"""

# TANDEM_FUZZ_EXAMPLES=500 fuzzes longer (and at random) outside the test suite
EXAMPLES = int(os.environ.get("TANDEM_FUZZ_EXAMPLES", "40"))
CASES = settings(
    max_examples=EXAMPLES,
    deadline=20_000 if "TANDEM_FUZZ_EXAMPLES" in os.environ else None,  # long runs catch hangs
    derandomize="TANDEM_FUZZ_EXAMPLES" not in os.environ,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

TOKENS = [
    "?",
    "x",
    "0",
    "-1",
    "99999999999999999999",
    "f64",
    "i1",
    "complex<f32>",
    "<",
    ">",
    "%0",
    "%a",
    ":",
    ",",
    "(",
    ")",
    "{",
    "}",
    "tfm.matmul",
    "layer",
    '"',
    "\n",
    "1e400",
    "\x00",
    "\u00e9",
    "nan",
    "inf",
    "array<i64: 5>",
    "tensor<",
    "dim = 7 : i64",
    "array<i0>",
    '"' + "a" * 60,
]


def clean(tandem_cli, *argv: str, opt: bool = False) -> tuple[int, str]:
    code, out, err = tandem_cli(*argv, opt=opt)
    event(f"{'tandem-opt' if opt else argv[0]} exit {code}")
    assert "Traceback" not in err and "internal error" not in err, (argv, err)
    if code != 0:
        errors = [ln for ln in err.splitlines() if "error:" in ln]
        assert len(errors) == 1, (argv, err)
    return code, out


@st.composite
def mangled(draw, text: str, tokens: list[str]) -> str:
    """`text` with a few random edits: deletions, insertions, replacements of numbers."""
    for _ in range(draw(st.integers(0, 3))):
        kind = draw(st.sampled_from(["delete", "insert", "number", "number", "truncate"]))
        i = draw(st.integers(0, len(text)))
        if kind == "delete":
            text = text[:i] + text[i + draw(st.integers(1, 12)) :]
        elif kind == "insert":
            text = text[:i] + draw(st.sampled_from(tokens)) + text[i:]
        elif kind == "truncate":
            text = text[:i]
        else:
            numbers = list(re.finditer(r"\d+(\.\d+)?(e-?\d+)?", text))
            if numbers:
                m = draw(st.sampled_from(numbers))
                new = draw(st.sampled_from([*tokens, "1", "2", "3", "4", "8", "0"]))
                text = text[: m.start()] + new + text[m.end() :]
    return text


@CASES
@given(text=mangled(IR, TOKENS))
def test_ir_text(tandem_cli, tmp_path: Path, text: str) -> None:
    path = tmp_path / "f.mlir"
    path.write_text(text, encoding="utf-8", errors="surrogateescape")
    clean(tandem_cli, str(path), "-p", "fold-transposes", opt=True)
    clean(tandem_cli, "simulate", str(path), "-t", "toy")


NUMBERS = [
    "0",
    "-1",
    "1e-310",
    "1e400",
    "nan",
    "inf",
    "-inf",
    "3.5",
    "2",
    "true",
    '"x"',
    "[]",
    "[1, 2]",
    "{}",
    "1_000",
    "0x10",
    "9999999999999999999999",
]


@CASES
@given(text=mangled(TOY, NUMBERS + ["[compute]", 'kind = "phaze"', "=", "\n[memory]\n"]))
def test_toml_target(tandem_cli, tmp_path: Path, text: str) -> None:
    (tmp_path / "f.mlir").write_text(IR)
    (tmp_path / "t.toml").write_text(text)
    clean(
        tandem_cli, "simulate", str(tmp_path / "f.mlir"), "-t", str(tmp_path / "t.toml"), "--json"
    )


CELLS = [
    "1",
    "128",
    "0",
    "-4",
    "1e21",
    "99999999999999999999",
    "x",
    "",
    " 64 ",
    "3.5",
    "f16",
    "bf16",
    "fp8",
    "int4",
    "0.5",
    "1.0",
    "nan",
    "\ufeff",
]


@CASES
@given(
    header=st.lists(
        st.sampled_from(["batch", "m", "n", "k", "dtype", "sparsity", "note", ""]),
        min_size=0,
        max_size=7,
    ),
    rows=st.lists(st.lists(st.sampled_from(CELLS), min_size=0, max_size=7), max_size=4),
    bom=st.booleans(),
)
def test_csv(
    tandem_cli, tmp_path: Path, header: list[str], rows: list[list[str]], bom: bool
) -> None:
    text = "\n".join(",".join(r) for r in [header, *rows]) + "\n"
    (tmp_path / "in.csv").write_bytes((b"\xef\xbb\xbf" if bom else b"") + text.encode())
    clean(
        tandem_cli,
        "cost",
        "gemm",
        "-t",
        "toy",
        "--csv",
        str(tmp_path / "in.csv"),
        "-o",
        str(tmp_path / "out.csv"),
    )


VALUES = [
    "0",
    "-3",
    "1",
    "7",
    "64",
    "1e3",
    "nan",
    "",
    "x",
    "99999999999999999999",
    "2.5",
    "toy",
    "a100-sxm4-40gb",
    "no-such",
    "fold-transposes",
    "pad-shapes{min-gain=2}",
    "{OUT}",
    "{DIR}",
    "{NODIR}",
    "{IR}",
]
FLAGS = [
    "--layers",
    "--hidden",
    "--heads",
    "--kv-heads",
    "--ffn",
    "--vocab",
    "--seq",
    "--batch",
    "--dtype",
    "--top",
    "--target",
    "-t",
    "-o",
    "--trace",
    "--plot",
    "-p",
    "--tp",
    "--budget",
    "--max-head-dim",
    "--json",
    "--training",
    "--generic",
    "--via",
]


@st.composite
def command_lines(draw) -> list[str]:
    """A command on a small .mlir file (or a tiny zoo config for advise) with random flags."""
    command = draw(st.sampled_from(["simulate", "compile", "flops", "import", "advise", "cost"]))
    argv = [command]
    if command == "cost":
        argv += ["gemm", "--csv", "{CSV}"]
    else:
        argv.append("{IR}" if command != "advise" else draw(st.sampled_from(["gpt2-tiny", "{IR}"])))
    for _ in range(draw(st.integers(0, 4))):
        flag = draw(st.sampled_from(FLAGS))
        argv.append(flag)
        if flag not in ("--json", "--training", "--generic"):
            argv.append(draw(st.sampled_from(VALUES)))
    return argv


@CASES
@given(argv=command_lines())
def test_command_lines(tandem_cli, tmp_path: Path, argv: list[str]) -> None:
    tmp_path = Path(tempfile.mkdtemp(dir=tmp_path))  # hypothesis reuses tmp_path: a fresh one
    (tmp_path / "f.mlir").write_text(IR)
    (tmp_path / "in.csv").write_text("batch,m,n,k\n1,64,64,64\n")
    (tmp_path / "adir").mkdir(exist_ok=True)
    fill = {
        "{IR}": str(tmp_path / "f.mlir"),
        "{CSV}": str(tmp_path / "in.csv"),
        "{OUT}": str(tmp_path / "out.x"),
        "{DIR}": str(tmp_path / "adir"),
        "{NODIR}": str(tmp_path / "no" / "o.x"),
    }
    argv = [fill.get(a, a) for a in argv]
    before = (tmp_path / "f.mlir").read_text()
    cwd = os.getcwd()
    os.chdir(tmp_path)  # a relative output ("-o 2.5") lands in the temporary folder
    try:
        code, _ = clean(tandem_cli, *argv)
    finally:
        os.chdir(cwd)
    assert (tmp_path / "f.mlir").read_text() == before  # an input is never overwritten
    made = {p.name for p in tmp_path.iterdir()} - {"f.mlir", "in.csv", "adir"}
    relative = {a for a in argv if a in VALUES and a not in fill}  # "-o 2.5" writes ./2.5
    assert made == set() if code != 0 else made <= {"out.x"} | relative, (argv, made)
