"""Fit the fused-kernel efficiencies (`[fusion]` of the GPU target TOMLs) on measured data.

    python tools/calibrate_fusion.py OPS_CSV LAYERS_CSV [--target a100-sxm4-40gb]
        [--write TARGET.toml ...] [--stride N]

Four parameters with a meaning, each an achieved fraction of HBM bandwidth (see
backends/cost/fusion.py): `stream` (pointwise kernels: Megatron's fused bias-GELU), `residual`
(bias-dropout-add), `norm` (layer norm) from the standalone kernels of OPS_CSV (median
achieved bandwidth, wall-clock overhead removed), and `softmax` (the scale-mask-softmax kernel
over materialised scores, which only whole layers time) from the attention blocks of
LAYERS_CSV, simulated through the real pipeline (gpt2 with one layer of each measured shape,
`fold-transposes,fuse{kernels=fused}`). Prints the in-sample errors and the leave-one-hidden-
size-range-out cross-validated layer error. The built-in files were written with::

    python tools/calibrate_fusion.py ../shared/data/gemm_a100/ops_a100.csv \\
        ../shared/data/layers_a100/layers_a100.csv --write backends/targets/a100-sxm4-40gb.toml \\
        backends/targets/a100-sxm4-80gb.toml backends/targets/h100-sxm.toml \\
        backends/targets/v100-sxm2.toml

(the GEMM constants come from tools/calibrate_gemm.py; refit them first if they change).
"""

from __future__ import annotations

import argparse
import re
import sys
import time
from pathlib import Path

import numpy as np
from fusion_data import (
    build_layers,
    cross_validate,
    fit_all,
    layer_errors,
    load_layers,
    load_ops,
    op_errors,
)

from backends.targets import FusionParams, GpuTarget, load_target
from ir.errors import TandemError

BEGIN = "# BEGIN FUSION (written by tools/calibrate_fusion.py; edit by hand at your own risk)"
END = "# END FUSION"


def block_text(p: FusionParams, stats: dict[str, float], source: str) -> str:
    lines = [
        BEGIN,
        f"# {source}",
        "[fusion]",
        "# achieved fraction of HBM bandwidth of one fused kernel (inputs read once, outputs",
        "# written once, one launch): pointwise chains (Megatron's bias-GELU), bias-dropout-add,",
        "# layer/RMS norm, and scale-mask-softmax over materialised attention scores",
        f"stream = {p.stream:.4g}",
        f"residual = {p.residual:.4g}",
        f"norm = {p.norm:.4g}",
        f"softmax = {p.softmax:.4g}",
        "",
        "[fusion_calibration]",
        "# |relative error| of predicted time: standalone kernels (ops_a100.csv) and whole",
        "# `fused` layers (layers_a100.csv), in sample and leave-one-hidden-range-out",
        *(f"{k} = {v:.4g}" for k, v in stats.items()),
        END,
    ]
    return "\n".join(lines) + "\n"


def write_block(path: Path, block: str) -> None:
    text = path.read_text()
    pattern = re.compile(re.escape(BEGIN) + r".*?" + re.escape(END) + r"\n", re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip("\n") + "\n\n" + block
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("ops", type=Path, metavar="OPS_CSV")
    ap.add_argument("layers", type=Path, metavar="LAYERS_CSV")
    ap.add_argument("--target", default="a100-sxm4-40gb", help="the GPU the data was measured on")
    ap.add_argument("--write", type=Path, nargs="*", default=[], metavar="TARGET.toml")
    ap.add_argument("--stride", type=int, default=1, help="use every N-th layer (default all)")
    a = ap.parse_args(argv)
    t0 = time.time()
    target = load_target(a.target)
    if not isinstance(target, GpuTarget):
        raise TandemError(f"{a.target}: the fusion calibration needs a gpu target")
    ops = load_ops(a.ops)
    rows = load_layers(a.layers)
    print(f"{len(ops.op)} kernel rows, {len(rows)} layers; simulating the layers ...")
    layers = build_layers(rows, target, a.stride, log=print)
    params = fit_all(target, ops, layers)
    print(f"\nfitted [fusion]: {params}")
    print("\nstandalone kernels (ops_a100.csv), |relative error| of predicted time:")
    stats: dict[str, float] = {}
    for op, e in op_errors(target, params, ops).items():
        print(f"  {op:30s} {e['rows']:5d} rows  median {e['median']:.1%}  p90 {e['p90']:.1%}")
        stats[f"{op}_median_rel_err"] = e["median"]
    for block in ("attention", "mlp", "layer"):
        err = layer_errors(target, params, layers, block)
        print(
            f"  {block:9s} block: median |err| {np.median(np.abs(err)):.1%}, "
            f"median signed {np.median(err):+.1%}, p90 {np.percentile(np.abs(err), 90):.1%}"
        )
        stats[f"{block}_median_rel_err"] = float(np.median(np.abs(err)))
    cv, per = cross_validate(target, ops, layers)
    for (lo, hi), p, med in per:
        print(
            f"  held out h {lo}-{hi}: softmax {p.softmax:.3f}, stream {p.stream:.3f}, "
            f"median |err| {med:.1%}"
        )
    print(f"  cross-validated layer: median |err| {np.median(np.abs(cv)):.1%}")
    stats["layer_cv_median_rel_err"] = float(np.median(np.abs(cv)))
    stats["layers"] = float(len(layers))
    fitted = f"fitted on {a.target} data ({a.ops.name}, {a.layers.name})"
    copied = f"copied from the {a.target} fit (fractions of this GPU's own bandwidth)"
    for path in a.write:
        own = path.stem == target.name
        write_block(path, block_text(params, stats, fitted if own else copied))
        print(f"wrote {path}")
    print(f"({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
