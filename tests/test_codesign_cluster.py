"""Co-design on a training cluster: the cluster-shape space and [placement], one candidate
planned by the placement search (its plan, iteration time and memory; the same figures as
`tandem.planning.plan`), a shape that fits nowhere, searched plan keys, the command's files
and one clear error per bad input. gpt2-tiny on DGX A100 nodes, 8 GPUs."""

from __future__ import annotations

import csv
import json
import math
import pickle
import re
import textwrap
from pathlib import Path

import pytest

from backends.codesign import Evaluator, load_space, space_names
from backends.placement.search import NoPlan
from backends.targets import load_cluster
from frontends.zoo import Overrides
from ir.errors import TandemError
from tandem.codesign import toolchain_for
from tandem.planning import plan

TINY = """\
    name = "tiny-cluster"
    cluster = "dgx-a100"
    objectives = ["latency"]
    best = "latency"
    [model]
    training = true
    dtype = "bf16"
    [placement]
    gpus = 8
    global_batch = 16
    [parameters]
    "model.hidden" = { choices = [64, 128, 65536] }
    "model.head_dim" = { choices = [16, 32] }
    "model.vocab_multiple" = { choices = [1, 1024] }
    "plan.t" = { choices = [1, 2, 3] }
    [references]
    "base model" = { params = {} }
    "padded" = { params = { "model.vocab_multiple" = 1024 } }
"""
CAPACITY = load_cluster("dgx-a100").device_target.hbm_capacity


def write_space(tmp_path: Path, body: str = TINY, name: str = "c.toml") -> str:
    p = tmp_path / name
    p.write_text(textwrap.dedent(body))
    return str(p)


@pytest.fixture(scope="module")
def ev(tmp_path_factory) -> Evaluator:  # noqa: ANN001
    space = load_space(write_space(tmp_path_factory.mktemp("space")))
    return Evaluator(space, toolchain_for("gpt2-tiny", space.model, training=None, overrides={}))


def test_cluster_space_loads_and_takes_the_command_line() -> None:
    assert "cluster-shape" in space_names()
    sp = load_space("cluster-shape")
    pl = sp.placement
    assert pl is not None and (pl.cluster, pl.gpus, pl.global_batch) == ("dgx-a100-80gb", 64, 512)
    assert sp.cluster == "dgx-a100-80gb" and sp.template_path.endswith("a100-sxm4-80gb.toml")
    assert {p.group for p in sp.params} == {"model"} and sp.objectives == ("latency",)
    assert [r.name for r in sp.references][0] == "base model"
    cli = {"cluster": "dgx-a100", "gpus": 16, "global_batch": 32, "fix": "recompute=full"}
    sp = load_space("cluster-shape", None, cli)
    assert sp.placement is not None and sp.placement.gpus == 16
    assert sp.placement.fixed.recompute == "full" and sp.template_path.endswith("40gb.toml")
    assert load_space("gpu-shape").placement is None
    # a space with a cluster is picklable for Ray, and so is the planner's NoPlan
    assert pickle.loads(pickle.dumps(sp)) == sp
    e = pickle.loads(pickle.dumps(NoPlan("fits nowhere", 2e11, 4e10)))
    assert (str(e), e.smallest, e.capacity) == ("fits nowhere", 2e11, 4e10)


def test_candidate_gets_its_best_plan(ev: Evaluator) -> None:
    r = ev.evaluate({"model.hidden": 128, "model.head_dim": 32, "model.vocab_multiple": 1})
    assert r.status == "ok", r.error
    m = r.metrics
    assert math.isfinite(m["latency_s"]) and m["latency_s"] > 0
    assert m["tokens_per_s"] == pytest.approx(16 * 16 / m["latency_s"])  # global batch x seq
    assert 0 < m["memory_bytes"] < CAPACITY and 0 < m["mfu"] < 1
    assert math.isnan(m["energy_j"])  # not modelled on GPUs
    plan_ = r.plan
    assert re.fullmatch(r"t\d+ p\d+ d\d+ mb\d+ (none|selective|full)( .*)?", plan_["key"])
    assert plan_["t"] * plan_["p"] * plan_["d"] == 8 and plan_["iteration_s"] == m["latency_s"]
    assert sum(plan_["stage_layers"]) == 2  # gpt2-tiny's layers, over the pipeline stages
    assert ev.evaluate({"model.hidden": 128, "model.head_dim": 32, "model.vocab_multiple": 1}) is r


def test_reference_equals_tandem_plan(ev: Evaluator) -> None:
    """The padded reference is `tandem plan gpt2-tiny` on the same cluster: the same best plan
    and iteration time (the planner pads 256 to 1024, so does the reference); the unpadded
    base shape is planned with its own vocabulary."""
    padded = ev.evaluate_reference(ev.space.references[1])
    report = plan("gpt2-tiny", Overrides(dtype="bf16"), cluster="dgx-a100", gpus=8, global_batch=16)
    assert padded.status == "ok" and padded.plan["key"] == report.best.plan.key()
    assert padded.metric("latency_s") == pytest.approx(report.best.iteration_s, rel=1e-9)
    base = ev.evaluate_reference(ev.space.references[0])
    assert base.status == "ok" and base.metric("latency_s") != padded.metric("latency_s")


def test_shape_that_fits_nowhere_is_infeasible(ev: Evaluator) -> None:
    r = ev.evaluate({"model.hidden": 65536, "model.head_dim": 16, "model.vocab_multiple": 1})
    assert r.status == "infeasible" and "fits nowhere" in r.error
    assert r.violations["memory_bytes"] > 0
    assert r.metric("memory_bytes") == pytest.approx(CAPACITY + r.violations["memory_bytes"])
    assert math.isnan(r.metric("latency_s")) and r.plan == {}


def test_searched_plan_key(ev: Evaluator) -> None:
    shape = {"model.hidden": 64, "model.head_dim": 16, "model.vocab_multiple": 1024}
    r = ev.evaluate({**shape, "plan.t": 2})
    assert r.status == "ok" and r.plan["key"].startswith("t2 ")
    bad = ev.evaluate({**shape, "plan.t": 3})
    assert bad.status == "infeasible" and bad.violations == {"plan": 1.0}
    assert "8 GPUs are not divisible by t=3" in bad.error


# ------------------------------------------------------------------------------ command line


def test_cli_writes_the_plan_of_every_trial(tmp_path: Path, tandem_cli) -> None:  # noqa: ANN001
    space = write_space(tmp_path)
    out = tmp_path / "out"
    args = ["codesign", "gpt2-tiny", "-s", space, "--trials", "4", "--population", "2"]
    code, text, err = tandem_cli(*args, "-o", str(out), "--no-progress")
    assert code == 0, err
    assert "training on dgx-a100: 8 GPUs, global batch 16" in text and "plan" in text
    for f in ("trials.csv", "pareto.csv", "references.csv", "pareto.png", "best.json"):
        assert (out / f).is_file(), f
    assert not (out / "best.toml").exists()  # the cluster's GPU is given: no target
    rows = list(csv.DictReader((out / "trials.csv").open()))
    assert len(rows) == 4 and "plan" in rows[0] and "mfu" in rows[0]
    for row in rows:
        assert bool(row["plan"]) == (row["status"] == "ok"), row
    front = list(csv.DictReader((out / "pareto.csv").open()))
    assert front and all(re.match(r"t\d+ p\d+ d\d+ mb\d+", row["plan"]) for row in front)
    best = json.loads((out / "best.json").read_text())
    assert best["placement"] == {
        "cluster": "dgx-a100",
        "gpus": 8,
        "global_batch": 16,
        "fix": "",
        "kernels": "fused",
    }
    assert best["plan"]["iteration_s"] == best["metrics"]["latency_s"]
    assert best["plan"]["t"] * best["plan"]["p"] * best["plan"]["d"] == 8
    # resuming with another cluster size is refused; the same command resumes
    code, _, err = tandem_cli(*args, "--gpus", "16", "-o", str(out), "--no-progress")
    assert code == 1 and "holds a search with placement" in err
    code, text, err = tandem_cli(*args, "-o", str(out), "--no-progress")
    assert code == 0 and "(0 evaluated, 4 reused" in text and "read back" in text, err


@pytest.mark.parametrize(
    "edit, flags, message",
    [
        (None, ["--gpus", "12", "--fix", "t=8"], "--gpus 12, --fix t=8: 12 GPUs are not divisible"),
        (None, ["--global-batch", "12", "--fix", "d=8"], "global batch 12 is not divisible by d=8"),
        (None, ["--cluster", "nope"], "--cluster 'nope' does not load: unknown cluster"),
        (None, ["--fix", "q=1"], "--fix 'q=1': unknown key 'q'"),
        (None, ["--objectives", "energy"], "energy is not modelled for gpu targets"),
        (('cluster = "dgx-a100"', ""), [], '[placement] needs cluster = "..."'),
        (("gpus = 8", ""), [], "[placement] gpus is missing (give it here or --gpus)"),
        (('"plan.t"', '"plan.q"'), [], "[parameters] plan.q is not a plan key"),
        (("[placement]", '[placement]\n    fix = "t=2"'), [], "plan.t is also fixed"),
        (
            ('"plan.t" = { choices = [1, 2, 3] }', '"plan.t" = { low = 1, high = 8 }'),
            [],
            "needs choices",
        ),
        (
            ('"plan.t"', '"compute.sm_count" = { choices = [54] }\n    "plan.t"'),
            [],
            "hardware keys",
        ),
        (("[model]", 'pipeline = "fuse"\n    [model]'), [], "pipeline is not run on a cluster"),
        (
            ("objectives = [", 'template = "h100-sxm"\n    objectives = ['),
            [],
            "is not the GPU",
        ),
    ],
)
def test_cli_bad_input_one_clear_error(tmp_path: Path, tandem_cli, edit, flags, message) -> None:  # noqa: ANN001
    body = TINY if edit is None else TINY.replace(*edit)
    space = write_space(tmp_path, body)
    out = tmp_path / "o"
    code, _, err = tandem_cli("codesign", "gpt2-tiny", "-s", space, *flags, "-o", str(out))
    assert code == 1 and err.count("error:") == 1 and message in err, err
    assert not out.exists()


def test_cluster_flags_need_a_cluster_space(tmp_path: Path, tandem_cli) -> None:  # noqa: ANN001
    o = str(tmp_path / "o")
    code, _, err = tandem_cli("codesign", "gpt2-tiny", "-s", "gpu-shape", "--gpus", "8", "-o", o)
    assert code == 1 and err.count("error:") == 1
    assert "--gpus: space gpu-shape.toml has no cluster" in err
    code, _, err = tandem_cli(
        "codesign", "gpt2-tiny", "-s", "gpu-shape", "--objectives", "mfu", "-o", o
    )
    assert code == 1 and "mfu is modelled only on a cluster" in err
    with pytest.raises(TandemError, match="a cluster space plans a zoo model"):
        sp = load_space("cluster-shape")
        Evaluator(sp, toolchain_for("x.mlir", sp.model, training=None, overrides={}))
