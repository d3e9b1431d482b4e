"""What a mapper chooses (``Tile``) and what it predicts for that choice (``TileCost``).

    Tile(pe=(1, 16), blocking=Blocking(128, 768, 768, "mnk"), pe_single=(1, 8))

``pe`` is the template's PE-level tile: AccelTran ``(b, x)`` (tiles of b x x x x over the MAC
lanes), PHAZE ``(m_split, input_stationary)`` (which operand stays in the systolic arrays,
and how many ways the streamed rows are split to spread few blocks over the cores). ``pe_single`` is the PE tile when the op runs on
one core / PE group (the scheduler's single mode), ``None`` where the target has no such mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from backends.tiling.blocking import Blocking


@dataclass(frozen=True)
class Tile:
    """How one GEMM maps onto a chip: PE-level tile(s) and the on-chip blocking."""

    pe: tuple[int, ...]
    blocking: Blocking
    pe_single: tuple[int, ...] | None = None


@dataclass(frozen=True)
class TileCost:
    """The per-level roofline of one GEMM under one tile (seconds, bytes).

    seconds = max(compute_s, buffer_s, dram_s): compute cycles over the clock, on-chip buffer
    -> PE bytes over the buffer bandwidth, DRAM bytes over the main-memory bandwidth.
    ``fits``: the blocks fit the on-chip buffers (a tile that does not is never chosen while
    one that does exists).
    """

    seconds: float
    compute_s: float
    buffer_s: float
    dram_s: float
    dram_bytes: float
    buffer_bytes: float
    fits: bool
    detail: dict[str, Any] = field(default_factory=dict)

    @property
    def bound(self) -> str:
        """Which level limits the op: "compute", "buffer" or "dram"."""
        top = max(self.compute_s, self.buffer_s, self.dram_s)
        if top == self.compute_s:
            return "compute"
        return "buffer" if top == self.buffer_s else "dram"

    def rank(self) -> tuple[bool, float, float]:
        """The mapper's objective: fitting first, then time, then DRAM traffic."""
        return (not self.fits, self.seconds, self.dram_bytes)
