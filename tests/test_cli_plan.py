"""`tandem plan` and `tandem compile --cluster`: the JSON schema, --fix, one-line errors."""

from __future__ import annotations

import json

import pytest

from tandem.cli import main

KEYS = {
    "t",
    "p",
    "d",
    "microbatch",
    "recompute",
    "sequence_parallel",
    "vp",
    "iteration_s",
    "tokens_per_s",
    "tflops_per_gpu",
    "mfu",
    "memory_bytes_per_gpu",
    "fits",
    "breakdown",
}


def _json(capsys, argv: list[str]) -> dict:
    assert main(argv) == 0
    return json.loads(capsys.readouterr().out)


def test_plan_json_best_first(capsys) -> None:
    data = _json(
        capsys, ["plan", "gpt2-tiny", "--gpus", "8", "--global-batch", "16", "--top", "3", "--json"]
    )
    plans = data["plans"]
    assert 1 <= len(plans) <= 3 and data["search_s"] > 0
    assert all(KEYS <= set(p) for p in plans)
    times = [p["iteration_s"] for p in plans]
    assert times == sorted(times)
    for p in plans:
        assert p["t"] * p["p"] * p["d"] == 8 and p["fits"]
        assert 16 % (p["d"] * p["microbatch"]) == 0
        assert sum(p["breakdown"].values()) == pytest.approx(p["iteration_s"], rel=1e-6)
        assert 0 < p["mfu"] < 1


def test_plan_fix_evaluates_that_plan(capsys) -> None:
    argv = ["plan", "gpt2-tiny", "--gpus", "8", "--global-batch", "16", "--json"]
    data = _json(capsys, [*argv, "--fix", "t=2,p=2,d=2,mb=2,recompute=selective,sp=on,vp=1"])
    best = data["plans"][0]
    assert (best["t"], best["p"], best["d"], best["microbatch"]) == (2, 2, 2, 2)
    assert best["recompute"] == "selective" and best["sequence_parallel"] is True


@pytest.mark.parametrize(
    "extra,message",
    [
        (
            ["--gpus", "12", "--global-batch", "16", "--fix", "t=8"],
            "12 GPUs are not divisible by t=8",
        ),
        (
            ["--gpus", "8", "--global-batch", "10", "--fix", "d=4,mb=2"],
            "not divisible by d x microbatch",
        ),
        (
            ["--gpus", "8", "--global-batch", "16", "--cluster", "nowhere"],
            "unknown cluster 'nowhere'",
        ),
        (["--gpus", "8", "--global-batch", "16", "--fix", "x=1"], "unknown key 'x'"),
    ],
)
def test_plan_bad_input(capsys, extra: list[str], message: str) -> None:
    assert main(["plan", "gpt2-tiny", *extra]) == 1
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(
    "fix", ["t=2,p=2,d=2,mb=2,sp=off", "t=2,p=2,d=2,mb=2,sp=on,recompute=full,tp_overlap=on"]
)
def test_compile_on_a_cluster_places_and_simulates(capsys, tmp_path, fix: str) -> None:
    trace = tmp_path / "step.json"
    out = tmp_path / "placed.mlir"
    data = _json(
        capsys,
        [
            "compile",
            "gpt2-tiny",
            "--training",
            "--cluster",
            "dgx-a100-80gb",
            "--gpus",
            "8",
            "--global-batch",
            "16",
            "--fix",
            fix,
            "--json",
            "--trace",
            str(trace),
            "-o",
            str(out),
        ],
    )
    plan = data["plan"]
    assert (plan["t"], plan["p"], plan["d"]) == (2, 2, 2)
    # the placed IR's own ops give the time the planner's template predicted
    assert plan["iteration_s"] == pytest.approx(data["planner_iteration_s"], rel=0.1)
    assert len(data["stages"]) == 2
    events = json.loads(trace.read_text())["traceEvents"]
    names = {e["args"]["name"] for e in events if e["ph"] == "M" and e["name"] == "process_name"}
    assert {"stage 0", "stage 1", "link stage 0 <-> 1"} <= names
    assert "tfm.plan" in out.read_text()


def test_compile_cluster_needs_training(capsys) -> None:
    assert (
        main(
            [
                "compile",
                "gpt2-tiny",
                "--cluster",
                "dgx-a100-80gb",
                "--gpus",
                "8",
                "--global-batch",
                "8",
            ]
        )
        == 1
    )
    assert "add --training" in capsys.readouterr().err


@pytest.mark.parametrize("command", [["plan"], ["compile", "--training"]])
def test_a_cluster_file_is_never_an_output(capsys, tmp_path, command: list[str]) -> None:
    """`--trace` naming the cluster file the command reads: one error, the file unchanged."""
    from pathlib import Path

    cluster = tmp_path / "c.toml"
    text = (Path(__file__).parent.parent / "backends" / "clusters" / "dgx-a100.toml").read_text()
    cluster.write_text(text)
    argv = [command[0], "gpt2-tiny", *command[1:], "--cluster", str(cluster)]
    argv += ["--gpus", "8", "--global-batch", "8", "--trace", str(cluster)]
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "is an input of this command" in err and len(err.strip().splitlines()) == 1
    assert cluster.read_text() == text
