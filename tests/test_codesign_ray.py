"""Co-design search on Ray: the same front as in-process for the same seed, and a worker
that dies is retried or its candidate marked failed, never lost. One small Ray instance
(2 CPUs, no dashboard) for the whole file, shut down at the end."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from pathlib import Path

import pytest

from backends.codesign import SearchSettings, load_space, pareto_front, run_search
from tandem.codesign import ModelToolchain

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def tiny_ir(tmp_path_factory) -> str:  # noqa: ANN001
    """bert-tiny's IR as a file: workers read it (no torch import, no torch.export)."""
    import tandem.api as api
    from ir.io import print_module

    path = tmp_path_factory.mktemp("ir") / "bert-tiny.mlir"
    path.write_text(print_module(api.import_model("bert-tiny")))
    return str(path)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    # the toolchains below live in this test file, which workers cannot import: ship by value
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield
    ray.shutdown()


class CrashOnce(ModelToolchain):
    """Kills its worker process on the first import (a marker file remembers it)."""

    marker: str = ""

    def build(self, shape):  # noqa: ANN001, ANN201
        if not os.path.exists(self.marker):
            Path(self.marker).write_text("crashed")
            os._exit(1)
        return super().build(shape)


class CrashAlways(ModelToolchain):
    """Kills every worker process that asks it for the model (the driver it leaves alone)."""

    driver: int = 0

    def config(self):  # noqa: ANN201
        if os.getpid() != self.driver:
            os._exit(1)
        return super().config()


class MeasuredIR(ModelToolchain):
    """bert-tiny's IR from a file, with its sparsity measured on the zoo model, in the
    driver only: a worker asked to measure dies (the tables must come by value)."""

    driver: int = 0

    def measure_sparsity(self, stage, shape):  # noqa: ANN001, ANN201
        if os.getpid() != self.driver:
            os._exit(1)
        return ModelToolchain("bert-tiny").measure_sparsity(stage, {})


def metrics(r) -> dict:  # noqa: ANN001
    return {k: None if math.isnan(v) else v for k, v in r.metrics.items()}


def search(tc: ModelToolchain, workers: int, trials: int = 8, retries: int = 1, refs: bool = True):  # noqa: ANN201
    space = load_space("acceltran")
    if not refs:
        space = dataclasses.replace(space, references=())
    settings = SearchSettings(
        trials=trials, population=4, seed=3, workers=workers, retries=retries, progress=False
    )
    return space, run_search(space, tc, settings)


def test_two_workers_give_the_same_front_as_one_and_a_dead_worker_is_retried(
    local_ray,  # noqa: ANN001
    tmp_path: Path,
    tiny_ir: str,
) -> None:
    """One worker dies on its first import: Ray restarts it and the candidate is retried;
    the search then equals the in-process one, trial by trial."""
    tc = CrashOnce(tiny_ir)
    object.__setattr__(tc, "marker", str(tmp_path / "crashed"))
    space, on_ray = search(tc, workers=2)
    assert (tmp_path / "crashed").exists()
    _, local = search(ModelToolchain(tiny_ir), workers=1)
    assert all(r.status != "failed" for r in on_ray.results + on_ray.references)
    assert [r.params for r in on_ray.results] == [r.params for r in local.results]
    assert [metrics(r) for r in on_ray.results] == [metrics(r) for r in local.results]
    keys = [r.key for r in pareto_front(on_ray.results, space.objectives)]
    assert keys == [r.key for r in pareto_front(local.results, space.objectives)]
    assert ray.is_initialized()  # a Ray the search did not start is left running


def test_worker_that_keeps_dying_marks_candidates_failed(local_ray, tiny_ir: str) -> None:  # noqa: ANN001
    """No retries left: every candidate is recorded as failed, with the error; none lost."""
    tc = CrashAlways(tiny_ir)
    object.__setattr__(tc, "driver", os.getpid())
    _, out = search(tc, workers=2, trials=3, retries=0, refs=False)
    assert len(out.results) == 3 and {r.trial for r in out.results} == set(range(3))
    assert all(r.status == "failed" and "worker failed" in r.error for r in out.results)


def test_cluster_search_on_ray_equals_in_process(local_ray, tmp_path: Path) -> None:  # noqa: ANN001
    """A cluster space on two Ray workers: each shape planned in a worker, the same plans
    and iteration times as in-process."""
    from tandem.codesign import toolchain_for

    body = """
        name = "tiny-cluster"
        cluster = "dgx-a100"
        objectives = ["latency"]
        [model]
        training = true
        dtype = "bf16"
        [placement]
        gpus = 8
        global_batch = 16
        [parameters]
        "model.hidden" = { choices = [64, 128] }
        "model.head_dim" = { choices = [16, 32] }
    """
    path = tmp_path / "c.toml"
    path.write_text("\n".join(line.strip() for line in body.splitlines()))
    space = load_space(str(path))
    tc = toolchain_for("gpt2-tiny", space.model, training=None, overrides={})
    runs = []
    for workers in (2, 1):
        settings = SearchSettings(trials=4, population=2, seed=0, workers=workers, progress=False)
        runs.append(run_search(space, tc, settings).results)
    assert all(r.status == "ok" and r.plan for r in runs[0])
    assert [(r.params, r.plan["key"], metrics(r)) for r in runs[0]] == [
        (r.params, r.plan["key"], metrics(r)) for r in runs[1]
    ]


def test_measured_sparsity_reaches_workers_by_value(local_ray, tiny_ir: str) -> None:  # noqa: ANN001
    """DynaProp's sparsity is measured once per threshold in the driver and shipped: two
    workers give the in-process results exactly, and they are not the dense ones."""
    tc = MeasuredIR(tiny_ir)
    object.__setattr__(tc, "driver", os.getpid())
    _, on_ray = search(tc, workers=2, refs=False)
    _, local = search(tc, workers=1, refs=False)
    _, dense = search(ModelToolchain(tiny_ir), workers=1, refs=False)
    assert len(on_ray.measurements) == 5 and all(on_ray.measurements.values())
    assert all(r.status != "failed" for r in on_ray.results), on_ray.results[0].error
    assert [metrics(r) for r in on_ray.results] == [metrics(r) for r in local.results]
    # the first generation (4 trials) is asked before any result: the same candidates
    first = list(zip(on_ray.results[:4], dense.results[:4], strict=True))
    assert all(a.params == b.params for a, b in first)
    ok = [(a, b) for a, b in first if a.feasible]
    assert ok and all(a.metric("energy_j") < b.metric("energy_j") for a, b in ok)
