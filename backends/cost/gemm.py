"""GPU GEMM cost: alignment, tile and wave quantization, split-K, roofline, launch.

``C[batch, m, n] = A[batch, m, k] @ B[batch, k, n]``, k the reduction dimension.

Model (per candidate tile shape (tm, tn) of the target and split-K factor s, like a cuBLAS
heuristic choosing the config with the smallest predicted time):

* CTAs = batch * ceil(m/tm) * ceil(n/tn) * s; waves = ceil(CTAs / SMs) (one CTA per SM, so a
  partial last wave costs a full wave: wave quantization; a partial tile costs a full tile:
  tile quantization).
* One CTA: 2*tm*tn*(k_s + k_overhead) FLOPs at (peak / SMs) * gemm_max * tile_eff * align,
  with k_s = ceil(k/s) rounded up to the k tile; k_overhead models the prologue/epilogue.
* align = align_k[i_k] * align_n[i_n] * align_m[i_m]: i_d = log2 of the largest power of two
  dividing (dim * element bytes); a dimension whose byte size is a multiple of the target's
  ``alignment_bytes`` runs at 1.0 (A100/H100 128 B, V100 16 B).
* memory = element bytes * batch * (m*k + k*n + m*n) / (HBM bandwidth * gemm_memory);
  split-K adds an fp32 partial-sum round trip.
* kernel = max(compute, memory) (+ split-K reduction); seconds = kernel + launch overhead.

Every efficiency is <= 1, so no prediction beats peak compute or peak bandwidth.
Sparsity s scales FLOPs, compute time and bytes by (1 - s).
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


def align_factor(
    table: tuple[float, ...], dim: np.ndarray, eb: np.ndarray | int, alignment_bytes: int
) -> np.ndarray:
    """Efficiency factor of one dimension from its byte alignment (vectorised)."""
    nbytes = np.asarray(dim, dtype=np.int64) * np.asarray(eb, dtype=np.int64)
    low = nbytes & -nbytes  # largest power of two dividing nbytes
    idx = np.minimum(np.log2(np.maximum(low, 1)).astype(np.int64), len(table) - 1)
    fac = np.asarray(table, dtype=float)[idx]
    return np.where(low >= alignment_bytes, 1.0, fac)


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
) -> dict[str, np.ndarray]:
    """Kernel time (no launch overhead) for arrays of GEMM shapes; also the chosen config.

    Returns arrays: kernel, compute, memory, tile (index), split, waves, align.
    """
    B, M, N, K = (np.asarray(x, dtype=np.float64)[:, None] for x in (batch, m, n, k))
    keep = 1.0 - np.asarray(sparsity, dtype=float).reshape(-1, 1) * np.ones_like(B)
    ebf = np.asarray(eb, dtype=float).reshape(-1, 1) * np.ones_like(B)
    peakf = np.asarray(peak, dtype=float).reshape(-1, 1) * np.ones_like(B)
    align = (
        align_factor(p.align_k, k, eb, p.alignment_bytes)
        * align_factor(p.align_n, n, eb, p.alignment_bytes)
        * align_factor(p.align_m, m, eb, p.alignment_bytes)
    ).reshape(-1, 1)

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
    sm_rate = peakf / p.sm_count * p.gemm_max * te_o * align
    compute = waves * 2.0 * tm_o * tn_o * (ks + p.k_overhead) / sm_rate * keep
    nbytes = ebf * B * (M * K + K * N + M * N) * keep
    memory = nbytes / (bandwidth * p.gemm_memory) + 0.0 * s_o
    red_bytes = np.where(s_o > 1, 2.0 * 4.0 * B * M * N * s_o, 0.0)
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
        "align": align[:, 0],
        "bytes": nbytes[:, 0],
    }


@lru_cache(maxsize=65536)
def _gpu_gemm_cached(
    p: GemmParams,
    peak: float,
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
    )
    t = int(r["tile"][0])
    detail = {
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
    seconds, comp, mem, nbytes, detail = _gpu_gemm_cached(
        target.gemm,
        target.peak_flops(d),
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
