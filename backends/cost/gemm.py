"""GPU GEMM cost from what the chip is: tensor-core path, alignment, tiles, waves, roofline.

``C[batch, m, n] = A[batch, m, k] @ B[batch, k, n]``, k the reduction dimension.

The mechanisms come from the target file; the model reads them (no per-GPU constants here):

* **Path.** A dtype with a tensor-core peak (``[tensor_core] peak_flops``) runs on tensor cores,
  others on CUDA cores (``[compute] cuda_core_flops``). Tensor cores run at full rate when every
  dimension's byte size (dim x element bytes) is a multiple of ``align_bytes`` (A100/H100
  128 B, V100 16 B); a dimension aligned to fewer bytes gets a slower tensor-core kernel,
  ``[efficiency] align_k/align_n/align_m[i]`` for a largest power-of-two byte divisor 2**i
  (a table shorter than log2(align_bytes) repeats its last entry).
  Where the file has ``[tensor_core.cuda_core_fallback]`` (V100), n or k (the leading dims of
  row-major operands and result) aligned to fewer than ``below_bytes`` and at most ``max_dim``
  elements gets no tensor-core kernel at all: the GEMM's FLOPs (on whole vectors) run on
  CUDA cores at ``[efficiency] cuda_core_fallback`` (k misaligned, n misaligned) of their peak
  (never faster than tensor cores would run the padded shape).
* **Tiles and waves** (per candidate CTA tile (tm, tn) of ``[gemm] tile_shapes`` and split-K
  factor s, like a library heuristic choosing the config with the smallest predicted time):
  CTAs = batch * ceil(m/tm) * ceil(n/tn) * s; waves = ceil(CTAs / SMs), so a partial tile and a
  partial last wave cost in full. One CTA: 2*tm*tn*(k_s + k_overhead) FLOPs at
  (peak / SMs) * gemm_max * tile_eff * align, k_s = ceil(k/s) rounded up to ``k_tile``.
* **Memory**: element bytes * batch * (m*k + k*n + m*n), each dimension rounded up to whole
  ``[gemm] vector_bytes`` (16 B, the widest load: misaligned rows move in whole vectors), at
  HBM bandwidth * gemm_memory; split-K adds an fp32 partial-sum round trip.
* kernel = max(compute, memory) (+ split-K reduction); seconds = kernel + launch overhead.

Every efficiency is <= 1, so no prediction beats the peak compute or bandwidth; and because
tiles and k_tile are multiples of the vector, a misaligned shape is never predicted faster than
the same shape padded to whole vectors (on a V100, whose align_bytes is one vector: the next
multiple of 8 fp16). Sparsity s scales FLOPs, compute and bytes by (1-s).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import numpy as np

from backends.cost.accel import acceltran_matmul_cost, phaze_gemm_cost
from backends.cost.base import OpCost, bound_of
from backends.targets import AccelTranTarget, GemmParams, GpuTarget, PhazeTarget, Target
from ir.dtypes import nbytes_of, parse_dtype
from ir.errors import TandemError


def _check_dims(batch: int, m: int, n: int, k: int, sparsity: float) -> None:
    for name, v in (("batch", batch), ("m", m), ("n", n), ("k", k)):
        if not isinstance(v, int | np.integer) or isinstance(v, bool) or v < 1:
            raise TandemError(f"gemm: {name} must be a positive integer, got {v!r}")
    if not 0.0 <= float(sparsity) < 1.0:
        raise TandemError(f"gemm: sparsity must be in [0, 1), got {sparsity!r}")


def byte_alignment(dim: np.ndarray, eb: np.ndarray | int) -> np.ndarray:
    """Largest power of two dividing dim * element bytes (vectorised)."""
    nbytes = np.asarray(dim, dtype=np.int64) * np.asarray(eb, dtype=np.int64)
    return nbytes & -nbytes


def align_factor(
    table: tuple[float, ...], dim: np.ndarray, eb: np.ndarray | int, align_bytes: int
) -> np.ndarray:
    """Efficiency of one dimension from its byte alignment; 1.0 from ``align_bytes`` up."""
    low = byte_alignment(dim, eb)
    idx = np.minimum(np.log2(np.maximum(low, 1)).astype(np.int64), len(table) - 1)
    fac = np.asarray(table, dtype=float)[np.maximum(idx, 0)] if table else np.ones_like(low)
    return np.where(low >= align_bytes, 1.0, fac)


def padded(dim: np.ndarray, eb: np.ndarray | int, granule_bytes: int) -> np.ndarray:
    """``dim`` rounded up to a whole number of ``granule_bytes`` (at least one element)."""
    g = np.maximum(granule_bytes // np.asarray(eb, dtype=np.int64), 1)
    d = np.asarray(dim, dtype=np.int64)
    return -(-d // g) * g


def fallback_dims(
    p: GemmParams, n: np.ndarray, k: np.ndarray, eb: np.ndarray | int
) -> tuple[np.ndarray, np.ndarray]:
    """Whether k and n send a GEMM to CUDA cores: at most ``fallback_max_dim`` and aligned to
    fewer than ``fallback_below_bytes`` (k and n are the leading dims of the row-major
    operands and result; m never is)."""
    if not p.fallback_below_bytes:
        no = np.zeros(np.shape(n), dtype=bool)
        return no, no
    bad_k, bad_n = (
        (byte_alignment(d, eb) < p.fallback_below_bytes) & (np.asarray(d) <= p.fallback_max_dim)
        for d in (k, n)
    )
    return bad_k, bad_n


def gemm_model_arrays(
    p: GemmParams,
    peak: np.ndarray | float,
    bandwidth: float,
    batch: np.ndarray,
    m: np.ndarray,
    n: np.ndarray,
    k: np.ndarray,
    eb: np.ndarray | int,
    sparsity: np.ndarray | float = 0.0,
    cuda_peak: np.ndarray | float | None = None,
) -> dict[str, np.ndarray]:
    """Kernel time (no launch overhead) for arrays of GEMM shapes; also the chosen config.

    ``peak``: the dtype's tensor-core peak (or CUDA-core peak for a dtype without tensor
    cores); ``cuda_peak``: the dtype's CUDA-core peak where the tensor-core fallback applies
    (None: no fallback, e.g. a dtype already on CUDA cores).
    Returns arrays: kernel, compute, memory, tile (index), split, waves, align (0 on CUDA
    cores), bytes (the operands' and result's bytes, unpadded), cuda (on the CUDA-core path).
    """
    B, M, N, K = (np.asarray(x, dtype=np.float64)[:, None] for x in (batch, m, n, k))
    ones = np.ones_like(B)
    keep = 1.0 - np.asarray(sparsity, dtype=float).reshape(-1, 1) * ones
    ebf = np.asarray(eb, dtype=float).reshape(-1, 1) * ones
    peakf = np.asarray(peak, dtype=float).reshape(-1, 1) * ones
    fk, fn, fm = (
        align_factor(table, d, eb, p.align_bytes).reshape(-1)
        for table, d in ((p.align_k, k), (p.align_n, n), (p.align_m, m))
    )
    align = (fk * fn * fm).reshape(-1, 1)
    bad_k = bad_n = np.zeros(len(B), dtype=bool)
    if cuda_peak is not None:
        bad_k, bad_n = (x.reshape(-1) for x in fallback_dims(p, np.asarray(n), np.asarray(k), eb))
    cuda = bad_k | bad_n

    tm = np.array([t[0] for t in p.tile_shapes], dtype=float)
    tn = np.array([t[1] for t in p.tile_shapes], dtype=float)
    teff = np.array(p.tile_eff, dtype=float)
    splits = np.arange(1, p.max_split_k + 1, dtype=float)
    # option axis: tiles x splits
    tm_o = np.repeat(tm, len(splits))[None, :]
    tn_o = np.repeat(tn, len(splits))[None, :]
    te_o = np.repeat(teff, len(splits))[None, :]
    s_o = np.tile(splits, len(tm))[None, :]

    ctas = B * np.ceil(M / tm_o) * np.ceil(N / tn_o) * s_o
    waves = np.ceil(ctas / p.sm_count)
    ks = np.ceil(np.ceil(K / s_o) / p.k_tile) * p.k_tile
    Mp, Np, Kp = (
        padded(x, eb, p.vector_bytes).astype(np.float64).reshape(-1, 1) for x in (m, n, k)
    )
    # tensor cores at full rate, then at the alignment factor
    sm_rate = peakf * p.gemm_max / p.sm_count * te_o
    full = waves * 2.0 * tm_o * tn_o * (ks + p.k_overhead) / sm_rate
    compute = full / align * keep
    if cuda.any():
        # CUDA cores at fallback efficiency on whole vectors (k misaligned, n misaligned, both:
        # the lower), never faster than tensor cores on the shape with those dims padded
        ek, en = p.fallback_eff
        eff = np.where(bad_k & bad_n, min(ek, en), np.where(bad_k, ek, en))
        simt_rate = np.asarray(cuda_peak, dtype=float).reshape(-1, 1) * ones * eff[:, None]
        tc_padded = full / (np.where(bad_k, 1.0, fk) * np.where(bad_n, 1.0, fn) * fm)[:, None]
        simt = np.maximum(2.0 * B * Mp * Np * Kp / simt_rate, tc_padded) * keep
        compute = np.where(cuda[:, None], simt, compute)
    moved = ebf * B * (Mp * Kp + Kp * Np + Mp * Np) * keep
    memory = moved / (bandwidth * p.gemm_memory) + 0.0 * s_o
    red_bytes = np.where(s_o > 1, 2.0 * 4.0 * B * Mp * Np * s_o, 0.0)
    reduce_t = np.where(s_o > 1, red_bytes / (bandwidth * p.gemm_memory) + p.split_k_overhead, 0.0)
    total = np.maximum(compute, memory) + reduce_t
    best = np.argmin(total, axis=1)
    rows = np.arange(total.shape[0])
    return {
        "kernel": total[rows, best],
        "compute": compute[rows, best] + reduce_t[rows, best],
        "memory": memory[rows, best],
        "tile": best // len(splits),
        "split": s_o[0, best].astype(int),
        "waves": waves[rows, best],
        "align": np.where(cuda, 0.0, align[:, 0]),
        "bytes": (ebf * B * (M * K + K * N + M * N) * keep)[:, 0],
        "cuda": cuda,
    }


@lru_cache(maxsize=65536)
def _gpu_gemm_cached(
    p: GemmParams,
    peak: float,
    cuda_peak: float | None,
    bandwidth: float,
    launch: float,
    batch: int,
    m: int,
    n: int,
    k: int,
    eb: int,
    sparsity: float,
) -> tuple[float, float, float, float, dict[str, Any]]:
    r = gemm_model_arrays(
        p,
        peak,
        bandwidth,
        np.array([batch]),
        np.array([m]),
        np.array([n]),
        np.array([k]),
        eb,
        sparsity,
        cuda_peak,
    )
    t = int(r["tile"][0])
    path = "tensor_core" if cuda_peak is not None else "cuda_core"
    detail = {
        "path": "cuda_core_fallback" if r["cuda"][0] else path,
        "tile": p.tile_shapes[t],
        "split_k": int(r["split"][0]),
        "waves": float(r["waves"][0]),
        "align_efficiency": float(r["align"][0]),
        "tile_efficiency": p.tile_eff[t],
    }
    return (
        float(r["kernel"][0]) + launch,
        float(r["compute"][0]),
        float(r["memory"][0]),
        float(r["bytes"][0]),
        detail,
    )


def gpu_gemm_cost(
    target: GpuTarget, batch: int, m: int, n: int, k: int, dtype: str = "f16", sparsity: float = 0.0
) -> OpCost:
    """Predicted cost of C[batch,m,n] = A[batch,m,k] @ B[batch,k,n] on a GPU target."""
    _check_dims(batch, m, n, k, sparsity)
    d = parse_dtype(dtype)
    tensor = target.uses_tensor_cores(d)
    seconds, comp, mem, nbytes, detail = _gpu_gemm_cached(
        target.gemm,
        target.peak_flops(d),
        target.cuda_core_peak(d) if tensor else None,
        target.hbm_bandwidth,
        target.launch_overhead_s,
        int(batch),
        int(m),
        int(n),
        int(k),
        nbytes_of(d),
        float(sparsity),
    )
    flops = 2.0 * batch * m * n * k * (1.0 - sparsity)
    return OpCost(
        seconds=seconds,
        flops=flops,
        bytes=nbytes,
        compute_seconds=comp,
        memory_seconds=mem,
        unit="sm",
        energy_j=0.0,
        bound=bound_of(comp, mem, target.launch_overhead_s),
        detail=dict(detail),
    )


def gemm_cost(
    target: Target, batch: int, m: int, n: int, k: int, dtype: str = "f16", sparsity: float = 0.0
) -> OpCost:
    """GEMM cost on any target kind (GPU model, AccelTran matmul, PHAZE all-cores GEMM)."""
    if isinstance(target, GpuTarget):
        return gpu_gemm_cost(target, batch, m, n, k, dtype, sparsity)
    if isinstance(target, AccelTranTarget):
        return acceltran_matmul_cost(target, batch, m, n, k, sparsity, dtype)
    if isinstance(target, PhazeTarget):
        return phaze_gemm_cost(target, batch, m, n, k, dtype, cores="all", sparsity=sparsity)
    raise TandemError(f"gemm_cost: unsupported target kind {target.kind!r}")
