"""Report the accuracy of the GPU cost model on the A100 calibration data.

Run: .venv/bin/python benchmarks/gemm_calibration.py [--data DIR]   (a script, not a package)

Prints the GEMM throughput errors (all rows, large aligned GEMMs, per source file with
--by-source), the memory-op error, the published-fact checks and the AccelTran areas.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "tools")]

import gemm_data as cal  # noqa: E402
import numpy as np  # noqa: E402

from backends.cost import acceltran_area  # noqa: E402
from backends.targets import load_target  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default=cal.CALIBRATED_TARGET)
    ap.add_argument(
        "--data",
        type=Path,
        default=cal.DEFAULT_DATA_DIR,
        metavar="DIR",
        help=f"folder with {cal.GEMM_FILE} and {cal.OPS_FILE} (default: {cal.DEFAULT_DATA_DIR})",
    )
    ap.add_argument("--by-source", action="store_true", help="error per source log file")
    args = ap.parse_args()
    t0 = time.time()
    target = load_target(args.target)
    rows = cal.load_gemm_rows(args.data / cal.GEMM_FILE)
    e = cal.gemm_errors(target, rows)
    print(
        f"target {target.name}; GEMM rows used: {len(rows)} "
        "(fp16, flag=='', >= 50 us, de-duplicated per timing statistic)"
    )
    print(
        f"  all rows      : median rel. err {e['median_rel_err']:.1%}, p90 {e['p90_rel_err']:.1%}"
    )
    print(
        f"  large aligned : {int(e['large_aligned_rows'])} rows, median "
        f"{e['large_aligned_median_rel_err']:.1%}, p90 {e['large_aligned_p90_rel_err']:.1%}"
    )
    ok = rows.subset(~rows.cliff)
    e2 = cal.gemm_errors(target, ok)
    print(
        f"  without the 4h->h kernel-switch window: median {e2['median_rel_err']:.1%}, "
        f"p90 {e2['p90_rel_err']:.1%}"
    )
    if args.by_source:
        pred = cal.as_measured(
            cal.predicted_kernel(target, rows), rows.timing, cal.measurement_model(target)
        )
        err = cal.rel_errors(pred, rows.seconds)
        for src in np.unique(rows.source):
            mk = rows.source == src
            print(
                f"    {src:45s} {int(mk.sum()):5d}  median {np.median(err[mk]):6.1%}  "
                f"p90 {np.percentile(err[mk], 90):6.1%}"
            )
    m = cal.memory_op_errors(target, cal.load_memory_ops(args.data / cal.OPS_FILE))
    print(
        f"memory ops (softmax/dropout/gelu/layernorm, >= 1 ms): {int(m['rows'])} rows, "
        f"median rel. err {m['median_rel_err']:.1%}, p90 {m['p90_rel_err']:.1%}"
    )
    f = cal.published_checks(target)
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
