"""torch-mlir interoperability: torch-dialect MLIR in (files and the `--via torch-mlir`
frontend), real MLIR out (tfm's generic form through the wheel's `torch-mlir-opt`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
import torch

pytest.importorskip("torch_mlir")

import tandem.api as api  # noqa: E402
from backends.flops import count_module  # noqa: E402
from backends.interpreter import entry, run_function, run_module  # noqa: E402
from backends.verify import arguments  # noqa: E402
from frontends.torch_mlir.export import export_torch_mlir  # noqa: E402
from frontends.torch_mlir_import import (  # noqa: E402
    import_torch_mlir,
    import_via_torch_mlir,
    read_torch_mlir,
)
from ir.errors import TandemError  # noqa: E402
from ir.io import parse_text, print_module  # noqa: E402
from tandem.cli import main  # noqa: E402

ROUTES = ("gpt2-tiny", "bert-tiny", "llama-tiny")
SAMPLE = Path(__file__).parent / "filecheck" / "interop" / "torch-dialect.mlir"


@pytest.fixture(scope="module")
def via():
    """name -> (spec, torch.export Imported, torch-mlir Imported), built once for this file."""
    cache = {}

    def get(models, name: str):
        if name not in cache:
            spec, exported = models.get(name)
            cache[name] = (spec, exported, import_via_torch_mlir(spec.module, spec.example_inputs))
        return cache[name]

    return get


def _run(imported, spec) -> list[torch.Tensor]:
    fn = entry(imported.ir)
    return run_function(fn, arguments(fn, spec.module, spec.example_inputs, imported.constants))


@pytest.mark.parametrize("name", ROUTES)
def test_both_frontends_agree(models, via, name):
    spec, exported, mlir = via(models, name)
    a, b = count_module(mlir.ir), count_module(exported.ir)
    assert (a.flops, a.mm_flops) == (b.flops, b.mm_flops)
    assert a.mm_flops > 0
    for x, y in zip(_run(mlir, spec), _run(exported, spec), strict=True):
        torch.testing.assert_close(x, y, rtol=1e-5, atol=1e-6)
    params = {
        a.data["tfm.param"].data for a in entry(mlir.ir).arg_attrs.data if "tfm.param" in a.data
    }
    assert params <= set(
        dict(spec.module.named_parameters())
    )  # weights are named after the model's


@pytest.mark.parametrize("name", ROUTES)
def test_roundtrip_through_torch_mlir_opt(models, via, torch_mlir_opt, name):
    """What Tandem prints is real MLIR: torch-mlir-opt parses it and prints back the same IR."""
    _, _, mlir = via(models, name)
    out = subprocess.run(
        [torch_mlir_opt, "--allow-unregistered-dialect", "--mlir-print-op-generic"],
        input=print_module(mlir.ir, generic=True),
        capture_output=True,
        text=True,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    assert parse_text(out.stdout).is_structurally_equivalent(mlir.ir)


def test_verify_torch_mlir_matches_eager(models):
    spec, _ = models.get("bert-tiny")
    report = api.verify(spec, via="torch-mlir")
    assert report.ok, report.worst
    assert [c.name for c in report.comparisons] == ["out0"]


def test_file_with_embedded_weights_runs(models):
    """torch-mlir's default output (weights as dense_resource blobs), generic and custom syntax."""
    spec, _ = models.get("bert-tiny")
    text = export_torch_mlir(spec.module, spec.example_inputs, embed_weights=True).text
    assert "dense_resource<torch_tensor_" in text and "{-#" in text
    tr = import_torch_mlir(text, "bert.mlir")
    fn = entry(tr.ir)
    labels = [a.data["tfm.param"].data for a in fn.arg_attrs.data if "tfm.param" in a.data]
    assert labels and set(labels) == set(tr.weights)
    args = arguments(fn, torch.nn.Module(), spec.example_inputs, tr.weights)
    with torch.no_grad():
        want = spec.module(*spec.example_inputs)
    torch.testing.assert_close(run_function(fn, args)[0], want, rtol=1e-4, atol=1e-5)

    from torch_mlir import ir
    from torch_mlir.dialects import torch as torch_d

    ctx = ir.Context()
    torch_d.register_dialect(ctx)
    with ctx:
        custom = str(ir.Module.parse(text.split("{-#")[0]))  # torch-mlir's own syntax
    assert '"torch.aten' not in custom
    assert import_torch_mlir(custom, "bert.mlir").ir.is_structurally_equivalent(tr.ir)


def test_sample_file_translates_and_runs():
    """Weights -> parameters, splats -> constants (-inf from its hex spelling), flip -> generic."""
    tr = read_torch_mlir(SAMPLE)
    text = print_module(tr.ir)
    assert "torch." not in text
    assert 'tfm.param = "fc.weight"' in text and 'tfm.param = "literal0"' in text
    assert 'target = "aten.flip.default"' in text
    assert list(tr.weights) == ["literal0"]  # fc.weight has no blob in the file
    x, w = torch.randn(2, 8), torch.randn(4, 8)
    got_t, got_sum = run_module(tr.ir, [x, w, tr.weights["literal0"]])
    y = torch.softmax(
        torch.flip(
            torch.maximum(
                0.5 * torch.nn.functional.linear(x, w, tr.weights["literal0"]),
                torch.tensor(float("-inf")),
            ),
            [1],
        ),
        1,
    )
    torch.testing.assert_close(got_t, y.t())
    torch.testing.assert_close(got_sum, y[:, :2] + 2 * y[:, 2:])


def test_elided_weights_stay_distinct():
    """`dense_resource<__elided__>` (weights elided when printed) still gives one parameter each."""
    text = SAMPLE.read_text().replace("dense_resource<fc.weight>", "dense_resource<__elided__>")
    text = text.replace(
        "dense<[1.000000e+00, 2.000000e+00, 3.000000e+00, 4.000000e+00]> : tensor<4xf32>",
        "dense_resource<__elided__> : tensor<4xf32>",
    )
    fn = entry(import_torch_mlir(text, "elided.mlir").ir)
    labels = [a.data["tfm.param"].data for a in fn.arg_attrs.data if "tfm.param" in a.data]
    assert labels == ["elided0", "elided1"]


def _broken(old: str, new: str) -> str:
    text = SAMPLE.read_text()
    assert old in text
    return text.replace(old, new)


def _line_of(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), start=1) if needle in line)


@pytest.mark.parametrize(
    "old, new, message",
    [
        ('"torch.aten.mul.Tensor"(%2, %3)', '"torch.aten.mul.Tensor"(%2 %3)', "expected '\\)'"),
        ('"torch.aten.flip"', '"torch.aten.nonexistent"', "no operator aten.nonexistent"),
        ('"torch.aten.flip"', '"tfm.flip"', "unknown operation"),
    ],
)
def test_malformed_files_name_file_and_line(old, new, message):
    text = _broken(old, new)
    with pytest.raises(TandemError, match=message) as info:
        import_torch_mlir(text, "bad.mlir")
    assert str(info.value).startswith(f"bad.mlir:{_line_of(text, new.splitlines()[0])}")


def test_dynamic_shapes_are_refused():
    text = _broken(
        "!torch.list<int>) -> !torch.vtensor<[2,4],f32>",
        "!torch.list<int>) -> !torch.vtensor<[2,?],f32>",
    )
    text = text.replace(
        "(%8, %int1, %none) : (!torch.vtensor<[2,4],f32>",
        "(%8, %int1, %none) : (!torch.vtensor<[2,?],f32>",
    )
    with pytest.raises(TandemError, match=r"dynamic dimensions; tfm needs static shapes") as info:
        import_torch_mlir(text, "dyn.mlir")
    assert str(info.value).startswith(
        f"dyn.mlir:{_line_of(text, 'torch.aten.flip')}: torch.aten.flip:"
    )


def test_tfm_stays_strict():
    """Unregistered ops are allowed for the torch dialect only: a tfm op inside is refused."""
    with pytest.raises(TandemError, match="tfm.bogus"):
        parse_text('"builtin.module"() ({\n  "tfm.bogus"() : () -> ()\n}) : () -> ()\n', "x.mlir")


def test_cli(tmp_path, capsys):
    out = tmp_path / "sample.tfm.mlir"
    assert main(["import", str(SAMPLE), "-o", str(out)]) == 0
    assert parse_text(out.read_text()).is_structurally_equivalent(read_torch_mlir(SAMPLE).ir)

    bad = tmp_path / "bad.mlir"
    bad.write_text(_broken('"torch.aten.flip"', '"torch.aten.nonexistent"'))
    target = tmp_path / "never.mlir"
    assert main(["import", str(bad), "-o", str(target)]) == 1
    assert f"{bad}:" in capsys.readouterr().err
    assert not target.exists()

    assert main(["import", "gpt2-tiny", "--via", "torch-mlir", "--training"]) == 1
    assert "forward (inference) graphs only" in capsys.readouterr().err

    assert (
        main(["import", "bert-tiny", "--via", "torch-mlir", "--layers", "1"]) == 0
    )  # on meta: no weights
    text = capsys.readouterr().out
    assert (
        "tfm.attention" in text
        and 'tfm.param = "model.bert.encoder.layer.0.attention.self.query.weight"' in text
    )
