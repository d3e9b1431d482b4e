"""The search: Optuna proposes candidates in generations, workers evaluate them, in-process
or on Ray.

    outcome = run_search(space, toolchain, SearchSettings(trials=200, seed=0, workers=2))
    outcome.results          # one Result per trial, in trial order
    outcome.references       # the space's reference designs, evaluated the same way

Reproducible and parallel at once: each generation of ``population`` candidates is asked
from the sampler (NSGA-II for several objectives, TPE for one, both seeded) before any is
evaluated, evaluated by any number of workers, and told back in trial order. The sampler
sees the same history whatever the number of workers, so ``--workers 1`` and
``--workers K`` give the same trials and the same front.

Resuming replays the search: the sampler is asked again with the same seed and every
candidate already in ``known`` (read back from trials.csv) is told without being evaluated,
so an interrupted search continues exactly where it stopped.

DynaProp's sparsity (``measure.py``) is measured in this process before the search, for
every threshold the space offers, and shipped to the workers with the space: every worker
costs a candidate with the same measured tables.

Workers: ``workers=1`` evaluates in this process; otherwise Ray actors, one per worker, each
with its own Evaluator (and its own model and result caches). A local Ray instance is
started (``num_cpus=workers``) and shut down by the search unless Ray is already running;
``ray_address`` joins an existing cluster, which is never started or stopped here. A worker
that dies is restarted and its candidate retried (``retries`` times); after that the
candidate is recorded as failed, with the error, and a fresh worker takes its place.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends.codesign.evaluate import (
    Evaluator,
    Result,
    Toolchain,
    active_parts,
    candidate_key,
    check_toolchain,
)
from backends.codesign.measure import premeasure
from backends.codesign.shape import shape_overrides
from backends.codesign.space import Param, Space
from backends.codesign.space_file import OBJECTIVES
from ir.errors import TandemError, one_line

Job = tuple[str, Any]  # ("candidate", params) or ("reference", Reference)


@dataclass(frozen=True)
class SearchSettings:
    """``trials`` and ``population`` default to the space's; ``retries`` per dead worker."""

    trials: int | None = None
    population: int | None = None
    seed: int = 0
    workers: int = 1
    ray_address: str | None = None
    retries: int = 1
    progress: bool = True


@dataclass
class Outcome:
    """What a search found: every trial's result, the references, and how it ran."""

    space: Space
    params: tuple[Param, ...]
    skipped_stages: list[str]
    settings: SearchSettings
    results: list[Result] = field(default_factory=list)
    pending: dict[int, Result] = field(default_factory=dict)  # this generation's, not yet told
    references: list[Result] = field(default_factory=list)
    evaluated: int = 0
    reused: int = 0
    interrupted: bool = False
    seconds: float = 0.0
    # DynaProp sparsity measured before the search (measure.py): JSON tables by stage/shape
    measurements: dict[str, str | None] = field(default_factory=dict)


# ---------------------------------------------------------------------------------- workers


def _run_job(ev: Evaluator, job: Job) -> Result:
    kind, payload = job
    return ev.evaluate_reference(payload) if kind == "reference" else ev.evaluate(payload)


Tables = dict[str, str | None]  # measured sparsity (measure.py), shipped to workers


class _Local:
    """Evaluates jobs in this process, one after another."""

    def __init__(self, space: Space, toolchain: Toolchain, tables: Tables) -> None:
        self.ev = Evaluator(space, toolchain, measurements=tables)

    def run(self, jobs: list[Job], done: Callable[[int, Result], None]) -> None:
        for i, job in enumerate(jobs):
            done(i, _run_job(self.ev, job))

    def close(self) -> None:
        pass


class Worker:
    """A Ray actor: one Evaluator, built on the first job."""

    def __init__(self, space: Space, toolchain: Toolchain, tables: Tables) -> None:
        self.space, self.toolchain, self.tables = space, toolchain, tables
        self.ev: Evaluator | None = None

    def run(self, job: Job) -> Result:
        if self.ev is None:
            self.ev = Evaluator(self.space, self.toolchain, measurements=self.tables)
        return _run_job(self.ev, job)


class _RayPool:
    """Ray actors, one per worker; each takes the next job when it finishes one."""

    def __init__(
        self, space: Space, toolchain: Toolchain, settings: SearchSettings, tables: Tables
    ) -> None:
        try:
            import ray
        except ImportError:  # pragma: no cover - ray is a dependency
            raise TandemError("--workers > 1 needs Ray (pip install ray)") from None
        self.ray = ray
        self.owned = False
        if settings.ray_address:
            try:
                ray.init(
                    address=settings.ray_address, logging_level=logging.ERROR, log_to_driver=False
                )
            except Exception as e:  # noqa: BLE001 - Ray raises several kinds
                raise TandemError(
                    f"--ray-address {settings.ray_address}: cannot join: {one_line(e)}"
                ) from None
            self.owned = True  # our connection (the cluster itself stays up)
        elif not ray.is_initialized():
            ray.init(
                num_cpus=settings.workers,
                include_dashboard=False,
                logging_level=logging.ERROR,
                log_to_driver=False,
            )
            self.owned = True
        self.retries = settings.retries
        self.actor_cls: Any = ray.remote(
            num_cpus=1, max_restarts=settings.retries, max_task_retries=settings.retries
        )(Worker)
        self.args = (space, toolchain, tables)
        self.actors: list[Any] = [
            self.actor_cls.remote(*self.args) for _ in range(settings.workers)
        ]

    def run(self, jobs: list[Job], done: Callable[[int, Result], None]) -> None:
        ray = self.ray
        queue = list(enumerate(jobs))
        free = list(self.actors)
        pending: dict[Any, tuple[int, Any, Job]] = {}
        while queue or pending:
            while queue and free:
                i, job = queue.pop(0)
                actor = free.pop(0)
                pending[actor.run.remote(job)] = (i, actor, job)
            ready, _ = ray.wait(list(pending), num_returns=1)
            i, actor, job = pending.pop(ready[0])
            try:
                result = ray.get(ready[0])
            except Exception as e:  # noqa: BLE001 - a dead worker or a lost task
                result = _failed(job, f"worker failed ({self.retries} retries): {one_line(e)}")
                actor = self._replace(actor)
            done(i, result)
            free.append(actor)

    def _replace(self, actor: Any) -> Any:  # actor: a Ray ActorHandle
        """A fresh actor in place of one that may be dead."""
        self.ray.kill(actor, no_restart=True)
        new = self.actor_cls.remote(*self.args)
        self.actors = [new if a is actor else a for a in self.actors]
        return new

    def close(self) -> None:
        for a in self.actors:
            try:
                self.ray.kill(a, no_restart=True)
            except Exception:  # noqa: BLE001, S110 - already gone
                pass
        if self.owned:
            self.ray.shutdown()


def _failed(job: Job, error: str) -> Result:
    kind, payload = job
    if kind == "reference":
        return Result({}, status="failed", error=error, name=payload.name)
    return Result(dict(payload), status="failed", error=error)


# ---------------------------------------------------------------------------------- optuna


def _distribution(p: Param) -> Any:
    from optuna.distributions import (
        CategoricalDistribution,
        FloatDistribution,
        IntDistribution,
    )

    if p.choices is not None:
        return CategoricalDistribution(list(p.choices))
    if p.integer:
        return IntDistribution(int(p.low), int(p.high), step=int(p.step or 1), log=p.log)  # type: ignore[arg-type]
    return FloatDistribution(p.low, p.high, step=p.step, log=p.log)  # type: ignore[arg-type]


def _study(space: Space, seed: int, population: int) -> Any:
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    directions: list[Any] = [
        "maximize" if OBJECTIVES[o][1] == "max" else "minimize" for o in space.objectives
    ]
    if len(directions) > 1:
        sampler: Any = optuna.samplers.NSGAIISampler(population_size=population, seed=seed)
    else:
        sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=population)
    return optuna.create_study(directions=directions, sampler=sampler)


def _tell(study: Any, trial: Any, r: Result, space: Space) -> None:
    from optuna.trial import TrialState

    if r.status == "failed":
        study.tell(trial, state=TrialState.FAIL)
        return
    for name, value in r.violations.items():
        trial.set_constraint(name, value)
    values = []
    for o in space.objectives:
        column, sense, _ = OBJECTIVES[o]
        v = r.metric(column)
        values.append(v if math.isfinite(v) else (math.inf if sense == "min" else -math.inf))
    study.tell(trial, values)


# ---------------------------------------------------------------------------------- search


def run_search(
    space: Space,
    toolchain: Toolchain,
    settings: SearchSettings,
    *,
    known: dict[str, Result] | None = None,
    on_result: Callable[[Outcome], None] | None = None,
) -> Outcome:
    """Search ``space`` for ``toolchain``'s model (see the module docstring).

    ``known``: results by candidate key from an earlier run (not re-evaluated).
    ``on_result``: called with the outcome so far after every finished candidate.
    Ctrl-C stops the search: the outcome so far comes back with ``interrupted`` set.
    """
    from tqdm import tqdm

    t0 = time.perf_counter()
    kept, skipped, params = active_parts(space, toolchain)
    base = check_toolchain(space, toolchain)
    trials = settings.trials or space.trials
    population = settings.population or space.population
    if trials < 1 or population < 2 or settings.workers < 1:
        raise TandemError("trials and workers must be >= 1, population >= 2")
    known = {k: r for k, r in (known or {}).items() if r.status != "failed"}
    out = Outcome(space, params, skipped, settings)
    dists = {p.name: _distribution(p) for p in params}
    bar = tqdm(
        total=trials,
        desc=f"codesign {space.name}",
        unit="trial",
        disable=None if settings.progress else True,  # None: only on a terminal
    )
    warnings.filterwarnings("ignore", module="optuna")
    pool: Any = None
    try:
        if not space.group("model"):  # one shape: measure every threshold once, up front
            shape = shape_overrides(base, {}) if base is not None else {}
            out.measurements = premeasure(space, toolchain, kept, shape)
        tables = dict(out.measurements)
        pool = (
            _Local(space, toolchain, tables)
            if settings.workers == 1
            else _RayPool(space, toolchain, settings, tables)
        )
        refs: list[Job] = [("reference", r) for r in space.references]
        got: dict[int, Result] = {}
        pool.run(refs, lambda i, r: got.__setitem__(i, r))
        out.references = [got[i] for i in range(len(refs))]
        study = _study(space, settings.seed, population)
        while len(out.results) < trials:
            n = min(population, trials - len(out.results))
            _generation(study, space, dists, n, known, pool, out, bar, on_result)
    except KeyboardInterrupt:
        out.interrupted = True
        out.results += sorted(out.pending.values(), key=lambda r: r.trial)
        out.pending.clear()
    finally:
        bar.close()
        if pool is not None:
            pool.close()
        out.seconds = time.perf_counter() - t0
    return out


def _generation(
    study: Any,
    space: Space,
    dists: dict[str, Any],
    n: int,
    known: dict[str, Result],
    pool: Any,
    out: Outcome,
    bar: Any,
    on_result: Callable[[Outcome], None] | None,
) -> None:
    """Ask ``n`` trials, evaluate the unknown ones, tell all in trial order."""
    asked = [study.ask(dists) for _ in range(n)]
    results = out.pending
    jobs: list[Job] = []
    slots: list[list[int]] = []
    first: dict[str, int] = {}
    for j, trial in enumerate(asked):
        key = candidate_key(trial.params)
        if key in known:
            results[j] = _numbered(known[key], trial.number)
            out.reused += 1
            bar.update(1)
        elif key in first:  # asked twice in one generation: evaluated once
            slots[first[key]].append(j)
            out.reused += 1
        else:
            first[key] = len(jobs)
            jobs.append(("candidate", dict(trial.params)))
            slots.append([j])

    def done(i: int, r: Result) -> None:
        out.evaluated += 1
        if r.status != "failed":
            known[r.key] = r
        for j in slots[i]:
            results[j] = _numbered(r, asked[j].number)
            bar.update(1)
        if on_result is not None:
            on_result(_snapshot(out))

    pool.run(jobs, done)
    for j, trial in enumerate(asked):
        _tell(study, trial, results[j], space)
    out.results.extend(results[j] for j in range(n))
    results.clear()
    feasible = [r for r in out.results if r.feasible]
    bar.set_postfix(feasible=len(feasible))
    if on_result is not None:
        on_result(out)


def _numbered(r: Result, trial: int) -> Result:
    return dataclasses.replace(r, trial=trial)


def _snapshot(out: Outcome) -> Outcome:
    extra = sorted(out.pending.values(), key=lambda r: r.trial)
    return dataclasses.replace(out, results=out.results + extra, pending={})
