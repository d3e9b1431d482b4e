"""The outer loops of a GEMM: which blocks live on chip, in which order, and the DRAM traffic.

C[m, n] = A[m, k] @ W[k, n] (per batch entry) runs as three loops over blocks of
``mb x nb x kb`` elements, in an ``order`` such as ``"mnk"`` (outer to inner). An operand block
is fetched again whenever a loop that does not index it runs *outside* the innermost loop that
does, so (T_d = ceil(d / d_block) trips of loop d):

* A (m, k) traffic = |A| * (T_n unless n is innermost)
* W (k, n) traffic = |W| * (T_m unless m is innermost)
* C (m, n) traffic = |C| * (2 T_k - 1 unless k is innermost: partial sums go out and back)

    dram_elements(GemmShape(1, 1024, 1024, 1024), Blocking(256, 256, 1024, "mnk"))
    # A 4x, W 4x, C 1x: 9 * 2^20 elements

Every term is non-increasing in each block size, and the on-chip working set grows with each,
so for one order the best blockings are the largest ones that fit (``maximal_blockings``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import permutations

from ir.work import GemmShape

ORDERS: tuple[str, ...] = tuple("".join(p) for p in permutations("mnk"))


@dataclass(frozen=True)
class Blocking:
    """On-chip block sizes (elements, clamped to the GEMM) and the DRAM loop order."""

    mb: int
    nb: int
    kb: int
    order: str = "mnk"

    def clamp(self, g: GemmShape) -> Blocking:
        return Blocking(min(self.mb, g.m), min(self.nb, g.n), min(self.kb, g.k), self.order)


def trips(g: GemmShape, b: Blocking) -> tuple[int, int, int]:
    return math.ceil(g.m / b.mb), math.ceil(g.n / b.nb), math.ceil(g.k / b.kb)


def dram_elements(g: GemmShape, b: Blocking) -> tuple[float, float, float]:
    """Elements of A, W and C moved between DRAM and the chip (all batch entries)."""
    tm, tn, tk = trips(g, b)
    inner = b.order[-1]
    a = g.m * g.k * (1 if inner == "n" else tn)
    w = g.k * g.n * (1 if inner == "m" else tm)
    c = g.m * g.n * (1 if inner == "k" else 2 * tk - 1)
    return float(g.batch * a), float(g.batch * w), float(g.batch * c)


def candidates(dim: int, quantum: int) -> list[int]:
    """Block sizes for one dim: quantum * 2^i below the dim, and the dim itself."""
    out = []
    size = max(1, quantum)
    while size < dim:
        out.append(size)
        size *= 2
    out.append(dim)
    return out


def all_blockings(g: GemmShape, quantum: int) -> Iterator[Blocking]:
    """Every blocking of the search space (the brute force enumerates these)."""
    for order in ORDERS:
        for mb in candidates(g.m, quantum):
            for nb in candidates(g.n, quantum):
                for kb in candidates(g.k, quantum):
                    yield Blocking(mb, nb, kb, order)


def maximal_blockings(
    g: GemmShape, quantum: int, fits: Callable[[Blocking], bool]
) -> Iterator[Blocking]:
    """Per order and (mb, nb): the largest kb that fits (the others are never better)."""
    ks = candidates(g.k, quantum)
    for order in ORDERS:
        for mb in candidates(g.m, quantum):
            for nb in candidates(g.n, quantum):
                best = None
                for kb in ks:
                    b = Blocking(mb, nb, kb, order)
                    if not fits(b):
                        break
                    best = b
                if best is not None:
                    yield best


def default_blocking(g: GemmShape, quantum: int, fits: Callable[[Blocking], bool]) -> Blocking:
    """A fixed dataflow without a mapper: the whole GEMM on chip when it fits, else square
    output blocks (the largest quantum * 2^i that fit) with kb = quantum, output-stationary."""
    whole = Blocking(g.m, g.n, g.k, "mnk")
    if fits(whole):
        return whole
    kb = min(quantum, g.k)
    size = best = max(1, quantum)
    while size < 2 * max(g.m, g.n):
        if fits(Blocking(min(size, g.m), min(size, g.n), kb, "mnk")):
            best = size
        size *= 2
    return Blocking(min(best, g.m), min(best, g.n), kb, "mnk")
