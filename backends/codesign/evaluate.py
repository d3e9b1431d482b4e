"""Evaluate one candidate: build its target and model shape, run the pipeline, simulate.

    ev = Evaluator(space, toolchain)               # toolchain: model import + passes (tandem/)
    r = ev.evaluate({"compute.pes": 256, "compute.lanes_per_pe": 64, ...})
    r.status, r.metrics["latency_s"], r.metrics["energy_j"], r.violations

Steps: the hardware parameters change keys of the template (a target, validated as a file
would be); the area is checked first (a design over the budget is not simulated); the
model knobs give the shape (``shape.py``), checked against the parameter budget; the
space's pipeline (only the stages whose pass exists, ``plan.py``) runs on a copy of the
model's IR, with ``measured=$SPARSITY`` naming DynaProp's sparsity measured on the real
model at the candidate's threshold (``measure.py``); ``backends.sim.simulate`` gives latency,
energy and memory.

Identical layers are analysed once: a zoo model with L > 2 layers is imported with 1 and 2
layers, both are simulated, and every additive quantity (latency, energy, memory) is
extrapolated, x(L) = x(1) + (L - 1) * (x(2) - x(1)); exact for layers that run one after
another, which the tests check against the full model. Imported models are cached by shape
and results by candidate, so a worker imports each shape once and never evaluates a
candidate twice.

On a training cluster (a space with ``cluster`` and ``[placement]``, ``cluster.py``) the
shape is planned instead of simulated on one device: ``Toolchain.plan`` searches the
placements and the best plan's iteration time, tokens/s, memory and MFU are the
candidate's metrics; the plan itself is kept in ``Result.plan``.

A candidate never raises: problems become ``status = "infeasible"`` (a constraint is
violated, or the knobs give no valid model) or ``"failed"`` (with the error).
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from xdsl.dialects.builtin import ModuleOp

from backends.codesign.cluster import plan_candidate
from backends.codesign.design import area_of, build_target, design_data, target_toml
from backends.codesign.measure import measurement_key, with_measurements
from backends.codesign.plan import plan_names, render, split_available, uses_target
from backends.codesign.shape import InvalidShape, shape_overrides, shape_params
from backends.codesign.space import Param, Reference, Space
from backends.placement.search import Request
from backends.sim import simulate
from backends.targets import Target, load_target
from ir.errors import TandemError

METRICS = (
    "latency_s",
    "tokens_per_s",
    "energy_j",
    "area_mm2",
    "power_w",
    "edp_js",
    "params",
    "memory_bytes",
    "mfu",
)
IR_CACHE = 6  # imported models kept per evaluator (two per shape)


class Toolchain(Protocol):
    """What the evaluator needs from the layers above it (``tandem.codesign`` supplies it):
    the model (its config and its IR at a given shape) and the pass pipeline."""

    @property
    def model(self) -> str:
        """The model's name, for reports."""
        ...

    def config(self) -> dict[str, Any] | None:
        """The base model's shape config (zoo keys), or None for a fixed IR (no knobs)."""
        ...

    def build(self, shape: dict[str, int]) -> ModuleOp:
        """The model's IR at ``shape`` (empty: the base model)."""
        ...

    def run_pipeline(self, module: ModuleOp, spec: str) -> None: ...

    def plan(self, shape: dict[str, int], request: Request) -> dict[str, Any]:
        """The fastest training plan of the model at ``shape`` for ``request`` (a cluster,
        GPUs, global batch, fixed keys): ``tandem plan --json``'s entry of the best plan
        (t, p, d, microbatch, ..., iteration_s, tokens_per_s, mfu, memory_bytes_per_gpu)
        plus ``key`` (``t2 p1 d32 mb4 none sp zero``); raises ``NoPlan`` when none fits."""
        ...

    def pass_names(self) -> frozenset[str]: ...

    def measure_sparsity(self, stage: str, shape: dict[str, int]) -> str | None:
        """DynaProp's sparsity with the settings of ``stage`` (a dynaprop pass) measured on
        the model at ``shape``, as the JSON table ``dynaprop{measured=...}`` reads; None
        when the model has no weights to run (a fixed IR)."""
        ...


def candidate_key(params: dict[str, Any]) -> str:
    """A canonical text of the parameter values (the cache key)."""
    return json.dumps(sorted(params.items()), default=str)


@dataclass
class Result:
    """One evaluated design: its parameters, metrics (``METRICS``; NaN where not modelled
    or not simulated), status, constraint violations (> 0: over the limit) and error."""

    params: dict[str, Any]
    metrics: dict[str, float] = field(default_factory=dict)
    status: str = "ok"  # "ok", "infeasible" or "failed"
    violations: dict[str, float] = field(default_factory=dict)
    error: str = ""
    seconds: float = 0.0
    name: str = ""  # a reference design's name
    trial: int = -1  # the search's trial number
    plan: dict[str, Any] = field(default_factory=dict)  # on a cluster: the best plan

    @property
    def feasible(self) -> bool:
        return self.status == "ok"

    @property
    def key(self) -> str:
        return candidate_key(self.params)

    def metric(self, name: str) -> float:
        return self.metrics.get(name, math.nan)


def active_parts(
    space: Space, toolchain: Toolchain
) -> tuple[list[str], list[str], tuple[Param, ...]]:
    """(pipeline stages that run, names of the stages left out, the parameters searched):
    a plan parameter is searched only while a stage that runs uses it."""
    if space.placement is not None:  # plan keys go to the placement search, no pipeline
        return [], [], space.params
    kept, skipped = split_available(space.pipeline, toolchain.pass_names())
    active = plan_names(kept)
    params = tuple(p for p in space.params if p.group != "plan" or p.name in active)
    return kept, skipped, params


def check_toolchain(space: Space, toolchain: Toolchain) -> dict[str, Any] | None:
    """The base model's config; an error when the space has model knobs and the model is
    a fixed IR."""
    base = toolchain.config()
    if base is None and space.placement is not None:
        raise TandemError(
            f"{Path(space.source).name}: a cluster space plans a zoo model (or a "
            f"file.py:factory with a config), not {toolchain.model!r}"
        )
    if base is None and space.group("model"):
        raise TandemError(
            f"{Path(space.source).name}: model-shape knobs need a zoo model, "
            f"not {toolchain.model!r}"
        )
    return base


def design_name(space: Space, params: dict[str, Any]) -> str:
    return f"{space.name}-{hashlib.sha1(candidate_key(params).encode()).hexdigest()[:8]}"


class Evaluator:
    """Evaluates candidates of one space for one model (see the module docstring)."""

    def __init__(
        self,
        space: Space,
        toolchain: Toolchain,
        workdir: str | None = None,
        measurements: dict[str, str | None] | None = None,
    ) -> None:
        self.space, self.toolchain = space, toolchain
        self.kept, self.skipped, self.params = active_parts(space, toolchain)
        self.base = check_toolchain(space, toolchain)
        # candidates' target files for passes that take target=..., removed with the evaluator
        self._tmp = tempfile.TemporaryDirectory(prefix="tandem-codesign-")
        self.workdir = Path(workdir or self._tmp.name)
        self._irs: dict[tuple, ModuleOp] = {}
        self._results: dict[str, Result] = {}
        # measured sparsity tables (JSON) by measure.measurement_key, and their files here
        self.measurements: dict[str, str | None] = dict(measurements or {})
        self._files: dict[str, str] = {}

    # ------------------------------------------------------------------ public

    def evaluate(self, params: dict[str, Any]) -> Result:
        """The result of one candidate (cached by its parameter values)."""
        key = candidate_key(params)
        if key not in self._results:
            self._results[key] = self._guarded(params, None)
        return self._results[key]

    def evaluate_reference(self, ref: Reference) -> Result:
        """A reference design: its target file (or the template) and its parameter values,
        every other parameter at its default."""
        r = self._guarded(dict(ref.params), ref.target)
        r.name = ref.name.replace("$MODEL", self.toolchain.model)
        return r

    def defaults(self) -> dict[str, Any]:
        """Each parameter's value when a design does not set it: the template's value, the
        base model's, or a plan parameter's default (else its first/lowest value)."""
        out: dict[str, Any] = {}
        for p in self.params:
            if p.group == "plan" and p.default is not None:
                out[p.name] = p.default
            elif p.group == "plan" and self.space.placement is None:
                out[p.name] = p.minimum()  # on a cluster: the placement search picks it
        return out

    # ------------------------------------------------------------------ steps

    def _guarded(self, params: dict[str, Any], target_file: str | None) -> Result:
        t0 = time.perf_counter()
        try:
            r = self._evaluate(params, target_file)
        except InvalidShape as e:
            r = Result(params, status="infeasible", violations={"shape": 1.0}, error=str(e))
        except TandemError as e:
            r = Result(params, status="failed", error=str(e))
        except Exception as e:  # noqa: BLE001 - a candidate's crash is its result, not ours
            r = Result(params, status="failed", error=f"{type(e).__name__}: {e}")
        r.seconds = time.perf_counter() - t0
        return r

    def _evaluate(self, params: dict[str, Any], target_file: str | None) -> Result:
        values = {**self.defaults(), **params}
        hardware = {k: v for k, v in values.items() if self.space.param(k).group == "hardware"}
        knobs = {
            self.space.param(k).key: v
            for k, v in values.items()
            if self.space.param(k).group == "model"
        }
        name = design_name(self.space, params)
        if target_file is not None:
            target: Target = load_target(target_file)
        else:
            target = build_target(
                self.space.template_data, self.space.template_path, hardware, name
            )
        metrics = {m: math.nan for m in METRICS}
        violations: dict[str, float] = {}
        area = area_of(target)
        if area is not None:
            metrics["area_mm2"] = area
        if self.space.area_budget is not None and area is not None:
            violations["area_mm2"] = area - self.space.area_budget
        shape: dict[str, int] = {}
        if self.base is not None:
            shape = shape_overrides(self.base, knobs)
            metrics["params"] = float(shape_params(self.base, shape))
            budget = self.space.model.get("param_budget")
            if budget is not None and knobs:
                change = abs(metrics["params"] / self.base["params"] - 1.0)
                violations["params"] = change - budget
        if any(v > 0 for v in violations.values()):
            return Result(params, metrics, "infeasible", violations)
        if self.space.placement is not None:
            plan_values = {k: v for k, v in values.items() if k.startswith("plan.")}
            status, viol, plan, error = plan_candidate(
                self.space.placement, self.toolchain, shape, plan_values, metrics
            )
            return Result(params, metrics, status, {**violations, **viol}, error, plan=plan)

        pipeline = self._pipeline(target, values, hardware, name, target_file, shape)
        sim = self._simulate(shape, pipeline, target)
        sim.pop("tokens", None)
        metrics.update(sim)
        lat, energy = metrics["latency_s"], metrics["energy_j"]
        metrics["power_w"] = energy / lat if lat > 0 else math.nan
        metrics["edp_js"] = energy * lat
        power = self.space.constraints.get("power_w")
        if power is not None:
            violations["power_w"] = metrics["power_w"] - power if math.isfinite(energy) else 0.0
        if self.space.constraints.get("memory"):
            violations["memory_bytes"] = metrics["memory_bytes"] - target.mem_capacity
        status = "infeasible" if any(v > 0 for v in violations.values()) else "ok"
        return Result(params, metrics, status, violations)

    def _pipeline(
        self,
        target: Target,
        values: dict[str, Any],
        hardware: dict[str, Any],
        name: str,
        target_file: str | None,
        shape: dict[str, int],
    ) -> str:
        if not self.kept:
            return ""
        path = target_file or ""
        if uses_target(self.kept) and target_file is None:
            data = design_data(self.space.template_data, hardware, name)
            file = self.workdir / f"{name}.toml"
            if not file.exists():
                file.write_text(target_toml(data))
            path = str(file)
        plan = {k: v for k, v in values.items() if k.startswith("plan.")}
        text = render(self.kept, target_path=path, cluster=self.space.cluster or "", plan=plan)
        return with_measurements(text, lambda stage: self._measured_file(stage, shape))

    def _measured_file(self, stage: str, shape: dict[str, int]) -> str | None:
        """The file of the sparsity measured for ``stage`` at ``shape`` (measured once)."""
        key = measurement_key(stage, shape)
        if key not in self.measurements:
            self.measurements[key] = self.toolchain.measure_sparsity(stage, shape)
        text = self.measurements[key]
        if text is None:
            return None
        if key not in self._files:
            digest = hashlib.sha1(key.encode()).hexdigest()[:12]
            file = self.workdir / f"sparsity-{digest}.json"
            file.write_text(text)
            self._files[key] = str(file)
        return self._files[key]

    def _simulate(self, shape: dict[str, int], pipeline: str, target: Target) -> dict[str, float]:
        layers = shape.get("layers", 0)
        scale = self.space.model.get("scale_layers", True) and self.base is not None
        if not scale or layers <= 2:
            return self._run(shape, pipeline, target)
        one = self._run({**shape, "layers": 1}, pipeline, target)
        two = self._run({**shape, "layers": 2}, pipeline, target)
        out = dict(one)
        for k in ("latency_s", "energy_j", "memory_bytes"):
            out[k] = one[k] + (layers - 1) * (two[k] - one[k])
        out["tokens_per_s"] = one["tokens"] / out["latency_s"]
        return out

    def _run(self, shape: dict[str, int], pipeline: str, target: Target) -> dict[str, float]:
        module = self._ir(shape)
        if pipeline:
            module = module.clone()
            self.toolchain.run_pipeline(module, pipeline)
        rep = simulate(module, target)
        tokens = float(rep.model.get("tokens") or 1)
        out = {
            "latency_s": rep.latency_s,
            "energy_j": rep.energy["total_j"] if rep.energy else math.nan,
            "memory_bytes": float(rep.memory["peak_bytes"]),
            "tokens": tokens,
            "tokens_per_s": tokens / rep.latency_s if rep.latency_s > 0 else math.nan,
        }
        if self.base is None:
            out["params"] = float(rep.model["params"])
        return out

    def _ir(self, shape: dict[str, int]) -> ModuleOp:
        key = tuple(sorted(shape.items()))
        if key not in self._irs:
            if len(self._irs) >= IR_CACHE:
                self._irs.pop(next(iter(self._irs)))
            self._irs[key] = self.toolchain.build(shape)
        return self._irs[key]
