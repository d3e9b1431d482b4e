"""AccelTran matmul mapping: (b, x, x) tiles over the MAC lanes, blocks in the on-chip buffers.

C[B, M, N] = A[B, M, K] @ W[B, K, N] with tile (b, x) (AccelTran's tiles have y == x):

* compute: ceil(B/b) ceil(M/x) ceil(N/x) ceil(K/x) tiles of b*x*x*ceil(x/MACs per lane) cycles
  each, in waves over all lanes (tile and wave quantization; x below the lane width idles MACs);
  sparsity s keeps (1 - s) of the cycles.
* buffer level: each tile reads its A (b x x) and W (x x x) tiles and writes its partial C
  (b x x) between the buffers and the PE, at ``bandwidth_bytes_per_cycle_per_pe`` per PE.
* DRAM level: blocks (mb, nb, kb) in a loop order (``blocking.py``); double-buffered A blocks
  plus the C block fit the activation buffer, double-buffered W blocks the weight buffer and,
  when sparse, the 1-bit masks of the sparse operands the mask buffer.
* per-operand sparsity (``operands`` = (s_A, s_W, s_C), measured by ``tandem sparsity``):
  each operand moves (1 - s) of its values plus a mask; by default all three are s.

    evaluate(load_target("acceltran-server"), GemmShape(12, 128, 128, 64), (1, 8), whole)

The mapper (``best_tile``) minimises max(compute, buffer, DRAM): the PE tile decides the first
two and the blocking the third, so each is chosen on its own (the blocking among the largest
that fit); ``all_tiles`` is the full space a brute force checks it against.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from functools import cache

from backends.targets import AccelTranTarget
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

MB = 1 << 20

# zero fractions of A, W and C (their compressed traffic); None: all three are `sparsity`
Operands = tuple[float, float, float] | None


def element_bytes(eb: int, sparsity: float) -> float:
    """Bytes per element moved: dense values, or the non-zeros plus a 1-bit mask."""
    return eb if sparsity <= 0 else eb * (1.0 - sparsity) + 1.0 / 8.0


def operand_sparsity(sparsity: float, operands: Operands) -> tuple[float, float, float]:
    """(s_A, s_W, s_C): ``operands`` when given, else ``sparsity`` for each."""
    return operands if operands is not None else (sparsity, sparsity, sparsity)


def _bytes(eb: int, sparsity: float, operands: Operands) -> tuple[float, float, float]:
    sa, sw, sc = operand_sparsity(sparsity, operands)
    return element_bytes(eb, sa), element_bytes(eb, sw), element_bytes(eb, sc)


@cache
def group_target(t: AccelTranTarget) -> AccelTranTarget:
    """One PE group (``pe_groups`` of them) as a target of its own: the single mode."""
    return t.one_group()


def pe_options(t: AccelTranTarget) -> list[tuple[int, int]]:
    bs = sorted({*t.tile_b_options, t.tile_b})
    xs = sorted({*t.tile_x_options, t.tile_x})
    return [(b, x) for b in bs for x in xs]


def quantum(t: AccelTranTarget) -> int:
    """Block sizes are multiples of every tile edge the mapper may pick."""
    return max(t.tile_x, *t.tile_x_options)


def cycles(t: AccelTranTarget, g: GemmShape, pe: tuple[int, ...], sparsity: float = 0.0) -> dict:
    """Tiles, cycles per tile, dense and sparse compute cycles of tile ``pe`` = (b, x)."""
    b, x = pe
    tiles = math.ceil(g.batch / b) * math.ceil(g.m / x) * math.ceil(g.n / x) * math.ceil(g.k / x)
    per_tile = b * x * x * math.ceil(x / t.macs_per_lane)
    dense = math.ceil(tiles / t.total_lanes) * per_tile
    return {
        "tiles": tiles,
        "cycles_per_tile": per_tile,
        "dense_cycles": dense,
        "cycles": dense * (1.0 - sparsity),
    }


def fits(
    t: AccelTranTarget, b: Blocking, eb: int, sparsity: float, operands: Operands = None
) -> bool:
    ea, ew, ec = _bytes(eb, sparsity, operands)
    act = 2 * b.mb * b.kb * ea + b.mb * b.nb * ec
    weight = 2 * b.kb * b.nb * ew
    ok = act <= t.activation_buffer_mb * MB and weight <= t.weight_buffer_mb * MB
    sa, sw, sc = operand_sparsity(sparsity, operands)
    masks = (2 * b.mb * b.kb * (sa > 0) + 2 * b.kb * b.nb * (sw > 0) + b.mb * b.nb * (sc > 0)) / 8.0
    return ok and masks <= t.mask_buffer_mb * MB


def _pe_level(
    t: AccelTranTarget,
    g: GemmShape,
    pe: tuple[int, ...],
    eb: int,
    sparsity: float,
    operands: Operands = None,
) -> tuple[dict, float, float, float]:
    """(cycles, compute s, buffer bytes, buffer s) of PE tile ``pe``."""
    b, x = pe
    cyc = cycles(t, g, pe, sparsity)
    compute = cyc["cycles"] / t.clock_hz
    ea, ew, ec = _bytes(eb, sparsity, operands)
    nbytes = cyc["tiles"] * (b * x * x * (ea + ec) + x * x * ew)
    bandwidth = t.buffer_bytes_per_cycle_per_pe * t.pes * t.clock_hz
    return cyc, compute, nbytes, nbytes / bandwidth


def _dram_level(
    t: AccelTranTarget, g: GemmShape, b: Blocking, eb: int, sparsity: float, operands: Operands
) -> tuple[float, float]:
    per = _bytes(eb, sparsity, operands)
    nbytes = sum(e * el for e, el in zip(dram_elements(g, b), per, strict=True))
    return nbytes, nbytes / t.main_memory_bandwidth


def evaluate(
    t: AccelTranTarget,
    g: GemmShape,
    pe: tuple[int, ...],
    blocking: Blocking,
    eb: int = 2,
    sparsity: float = 0.0,
    operands: Operands = None,
) -> TileCost:
    """The per-level roofline of GEMM ``g`` under PE tile ``pe`` and ``blocking``."""
    blocking = blocking.clamp(g)
    cyc, compute, buf_bytes, buf_s = _pe_level(t, g, pe, eb, sparsity, operands)
    dram_bytes, dram_s = _dram_level(t, g, blocking, eb, sparsity, operands)
    return TileCost(
        seconds=max(compute, buf_s, dram_s),
        compute_s=compute,
        buffer_s=buf_s,
        dram_s=dram_s,
        dram_bytes=dram_bytes,
        buffer_bytes=buf_bytes,
        fits=fits(t, blocking, eb, sparsity, operands),
        detail=cyc,
    )


def default_tile(
    t: AccelTranTarget, g: GemmShape, eb: int = 2, sparsity: float = 0.0, operands: Operands = None
) -> Tile:
    """The target's own tile (``tile_b``, ``tile_x``) and the fixed default blocking."""
    blocking = default_blocking(g, quantum(t), lambda b: fits(t, b, eb, sparsity, operands))
    single = (t.tile_b, t.tile_x) if t.pe_groups > 1 else None
    return Tile((t.tile_b, t.tile_x), blocking, single)


def _best_pe(
    t: AccelTranTarget, g: GemmShape, eb: int, sparsity: float, operands: Operands
) -> tuple[int, int]:
    default = (t.tile_b, t.tile_x)

    def key(pe: tuple[int, int]) -> tuple:
        _, compute, nbytes, buf_s = _pe_level(t, g, pe, eb, sparsity, operands)
        return (max(compute, buf_s), nbytes, pe != default, pe)

    return min(pe_options(t), key=key)


def best_blocking(
    t: AccelTranTarget, g: GemmShape, eb: int, sparsity: float, operands: Operands = None
) -> Blocking:
    """The blocking with the least DRAM traffic among the largest that fit (ties: order)."""
    ok = lambda b: fits(t, b, eb, sparsity, operands)  # noqa: E731
    best = None
    best_key: tuple = ()
    for b in maximal_blockings(g, quantum(t), ok):
        key = (
            _dram_level(t, g, b, eb, sparsity, operands)[0],
            ORDERS.index(b.order),
            -b.mb,
            -b.nb,
            -b.kb,
        )
        if best is None or key < best_key:
            best, best_key = b, key
    return best if best is not None else default_blocking(g, quantum(t), ok)


def best_tile(
    t: AccelTranTarget, g: GemmShape, eb: int = 2, sparsity: float = 0.0, operands: Operands = None
) -> Tile:
    """The mapper: the tile with the least predicted time (then DRAM traffic)."""
    pe = _best_pe(t, g, eb, sparsity, operands)
    single = _best_pe(group_target(t), g, eb, sparsity, operands) if t.pe_groups > 1 else None
    return Tile(pe, best_blocking(t, g, eb, sparsity, operands), single)


def all_tiles(t: AccelTranTarget, g: GemmShape) -> Iterator[tuple[tuple[int, int], Blocking]]:
    """The whole search space (PE tiles x blockings x orders), for a brute-force check."""
    for pe in pe_options(t):
        for b in all_blockings(g, quantum(t)):
            yield pe, b
