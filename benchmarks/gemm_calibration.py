"""Report the accuracy of the GPU cost model, per GPU, on every measured data set.

Run: .venv/bin/python benchmarks/gemm_calibration.py [--data DIR] [--by-source] [--rows]
(a script, not a package)

Per GPU target: the median and p90 relative GEMM throughput error on its measured data
(``shared/data/gemm_a100``, ``shared/data/gemm_v100``) and on the published measurements in
``backends/targets/data/published_gemms.csv`` (H100, and A100 cross-checks); the
cross-validated error (V100: computed here, each sweep stretch predicted by a fit without it;
A100: stored by ``tools/calibrate_gemm.py``, whole logs held out); what the old model (the A100
constants on the V100's peaks) got; then the memory-op error, the published A100 facts, the
AccelTran areas.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import calibrate_gemm as calib  # noqa: E402
import gemm_data as cal  # noqa: E402
import numpy as np  # noqa: E402

from backends.cost import acceltran_area  # noqa: E402
from backends.targets import GpuTarget, load_target  # noqa: E402


def _gpu(name: str) -> GpuTarget:
    t = load_target(name)
    assert isinstance(t, GpuTarget)
    return t


def _pct(x: float) -> str:
    return f"{x:6.1%}"


def measured_sets(data: Path, by_source: bool) -> None:
    print("GEMM cost model vs measured data (fp16, flag=='', >= 50 us, de-duplicated)")
    print(
        f"  {'gpu':16s} {'data set':26s} {'rows':>6s} {'median':>7s} {'p90':>7s}  cross-validated"
    )
    for name in cal.DATASETS:
        t = _gpu(name)
        path = cal.dataset_path(name, data)
        rows = cal.load_gemm_rows(path)
        e = cal.gemm_errors(t, rows)
        if name == "v100-sxm2":
            rec = calib.RECIPES["v100"]
            start, meas = calib.from_a100(t, _gpu(calib.RECIPES["a100"].target))
            cv = calib.cross_validate(t, rows, start, meas, rec.free, rec.min_rows)
            how = "computed now"
        else:
            cv, how = t.calibration, "stored by tools/calibrate_gemm.py"
        cvs = (
            f"median {cv['cv_median_rel_err']:.1%}, p90 {cv['cv_p90_rel_err']:.1%} "
            f"({int(cv['cv_folds'])} folds, {how})"
            if "cv_median_rel_err" in cv
            else "-"
        )
        label = f"{path.parent.name}/{path.name}"
        print(
            f"  {name:16s} {label:26s} {len(rows):6d} {_pct(e['median_rel_err'])} "
            f"{_pct(e['p90_rel_err'])}  {cvs}"
        )
        if "large_aligned_rows" in e:
            print(
                f"  {'':16s} {'  large aligned':26s} {int(e['large_aligned_rows']):6d} "
                f"{_pct(e['large_aligned_median_rel_err'])} {_pct(e['large_aligned_p90_rel_err'])}"
            )
            ok = cal.gemm_errors(t, rows.subset(~rows.cliff))
            print(
                f"  {'':16s} {'  no 4h->h kernel switch':26s} {int(ok['rows']):6d} "
                f"{_pct(ok['median_rel_err'])} {_pct(ok['p90_rel_err'])}"
            )
        if name == "v100-sxm2":
            a100 = _gpu("a100-sxm4-40gb")
            old = dataclasses.replace(
                t,
                gemm=dataclasses.replace(a100.gemm, sm_count=80, align_bytes=16),
                calibration=a100.calibration,
            )
            o = cal.gemm_errors(old, rows)
            print(
                f"  {'':16s} {'  old: A100 fit on V100':26s} {len(rows):6d} "
                f"{_pct(o['median_rel_err'])} {_pct(o['p90_rel_err'])}"
            )
        if by_source:
            pred = cal.as_measured(
                cal.predicted_kernel(t, rows), rows.timing, cal.measurement_model(t)
            )
            err = cal.rel_errors(pred, rows.seconds)
            for src in np.unique(rows.source):
                mk = rows.source == src
                print(
                    f"      {src:45s} {int(mk.sum()):5d}  median {np.median(err[mk]):6.1%}  "
                    f"p90 {np.percentile(err[mk], 90):6.1%}"
                )


def published_sets(show_rows: bool) -> None:
    print(f"GEMM cost model vs published measurements ({cal.PUBLISHED.name})")
    rows = cal.load_published()
    for name in sorted({r.target for r in rows}):
        t = _gpu(name)
        mine = [r for r in rows if r.target == name]
        res = cal.published_predictions(t, mine)
        for use in ("fit", "check", "burst", "host", "no"):
            errs = [e for r, _, e in res if r.use == use]
            if errs:
                print(
                    f"  {name:16s} {use:6s} {len(errs):3d} rows  median {np.median(errs):6.1%}  "
                    f"p90 {np.percentile(errs, 90):6.1%}"
                )
        if show_rows:
            for r, tf, e in res:
                shape = f"{r.batch}x{r.m}x{r.n}x{r.k}"
                print(
                    f"      {r.use:5s} {r.source:16s} {r.dtype:4s} {shape:20s} measured "
                    f"{r.tflops:6.1f}  model {tf:6.1f} TFLOP/s  ({e:5.1%})"
                )
    print(
        "  (fit: sets the GPU's gemm_max; check: out of sample; burst: short runs above the "
        "sustained clock; host: framework dispatch-bound; no: a software regression)"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "--data",
        type=Path,
        default=cal.DATA_ROOT,
        metavar="DIR",
        help=f"the shared data folder (default: {cal.DATA_ROOT})",
    )
    ap.add_argument("--by-source", action="store_true", help="error per source log file")
    ap.add_argument("--rows", action="store_true", help="every published row")
    args = ap.parse_args()
    t0 = time.time()
    measured_sets(args.data, args.by_source)
    published_sets(args.rows)
    a100 = _gpu(cal.CALIBRATED_TARGET)
    m = cal.memory_op_errors(a100, cal.load_memory_ops(args.data / "gemm_a100" / cal.OPS_FILE))
    print(
        f"memory ops on a100-sxm4-40gb (softmax/dropout/gelu/layernorm, >= 1 ms): "
        f"{int(m['rows'])} rows, median rel. err {m['median_rel_err']:.1%}, "
        f"p90 {m['p90_rel_err']:.1%}"
    )
    f = cal.published_checks(a100)
    print("published facts (A100 fp16):")
    print(
        f"  large aligned GEMM 8192^3: {f['large_aligned_tflops']:.0f} TFLOP/s, "
        f"16384^3: {f['large_aligned_16k_tflops']:.0f} (published ~250-257)"
    )
    print(
        f"  GPT-3 2.7B attention bmm, b=4 s=2048: h/a=128 {f['attn_bmm_tflops_head_dim_128']:.0f}"
        f" TFLOP/s, h/a=80 {f['attn_bmm_tflops_head_dim_80']:.0f}; time ratio 80/128 = "
        f"{f['attn_bmm_time_ratio_80_over_128']:.2f} (> 1: 128 faster, as published)"
    )
    for v in (50257, 50304):
        print(
            f"  vocab {v}: logits {f[f'vocab_{v}_fwd_tflops']:.0f}, dgrad "
            f"{f[f'vocab_{v}_dgrad_tflops']:.0f}, wgrad {f[f'vocab_{v}_wgrad_tflops']:.0f}"
            f" TFLOP/s; total {f[f'vocab_{v}_total_seconds'] * 1e3:.2f} ms"
        )
    print(
        f"  vocab speed-up 50257 -> 50304: "
        f"{f['vocab_50257_total_seconds'] / f['vocab_50304_total_seconds']:.2f}x"
    )
    for name, ref in (("acceltran-edge", 54.1), ("acceltran-server", 1830.0)):
        area = acceltran_area(load_target(name))["total"]
        print(f"{name} area: {area:.1f} mm^2 (published {ref})")
    print(f"wall time {time.time() - t0:.1f} s")


if __name__ == "__main__":
    main()
