"""`tandem simulate`, `compile`, `cost` and `targets` through `tandem.cli.main`."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from tandem.cli import main
from tandem.commands.compile import DEFAULT_PIPELINE

SCHEMA_DOC = Path(__file__).resolve().parents[1] / "docs" / "report-schema.md"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def tiny_mlir(tmp_path_factory) -> str:
    from frontends.importer import import_model
    from frontends.zoo import Overrides, build_model
    from ir.io import print_module

    path = tmp_path_factory.mktemp("ir") / "gpt2-tiny-train.mlir"
    spec = build_model("gpt2-tiny", Overrides(), training=True, device="meta")
    path.write_text(print_module(import_model(spec)))
    return str(path)


def _run(capsys, *argv: str) -> tuple[int, str, str]:
    rc = main(list(argv))
    out, err = capsys.readouterr()
    return rc, out, err


def _documented_top_level_keys() -> set[str]:
    """Keys of the "Top level" table of docs/report-schema.md."""
    text = SCHEMA_DOC.read_text()
    section = text.split("## Top level", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `([a-z_0-9]+)` \|", section, flags=re.M))


def test_simulate_gpu_table(capsys, tiny_mlir):
    rc, out, err = _run(capsys, "simulate", tiny_mlir, "--target", "a100-sxm4-40gb", "--top", "3")
    assert rc == 0, err
    for word in ("latency", "achieved", "memory", "Top 3 ops", "By layer", "By kind", "embed/head"):
        assert word in out
    assert "energy" not in out


def test_simulate_acceltran_table(capsys, tiny_mlir):
    rc, out, err = _run(capsys, "simulate", tiny_mlir, "--target", "acceltran-edge")
    assert rc == 0, err
    assert "energy" in out and "area" in out and "By unit" in out


def test_simulate_json_matches_documented_schema(capsys, tiny_mlir):
    rc, out, err = _run(capsys, "simulate", tiny_mlir, "--target", "acceltran-edge", "--json")
    assert rc == 0, err
    data = json.loads(out)
    documented = _documented_top_level_keys()
    assert {"schema_version", "latency_s", "ops", "by_layer", "energy"} <= documented
    assert documented - {"compile"} == set(data)
    assert data["schema_version"] == 1
    assert data["latency_s"] > 0 and data["energy"]["total_j"] > 0
    row = data["ops"][0]
    for key in ("op", "layer", "phase", "unit", "start_s", "seconds", "flops", "bytes", "bound"):
        assert key in row
    assert {g["layer"] for g in data["by_layer"]} == {0, 1, "embed/head"}


def test_trace_has_one_track_per_unit(capsys, tiny_mlir, tmp_path):
    trace = tmp_path / "trace.json"
    rc, _, err = _run(
        capsys, "simulate", tiny_mlir, "--target", "acceltran-edge", "--trace", str(trace)
    )
    assert rc == 0, err
    events = json.loads(trace.read_text())["traceEvents"]
    names = {
        (e["pid"], e["tid"]): e["args"]["name"]
        for e in events
        if e["ph"] == "M" and e["name"] == "thread_name"
    }
    xs = [e for e in events if e["ph"] == "X"]
    assert xs and len(set(names.values())) == len(names)
    assert set(names.values()) == {"mac", "softmax", "layernorm", "dma"}
    for e in xs:
        assert e["dur"] > 0 and e["ts"] >= 0 and e["name"].startswith("tfm.")
        assert (e["pid"], e["tid"]) in names
        assert {"flops", "bytes", "layer"} <= set(e["args"])
    # ops on one track never overlap
    by_track: dict = {}
    for e in xs:
        by_track.setdefault((e["pid"], e["tid"]), []).append((e["ts"], e["ts"] + e["dur"]))
    for spans in by_track.values():
        spans.sort()
        assert all(b[0] >= a[1] - 1e-6 for a, b in zip(spans, spans[1:], strict=False))


def test_plot_is_png(capsys, tiny_mlir, tmp_path):
    plot = tmp_path / "roof.png"
    rc, _, err = _run(capsys, "simulate", tiny_mlir, "--target", "toy", "--plot", str(plot))
    assert rc == 0, err
    assert plot.read_bytes().startswith(PNG_MAGIC)


def test_simulate_model_name(capsys):
    rc, out, err = _run(capsys, "simulate", "gpt2-tiny", "--target", "toy", "--top", "0")
    assert rc == 0, err
    assert "gpt2-tiny (forward)" in out and "Top" not in out


@pytest.mark.parametrize(
    "target, message",
    [
        ("no-such-target", "unknown target"),
        ("{bad}", "not valid TOML"),
        ("{missing}", "no such target file"),
    ],
)
def test_bad_target_is_one_line_error(capsys, tiny_mlir, tmp_path, target, message):
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "gpu"\nname = [unclosed\n')
    target = target.format(bad=bad, missing=tmp_path / "missing.toml")
    trace = tmp_path / "out.json"
    rc, out, err = _run(capsys, "simulate", tiny_mlir, "--target", target, "--trace", str(trace))
    assert rc == 1
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err
    assert not trace.exists() and not list(tmp_path.glob(".out.json*"))


def test_missing_input_is_one_line_error(capsys, tmp_path):
    plot = tmp_path / "p.png"
    rc, _, err = _run(
        capsys, "simulate", str(tmp_path / "nope.mlir"), "--target", "toy", "--plot", str(plot)
    )
    assert rc == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert not plot.exists()


def test_compile_tiny(capsys, tmp_path):
    out_ir = tmp_path / "out.mlir"
    rc, out, err = _run(
        capsys, "compile", "gpt2-tiny", "--training", "--target", "toy", "-o", str(out_ir), "--json"
    )
    assert rc == 0, err
    data = json.loads(out)
    assert data["compile"]["pipeline"] == DEFAULT_PIPELINE.format(target="toy", kernels="flash")
    assert data["options"]["kernels"] == "flash" and data["model"]["kernels"] > 0
    assert data["compile"]["config"]["layers"] == 2
    assert data["model"]["training"] is True
    assert set(data["compile"]["timings"]) == {"import_s", "passes_s", "simulate_s"}
    assert "tfm.matmul" in out_ir.read_text()


def test_compile_table_and_bad_pipeline(capsys, tmp_path):
    rc, out, err = _run(capsys, "compile", "gpt2-tiny", "--target", "tpuv4-like", "-p", "")
    assert rc == 0, err
    assert out.startswith("gpt2-tiny (inference): arch") and "pipeline: (none)" in out
    out_ir = tmp_path / "x.mlir"
    rc, _, err = _run(
        capsys, "compile", "gpt2-tiny", "--target", "toy", "-p", "no-such-pass", "-o", str(out_ir)
    )
    assert rc == 1 and err.startswith("error: ") and err.count("\n") == 1
    assert not out_ir.exists()


def test_kernel_presets_on_the_command_line(capsys, tiny_mlir, tmp_path):
    """--kernels picks the preset (compile and simulate); --unfused-attention means fused."""
    launched = {}
    for flags in (["--kernels", "eager"], ["--unfused-attention"], []):
        rc, out, err = _run(
            capsys, "compile", "gpt2-tiny", "--target", "a100-sxm4-40gb", "--json", *flags
        )
        assert rc == 0, err
        data = json.loads(out)
        kernels = data["options"]["kernels"]
        assert f"fuse{{kernels={kernels}}}" in data["compile"]["pipeline"]
        launched[kernels] = data["model"]["kernels"]
    assert set(launched) == {"eager", "fused", "flash"}
    assert launched["eager"] > launched["fused"] >= launched["flash"]
    rc, out, err = _run(capsys, "simulate", tiny_mlir, "--target", "a100-sxm4-40gb")
    assert rc == 0, err
    assert "(preset flash)" in out  # unfused IR runs with the default kernels
    fused_ir = tmp_path / "fused.mlir"
    rc, _, err = _run(
        capsys,
        "compile",
        tiny_mlir,
        "--target",
        "toy",
        "--kernels",
        "inductor",
        "-p",
        "",
        "-o",
        str(fused_ir),
    )
    assert rc == 0, err
    rc, out, err = _run(capsys, "simulate", str(fused_ir), "--target", "toy")
    assert rc == 0 and "(preset inductor)" in out, err
    rc, _, err = _run(capsys, "simulate", str(fused_ir), "--target", "toy", "--kernels", "eager")
    assert rc == 1 and "already fused with kernels=inductor" in err and err.count("\n") == 1


def test_cost_gemm_csv(capsys, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("batch,m,n,k\n1,4096,4096,4096\n4,128,128,64\n")
    dst = tmp_path / "out.csv"
    rc, out, err = _run(
        capsys, "cost", "gemm", "--target", "a100-sxm4-40gb", "--csv", str(src), "-o", str(dst)
    )
    assert rc == 0, err
    lines = dst.read_text().splitlines()
    assert lines[0].endswith("predicted_seconds,predicted_tflops") and len(lines) == 3
    rc, out, _ = _run(capsys, "cost", "gemm", "--target", "toy", "--csv", str(src))
    assert rc == 0 and out.count("\n") == 3
    rc, _, err = _run(capsys, "cost", "gemm", "--target", "toy", "--csv", str(tmp_path / "x.csv"))
    assert rc == 1 and err.startswith("error: ")


def test_targets(capsys):
    rc, out, _ = _run(capsys, "targets")
    assert rc == 0
    for name in ("a100-sxm4-40gb", "acceltran-edge", "tpuv4-like", "dgx-a100"):
        assert name in out
    rc, out, _ = _run(capsys, "targets", "--json")
    data = json.loads(out)
    assert {t["kind"] for t in data["targets"]} == {"gpu", "acceltran", "phaze"}
    assert data["clusters"] and all(t["mem_bandwidth"] > 0 for t in data["targets"])
