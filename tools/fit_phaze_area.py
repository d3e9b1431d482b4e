"""Fit the PHAZE template's area model on PHAZE's own area estimates; print the [area] table.

    python tools/fit_phaze_area.py cores.json

``cores.json`` is ``Estimator/arch_configs/cores.json`` of PHAZE's public code
(msr-fiddle/phaze): every accelerator configuration it explored with its Accelergy area in
um^2 (``num_tc`` tensor cores of ``width`` x ``depth`` MACs, ``num_vc`` vector cores of
``width_vc`` lanes, a ``GLB_Buffer``-byte global buffer). The model is linear least squares:

    area = num_tc * (w * d * mm2_per_mac + mm2_per_tensor_core)
         + num_vc * (w_vc * mm2_per_vector_lane + mm2_per_vector_core)
         + global_buffer_mm2[size]

with one global-buffer area per size present in the data. The built-in
``backends/targets/tpuv4-like.toml`` [area] table was written from this output.
"""

from __future__ import annotations

import json
import sys

import numpy as np


def main(argv: list[str]) -> int:
    if len(argv) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[0]) as f:
        rows = json.load(f)
    sizes = sorted({r["GLB_Buffer"] for r in rows})
    a = np.array(
        [
            [
                r["num_tc"] * r["width"] * r["depth"],
                r["num_tc"],
                r["num_vc"] * r["width_vc"],
                r["num_vc"],
                *(1.0 if r["GLB_Buffer"] == s else 0.0 for s in sizes),
            ]
            for r in rows
        ]
    )
    y = np.array([r["area"] / 1e6 for r in rows])  # um^2 -> mm^2
    coef = np.array([float(f"{c:.4g}") for c in np.linalg.lstsq(a, y, rcond=None)[0]])
    err = np.abs(a @ coef - y) / y
    print(f"# {len(rows)} configurations; relative error median {np.median(err):.4f},")
    print(f"# p99 {np.quantile(err, 0.99):.4f}, max {err.max():.4f}")
    print("[area]")
    for name, c in zip(
        ("mm2_per_mac", "mm2_per_tensor_core", "mm2_per_vector_lane", "mm2_per_vector_core"),
        coef,
        strict=False,
    ):
        print(f"{name} = {c:.4g}")
    print(f"global_buffer_mib = {[s >> 20 for s in sizes]}")
    print(f"global_buffer_mm2 = {[float(f'{c:.4g}') for c in coef[4:]]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
