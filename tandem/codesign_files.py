"""The files of a co-design search, written atomically into OUTDIR, and read back to resume.

    OUTDIR/search.json      what was searched (space, model, seed, objectives, parameters)
    OUTDIR/trials.csv       every trial: parameters, metrics, (on a cluster) the plan, status,
                            violations, error
    OUTDIR/pareto.csv       the Pareto front (same columns)
    OUTDIR/references.csv   the space's reference designs (same columns, with their names)
    OUTDIR/pareto.png       the front, the best design and the references
    OUTDIR/best.toml        the best design as a target file (`tandem simulate --target`;
                            not on a cluster, whose GPUs are given)
    OUTDIR/best.json        its parameters, metrics, model shape (as command-line flags) and,
                            on a cluster, its plan

trials.csv is rewritten after every finished candidate, so a search stopped at any point
keeps what it evaluated; ``read_trials`` gives those results back to resume it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from backends.codesign.design import design_data, target_toml
from backends.codesign.evaluate import METRICS, Result, design_name
from backends.codesign.measure import describe
from backends.codesign.pareto import best_design, pareto_front, pareto_png
from backends.codesign.search import Outcome
from backends.codesign.shape import shape_overrides
from backends.codesign.space import Param, Space
from ir.errors import TandemError
from tandem.files import write_text

FIXED = ["trial", "status", "feasible"]
TAIL = ["violations", "error", "eval_s"]


def columns(params: tuple[Param, ...], plan: bool = False) -> list[str]:
    """The results' columns; ``plan``: a column with each design's plan (cluster spaces)."""
    return FIXED + [p.name for p in params] + list(METRICS) + (["plan"] if plan else []) + TAIL


def _fmt(v: Any) -> str:
    """Exact text (repr of floats): a resumed search must tell the sampler the same values."""
    if isinstance(v, float):
        return "" if math.isnan(v) else repr(v)
    return str(v)


def results_csv(
    results: list[Result], params: tuple[Param, ...], name: bool = False, plan: bool = False
) -> str:
    cols = (["name"] if name else []) + columns(params, plan)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in results:
        row: list[Any] = [r.name] if name else []
        row += [r.trial, r.status, "yes" if r.feasible else "no"]
        row += [_fmt(r.params.get(p.name, "")) for p in params]
        row += [_fmt(r.metric(m)) for m in METRICS]
        row += [str(r.plan.get("key", ""))] if plan else []
        row += [
            ";".join(f"{k}={v!r}" for k, v in r.violations.items()),
            r.error,
            f"{r.seconds:.3g}",
        ]
        w.writerow(row)
    return buf.getvalue()


def meta(outcome: Outcome, toolchain: Any) -> dict[str, Any]:
    s = outcome.settings
    return {
        "space": outcome.space.name,
        "space_file": outcome.space.source,
        "model": toolchain.model,
        "training": toolchain.training,
        "overrides": dict(toolchain.overrides),
        "checkpoint": getattr(toolchain, "checkpoint", ""),
        "objectives": list(outcome.space.objectives),
        "seed": s.seed,
        "population": s.population or outcome.space.population,
        "parameters": [p.name for p in outcome.params],
        "skipped_stages": outcome.skipped_stages,
        "placement": _placement(outcome.space),
        "sparsity": describe(outcome.measurements),
    }


def _placement(space: Space) -> dict[str, Any] | None:
    return space.placement.to_json() if space.placement is not None else None


def write_progress(outdir: Path, outcome: Outcome, toolchain: Any) -> None:
    """search.json and trials.csv (called after every finished candidate)."""
    write_text(outdir / "search.json", json.dumps(meta(outcome, toolchain), indent=1) + "\n")
    write_text(
        outdir / "trials.csv",
        results_csv(outcome.results, outcome.params, plan=_on_cluster(outcome)),
    )


def _on_cluster(outcome: Outcome) -> bool:
    return outcome.space.placement is not None


def read_trials(outdir: Path, expect: dict[str, Any]) -> dict[str, Result]:
    """Results of an earlier run in ``outdir`` (empty when there is none), by candidate key;
    an error when that run searched something else."""
    meta_file, trials = outdir / "search.json", outdir / "trials.csv"
    if not trials.is_file() or not meta_file.is_file():
        return {}
    try:
        old = json.loads(meta_file.read_text())
    except (OSError, ValueError) as e:
        raise TandemError(f"{meta_file}: cannot read: {e}") from None
    keys = ("space", "model", "training", "overrides", "checkpoint", "objectives", "seed")
    for k in (*keys, "parameters", "placement"):
        if old.get(k, "" if k == "checkpoint" else None) != expect[k]:
            raise TandemError(
                f"{outdir}: holds a search with {k} = {old.get(k)!r}, not {expect[k]!r}; "
                "give another -o or remove the folder to start again"
            )
    return {r.key: r for r in _parse(trials, expect["params_spec"])}


def _parse(path: Path, params: tuple[Param, ...]) -> list[Result]:
    out = []
    with path.open(newline="") as f:
        for i, row in enumerate(csv.DictReader(f)):
            try:
                values = {p.name: p.parse(row[p.name]) for p in params if row.get(p.name, "")}
                # a column added later (mfu) reads as not modelled
                metrics = {m: float(row[m]) if row.get(m) else math.nan for m in METRICS}
                viol = {}
                for item in filter(None, row["violations"].split(";")):
                    k, _, v = item.partition("=")
                    viol[k] = float(v)
                r = Result(
                    values, metrics, row["status"], viol, row["error"], float(row["eval_s"] or 0)
                )
                if row.get("plan"):
                    r.plan = {"key": row["plan"]}
            except (KeyError, ValueError) as e:
                raise TandemError(f"{path}: row {i + 2} does not parse: {e}") from None
            out.append(r)
    return out


def write_results(outdir: Path, outcome: Outcome, toolchain: Any) -> dict[str, Any]:
    """Every file of the search; returns the front, the best design and its files."""
    space = outcome.space
    write_progress(outdir, outcome, toolchain)
    front = pareto_front(outcome.results, space.objectives)
    best = best_design(front, space)
    plan = _on_cluster(outcome)
    write_text(outdir / "pareto.csv", results_csv(front, outcome.params, plan=plan))
    write_text(
        outdir / "references.csv",
        results_csv(outcome.references, outcome.params, name=True, plan=plan),
    )
    write_text(
        outdir / "pareto.png",
        pareto_png(outcome.results, front, outcome.references, best, space),
    )
    written = ["trials.csv", "pareto.csv", "references.csv", "pareto.png"]
    if best is not None and not plan:  # on a cluster the GPU is given: no target to write
        write_text(outdir / "best.toml", best_toml(space, best, toolchain.model))
        written.append("best.toml")
    if best is not None:
        write_text(
            outdir / "best.json", json.dumps(best_json(space, best, toolchain), indent=1) + "\n"
        )
        written.append("best.json")
    return {"front": front, "best": best, "written": [str(outdir / w) for w in written]}


def best_toml(space: Space, best: Result, model: str) -> str:
    hardware = {k: v for k, v in best.params.items() if space.param(k).group == "hardware"}
    name = design_name(space, best.params)
    header = (
        f"Best design of `tandem codesign {model} --space {space.name}` (trial {best.trial}),\n"
        + ", ".join(
            f"{m} = {best.metric(m):.4g}" for m in METRICS if not math.isnan(best.metric(m))
        )
    )
    return target_toml(design_data(space.template_data, hardware, name), header)


def best_json(space: Space, best: Result, toolchain: Any) -> dict[str, Any]:
    out: dict[str, Any] = {
        "trial": best.trial,
        "params": best.params,
        "metrics": {m: best.metric(m) for m in METRICS if not math.isnan(best.metric(m))},
        "target": "best.toml",
    }
    base = toolchain.config()
    knobs = {space.param(k).key: v for k, v in best.params.items() if k.startswith("model.")}
    if base is not None and knobs:
        shape = shape_overrides(base, knobs)
        if space.placement is not None:  # the batch is the placement's global batch
            shape.pop("batch")
        out["model_shape"] = shape
        changed = {k: v for k, v in shape.items() if v != base.get(k)}
        out["flags"] = " ".join(f"--{k.replace('_', '-')} {v}" for k, v in changed.items())
    if space.placement is not None:
        out["placement"] = space.placement.to_json()
        out["plan"] = best.plan
        del out["target"]  # the cluster's GPU, unchanged
    return out
