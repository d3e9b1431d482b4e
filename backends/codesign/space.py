"""Design spaces as data: a TOML file names the template, the parameters and their ranges,
the constraints, the objectives and the reference designs.

    name = "acceltran"
    template = "acceltran-server"            # a target name or a .toml path
    pipeline = "pad-shapes{target=$TARGET},dynaprop{tau-fwd=${plan.tau_fwd}}"
    objectives = ["latency", "energy"]
    [constraints]
    area_mm2 = "template"                    # or a number
    [parameters]
    "compute.pes" = { choices = [64, 128, 256, 512, 1024] }     # [compute] pes of the template
    "model.hidden" = { low = 2304, high = 2816, step = 64 }     # a model-shape knob
    "plan.tau_fwd" = { choices = [0.02, 0.06, 0.1], default = 0.06 }   # fills ${plan.tau_fwd}
    [references]
    "AccelTran-Server" = { target = "acceltran-server" }

A space with ``cluster = "dgx-a100-80gb"`` and ``[placement]`` trains on that cluster
(``cluster.py``). Everything is checked on load, with one-line errors naming the file and the key: unknown
keys and parameters, empty or contradictory ranges, objectives the template cannot give,
and an area budget that even the smallest design in the space exceeds.
"""

from __future__ import annotations

import dataclasses
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from backends.codesign.cluster import (
    Placement,
    check_device,
    check_space,
    device_template,
    load_placement,
)
from backends.codesign.design import area_of, build_target, set_key
from backends.codesign.plan import plan_names, stages
from backends.codesign.space_file import (
    CLUSTER_OBJECTIVES,
    ENERGY_OBJECTIVES,
    GROUPS,
    MODEL_KNOBS,
    OBJECTIVES,
    SPACE_SCHEMA,
)
from backends.targets.loader import target_data
from backends.targets.schema import check_file
from ir.errors import TandemError

SPACES_DIR = Path(__file__).parent / "spaces"


@dataclass(frozen=True)
class Param:
    """One searched parameter: ``choices``, or an integer/float range ``low..high``."""

    name: str
    group: str  # "hardware", "model" or "plan"
    choices: tuple[Any, ...] | None = None
    low: float | None = None
    high: float | None = None
    step: float | None = None
    log: bool = False
    integer: bool = False
    default: Any = None

    @property
    def key(self) -> str:
        """The name without its group prefix ("model.hidden" -> "hidden")."""
        return self.name.split(".", 1)[1] if self.group != "hardware" else self.name

    def values(self) -> list[Any] | None:
        """Every value, when there are finitely many (choices or an integer/stepped range)."""
        if self.choices is not None:
            return list(self.choices)
        assert self.low is not None and self.high is not None
        if self.step is None and not self.integer:
            return None
        step = self.step or 1
        n = int(math.floor((self.high - self.low) / step + 1e-9)) + 1
        vals = [self.low + i * step for i in range(n)]
        return [int(v) for v in vals] if self.integer else vals

    def minimum(self) -> Any:
        vals = self.values()
        return min(vals) if vals is not None else self.low

    def parse(self, text: str) -> Any:
        """A value from its text in a results file."""
        for c in self.choices or ():
            if str(c) == text:
                return c
        value = float(text)
        return int(value) if self.integer or (value.is_integer() and self.step) else value


@dataclass(frozen=True)
class Reference:
    """A named design to compare with: a target file, or parameter values (others default)."""

    name: str
    target: str | None = None
    params: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Space:
    """A loaded, validated design space (see the module docstring)."""

    name: str
    description: str
    source: str
    template: str
    template_path: str
    template_data: dict[str, Any]
    kind: str
    pipeline: str
    objectives: tuple[str, ...]
    best: str
    trials: int
    population: int
    cluster: str | None
    params: tuple[Param, ...]
    model: dict[str, Any]
    constraints: dict[str, Any]
    area_budget: float | None
    references: tuple[Reference, ...]
    placement: Placement | None = None  # a training cluster (``cluster.py``)

    def param(self, name: str) -> Param:
        for p in self.params:
            if p.name == name:
                return p
        raise TandemError(f"{self.source}: no parameter {name!r}")

    def group(self, group: str) -> tuple[Param, ...]:
        return tuple(p for p in self.params if p.group == group)


def space_names() -> list[str]:
    """Names of the built-in spaces."""
    return sorted(p.stem for p in SPACES_DIR.glob("*.toml"))


def _resolve(name_or_path: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or "/" in name_or_path or p.exists():
        if not p.is_file():
            raise TandemError(f"{name_or_path}: no such space file")
        return p
    cand = SPACES_DIR / f"{name_or_path}.toml"
    if not cand.is_file():
        raise TandemError(
            f"unknown space {name_or_path!r}; built-ins: {', '.join(space_names())}; "
            "or give a path to a .toml file"
        )
    return cand


def load_space(
    name_or_path: str,
    objectives: list[str] | None = None,
    placement: dict[str, Any] | None = None,
) -> Space:
    """Load and check a built-in space by name or a user's file; ``objectives`` overrides
    the file's list (as ``--objectives`` does), ``placement`` its cluster, GPUs, global
    batch and fixed plan keys (``--cluster``, ``--gpus``, ``--global-batch``, ``--fix``)."""
    path = _resolve(str(name_or_path))
    fname = path.name
    try:
        raw = tomllib.loads(path.read_text())
    except tomllib.TOMLDecodeError as e:
        raise TandemError(f"{fname}: not valid TOML: {e}") from None
    d = check_file(SPACE_SCHEMA, raw, fname)
    place = load_placement(fname, d["cluster"], d["placement"], placement or {})
    template = d["template"] or device_template(fname, place)
    local = path.parent / template
    if template.endswith(".toml") and not Path(template).is_absolute() and local.is_file():
        template = str(local)
    try:
        tdata, tpath = target_data(template)
    except TandemError as e:
        raise TandemError(f"{fname}: template {d['template']!r} does not load: {e}") from None
    params = tuple(
        _param(fname, name, spec, tdata) for name, spec in (d["parameters"] or {}).items()
    )
    if not params:
        raise TandemError(f"{fname}: [parameters] is empty: nothing to search")
    if place is not None:
        check_device(fname, place, tdata)
        check_space(fname, place, params, d["pipeline"])
    else:
        _check_plan(fname, d["pipeline"], params)
    _check_model(fname, params)
    objs = tuple(objectives) if objectives else d["objectives"]
    kind = str(tdata.get("kind", ""))
    _check_objectives(fname, objs, d["best"], kind, objectives is not None, place is not None)
    if (d["constraints"] or {}).get("power_w") is not None and tdata.get("kind") != "acceltran":
        raise TandemError(
            f"{fname}: [constraints] power_w: power is not modelled for {tdata.get('kind')} "
            "targets (only acceltran)"
        )
    if d["trials"] < 1 or d["population"] < 2:
        raise TandemError(f"{fname}: population must be >= 2, got {d['population']}")
    space = Space(
        name=d["name"],
        description=d["description"],
        source=str(path),
        template=d["template"] or template,
        template_path=str(tpath),
        template_data=tdata,
        kind=str(tdata.get("kind")),
        pipeline=d["pipeline"],
        objectives=objs,
        best=d["best"],
        trials=d["trials"],
        population=d["population"],
        cluster=place.cluster if place is not None else d["cluster"],
        params=params,
        model=dict(d["model"] or {"scale_layers": True}),
        constraints=dict(d["constraints"] or {"memory": False}),
        area_budget=None,
        references=tuple(
            Reference(name, r["target"], dict(r["params"] or {}))
            for name, r in (d["references"] or {}).items()
        ),
        placement=place,
    )
    space = _with_area_budget(fname, space)
    _check_references(fname, space)
    return space


def _param(fname: str, name: str, spec: dict[str, Any], tdata: dict[str, Any]) -> Param:
    where = f"{fname}: [parameters] {name}"
    group = name.split(".", 1)[0] if name.split(".", 1)[0] in GROUPS else "hardware"
    if group == "model" and name[len("model.") :] not in MODEL_KNOBS:
        raise TandemError(
            f"{where} is not a model-shape knob (expected one of: "
            + ", ".join(f"model.{k}" for k in MODEL_KNOBS)
            + ")"
        )
    template_value = None
    if group == "hardware":
        template_value = _template_value(where, name, tdata)
    choices, low, high = spec["choices"], spec["low"], spec["high"]
    if choices is not None and (low is not None or high is not None):
        raise TandemError(f"{where}: give either choices or low/high, not both")
    if choices is not None and not choices:
        raise TandemError(f"{where}: choices is empty")
    if choices is None:
        if low is None or high is None:
            raise TandemError(f"{where}: needs choices, or both low and high")
        if low > high:
            raise TandemError(f"{where}: low = {low:g} is above high = {high:g}")
        if spec["log"] and (low <= 0 or spec["step"] is not None):
            raise TandemError(f"{where}: a log range needs low > 0 and no step")
    integer = choices is None and (
        isinstance(template_value, int) or group == "model" or spec["step"] is not None
    )
    if integer and choices is None:
        step = spec["step"] or 1
        if not (float(low).is_integer() and float(high).is_integer() and float(step).is_integer()):
            raise TandemError(f"{where}: an integer parameter needs integer low, high and step")
    p = Param(
        name,
        group,
        tuple(choices) if choices is not None else None,
        low,
        high,
        spec["step"],
        spec["log"],
        integer,
        spec["default"],
    )
    if p.default is not None and not _admits(p, p.default):
        raise TandemError(f"{where}: default {p.default!r} is not one of its values")
    return p


def _admits(p: Param, value: Any) -> bool:
    vals = p.values()
    if vals is not None:
        return value in vals
    return isinstance(value, int | float) and p.low <= value <= p.high  # type: ignore[operator]


def _template_value(where: str, name: str, tdata: dict[str, Any]) -> Any:
    parts = name.split(".")
    node: Any = tdata
    for part in parts:
        if not isinstance(node, dict) or part not in node:
            keys = ", ".join(_leaf_keys(tdata))
            raise TandemError(
                f"{where} is not a key of the template (expected a dotted key such as: {keys})"
            )
        node = node[part]
    if isinstance(node, dict | list):
        raise TandemError(f"{where} names a table of the template, not a value")
    return node


def _leaf_keys(tdata: dict[str, Any], prefix: str = "") -> list[str]:
    out: list[str] = []
    for k, v in tdata.items():
        if isinstance(v, dict):
            out += _leaf_keys(v, f"{prefix}{k}.")
        elif isinstance(v, int | float) and not isinstance(v, bool) and prefix:
            out.append(f"{prefix}{k}")
    return out


def _check_plan(fname: str, pipeline: str, params: tuple[Param, ...]) -> None:
    used = plan_names(stages(pipeline))
    declared = {p.name for p in params if p.group == "plan"}
    for name in sorted(used - declared):
        raise TandemError(f"{fname}: pipeline uses ${{{name}}} but [parameters] has no {name}")
    for name in sorted(declared - used):
        raise TandemError(f"{fname}: [parameters] {name} is not used by the pipeline")


def _check_model(fname: str, params: tuple[Param, ...]) -> None:
    knobs = {p.key for p in params if p.group == "model"}
    if {"heads", "head_dim"} <= knobs:
        raise TandemError(
            f"{fname}: [parameters] model.heads and model.head_dim contradict each other "
            "(heads = hidden / head_dim): give one"
        )


def _check_objectives(
    fname: str, objs: tuple[str, ...], best: str, kind: str, cli: bool, cluster: bool
) -> None:
    where = "--objectives" if cli else f"{fname}: objectives"
    for o in objs:
        if o not in OBJECTIVES:
            raise TandemError(
                f"{where}: unknown objective {o!r} (expected one of: {', '.join(OBJECTIVES)})"
            )
        if o in ENERGY_OBJECTIVES and kind != "acceltran":
            raise TandemError(f"{where}: {o} is not modelled for {kind} targets (only acceltran)")
        if o in CLUSTER_OBJECTIVES and not cluster:
            raise TandemError(f"{where}: {o} is modelled only on a cluster (a space with cluster)")
    if len(set(objs)) != len(objs):
        raise TandemError(f"{where}: an objective is listed twice: {list(objs)}")
    if best != "product" and best not in OBJECTIVES:
        raise TandemError(
            f'{fname}: best must be "product" or an objective ({", ".join(OBJECTIVES)}), got {best!r}'
        )


def _with_area_budget(fname: str, space: Space) -> Space:
    """Resolve ``area_mm2``; refuse a budget that the smallest design in the space exceeds."""
    budget = space.constraints.get("area_mm2")
    if budget is None and "area" not in space.objectives:
        return space
    template = build_target(space.template_data, space.template_path, {}, "template")
    if area_of(template) is None:
        raise TandemError(
            f"{fname}: [constraints] area_mm2 / objective area: the template "
            f"{space.template!r} has no area model"
        )
    if budget is None:
        return space
    if budget == "template":
        budget = area_of(template)
    if isinstance(budget, bool) or not isinstance(budget, int | float) or budget <= 0:
        raise TandemError(
            f'{fname}: [constraints] area_mm2 must be a positive number or "template", got {budget!r}'
        )
    smallest = {p.name: p.minimum() for p in space.group("hardware")}
    data = {k: v for k, v in space.template_data.items()}
    for name, value in smallest.items():
        data = set_key(data, name, value)
    small = area_of(build_target(data, space.template_path, {}, "smallest"))
    assert small is not None
    if small > budget:
        shown = ", ".join(f"{k}={v}" for k, v in smallest.items())
        raise TandemError(
            f"{fname}: [constraints] area_mm2 = {budget:.4g}: no design meets it; the smallest "
            f"design in the space ({shown}) has {small:.4g} mm^2"
        )
    return dataclasses.replace(space, area_budget=float(budget))


def _check_references(fname: str, space: Space) -> None:
    names = {p.name for p in space.params}
    for ref in space.references:
        where = f"{fname}: [references] {ref.name}"
        for key in ref.params:
            if key not in names:
                raise TandemError(f"{where}: params.{key} is not a parameter of the space")
        if ref.target is not None:
            try:
                target_data(ref.target)
            except TandemError as e:
                raise TandemError(f"{where}: target does not load: {e}") from None
