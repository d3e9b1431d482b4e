"""Fit each GPU's GEMM (and memory-op) efficiency constants on measured data; rewrite its TOML.

    python tools/calibrate_gemm.py {a100,v100,h100,all} [--check] [--no-write] [--no-cv]
        [--data DIR]

Only the ``# BEGIN CALIBRATED`` ... ``# END CALIBRATED`` block ([efficiency], [calibration]) of
a target file is rewritten; what the chip is ([compute], [tensor_core], [gemm], [memory]) is
written by hand from datasheets. The recipes (``RECIPES``):

* ``a100``: every GEMM constant on ``gemm_a100/gemm_a100.csv`` (21k rows) and the memory-op
  efficiencies on ``ops_a100.csv``; written to a100-sxm4-40gb and copied to a100-sxm4-80gb
  (efficiencies are fractions of each GPU's own peaks and bandwidth). Cross-validated by
  holding out whole logs (8 groups of the 39; several minutes).
* ``v100``: the V100's free constants on ``gemm_v100/gemm_v100.csv`` (gemm_max, the tile
  efficiencies, k_overhead, gemm_memory, the k and n alignment factors, the CUDA-core fallback
  efficiencies), starting from the A100 fit; split-K, align_m and memory-op constants are the
  A100 fit's. Also the cross-validated error by sweep (``gemm_data.sweep_folds``; ``--no-cv``
  skips it).
* ``h100``: no H100 sweep is public. Tile, alignment and memory constants are the A100 fit's;
  gemm_max is fitted on the published rows marked ``fit`` (the MAMF table) in
  ``backends/targets/data/published_gemms.csv``; the other rows are the check.

``all`` runs a100, then v100 and h100 (which start from the A100 fit). ``--check`` only
evaluates the stored constants. The fit is a coordinate descent on mean |log(predicted /
measured time)| (numpy only), each source file weighted equally, from a fixed starting point,
over the rows outside the A100 kernel-switch window (``cliff``).
"""

from __future__ import annotations

import argparse
import dataclasses
import re
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
from gemm_data import (
    DATA_ROOT,
    DATASETS,
    OPS_FILE,
    PUBLISHED,
    GemmRows,
    as_measured,
    gemm_errors,
    load_gemm_rows,
    load_memory_ops,
    load_published,
    measurement_model,
    memory_op_errors,
    predicted_kernel,
    published_predictions,
    rel_errors,
    sweep_folds,
)

from backends.targets import TARGETS_DIR, GemmParams, GpuTarget, load_target
from ir.errors import TandemError

_VECTOR_FIELDS = ("tile_eff", "align_k", "align_n", "align_m", "fallback_eff")
_SCALAR_FIELDS = ("gemm_max", "k_overhead", "gemm_memory", "split_k_overhead")
MEAS_FIELDS = ("wall_overhead_s", "timing_factor_max", "timing_factor_min")
_CAPPED = {"gemm_max", "gemm_memory", "fallback_eff", "tile_eff", "align_k", "align_n", "align_m"}
ALL_FREE = frozenset(_VECTOR_FIELDS[:4] + _SCALAR_FIELDS + MEAS_FIELDS)


@dataclasses.dataclass(frozen=True)
class Recipe:
    """How one GPU's constants are obtained (see the module docstring)."""

    target: str
    free: frozenset[str] = ALL_FREE
    copy_to: tuple[str, ...] = ()
    from_a100: bool = False  # start from / keep the A100 fit's constants
    memory_ops: bool = False  # fit memory-op efficiencies on ops_a100.csv
    published: bool = False  # fit gemm_max on the published "fit" rows
    min_rows: int = 30  # an alignment-table entry seen in fewer rows is not fitted
    cv: bool = False  # cross-validate by sweep (refits once per fold)


RECIPES = {
    "a100": Recipe("a100-sxm4-40gb", copy_to=("a100-sxm4-80gb",), memory_ops=True, cv=True),
    "v100": Recipe(
        "v100-sxm2",
        free=frozenset(
            ("gemm_max", "tile_eff", "k_overhead", "gemm_memory", "align_k", "align_n")
            + ("fallback_eff",)
        ),
        from_a100=True,
        min_rows=10,
        cv=True,
    ),
    "h100": Recipe("h100-sxm", free=frozenset(), from_a100=True, published=True),
}


def _flatten(p: GemmParams, meas: dict[str, float]) -> tuple[list[tuple[str, int]], np.ndarray]:
    names: list[tuple[str, int]] = []
    vals: list[float] = []
    for f in _SCALAR_FIELDS:
        names.append((f, -1))
        vals.append(float(getattr(p, f)))
    for f in _VECTOR_FIELDS:
        for i, v in enumerate(getattr(p, f)):
            names.append((f, i))
            vals.append(float(v))
    for f in MEAS_FIELDS:
        names.append((f, -1))
        vals.append(float(meas[f]))
    return names, np.array(vals)


def _unflatten(
    p: GemmParams, names: list[tuple[str, int]], x: np.ndarray
) -> tuple[GemmParams, dict[str, float]]:
    upd: dict[str, Any] = {f: list(getattr(p, f)) for f in _VECTOR_FIELDS}
    meas: dict[str, float] = {}
    for (f, i), v in zip(names, x, strict=True):
        if f in MEAS_FIELDS:
            meas[f] = float(v)
        elif i < 0:
            upd[f] = float(v)
        else:
            upd[f][i] = float(v)
    for f in _VECTOR_FIELDS:
        upd[f] = tuple(upd[f])
    return dataclasses.replace(p, **upd), meas


def _unsupported(
    p: GemmParams, names: list[tuple[str, int]], rows: GemmRows, min_rows: int = 30
) -> set[int]:
    """Alignment-table entries seen in fewer than ``min_rows`` rows are not fitted."""
    out = set()
    for j, (f, i) in enumerate(names):
        if f in ("align_k", "align_n", "align_m"):
            dim = {"align_k": rows.k, "align_n": rows.n, "align_m": rows.m}[f] * 2
            low = dim & -dim
            idx = np.minimum(np.log2(low).astype(int), len(getattr(p, f)) - 1)
            if int(((idx == i) & (low < p.align_bytes)).sum()) < min_rows:
                out.add(j)
    return out


def initial_params(p: GemmParams) -> tuple[GemmParams, dict[str, float]]:
    """Fixed starting point of the A100 fit (so re-running it reproduces the same constants):
    hand estimates from the vocab sweeps (odd dims ~0.29, 2/4-mod ~0.55-0.67) and a ~82%
    plateau of large aligned GEMMs."""
    n = len(p.tile_shapes)
    tiles = tuple(
        1.0 if tm * tn >= 32768 else 0.95 if tm * tn >= 16384 else 0.85 if tm * tn >= 8192 else 0.7
        for tm, tn in p.tile_shapes
    )[:n]
    na = len(p.align_k)
    start = dataclasses.replace(
        p,
        gemm_max=0.84,
        tile_eff=tiles,
        k_overhead=64.0,
        align_k=(0.29, 0.29, 0.54, 0.54, 0.89, 0.985, 1.0)[:na],
        align_n=(0.28, 0.28, 0.67, 0.67, 1.0, 1.0, 1.0)[:na],
        align_m=(1.0,) * na,
        gemm_memory=0.8,
        split_k_overhead=3e-6,
        fallback_eff=(0.15, 0.15),
    )
    meas = {"wall_overhead_s": 20e-6, "timing_factor_max": 1.0, "timing_factor_min": 1.0}
    return start, meas


def from_a100(target: GpuTarget, a100: GpuTarget) -> tuple[GemmParams, dict[str, float]]:
    """The target's GEMM mechanisms with the A100 fit's efficiencies (alignment tables cut to
    the target's length: one entry per byte alignment below its align_bytes)."""
    a, p = a100.gemm, target.gemm
    na = len(p.align_k)
    tiles = dict(zip(a.tile_shapes, a.tile_eff, strict=True))
    start = dataclasses.replace(
        p,
        gemm_max=a.gemm_max,
        tile_eff=tuple(tiles.get(t, min(a.tile_eff)) for t in p.tile_shapes),
        k_overhead=a.k_overhead,
        align_k=a.align_k[:na],
        align_n=a.align_n[:na],
        align_m=a.align_m[:na],
        gemm_memory=a.gemm_memory,
        split_k_overhead=a.split_k_overhead,
        fallback_eff=(0.15, 0.15) if p.fallback_below_bytes else (1.0, 1.0),
    )
    return start, measurement_model(a100)


def fit_gemm(
    target: GpuTarget,
    rows: GemmRows,
    start: GemmParams,
    meas0: dict[str, float],
    free: frozenset[str] = ALL_FREE,
    sweeps: int = 6,
    verbose: bool = False,
    min_rows: int = 30,
) -> tuple[GemmParams, dict[str, float]]:
    """Coordinate descent on mean |log(pred/meas)| over the non-cliff rows."""
    fit_rows = rows.subset(~rows.cliff)
    # weight each source file equally so big sweeps do not drown the others
    _, inv, counts = np.unique(fit_rows.source, return_inverse=True, return_counts=True)
    w = 1.0 / counts[inv].astype(float)
    w /= w.sum()
    names, x = _flatten(start, meas0)

    def loss(xv: np.ndarray) -> float:
        p, meas = _unflatten(start, names, xv)
        pred = as_measured(predicted_kernel(target, fit_rows, p), fit_rows.timing, meas)
        return float(np.sum(w * np.abs(np.log(pred / fit_rows.seconds))))

    frozen = _unsupported(start, names, fit_rows, min_rows)
    frozen |= {j for j, (f, _) in enumerate(names) if f not in free}
    best = loss(x)
    step = 0.2
    for sweep in range(sweeps):
        for j, (f, _) in enumerate(names):
            if j in frozen:
                continue
            for factor in (1 + step, 1 / (1 + step), 1 + step / 3, 1 / (1 + step / 3)):
                trial = x.copy()
                trial[j] = x[j] * factor if x[j] > 0 else step * 1e-6
                if f in _CAPPED:
                    trial[j] = min(trial[j], 1.0)
                if trial[j] == x[j]:
                    continue
                val = loss(trial)
                if val < best - 1e-7:
                    best, x = val, trial
        if verbose:
            print(f"  sweep {sweep + 1}: loss {best:.4f}")
        step *= 0.6
    return _unflatten(start, names, x)


def cross_validate(
    target: GpuTarget,
    rows: GemmRows,
    start: GemmParams,
    meas0: dict[str, float],
    free: frozenset[str],
    min_rows: int = 30,
) -> dict[str, float]:
    """Hold out each sweep fold (``sweep_folds``) in turn, fit on the rest, predict it."""
    folds = sweep_folds(rows)
    err = np.zeros(len(rows))
    for fold in np.unique(folds):
        out = folds == fold
        p, meas = fit_gemm(target, rows.subset(~out), start, meas0, free, min_rows=min_rows)
        held = rows.subset(out)
        pred = as_measured(predicted_kernel(target, held, p), held.timing, meas)
        err[out] = rel_errors(pred, held.seconds)
    return {
        "cv_folds": float(len(np.unique(folds))),
        "cv_median_rel_err": float(np.median(err)),
        "cv_p90_rel_err": float(np.percentile(err, 90)),
    }


def fit_memory_ops(target: GpuTarget, rows: list[tuple[str, float, float]]) -> dict[str, float]:
    """Per-kind efficiency = median of achieved bandwidth / peak (the time is linear in it)."""
    wall = measurement_model(target)["wall_overhead_s"]
    by_kind: dict[str, list[float]] = defaultdict(list)
    for kind, b, sec in rows:
        by_kind[kind].append(b / max(sec - wall, 1e-9) / target.hbm_bandwidth)
    eff = dict(target.memory_op_efficiency)
    for kind, v in by_kind.items():
        eff[kind] = round(min(1.0, float(np.median(v))), 4)
    # generic elementwise ops (no specific data): a plain fp16 read+write stream
    eff["elementwise"] = eff.get("gelu", eff.get("elementwise", 0.75))
    return eff


def fit_published(target: GpuTarget, start: GemmParams) -> GemmParams:
    """gemm_max such that the published "fit" rows are matched on average (geometric)."""
    rows = [r for r in load_published(target=target.name) if r.use == "fit"]
    if not rows:
        raise TandemError(f"{PUBLISHED.name}: no rows marked fit for {target.name}")
    p = start
    for _ in range(20):
        t = dataclasses.replace(target, gemm=p)
        preds = published_predictions(t, rows)
        # predicted time / measured time; compute-bound rows scale as 1/gemm_max
        ratio = float(np.exp(np.mean([np.log(r.tflops / tf) for r, tf, _ in preds])))
        p = dataclasses.replace(p, gemm_max=min(1.0, p.gemm_max * ratio))
        if abs(ratio - 1.0) < 1e-6:
            break
    return dataclasses.replace(p, gemm_max=round(p.gemm_max, 4))


def published_stats(target: GpuTarget) -> dict[str, float]:
    """Errors on the published rows used as the check (use == fit or check)."""
    rows = [r for r in load_published(target=target.name) if r.use in ("fit", "check")]
    err = np.array([e for _, _, e in published_predictions(target, rows)])
    return {
        "published_rows": float(len(err)),
        "published_median_rel_err": float(np.median(err)),
        "published_p90_rel_err": float(np.percentile(err, 90)),
    }


# ----------------------------------------------------------------------------------------
# Writing the TOML block


def _fmt(v: float) -> str:
    return f"{v:.4g}" if abs(v) >= 1e-3 or v == 0 else f"{v:.3e}"


def calibrated_block(
    p: GemmParams,
    mem_eff: dict[str, float],
    meas: dict[str, float],
    stats: dict[str, float],
    note: str,
) -> str:
    """The text between the BEGIN/END CALIBRATED markers (``note``: where the numbers come from)."""
    lst = lambda xs: "[" + ", ".join(_fmt(x) for x in xs) + "]"  # noqa: E731
    lines = [
        "# BEGIN CALIBRATED (written by tools/calibrate_gemm.py; edit by hand at your own risk)",
        f"# {note}",
        "[efficiency]",
        "# max fraction of peak reached by the best tile on a large aligned GEMM",
        f"gemm_max = {_fmt(p.gemm_max)}",
        "# per tile shape (same order as [gemm] tile_shapes), relative to gemm_max",
        f"tile = {lst(p.tile_eff)}",
        "# per-CTA prologue/epilogue, in elements of the reduction dim",
        f"k_overhead = {_fmt(p.k_overhead)}",
        "# index i: dim*bytes divisible by 2**i but not 2**(i+1) (1, 2, 4, ... bytes); dims",
        "# aligned to [tensor_core] align_bytes run at 1.0. k = reduction, n = output cols, m = rows",
        f"align_k = {lst(p.align_k)}",
        f"align_n = {lst(p.align_n)}",
        f"align_m = {lst(p.align_m)}",
        "# achieved fraction of HBM bandwidth for GEMM operand/result traffic",
        f"gemm_memory = {_fmt(p.gemm_memory)}",
        "# extra fixed time of a split-K reduction (seconds)",
        f"split_k_overhead = {_fmt(p.split_k_overhead)}",
    ]
    if p.fallback_below_bytes:
        lines += [
            "# fraction of the CUDA-core peak a [tensor_core.cuda_core_fallback] GEMM reaches",
            "# (the misaligned dim is k, n)",
            f"cuda_core_fallback = {lst(p.fallback_eff)}",
        ]
    lines += [
        "# achieved fraction of HBM bandwidth per memory-bound op kind (bytes = minimal",
        "# traffic at fp16: read + write (+ 1-byte dropout mask); softmax is PyTorch's",
        "# unfused masked/scaled softmax as measured)",
        "memory_op = { " + ", ".join(f"{k} = {_fmt(v)}" for k, v in sorted(mem_eff.items())) + " }",
        "",
        "[calibration]",
        "# measured with wall-clock timing: wall = (kernel + wall_overhead_s) * timing_factor",
        "# (factor for max-of-N / min-of-N statistics); not used by the cost model itself.",
        "# *_rel_err: relative error of predicted TFLOP/s on the data named above (fp16,",
        "# flag=='', >= 50 us); large_aligned: all dims >= 4096 and multiples of 128; cv_*: each",
        "# sweep stretch predicted by a fit without it; published_*: published_gemms.csv rows.",
    ]
    for key in MEAS_FIELDS:
        lines.append(f"{key} = {_fmt(meas[key])}")
    for key, v in stats.items():
        lines.append(f"{key} = {_fmt(v)}")
    lines.append("# END CALIBRATED")
    return "\n".join(lines) + "\n"


BLOCK_RE = re.compile(r"# BEGIN CALIBRATED.*?# END CALIBRATED\n?", re.S)


def write_block(path: Path, block: str) -> None:
    """Replace the calibrated block of a TOML file (atomically); it must still load."""
    text = path.read_text()
    if not BLOCK_RE.search(text):
        raise TandemError(f"{path.name}: no '# BEGIN CALIBRATED' ... '# END CALIBRATED' block")
    new = BLOCK_RE.sub(lambda _: block, text, count=1)
    tmp = path.with_suffix(".toml.tmp")
    tmp.write_text(new)
    tmp.replace(path)
    load_target(str(path))


def _gpu(name: str) -> GpuTarget:
    t = load_target(name)
    if not isinstance(t, GpuTarget):
        raise TandemError(f"{name}: must be a gpu target, got kind {t.kind}")
    return t


def calibrate(
    which: str,
    data_root: Path = DATA_ROOT,
    write: bool = True,
    cv: bool = False,
    verbose: bool = True,
) -> dict[str, Any]:
    """Run one recipe; write the constants into the target file (and its copies)."""
    t0 = time.time()
    rec = RECIPES[which]
    target = _gpu(rec.target)
    a100 = _gpu(RECIPES["a100"].target)
    if rec.from_a100:
        start, meas = from_a100(target, a100)
    else:
        start, meas = initial_params(target.gemm)
    stats: dict[str, float] = {}
    mem_eff = dict(a100.memory_op_efficiency)
    if rec.published:
        p = fit_published(target, start)
        stats = published_stats(dataclasses.replace(target, gemm=p))
        note = f"A100 fit, with gemm_max fitted on the rows marked fit in {PUBLISHED.name}"
    else:
        folder, fname = DATASETS[rec.target]
        rows = load_gemm_rows(data_root / folder / fname)
        if verbose:
            print(f"{which}: fitting on {len(rows)} GEMM rows of {folder}/{fname}")
        p, fitted_meas = fit_gemm(
            target, rows, start, meas, rec.free, verbose=verbose, min_rows=rec.min_rows
        )
        meas = {**meas, **{k: v for k, v in fitted_meas.items() if k in rec.free}}
        fitted = dataclasses.replace(target, gemm=p, calibration={**target.calibration, **meas})
        stats = gemm_errors(fitted, rows, p, meas)
        if cv and rec.cv:
            stats.update(cross_validate(target, rows, start, meas, rec.free, rec.min_rows))
        note = f"fitted on {folder}/{fname} (cuBLAS fp16)"
        if rec.from_a100:
            note += "; tile, split-K and memory_op constants from the A100 fit"
        if rec.memory_ops:
            ops = load_memory_ops(data_root / folder / OPS_FILE)
            mem_eff = fit_memory_ops(fitted, ops)
            mstats = memory_op_errors(fitted, ops, mem_eff)
            stats.update({f"memory_op_{k}": v for k, v in mstats.items()})
    if verbose:
        for key, v in stats.items():
            print(f"  {key} = {v:.4g}")
        print(f"  gemm_max = {p.gemm_max:.4g}, fallback = {p.fallback_eff}")
    if write:
        block = calibrated_block(p, mem_eff, meas, stats, note)
        write_block(TARGETS_DIR / f"{rec.target}.toml", block)
        copy_note = f"copied from the {rec.target} fit (efficiencies are fractions of this GPU's own peaks/bandwidth)"
        for name in rec.copy_to:
            write_block(
                TARGETS_DIR / f"{name}.toml", calibrated_block(p, mem_eff, meas, stats, copy_note)
            )
    if verbose:
        print(f"  done in {time.time() - t0:.1f} s")
    return {"params": p, "meas": meas, "stats": stats, "memory_op_efficiency": mem_eff}


def check(which: str, data_root: Path = DATA_ROOT) -> dict[str, float]:
    """Errors of the stored constants."""
    rec = RECIPES[which]
    t = _gpu(rec.target)
    if rec.published:
        return published_stats(t)
    folder, fname = DATASETS[rec.target]
    out = gemm_errors(t, load_gemm_rows(data_root / folder / fname))
    if rec.memory_ops:
        ops = load_memory_ops(data_root / folder / OPS_FILE)
        out.update({f"memory_op_{k}": v for k, v in memory_op_errors(t, ops).items()})
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("which", choices=[*RECIPES, "all"], help="the GPU recipe to run")
    ap.add_argument("--data", type=Path, default=DATA_ROOT, metavar="DIR", help="shared/data")
    ap.add_argument("--check", action="store_true", help="evaluate the stored constants only")
    ap.add_argument("--no-write", action="store_true", help="fit but do not rewrite TOMLs")
    ap.add_argument("--no-cv", action="store_true", help="skip the cross-validation by sweep")
    a = ap.parse_args(argv)
    names = list(RECIPES) if a.which == "all" else [a.which]
    try:
        for name in names:
            if a.check:
                for key, v in check(name, a.data).items():
                    print(f"{name}: {key} = {v:.4g}")
            else:
                calibrate(name, a.data, write=not a.no_write, cv=not a.no_cv)
    except TandemError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
