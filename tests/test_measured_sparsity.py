"""Measured DynaProp sparsity applied to shape-only IRs: `tandem sparsity --table` and
`dynaprop{measured=...}` give a meta-device import the same matmul annotations the
interpreter wrote on the real model; fewer or more layers, the mean over layers, pairs from
operand sites (independence), pad-shapes first, training, and one-line errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from backends.sparsity_table import load_table, table_from_json
from frontends.importer import import_model
from frontends.zoo import Overrides, build_model
from ir.errors import TandemError
from ir.io import read_module
from ir.linalg_ops import MatmulOp
from ir.sparsity import DynaPropConfig
from tandem.cli import main
from tandem.pipeline import run_pipeline

NAMES = ("sparsity", "sparsity.lhs", "sparsity.rhs")


def annotations(module) -> list[tuple]:  # noqa: ANN001
    """(layer or -1, sparsity, lhs, rhs) of every matmul in program order (0.0: absent)."""
    out = []
    for op in module.walk():
        if isinstance(op, MatmulOp):
            layer = op.attributes.get("layer")
            vals = [op.attributes.get(n) for n in NAMES]
            out.append(
                (
                    -1 if layer is None else layer.value.data,
                    *(0.0 if v is None else v.value.data for v in vals),
                )
            )
    return out


def flat(rows: list) -> list[float]:
    return [float(v) for row in rows for v in row]


def meta_ir(layers: int | None = None, dtype: str = "f16", training: bool = False):  # noqa: ANN201
    ov = Overrides(layers=layers, dtype=dtype)
    return import_model(build_model("bert-tiny", ov, device="meta", training=training))


@pytest.fixture(scope="module")
def measured(tmp_path_factory) -> tuple[Path, list[tuple]]:  # noqa: ANN001
    """`tandem sparsity bert-tiny --tau-fwd 0.06 -o real.mlir --table t.json` (2 layers)."""
    d = tmp_path_factory.mktemp("measured")
    ir, table = d / "real.mlir", d / "t.json"
    code = main(
        ["sparsity", "bert-tiny", "--tau-fwd", "0.06", "-o", str(ir), "--table", str(table)]
    )
    assert code == 0
    return table, annotations(read_module(str(ir)))


def test_meta_ir_gets_the_interpreters_annotations(measured) -> None:  # noqa: ANN001
    table, real = measured
    assert sum(a[1] > 0 for a in real) >= 6  # q@k, probs@v, out_proj, ffn_out x 2
    ir = meta_ir()  # shape only, f16 (the measurement ran in f32)
    run_pipeline(ir, f'dynaprop{{tau-fwd=0.06 measured="{table}"}}')
    assert flat(annotations(ir)) == pytest.approx(flat(real), rel=1e-12)
    # pad-shapes before dynaprop (as in co-design) changes nothing here: same annotations
    ir = meta_ir()
    spec = f'pad-shapes{{target=acceltran-server}},dynaprop{{tau-fwd=0.06 measured="{table}"}}'
    run_pipeline(ir, spec)
    assert flat(annotations(ir)) == pytest.approx(flat(real), rel=1e-12)


def test_fewer_and_more_layers_use_the_mean(measured) -> None:  # noqa: ANN001
    table, real = measured
    one = meta_ir(layers=1)
    run_pipeline(one, f'dynaprop{{tau-fwd=0.06 measured="{table}"}}')
    got = annotations(one)
    layer0 = [a for a in real if a[0] == 0]
    assert flat(a for a in got if a[0] >= 0) == pytest.approx(flat(layer0), rel=1e-12)
    # layer 2 was not measured: each matmul gets the MAC-weighted mean of layers 0 and 1
    three = meta_ir(layers=3)
    run_pipeline(three, f'dynaprop{{tau-fwd=0.06 measured="{table}"}}')
    by_layer = [[a[1:] for a in annotations(three) if a[0] == i] for i in range(3)]
    mean = [
        (x + y) / 2
        for a, b in zip(by_layer[0], by_layer[1], strict=True)
        for x, y in zip(a, b, strict=True)
    ]
    assert flat(by_layer[2]) == pytest.approx(mean, rel=1e-9)  # equal MACs: the plain mean
    assert by_layer[0] != by_layer[1]  # random layers differ a little
    # mean-layers: every layer at the mean
    one = meta_ir(layers=1)
    run_pipeline(one, f'dynaprop{{tau-fwd=0.06 measured="{table}" mean-layers=true}}')
    assert flat(a[1:] for a in annotations(one) if a[0] >= 0) == pytest.approx(mean, rel=1e-9)


def test_site_table_pairs_by_independence() -> None:
    """A table of sites only (`tandem sparsity --json`, the PyTorch runtime): operands get
    their site's sparsity and pairs 1 - (1 - s_l)(1 - s_r); close to the interpreter's."""
    from tandem.sparsity import annotated_ir, measure

    spec = build_model("bert-tiny", device="cpu")
    cfg = DynaPropConfig(0.06)
    data = measure(spec, cfg, [tuple(spec.example_inputs)]).to_json()
    table = table_from_json(data, "runtime.json")
    assert not table.matmuls
    ir, _ = annotated_ir(spec, cfg, [tuple(spec.example_inputs)])
    exact = annotations(ir)
    meta = meta_ir()
    run_pipeline(meta, "dynaprop{tau-fwd=0.06}")
    from backends.interpreter import entry
    from backends.sparsity_table import annotate_from_table

    done = annotate_from_table(entry(meta), table)
    assert done.independent == len(exact) and done.records == 0
    got = annotations(meta)
    qk = [i for i, a in enumerate(got) if a[2] > 0 and a[3] > 0]
    assert qk  # q@k: both operands pruned
    for i in qk:
        _, pairs, lhs, rhs = got[i]
        assert pairs == pytest.approx(1 - (1 - lhs) * (1 - rhs))
        assert (pairs, lhs, rhs) == pytest.approx(exact[i][1:], abs=0.02)


def test_training_tables_cover_the_backward(tmp_path: Path) -> None:
    table = tmp_path / "train.json"
    argv = ["sparsity", "bert-tiny", "--layers", "1", "--training", "--tau-fwd", "0.06"]
    assert main([*argv, "-o", str(tmp_path / "real.mlir"), "--table", str(table)]) == 0
    real = annotations(read_module(str(tmp_path / "real.mlir")))
    ir = meta_ir(layers=1, training=True)
    run_pipeline(ir, f'dynaprop{{tau-fwd=0.06 measured="{table}"}}')
    assert flat(annotations(ir)) == pytest.approx(flat(real), rel=1e-12)
    data = json.loads(table.read_text())
    assert {m["phase"] for m in data["matmuls"]} == {"forward", "backward"}
    with pytest.raises(TandemError, match=r"measured at tau-bwd=0.0001, the pass has 0.001$"):
        run_pipeline(
            meta_ir(1, training=True), f'dynaprop{{tau-fwd=0.06 tau-bwd=1e-3 measured="{table}"}}'
        )


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ("tau-fwd=0.04", r"t.json was measured at tau-fwd=0.06, the pass has 0.04$"),
        ("tau-fwd=0.06 sites=q,k", r"was measured with sites=q,k,v,.* the pass has sites=q,k$"),
    ],
)
def test_a_different_setting_is_one_error(measured, options: str, message: str) -> None:  # noqa: ANN001
    table, _ = measured
    with pytest.raises(TandemError, match=message):
        run_pipeline(meta_ir(1), f'dynaprop{{{options} measured="{table}"}}')


def test_bad_tables(tmp_path: Path) -> None:
    with pytest.raises(TandemError, match=r"nope.json: no such file"):
        load_table(tmp_path / "nope.json")
    bad = tmp_path / "bad.json"
    for text, message in [
        ("{", "not a readable JSON file"),
        ('{"sweep": []}', "holds a sweep"),
        ('{"tau_fwd": 0.06}', "no 'sites' list"),
        ('{"tau_fwd": "x", "sites": []}', "'tau_fwd' must be a number"),
        (
            '{"tau_fwd": 0.1, "sites": [], "matmuls": [{"key": "q@k#0", "lhs": 2, "rhs": 0, "pairs": 0, "macs": 1}]}',
            r"fractions must be in \[0, 1\]",
        ),
    ]:
        bad.write_text(text)
        with pytest.raises(TandemError, match=message):
            load_table(bad)
    # a site the measurement lacks: named, with the op
    bad.write_text('{"tau_fwd": 0.06, "sites": []}')
    with pytest.raises(
        TandemError,
        match=r"tfm.matmul in layer 0: measured=.*bad.json has no sparsity for site 'q' \(forward\)",
    ):
        run_pipeline(meta_ir(1), f'dynaprop{{tau-fwd=0.06 measured="{bad}"}}')
