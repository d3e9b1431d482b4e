"""Co-design search: spaces as data (and their errors), one candidate's evaluation, layer
scaling against the full model, the pipeline template, the Optuna search (reproducible and
resumable), the Pareto front, and `tandem codesign` end to end. Ray: test_codesign_ray.py."""

from __future__ import annotations

import json
import math
import textwrap
from pathlib import Path

import pytest

from backends.codesign import (
    Evaluator,
    Result,
    SearchSettings,
    best_design,
    design_data,
    dominates,
    load_space,
    pareto_front,
    run_search,
    space_names,
    target_toml,
)
from backends.codesign.evaluate import active_parts
from backends.codesign.measure import describe, premeasure, unmeasured, with_measurements
from backends.codesign.plan import render, split_available, stages
from backends.codesign.shape import InvalidShape, shape_overrides
from backends.codesign.space import Space
from backends.cost import acceltran_area, phaze_area
from backends.sparsity_table import table_from_json
from backends.targets import load_target
from ir.errors import TandemError
from tandem.codesign import ModelToolchain, toolchain_for

SMALL = {
    "compute.pes": 64,
    "compute.lanes_per_pe": 16,
    "compute.macs_per_lane": 16,
    "compute.softmax_per_pe": 4,
    "compute.tile_b": 1,
    "compute.tile_x": 16,
    "buffers.activation_mb": 4,
    "buffers.weight_mb": 8,
    "buffers.mask_mb": 1,
}


def write_space(tmp_path: Path, body: str, name: str = "s.toml") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


# ------------------------------------------------------------------------------ spaces


def test_builtin_spaces_load() -> None:
    assert space_names() == ["acceltran", "cluster-shape", "gpu-shape", "phaze"]
    acc = load_space("acceltran")
    assert acc.area_budget == pytest.approx(
        acceltran_area(load_target("acceltran-server"))["total"]
    )
    assert {r.name for r in acc.references} == {"AccelTran-Server", "AccelTran-Edge"}
    phaze = load_space("phaze")
    assert phaze.area_budget == pytest.approx(280.44, abs=0.01)
    shape = load_space("gpu-shape")
    assert shape.area_budget is None and {p.group for p in shape.params} == {"model"}
    assert load_space("acceltran", ["latency"]).objectives == ("latency",)


BASE = """\
    name = "t"
    template = "acceltran-edge"
    objectives = ["latency", "energy"]
    [parameters]
    "compute.pes" = { choices = [64, 128] }
"""


@pytest.mark.parametrize(
    "edit, message",
    [
        (
            ('"compute.pes" = { choices = [64, 128] }', ""),
            "[parameters] is empty: nothing to search",
        ),
        (("compute.pes", "compute.pez"), "[parameters] compute.pez is not a key of the template"),
        (('"compute.pes" =', '"model.wings" ='), "model.wings is not a model-shape knob"),
        (("choices = [64, 128]", "choices = []"), "compute.pes: choices is empty"),
        (("choices = [64, 128]", "low = 128, high = 64"), "low = 128 is above high = 64"),
        (("choices = [64, 128]", "choices = [64], low = 1"), "either choices or low/high"),
        (('"latency", "energy"', '"latency", "speed"'), "objectives[1] must be one of"),
        (('"latency", "energy"', '"latency", "latency"'), "an objective is listed twice"),
        (("acceltran-edge", "nope"), "template 'nope' does not load"),
        (("choices = [64, 128] }", "choices = [64, 128], default = 3 }"), "default 3 is not one"),
    ],
)
def test_bad_space_one_clear_error(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    path = write_space(tmp_path, BASE.replace(*edit))
    with pytest.raises(TandemError) as e:
        load_space(path)
    assert message in str(e.value) and "s.toml" in str(e.value)


def test_contradictory_and_unmeetable_spaces(tmp_path: Path) -> None:
    area = write_space(tmp_path, BASE + "[constraints]\narea_mm2 = 10\n")
    with pytest.raises(
        TandemError, match=r"area_mm2 = 10: no design meets it; the smallest design"
    ):
        load_space(area)
    heads = write_space(
        tmp_path,
        BASE + '"model.heads" = { choices = [8] }\n"model.head_dim" = { choices = [64] }\n',
    )
    with pytest.raises(TandemError, match="model.heads and model.head_dim contradict"):
        load_space(heads)
    unused = write_space(tmp_path, BASE + '"plan.tau" = { choices = [0.1] }\n')
    with pytest.raises(TandemError, match=r"plan.tau is not used by the pipeline"):
        load_space(unused)
    missing = write_space(tmp_path, 'pipeline = "dynaprop{tau-fwd=${plan.tau}}"\n' + BASE)
    with pytest.raises(TandemError, match=r"pipeline uses \$\{plan.tau\} but \[parameters\]"):
        load_space(missing)
    gpu = write_space(
        tmp_path, BASE.replace("acceltran-edge", "toy").replace("compute.pes", "compute.sm_count")
    )
    with pytest.raises(TandemError, match="energy is not modelled for gpu targets"):
        load_space(gpu)
    with pytest.raises(TandemError, match="--objectives: unknown objective 'speed'"):
        load_space("acceltran", ["speed"])
    with pytest.raises(TandemError, match="unknown space 'nope'"):
        load_space("nope")


# ------------------------------------------------------------------------------ designs


def test_design_toml_round_trips(tmp_path: Path) -> None:
    space = load_space("acceltran")
    data = design_data(space.template_data, SMALL, "d1")
    path = tmp_path / "d1.toml"
    path.write_text(target_toml(data, "a header\nof two lines"))
    t = load_target(str(path))
    assert (t.pes, t.lanes_per_pe, t.mask_buffer_mb, t.name) == (64, 16, 1.0, "d1")
    assert acceltran_area(t)["total"] < space.area_budget


def test_phaze_area_model_matches_phaze_data() -> None:
    t = load_target("tpuv4-like")
    a = phaze_area(t)
    assert a is not None and a["total"] == pytest.approx(280.44, abs=0.01)
    # PHAZE's own TPUv4-like (2 vector cores of 128 lanes): 278.83 mm^2 in its cores.json
    vc = t.vector_cores * 128 * t.area_model["mm2_per_vector_lane"]
    vc += t.vector_cores * t.area_model["mm2_per_vector_core"]
    assert a["tensor_cores"] + vc + a["global_buffer"] == pytest.approx(278.83, rel=0.002)


# ------------------------------------------------------------------------------ shapes


def test_shape_knobs() -> None:
    base = {"family": "gpt3", "layers": 32, "hidden": 2560, "heads": 32, "kv_heads": 32,
            "ffn": 10240, "vocab": 50257, "seq": 2048, "batch": 4, "params": None}  # fmt: skip
    s = shape_overrides(base, {"head_dim": 128, "vocab_multiple": 64})
    assert (s["heads"], s["kv_heads"], s["vocab"], s["ffn"]) == (20, 20, 50304, 10240)
    s = shape_overrides(base, {"hidden": 2400})  # keeps head dim 80 where it divides; ffn = 4h
    assert (s["heads"], s["ffn"]) == (30, 9600)
    assert shape_overrides(base, {"hidden": 2304})["heads"] == 32  # 2304 / 80: keep 32 heads
    with pytest.raises(InvalidShape, match="not divisible by head_dim=96"):
        shape_overrides(base, {"hidden": 2560, "head_dim": 96})


# ------------------------------------------------------------------------------ pipeline


def test_pipeline_template() -> None:
    p = 'pad-shapes{target=$TARGET},nope{a=1 b="x,y"},fold-transposes'
    assert stages(p) == ["pad-shapes{target=$TARGET}", 'nope{a=1 b="x,y"}', "fold-transposes"]
    kept, skipped = split_available(p, {"pad-shapes", "fold-transposes"})
    assert skipped == ["nope"]
    assert render(kept, target_path="/t/d.toml") == 'pad-shapes{target="/t/d.toml"},fold-transposes'
    assert render(["x{tau=${plan.tau}}"], plan={"plan.tau": 0.06}) == "x{tau=0.06}"
    with pytest.raises(TandemError, match="unbalanced"):
        stages("a{b")


@pytest.mark.parametrize("name", ["acceltran", "phaze", "gpu-shape"])
def test_builtin_pipelines_parse(name: str) -> None:
    """The stages that run today parse with their options (a pass that lands with other
    option names than the space file uses fails here)."""
    from passes import get_all_passes
    from tandem.pipeline import build_pipeline

    space = load_space(name)
    kept, _ = split_available(space.pipeline, get_all_passes())
    plan = {p.name: p.default or p.minimum() for p in space.group("plan")}
    text = render(kept, target_path=space.template_path, plan=plan)
    build_pipeline(with_measurements(text, lambda stage: "measured.json"))  # $SPARSITY: a file


# ------------------------------------------------------------------------------ evaluation


@pytest.fixture(scope="module")
def acc_eval() -> Evaluator:
    space = load_space("acceltran")
    return Evaluator(space, toolchain_for("bert-tiny", space.model, training=None, overrides={}))


def test_evaluate_candidate_and_references(acc_eval: Evaluator) -> None:
    r = acc_eval.evaluate(SMALL)
    assert r.status == "ok" and r.violations["area_mm2"] < 0
    m = r.metrics
    assert m["latency_s"] > 0 and m["energy_j"] > 0
    assert m["edp_js"] == pytest.approx(m["energy_j"] * m["latency_s"])
    assert acc_eval.evaluate(SMALL) is r  # cached by candidate
    big = {**SMALL, "compute.pes": 1024, "compute.softmax_per_pe": 64}
    over = acc_eval.evaluate(big)
    assert over.status == "infeasible" and over.violations["area_mm2"] > 0
    assert math.isnan(over.metric("latency_s"))  # over the budget: not simulated
    server = acc_eval.evaluate_reference(acc_eval.space.references[0])
    assert server.status == "ok" and server.metrics["area_mm2"] == pytest.approx(
        acc_eval.space.area_budget
    )


class BrokenToolchain(ModelToolchain):
    def build(self, shape):  # noqa: ANN001, ANN201
        raise RuntimeError("importer exploded")


def test_failed_candidate_is_a_result_not_an_exception() -> None:
    space = load_space("acceltran")
    ev = Evaluator(space, BrokenToolchain("bert-tiny"))
    r = ev.evaluate(SMALL)
    assert r.status == "failed" and "RuntimeError: importer exploded" in r.error


@pytest.mark.parametrize(
    "space_name, training",
    [("acceltran", False), ("phaze", True)],
)
def test_layer_scaling_equals_full_model(space_name: str, training: bool) -> None:
    """Two imported layers, extrapolated to four, give the four-layer model's latency and
    energy; peak memory (the largest live set, not a sum) within 1%."""
    import dataclasses

    space = load_space(space_name)
    tc = ModelToolchain("gpt2-tiny", training, (("layers", 4),))
    full_space = dataclasses.replace(space, model={**space.model, "scale_layers": False})
    cand = SMALL if space_name == "acceltran" else {}
    scaled = Evaluator(space, tc).evaluate(cand)
    full = Evaluator(full_space, tc).evaluate(cand)
    assert scaled.status == full.status == "ok"
    for m, rel in (("latency_s", 1e-6), ("energy_j", 1e-6), ("memory_bytes", 0.01)):
        a, b = scaled.metric(m), full.metric(m)
        assert (math.isnan(a) and math.isnan(b)) or a == pytest.approx(b, rel=rel), m


class Unmeasured(ModelToolchain):
    """Prunes inserted, no sparsity measured: dense costs."""

    def measure_sparsity(self, stage, shape):  # noqa: ANN001, ANN201
        return None


class NeverMeasures(ModelToolchain):
    def _measure(self, config, shape):  # noqa: ANN001, ANN201
        raise AssertionError("measured again")


def test_measured_stage_text() -> None:
    stage = "dynaprop{tau-fwd=0.06 measured=$SPARSITY mean-layers=true}"
    assert unmeasured(stage) == "dynaprop{tau-fwd=0.06 mean-layers=true}"
    assert unmeasured("dynaprop{measured=$SPARSITY}") == "dynaprop"
    text = f"pad-shapes,{stage},fuse"
    assert with_measurements(text, lambda s: "/t/m.json") == (
        'pad-shapes,dynaprop{tau-fwd=0.06 measured="/t/m.json" mean-layers=true},fuse'
    )
    assert with_measurements(text, lambda s: None) == (
        "pad-shapes,dynaprop{tau-fwd=0.06 mean-layers=true},fuse"
    )


def test_sparsity_measured_per_threshold_costs_the_candidates(tmp_path: Path) -> None:
    """bert-tiny (a zoo model): each threshold of the space is measured once on the real
    model and kept in sparsity_dir; a higher threshold zeroes more MACs and costs less
    energy; dense costs (nothing measured) are higher; the files are read back."""
    space = load_space("acceltran")
    tc = toolchain_for(
        "bert-tiny", space.model, training=None, overrides={}, sparsity_dir=str(tmp_path)
    )
    kept, _, _ = active_parts(space, tc)
    shape = shape_overrides(tc.config() or {}, {})
    tables = premeasure(space, tc, kept, shape)
    assert len(tables) == 5 and len(list(tmp_path.glob("bert-tiny-tau*.json"))) == 5
    macs = [table_from_json(json.loads(t or ""), "t").summary()["macs"] for t in tables.values()]
    assert 0 < macs[0] and macs == sorted(macs)
    assert "tau-fwd=0.02: " in describe(tables)[0] and "random weights" in describe(tables)[0]
    ev = Evaluator(space, tc, measurements=tables)
    low, high = (ev.evaluate({**SMALL, "plan.tau_fwd": t}) for t in (0.02, 0.1))
    assert high.metric("energy_j") < low.metric("energy_j")
    assert high.metric("latency_s") <= low.metric("latency_s")
    dense = Evaluator(space, Unmeasured("bert-tiny", False, tc.overrides))
    d = dense.evaluate({**SMALL, "plan.tau_fwd": 0.1})
    assert d.metric("energy_j") > high.metric("energy_j")
    again = NeverMeasures("bert-tiny", False, tc.overrides, sparsity_dir=str(tmp_path))
    assert premeasure(space, again, kept, shape) == tables


# ------------------------------------------------------------------------------ pareto


def res(trial: int, lat: float, energy: float, status: str = "ok") -> Result:
    return Result({"x": trial}, {"latency_s": lat, "energy_j": energy}, status, trial=trial)


def test_pareto_front_and_best() -> None:
    rs = [res(0, 1, 5), res(1, 2, 2), res(2, 3, 1), res(3, 3, 3), res(4, 0.5, 0.5, "infeasible")]
    front = pareto_front(rs, ("latency", "energy"))
    assert [r.trial for r in front] == [0, 1, 2]
    assert dominates(rs[1], rs[3], ("latency", "energy"))
    space = load_space("acceltran")
    best = best_design(front, space)  # smallest latency x energy
    assert best is not None and best.trial == 2


# ------------------------------------------------------------------------------ search


@pytest.fixture(scope="module")
def tiny_ir(tmp_path_factory) -> str:  # noqa: ANN001
    """bert-tiny's IR as a file: searches read it instead of importing (no torch.export)."""
    import tandem.api as api
    from ir.io import print_module

    path = tmp_path_factory.mktemp("ir") / "bert-tiny.mlir"
    path.write_text(print_module(api.import_model("bert-tiny")))
    return str(path)


def small_search(space: Space, ir: str, known=None, trials: int = 8, seed: int = 0):  # noqa: ANN001, ANN201
    tc = ModelToolchain(ir)
    settings = SearchSettings(trials=trials, population=4, seed=seed, progress=False)
    return run_search(space, tc, settings, known=known)


def test_search_is_reproducible_and_resumes_exactly(tiny_ir: str) -> None:
    space = load_space("acceltran")
    a = small_search(space, tiny_ir)
    b = small_search(space, tiny_ir)
    assert [r.params for r in a.results] == [r.params for r in b.results]
    assert len(a.results) == 8 and {r.trial for r in a.results} == set(range(8))
    assert len(a.references) == 2 and all(r.status == "ok" for r in a.references)
    other = small_search(space, tiny_ir, seed=1)
    assert [r.params for r in other.results] != [r.params for r in a.results]
    # resume: the first 4 trials read back, then 4 more; the same as one run of 8
    half = small_search(space, tiny_ir, trials=4)
    resumed = small_search(space, tiny_ir, known={r.key: r for r in half.results})
    assert [r.params for r in resumed.results] == [r.params for r in a.results]
    assert resumed.reused >= 4 and resumed.evaluated <= 4


# ------------------------------------------------------------------------------ command line


def test_cli_codesign_writes_results_and_resumes(tmp_path: Path, tandem_cli, tiny_ir: str) -> None:  # noqa: ANN001
    out = tmp_path / "out"
    args = ["codesign", tiny_ir, "--space", "acceltran", "--trials", "6"]
    code, text, err = tandem_cli(*args, "--population", "3", "-o", str(out), "--no-progress")
    assert code == 0, err
    for f in ("trials.csv", "pareto.csv", "references.csv", "pareto.png", "best.toml", "best.json"):
        assert (out / f).is_file(), f
    assert "Pareto front" in text and "AccelTran-Server" in text
    # every stage of the space's pipeline is registered now (dynaprop included): none is
    # left out, and the DynaProp threshold is searched with the hardware
    assert "pipeline stages left out" not in text
    rows = (out / "trials.csv").read_text().splitlines()
    assert len(rows) == 7 and rows[0].startswith("trial,status,feasible,compute.pes")
    assert "plan.tau_fwd" in rows[0]
    assert "not measured (a fixed IR has no weights): dense" in text
    code, text, err = tandem_cli("simulate", tiny_ir, "--target", str(out / "best.toml"))
    assert code == 0 and "area" in text, err
    code, text, err = tandem_cli(
        *args[:-1], "9", "--population", "3", "-o", str(out), "--no-progress"
    )
    assert code == 0 and "6 results read back" in text, err
    assert len((out / "trials.csv").read_text().splitlines()) == 10
    code, _, err = tandem_cli(*args, "--seed", "5", "-o", str(out), "--no-progress")
    assert code == 1 and "holds a search with seed = 0, not 5" in err


MEASURED_SPACE = """\
    name = "t"
    template = "acceltran-edge"
    objectives = ["latency", "energy"]
    pipeline = "dynaprop{tau-fwd=${plan.tau} measured=$SPARSITY}"
    [parameters]
    "compute.pes" = { choices = [64, 128] }
    "plan.tau" = { choices = [0.06] }
"""


def test_cli_codesign_measures_on_a_checkpoint(tmp_path: Path, tandem_cli) -> None:  # noqa: ANN001
    """--checkpoint: the sparsity is measured on those weights (kept in OUTDIR/sparsity and
    printed); other weights, other sparsity; a bad checkpoint is one error."""
    import torch

    from frontends.zoo import build_model

    state = {k: 4 * v for k, v in build_model("bert-tiny").module.state_dict().items()}
    ck = tmp_path / "ck.pt"
    torch.save(state, ck)
    space = write_space(tmp_path, MEASURED_SPACE)
    args = ["codesign", "bert-tiny", "-s", space, "--trials", "2", "--population", "2"]
    out = tmp_path / "out"
    code, text, err = tandem_cli(*args, "--checkpoint", str(ck), "-o", str(out), "--no-progress")
    assert code == 0, err
    assert "DynaProp sparsity measured" in text and "weights of ck.pt" in text
    (table,) = (out / "sparsity").glob("bert-tiny-tau0.06-*.json")
    mine = table_from_json(json.loads(table.read_text()), "t").summary()
    random = ModelToolchain("bert-tiny").measure_sparsity("dynaprop{tau-fwd=0.06}", {})
    assert mine != table_from_json(json.loads(random or ""), "r").summary()
    (tmp_path / "bad.pt").write_text("not a checkpoint")
    bad = ["--checkpoint", str(tmp_path / "bad.pt"), "-o", str(tmp_path / "o2")]
    code, _, err = tandem_cli(*args, *bad)
    assert code == 1 and err.count("error:") == 1 and "bad.pt" in err


def test_cli_codesign_bad_input(tmp_path: Path, tandem_cli) -> None:  # noqa: ANN001
    code, _, err = tandem_cli("codesign", "bert-tiny", "--space", "nope", "-o", str(tmp_path / "o"))
    assert code == 1 and err.count("error:") == 1 and "unknown space 'nope'" in err
    code, _, err = tandem_cli(
        "codesign", "bert-tiny", "-s", "phaze", "--objectives", "energy", "-o", str(tmp_path)
    )
    assert code == 1 and "energy is not modelled for phaze targets" in err


def test_interrupted_search_keeps_results_and_resumes(tiny_ir: str) -> None:
    """Ctrl-C in the middle of a generation: the finished candidates come back (to be
    written), and a resumed search reuses them and ends as an uninterrupted one."""
    space = load_space("acceltran")
    tc = ModelToolchain(tiny_ir)
    seen: list[int] = []

    def stop(outcome) -> None:  # noqa: ANN001
        seen.append(len(outcome.results))
        if len(outcome.results) >= 6:
            raise KeyboardInterrupt

    settings = SearchSettings(trials=8, population=4, seed=0, progress=False)
    cut = run_search(space, tc, settings, on_result=stop)
    assert cut.interrupted and 6 <= len(cut.results) < 8
    resumed = run_search(space, tc, settings, known={r.key: r for r in cut.results})
    full = run_search(space, tc, settings)
    assert not resumed.interrupted
    assert [r.params for r in resumed.results] == [r.params for r in full.results]


def test_power_constraint_needs_an_energy_model(tmp_path: Path) -> None:
    body = BASE.replace("acceltran-edge", "tpuv4-like").replace(
        "compute.pes", "compute.tensor_cores"
    )
    path = write_space(
        tmp_path,
        body.replace('"latency", "energy"', '"latency"') + "[constraints]\npower_w = 100\n",
    )
    with pytest.raises(TandemError, match="power_w: power is not modelled for phaze targets"):
        load_space(path)
