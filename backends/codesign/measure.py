"""Measured DynaProp sparsity in the co-design pipeline: ``$SPARSITY`` in a space's pipeline.

    pipeline = "pad-shapes{target=$TARGET},dynaprop{tau-fwd=${plan.tau_fwd} measured=$SPARSITY}"

For each candidate, ``measured=$SPARSITY`` becomes a file holding the sparsity measured on
the real model with that stage's settings (``Toolchain.measure_sparsity``: the reference
interpreter on the model's weights; the format in ``backends.sparsity_table``). One
measurement per stage text and model shape: ``premeasure`` takes every value of the plan
parameters a measured stage uses, before the search, so workers (in-process or on Ray) get
the same tables by value and never measure again. A toolchain that cannot measure (a fixed
IR: no weights) returns None and the stage runs without ``measured=`` (dense costs).
"""

from __future__ import annotations

import itertools
import json
import re
from collections.abc import Callable
from typing import Any, Protocol

from backends.codesign.plan import PLAN_REF, render, stages
from backends.codesign.space import Space
from backends.sparsity_table import table_from_json

SPARSITY_REF = "$SPARSITY"
_OPTION = re.compile(r"\s*measured=\$SPARSITY")
PREMEASURE_MAX = 64  # plan combinations measured up front, at most


class Measurer(Protocol):
    def measure_sparsity(self, stage: str, shape: dict[str, int]) -> str | None: ...


def unmeasured(stage: str) -> str:
    """The stage without its ``measured=$SPARSITY`` option: what is measured."""
    out = _OPTION.sub("", stage).replace("{ ", "{")
    return out[:-2] if out.endswith("{}") else out


def measurement_key(stage: str, shape: dict[str, int]) -> str:
    return json.dumps([unmeasured(stage), sorted(shape.items())])


def with_measurements(pipeline: str, path_of: Callable[[str], str | None]) -> str:
    """``pipeline`` with each ``$SPARSITY`` replaced by the file ``path_of(stage)`` gives
    (its option dropped where that is None)."""
    if SPARSITY_REF not in pipeline:
        return pipeline
    out = []
    for stage in stages(pipeline):
        if SPARSITY_REF in stage:
            path = path_of(unmeasured(stage))
            stage = unmeasured(stage) if path is None else stage.replace(SPARSITY_REF, f'"{path}"')
        out.append(stage)
    return ",".join(out)


def premeasure(
    space: Space, measurer: Measurer, kept: list[str], shape: dict[str, int]
) -> dict[str, str | None]:
    """The measurement of every measured stage for every combination of the plan values it
    uses (categorical parameters only, ``PREMEASURE_MAX`` at most), by ``measurement_key``."""
    out: dict[str, str | None] = {}
    for stage in kept:
        if SPARSITY_REF not in stage or "$TARGET" in stage or "$CLUSTER" in stage:
            continue
        names = sorted(set(PLAN_REF.findall(stage)))
        params = [space.param(n) for n in names]
        if any(p.choices is None for p in params):
            continue
        combos = list(itertools.product(*(p.choices or () for p in params)))
        for combo in combos[:PREMEASURE_MAX]:
            s = unmeasured(render([stage], plan=dict(zip(names, combo, strict=True))))
            key = measurement_key(s, shape)
            if key not in out:
                out[key] = measurer.measure_sparsity(s, shape)
    return out


def describe(measurements: dict[str, str | None]) -> list[str]:
    """One line per measurement: the stage, the zero fractions and where they come from."""
    lines = []
    unmeasured_stages = [json.loads(k)[0] for k, t in measurements.items() if t is None]
    if unmeasured_stages:
        lines.append(
            f"not measured (a fixed IR has no weights): dense costs for "
            f"{', '.join(unmeasured_stages)}"
        )
    for key, text in measurements.items():
        stage = json.loads(key)[0]
        if text is None:
            continue
        data: dict[str, Any] = json.loads(text)
        s = table_from_json(data, stage).summary()
        layers, of = data.get("layers"), data.get("model_layers")
        what = f"{layers} of {of} layers" if of and layers != of else f"{layers} layers"
        lines.append(
            f"tau-fwd={data['tau_fwd']:g}: {100 * s.get('forward', 0.0):.1f}% of forward "
            "activations and "
            f"{100 * s.get('macs', 0.0):.1f}% of matmul MACs zero "
            f"({data.get('model', '?')}, {what}, {data.get('weights', '?')})"
        )
    return lines
