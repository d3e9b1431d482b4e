"""PHAZE GEMM mapping: weight-stationary systolic tensor cores, blocks in the global buffer.

C[B, M, N] = A[B, M, K] @ W[B, K, N] on n cores of width x depth MACs (PHAZE's tensor cores):

* compute (weight-stationary): W is cut into ceil(K/depth) * ceil(N/width) blocks per batch
  entry; each block is loaded into a core and the M rows of A stream through it in
  (rows + width + depth) cycles. With ``m_split`` s the rows are split s ways, so
  B * blocks * s passes of ceil(M/s) rows are spread over the cores:
  ceil(passes / cores) * (ceil(M/s) + width + depth) cycles. Few blocks leave cores idle (wave
  quantization) unless the rows are split; each split pays the fill and drain again.
* input-stationary: blocks of A stay in the cores and the N columns of W stream through
  (C^T = W^T A^T: the same model with M and N swapped), which wins when M is small against N
  (few tokens, wide weights).
* buffer level: per pass the W block and the A rows go from the global buffer to the core;
  outputs are written once.
* DRAM level: blocks (mb, nb, kb) in a loop order (``blocking.py``) whose double-buffered A and
  W blocks and fp32 C block fit the global buffer.

The PE tile is ``(m_split, input_stationary)``. The default tile is the cost model's fixed
rule (weight-stationary, split only when there are fewer blocks than cores) with the default
blocking; the mapper searches both dataflows, m_split in 1..2n and the blockings.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

from backends.targets import PhazeTarget
from backends.tiling.blocking import (
    ORDERS,
    Blocking,
    all_blockings,
    default_blocking,
    dram_elements,
    maximal_blockings,
)
from backends.tiling.tile import Tile, TileCost
from ir.work import GemmShape


def quantum(t: PhazeTarget) -> int:
    return max(t.tc_width, t.tc_depth)


def blocks(t: PhazeTarget, g: GemmShape) -> int:
    return g.batch * math.ceil(g.k / t.tc_depth) * math.ceil(g.n / t.tc_width)


def default_split(t: PhazeTarget, g: GemmShape, cores: int) -> int:
    """The fixed rule: with fewer weight blocks than cores, split the rows to fill them."""
    nb = blocks(t, g)
    return max(1, min(cores // nb, math.ceil(g.m / t.tc_width))) if nb < cores else 1


def oriented(g: GemmShape, input_stationary: int) -> GemmShape:
    """The GEMM as the array sees it: input-stationary streams W's columns (M and N swap)."""
    return GemmShape(g.batch, g.n, g.m, g.k) if input_stationary else g


def pe_options(t: PhazeTarget, g: GemmShape, cores: int) -> list[tuple[int, int]]:
    out = []
    for flip in (0, 1):
        h = oriented(g, flip)
        splits = {*range(1, min(2 * cores, h.m) + 1), default_split(t, h, cores)}
        out += [(s, flip) for s in sorted(splits)]
    return out


def _pe(pe: tuple[int, ...]) -> tuple[int, int]:
    """(m_split, input_stationary); a record of only m_split is weight-stationary."""
    return (pe[0], pe[1] if len(pe) > 1 else 0)


def fits(t: PhazeTarget, b: Blocking, eb: int) -> bool:
    """Double-buffered A and W blocks plus fp32 accumulators fit the global buffer."""
    return 2 * (b.mb * b.kb + b.kb * b.nb) * eb + b.mb * b.nb * 4 <= t.global_buffer_bytes


def _pe_level(
    t: PhazeTarget, g: GemmShape, pe: tuple[int, ...], cores: int, eb: int, keep: float
) -> tuple[dict, float, float, float]:
    """(detail, compute s, buffer bytes, buffer s) of PE tile ``pe`` on ``cores`` cores."""
    split, flip = _pe(pe)
    g = oriented(g, flip)
    w, d = t.tc_width, t.tc_depth
    split = max(1, min(split, g.m))
    nblocks = blocks(t, g)
    rows = math.ceil(g.m / split)
    passes = math.ceil(nblocks * split / cores)
    cyc = passes * (rows + w + d)
    compute = cyc / t.clock_hz * keep
    nbytes = (nblocks * split * (d * w * eb + rows * d * eb) + eb * g.batch * g.m * g.n) * keep
    detail = {
        "cores": cores,
        "cycles": cyc,
        "blocks": nblocks,
        "m_split": split,
        "stationary": "input" if flip else "weight",
    }
    return detail, compute, nbytes, nbytes / t.global_buffer_bandwidth


def evaluate(
    t: PhazeTarget,
    g: GemmShape,
    pe: tuple[int, ...],
    blocking: Blocking,
    eb: int = 2,
    sparsity: float = 0.0,
    cores: int | None = None,
) -> TileCost:
    """The per-level roofline of GEMM ``g`` under ``pe`` = (m_split, input_stationary) on
    ``cores`` cores."""
    cores = t.tensor_cores if cores is None else cores
    keep = 1.0 - sparsity
    blocking = blocking.clamp(g)
    detail, compute, buf_bytes, buf_s = _pe_level(t, g, pe, cores, eb, keep)
    dram_bytes = sum(dram_elements(g, blocking)) * eb * keep
    dram_s = dram_bytes / t.hbm_bandwidth
    return TileCost(
        seconds=max(compute, buf_s, dram_s),
        compute_s=compute,
        buffer_s=buf_s,
        dram_s=dram_s,
        dram_bytes=dram_bytes,
        buffer_bytes=buf_bytes,
        fits=fits(t, blocking, eb),
        detail=detail,
    )


def default_tile(t: PhazeTarget, g: GemmShape, eb: int = 2, sparsity: float = 0.0) -> Tile:
    blocking = default_blocking(g, quantum(t), lambda b: fits(t, b, eb))
    single = (default_split(t, g, 1), 0) if t.tensor_cores > 1 else None
    return Tile((default_split(t, g, t.tensor_cores), 0), blocking, single)


def _best_pe(t: PhazeTarget, g: GemmShape, cores: int, eb: int, keep: float) -> tuple[int, int]:
    default = (default_split(t, g, cores), 0)

    def key(pe: tuple[int, int]) -> tuple:
        _, compute, nbytes, buf_s = _pe_level(t, g, pe, cores, eb, keep)
        return (max(compute, buf_s), nbytes, pe != default, pe)

    return min(pe_options(t, g, cores), key=key)


def best_blocking(t: PhazeTarget, g: GemmShape, eb: int) -> Blocking:
    ok = lambda b: fits(t, b, eb)  # noqa: E731
    best = None
    best_key: tuple = ()
    for b in maximal_blockings(g, quantum(t), ok):
        key = (sum(dram_elements(g, b)), ORDERS.index(b.order), -b.mb, -b.nb, -b.kb)
        if best is None or key < best_key:
            best, best_key = b, key
    return best if best is not None else default_blocking(g, quantum(t), ok)


def best_tile(t: PhazeTarget, g: GemmShape, eb: int = 2, sparsity: float = 0.0) -> Tile:
    """The mapper: the least predicted time (then DRAM traffic) on all cores and on one."""
    keep = 1.0 - sparsity
    pe = _best_pe(t, g, t.tensor_cores, eb, keep)
    single = _best_pe(t, g, 1, eb, keep) if t.tensor_cores > 1 else None
    return Tile(pe, best_blocking(t, g, eb), single)


def all_tiles(t: PhazeTarget, g: GemmShape) -> Iterator[tuple[tuple[int, int], Blocking]]:
    """The whole search space on all cores, for a brute-force check."""
    for pe in pe_options(t, g, t.tensor_cores):
        for b in all_blockings(g, quantum(t)):
            yield pe, b
