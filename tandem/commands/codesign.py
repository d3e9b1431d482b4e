"""`tandem codesign MODEL --space SPACE [--objectives latency,energy] [--trials N]
[--workers K] [--seed S] [--ray-address ADDR] -o OUTDIR`: search hardware, model shape and
plan together.

    tandem codesign bert-base --space acceltran --trials 200 --workers 2 -o out/acceltran
    tandem codesign gpt3-2.7b --space gpu-shape --trials 60 -o out/shape
    tandem codesign gpt3-2.7b --space cluster-shape --gpus 64 --global-batch 512 -o out/cl
    tandem codesign gpt3-2.7b --space my-space.toml --ray-address 10.0.0.5:6379 -o out/x

SPACE is a built-in space (acceltran, phaze, gpu-shape, cluster-shape) or a .toml file (see
backends/codesign/spaces/). Writes OUTDIR/trials.csv, pareto.csv, references.csv, pareto.png,
best.toml (a target for `tandem simulate --target`) and best.json, and prints the front and
the reference designs. A cluster space (cluster-shape) plans every candidate shape on a
training cluster (--cluster, --gpus, --global-batch, --fix override the space's). Running the same command again on the same OUTDIR resumes (and
extends, with a larger --trials) the search; Ctrl-C keeps what was written.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path
from typing import Any

from ir.errors import TandemError
from ir.text import si, table
from tandem.commands.common import OVERRIDES, _positive, add_override_arguments, quiet

HELP = "search hardware, model shape and plan together (Optuna, on Ray); Pareto front"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="zoo name, path/to/file.py:factory or .mlir")
    p.add_argument("--space", "-s", required=True, help="built-in space or path to a .toml file")
    p.add_argument("--output", "-o", required=True, metavar="OUTDIR", help="results folder")
    p.add_argument(
        "--objectives", metavar="A,B", help="comma-separated objectives (default: the space's)"
    )
    p.add_argument("--trials", type=_positive, metavar="N", help="trials (default: the space's)")
    p.add_argument(
        "--population",
        type=_positive,
        metavar="P",
        help="trials per generation (default: the space's)",
    )
    p.add_argument(
        "--workers", type=_positive, default=1, metavar="K", help="parallel workers (1: no Ray)"
    )
    p.add_argument("--seed", type=int, default=0, help="sampler seed (default 0)")
    p.add_argument(
        "--ray-address", metavar="ADDR", help="join this Ray cluster (never started here)"
    )
    p.add_argument(
        "--retries", type=int, default=1, help="retries of a candidate whose worker dies"
    )
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.add_argument(
        "--training",
        action="store_const",
        const=True,
        default=None,
        help="forward + loss + backward (default: the space's)",
    )
    add_override_arguments(p, prefix="base model's ")
    p.add_argument("--cluster", metavar="C", help="cluster name or .toml (cluster spaces)")
    p.add_argument("--gpus", type=_positive, metavar="N", help="GPUs (cluster spaces)")
    p.add_argument(
        "--global-batch", type=_positive, metavar="B", help="sequences per iteration (clusters)"
    )
    p.add_argument(
        "--fix",
        metavar="KEYS",
        help="plan keys every candidate keeps: t=8,p=2,mb=1,recompute=full,... (clusters)",
    )
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="weights to measure DynaProp's sparsity on (all layers; default: random weights, "
        "2 layers)",
    )


def run(args: argparse.Namespace) -> int:
    from backends.codesign import SearchSettings, load_space, run_search
    from tandem.codesign import toolchain_for
    from tandem.codesign_files import meta, read_trials, write_progress, write_results

    quiet()
    objectives = [o.strip() for o in args.objectives.split(",")] if args.objectives else None
    placement = {k: getattr(args, k) for k in ("cluster", "gpus", "global_batch", "fix")}
    space = load_space(args.space, objectives, placement)
    outdir = Path(args.output)
    if outdir.exists() and not outdir.is_dir():
        raise TandemError(f"{outdir}: exists and is not a folder")
    if not outdir.parent.is_dir():
        raise TandemError(f"{outdir}: folder {outdir.parent} does not exist")
    overrides = {k: getattr(args, k) for k in OVERRIDES + ["dtype"]}
    tc = toolchain_for(
        args.model,
        space.model,
        training=args.training,
        overrides=overrides,
        checkpoint=args.checkpoint or "",
        sparsity_dir=str(outdir / "sparsity"),
    )
    settings = SearchSettings(
        trials=args.trials,
        population=args.population,
        seed=args.seed,
        workers=args.workers,
        ray_address=args.ray_address,
        retries=max(0, args.retries),
        progress=not args.no_progress,
    )
    from backends.codesign.evaluate import active_parts

    _, skipped, params = active_parts(space, tc)
    from backends.codesign.search import Outcome

    expect = meta(Outcome(space, params, skipped, settings), tc)
    known = read_trials(outdir, {**expect, "params_spec": params})
    outdir.mkdir(exist_ok=True)
    outcome = run_search(
        space, tc, settings, known=known, on_result=lambda o: write_progress(outdir, o, tc)
    )
    files = write_results(outdir, outcome, tc)
    print(summary(outcome, files, tc.model, len(known)))
    if outcome.interrupted:
        print(f"interrupted: rerun the same command to resume from {outdir}/trials.csv")
        return 130
    return 0


def _metric(r: Any, column: str, unit: str) -> str:
    v = r.metric(column)
    if math.isnan(v):
        return "-"
    if column == "latency_s":
        from ir.text import seconds

        return seconds(v)
    if column in ("area_mm2",):
        return f"{v:.4g}"
    return si(v, unit.replace("J s", "Js"))


def summary(outcome: Any, files: dict[str, Any], model: str, resumed: int) -> str:
    from backends.codesign.pareto import front_dominates, ratios
    from backends.codesign.space_file import OBJECTIVES

    space = outcome.space
    res = outcome.results
    front, best = files["front"], files["best"]
    cols = list(
        dict.fromkeys([*space.objectives, "area"] if space.area_budget else space.objectives)
    )
    cols = [c for c in cols if not all(math.isnan(r.metric(OBJECTIVES[c][0])) for r in res or [])]
    status = {s: sum(r.status == s for r in res) for s in ("ok", "infeasible", "failed")}
    lines = [
        f"codesign {model} on {space.name} ({space.description})",
        f"  {len(res)} trials ({outcome.evaluated} evaluated, {outcome.reused} reused"
        + (f", {resumed} results read back" if resumed else "")
        + f") in {outcome.seconds:.1f} s on {outcome.settings.workers} worker(s); "
        f"feasible {status['ok']}, infeasible {status['infeasible']}, failed {status['failed']}",
    ]
    if outcome.skipped_stages:
        lines.append(
            "  pipeline stages left out (pass not available): " + ", ".join(outcome.skipped_stages)
        )
    if space.area_budget:
        lines.append(f"  area budget {space.area_budget:.4g} mm^2")
    pl = space.placement
    if pl is not None:
        fixed = f"; fixed {pl.fix_text()}" if pl.fix_text() else ""
        lines.append(
            f"  training on {pl.cluster}: {pl.gpus} GPUs, global batch {pl.global_batch}, "
            f"{pl.kernels} kernels; each shape's plan searched{fixed}"
        )
    if outcome.measurements:
        from backends.codesign.measure import describe

        lines.append("  DynaProp sparsity measured (reference interpreter):")
        lines += [f"    {line}" for line in describe(outcome.measurements)]
    names = [p.name for p in outcome.params]
    plan = ["plan"] if pl is not None else []
    rows = [
        [str(r.trial), *(_metric(r, OBJECTIVES[c][0], OBJECTIVES[c][2]) for c in cols)]
        + [str(r.params.get(n, "")) for n in names]
        + ([str(r.plan.get("key", ""))] if plan else [])
        for r in front[:12]
    ]
    lines += ["", f"Pareto front ({len(front)} designs, first 12):"]
    lines.append(table(["trial", *cols, *names, *plan], rows))
    if best is not None:
        rule = "product of the objectives" if space.best == "product" else space.best
        lines += ["", f"best design (by {rule}): trial {best.trial}"]
    refs = [r for r in outcome.references]
    if refs:
        rrows = []
        for r in refs:
            if r.status == "failed":
                rrows.append([r.name, "failed: " + r.error] + [""] * (len(cols) + 1 + len(plan)))
                continue
            rat = ratios(best, r, space.objectives) if best is not None else {}
            vs = ", ".join(f"{o} {v:.3g}x" for o, v in rat.items())
            if r.status != "ok" and any(math.isnan(v) for v in rat.values()):
                vs = f"{r.status}: " + (r.error or ", ".join(r.violations))
            dom = "yes" if front_dominates(front, r, space.objectives) else "no"
            rrows.append(
                [r.name, *(_metric(r, OBJECTIVES[c][0], OBJECTIVES[c][2]) for c in cols)]
                + ([str(r.plan.get("key", ""))] if plan else [])
                + [vs, dom]
            )
        lines += ["", "reference designs (best design's gain; front better in every objective):"]
        heads = ["reference", *cols, *plan, "best vs reference", "front better"]
        lines.append(table(heads, rrows))
    lines += ["", "wrote " + ", ".join(files["written"])]
    return "\n".join(lines)
