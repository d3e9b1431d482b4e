"""Measured GPU GEMM data and the GPU cost model's error on it (for the calibration tool, the
accuracy benchmark and the tests; nothing here runs inside ``tandem``).

Data (``DATA_ROOT``, by default the team's ``shared/data`` next to the checkout), per GPU in
``DATASETS``: ``gemm_a100/gemm_a100.csv`` (A100 cuBLAS fp16 mm/bmm, forward, wall-clock
timings from the TransformerSizing logs of Anthony et al., arXiv 2401.14489) with
``ops_a100.csv`` (softmax, dropout, GELU, layer norm), and ``gemm_v100/gemm_v100.csv`` (V100
attention bmm sweeps from the same logs). Published measurements of other GPUs (H100, and
A100 cross-checks) with their sources: ``PUBLISHED`` (``backends/targets/data``).

Rows used: ``flag == ''``, measured time >= 50 us (shorter ones are launch/sync bound in
wall-clock timings), de-duplicated on (batch, m, n, k, timing statistic) by the median.
The cuBLAS kernel-switch window of the 4h->h GEMM (m=8192, k=4n, n in [20608, 22272]) is
marked ``cliff``: an analytic model cannot predict it.

How a measurement is modelled (constants in the target's ``[calibration]`` table, *not* used by
``gemm_cost``): wall = (kernel + wall_overhead_s) * timing_factor, where the factor is 1 for
mean/median timings, ``timing_factor_max`` for max-of-N and ``timing_factor_min`` for
min-of-N; triton do_bench (CUDA events) rows have no wall overhead.

    rows = load_gemm_rows(DEFAULT_DATA_DIR / GEMM_FILE)
    gemm_errors(load_target(CALIBRATED_TARGET), rows)["median_rel_err"]   # 0.028
"""

from __future__ import annotations

import csv
import dataclasses
from collections import defaultdict
from pathlib import Path

import numpy as np

from backends.cost import gpu_gemm_cost
from backends.cost.gemm import gemm_model_arrays
from backends.cost.traffic import op_bytes
from backends.targets import GemmParams, GpuTarget
from ir.errors import TandemError

ROOT = Path(__file__).resolve().parents[1]
DATA_ROOT = ROOT.parent / "shared" / "data"
DEFAULT_DATA_DIR = DATA_ROOT / "gemm_a100"
GEMM_FILE = "gemm_a100.csv"
OPS_FILE = "ops_a100.csv"
MIN_SECONDS = 50e-6
CALIBRATED_TARGET = "a100-sxm4-40gb"
# measured GEMM data sets per GPU target: folder under DATA_ROOT, GEMM file
DATASETS = {
    "a100-sxm4-40gb": ("gemm_a100", "gemm_a100.csv"),
    "v100-sxm2": ("gemm_v100", "gemm_v100.csv"),
}
PUBLISHED = ROOT / "backends" / "targets" / "data" / "published_gemms.csv"

# timing statistic -> code; 0 mean/median, 1 max-of-N, 2 min-of-N, 3 CUDA events
_TIMING_CODE = {
    "mean_of_100_wall": 0,
    "median_of_100_wall": 0,
    "max_of_200_wall": 1,
    "max_of_100_wall": 1,
    "min_of_200_wall": 2,
    "median_cuda_events_triton_do_bench": 3,
}


@dataclasses.dataclass
class GemmRows:
    """Measured GEMM rows as arrays."""

    batch: np.ndarray
    m: np.ndarray
    n: np.ndarray
    k: np.ndarray
    seconds: np.ndarray
    timing: np.ndarray
    source: np.ndarray
    cliff: np.ndarray

    def __len__(self) -> int:
        return len(self.batch)

    def subset(self, mask: np.ndarray) -> GemmRows:
        return GemmRows(*(getattr(self, f.name)[mask] for f in dataclasses.fields(self)))

    def flops(self) -> np.ndarray:
        return 2.0 * self.batch * self.m * self.n * self.k


def load_gemm_rows(path: Path, min_seconds: float = MIN_SECONDS) -> GemmRows:
    """Read, filter and de-duplicate the calibration GEMMs."""
    if not Path(path).is_file():
        raise TandemError(f"{path}: calibration data not found")
    groups: dict[tuple, list[float]] = defaultdict(list)
    src: dict[tuple, str] = {}
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["flag"] != "" or row.get("library", "cublas") != "cublas":
                continue
            b, m, n, k = (int(row[c]) for c in ("batch", "m", "n", "k"))
            flops = 2.0 * b * m * n * k
            sec = float(row["seconds"]) if row["seconds"] else flops / float(row["tflops"]) / 1e12
            key = (b, m, n, k, _TIMING_CODE[row["timing"]])
            groups[key].append(sec)
            src.setdefault(key, row["source"])
    keys = [key for key, v in groups.items() if float(np.median(v)) >= min_seconds]
    arr = np.array(keys, dtype=np.int64).reshape(-1, 5)
    sec = np.array([float(np.median(groups[key])) for key in keys])
    b, m, n, k, tcode = arr.T
    cliff = (m == 8192) & (k == 4 * n) & (n >= 20608) & (n <= 22272)
    return GemmRows(b, m, n, k, sec, tcode, np.array([src[key] for key in keys]), cliff)


def dataset_path(target_name: str, root: Path = DATA_ROOT) -> Path:
    """The measured GEMM file of a GPU target (see ``DATASETS``)."""
    folder, name = DATASETS[target_name]
    return root / folder / name


def sweep_folds(
    rows: GemmRows, blocks: int = 4, min_rows: int = 40, max_folds: int = 8
) -> np.ndarray:
    """Cross-validation folds by sweep: one per source log, and a source of at least
    ``min_rows`` rows split into ``blocks`` contiguous ranges of its swept size (FLOPs), so a
    held-out fold is a stretch of a sweep the fit never saw. With more than ``max_folds`` such
    folds (the A100 data has 39 logs), whole logs are held out instead, in ``max_folds``
    groups (log i in group i mod max_folds)."""
    sources = np.unique(rows.source)
    if len(sources) > max_folds:
        group = {src: f"logs#{i % max_folds}" for i, src in enumerate(sources)}
        return np.array([group[src] for src in rows.source])
    folds = np.empty(len(rows), dtype=object)
    flops = rows.flops()
    for src in sources:
        mk = rows.source == src
        if mk.sum() < min_rows:
            folds[mk] = src
            continue
        rank = np.argsort(np.argsort(flops[mk], kind="stable"), kind="stable")
        folds[mk] = [f"{src}#{int(r * blocks // mk.sum())}" for r in rank]
    return folds.astype(str)


def predicted_kernel(
    target: GpuTarget, rows: GemmRows, p: GemmParams | None = None, dtype: str = "f16"
) -> np.ndarray:
    """Model kernel time (no launch overhead) for each row (fp16 unless ``dtype``)."""
    p = p or target.gemm
    cuda = target.cuda_core_peak(dtype) if target.uses_tensor_cores(dtype) else None
    r = gemm_model_arrays(
        p,
        target.peak_flops(dtype),
        target.hbm_bandwidth,
        rows.batch,
        rows.m,
        rows.n,
        rows.k,
        2,
        0.0,
        cuda,
    )
    return r["kernel"]


def as_measured(kernel: np.ndarray, timing: np.ndarray, meas: dict[str, float]) -> np.ndarray:
    """Map kernel time to the wall-clock statistic the row was measured with."""
    wall = np.where(timing == 3, kernel, kernel + meas["wall_overhead_s"])
    fac = np.select(
        [timing == 1, timing == 2], [meas["timing_factor_max"], meas["timing_factor_min"]], 1.0
    )
    return wall * fac


def rel_errors(pred_seconds: np.ndarray, meas_seconds: np.ndarray) -> np.ndarray:
    """Relative error of predicted throughput: |pred_tput - meas_tput| / meas_tput."""
    return np.abs(meas_seconds / pred_seconds - 1.0)


def large_aligned(rows: GemmRows) -> np.ndarray:
    """All dims >= 4096 and multiples of 128."""
    dims = (rows.m, rows.n, rows.k)
    return np.all([(d >= 4096) & (d % 128 == 0) for d in dims], axis=0)


def measurement_model(target: GpuTarget) -> dict[str, float]:
    """The wall-clock constants of the target's ``[calibration]`` table (or defaults)."""
    c = target.calibration
    return {
        "wall_overhead_s": c.get("wall_overhead_s", 20e-6),
        "timing_factor_max": c.get("timing_factor_max", 1.0),
        "timing_factor_min": c.get("timing_factor_min", 1.0),
    }


def gemm_errors(
    target: GpuTarget,
    rows: GemmRows,
    p: GemmParams | None = None,
    meas: dict[str, float] | None = None,
) -> dict[str, float]:
    """Median/p90 relative throughput error, all rows and (where there are any) large aligned
    GEMMs."""
    meas = meas or measurement_model(target)
    pred = as_measured(predicted_kernel(target, rows, p), rows.timing, meas)
    err = rel_errors(pred, rows.seconds)
    big = large_aligned(rows)
    out = {
        "rows": float(len(rows)),
        "median_rel_err": float(np.median(err)),
        "p90_rel_err": float(np.percentile(err, 90)),
    }
    if big.any():
        out["large_aligned_rows"] = float(big.sum())
        out["large_aligned_median_rel_err"] = float(np.median(err[big]))
        out["large_aligned_p90_rel_err"] = float(np.percentile(err[big], 90))
    return out


# ----------------------------------------------------------------------------------------
# Memory-bound ops (ops_a100.csv)

# op name in ops_a100.csv -> memory_op kind (traffic from cost.traffic.op_bytes at fp16)
MEMORY_OPS = {
    "attention_softmax": "softmax",
    "attention_dropout": "dropout",
    "mlp_fused_gelu": "gelu",
    "transformer_add_bias_dropout": "bias_dropout_add",
    "transformer_layer_norm": "layernorm",
}


def load_memory_ops(path: Path, min_seconds: float = 1e-3) -> list[tuple[str, float, float]]:
    """(kind, bytes, seconds) per row; only rows long enough for the 4-decimal timings."""
    if not Path(path).is_file():
        raise TandemError(f"{path}: calibration data not found")
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if row["flag"] or row["op"] not in MEMORY_OPS:
                continue
            sec = float(row["seconds"])
            if sec < min_seconds:
                continue
            kind = MEMORY_OPS[row["op"]]
            out.append((kind, op_bytes(kind, int(row["numel"]), "f16"), sec))
    return out


def memory_op_errors(
    target: GpuTarget, rows: list[tuple[str, float, float]], eff: dict[str, float] | None = None
) -> dict[str, float]:
    """Median/p90 relative error of predicted time for memory-bound ops."""
    eff = eff or target.memory_op_efficiency
    wall = measurement_model(target)["wall_overhead_s"]
    errs = [
        abs(sec / (b / (target.hbm_bandwidth * eff.get(kind, eff["elementwise"])) + wall) - 1.0)
        for kind, b, sec in rows
    ]
    return {
        "rows": float(len(errs)),
        "median_rel_err": float(np.median(errs)),
        "p90_rel_err": float(np.percentile(errs, 90)),
    }


# ----------------------------------------------------------------------------------------
# Published measurements of other GPUs (backends/targets/data/published_gemms.csv)


@dataclasses.dataclass(frozen=True)
class PublishedGemm:
    """One published measured GEMM throughput with its source.

    use: "fit" (sets the target's gemm_max), "check" (out of sample), "burst" (short runs at
    boost clock, above the sustained rate the model predicts), "host" (host-bound: the
    framework's per-call dispatch, not the kernel, sets the time), "no" (not a hardware figure).
    """

    target: str
    dtype: str
    batch: int
    m: int
    n: int
    k: int
    tflops: float
    timing: str
    library: str
    use: str
    source: str
    url: str
    note: str

    @property
    def seconds(self) -> float:
        return 2.0 * self.batch * self.m * self.n * self.k / (self.tflops * 1e12)


def load_published(path: Path = PUBLISHED, target: str | None = None) -> list[PublishedGemm]:
    """The published rows (of one target when given)."""
    out = []
    with open(path, newline="") as f:
        for row in csv.DictReader(f):
            if target and row["target"] != target:
                continue
            ints = {c: int(row[c]) for c in ("batch", "m", "n", "k")}
            rest = {c: row[c] for c in ("target", "dtype", "timing", "library", "use", "source")}
            out.append(
                PublishedGemm(
                    **rest, **ints, tflops=float(row["tflops"]), url=row["url"], note=row["note"]
                )
            )
    return out


def published_predictions(
    target: GpuTarget, rows: list[PublishedGemm]
) -> list[tuple[PublishedGemm, float, float]]:
    """(row, predicted TFLOP/s, relative throughput error) per row."""
    out = []
    for r in rows:
        c = gpu_gemm_cost(target, r.batch, r.m, r.n, r.k, r.dtype)
        out.append((r, c.tflops, abs(r.seconds / c.seconds - 1.0)))
    return out


# ----------------------------------------------------------------------------------------
# Published facts (Anthony et al. 2024) the model must reproduce in direction


def published_checks(target: GpuTarget) -> dict[str, float]:
    """Predicted numbers for the published A100 facts (fp16).

    * large aligned GEMM (8192^3) ~250-257 TFLOP/s;
    * GPT-3 2.7B attention bmm (b=4, s=2048, h=2560): a=20 (h/a=128) faster than a=32
      (h/a=80); ``attn_bmm_time_ratio_80_over_128`` > 1 means 128 is faster;
    * logits GEMM (m=b*s=8192, n=v, k=h=2560) and its two backward GEMMs (v as the reduction
      dim for dW, as output for dX): v=50304 faster than 50257.
    """
    out: dict[str, float] = {}
    out["large_aligned_tflops"] = gpu_gemm_cost(target, 1, 8192, 8192, 8192).tflops
    out["large_aligned_16k_tflops"] = gpu_gemm_cost(target, 1, 16384, 16384, 16384).tflops
    b, s, h = 4, 2048, 2560
    times = {}
    for a in (20, 32):
        d = h // a
        t = (
            gpu_gemm_cost(target, b * a, s, s, d).seconds
            + gpu_gemm_cost(target, b * a, s, d, s).seconds
        )
        times[d] = t
        out[f"attn_bmm_tflops_head_dim_{d}"] = 2 * 2.0 * b * a * s * s * d / t / 1e12
    out["attn_bmm_time_ratio_80_over_128"] = times[80] / times[128]
    bs = 8192
    for v in (50257, 50304):
        fwd = gpu_gemm_cost(target, 1, bs, v, h)  # logits = X W^T
        dx = gpu_gemm_cost(target, 1, bs, h, v)  # dX = dY W   (reduction over v)
        dw = gpu_gemm_cost(target, 1, v, h, bs)  # dW = dY^T X (v rows)
        out[f"vocab_{v}_fwd_tflops"] = fwd.tflops
        out[f"vocab_{v}_dgrad_tflops"] = dx.tflops
        out[f"vocab_{v}_wgrad_tflops"] = dw.tflops
        out[f"vocab_{v}_total_seconds"] = fwd.seconds + dx.seconds + dw.seconds
    return out
