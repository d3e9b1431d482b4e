"""Tiles for a tfm op: its GEMMs (a matmul's one, each of an attention op's) and their mapping.

    choices = choose_tiles(op, load_target("tpuv4-like"))
    choices[""].tile, choices[""].cost.seconds, choices[""].default.seconds

On accelerators each GEMM gets the template mapper's best tile (``acceltran.py``,
``phaze.py``) and the prediction for the target's default tile beside it; on GPUs the GEMM
model's own CTA tile and split-K (``gpu.py``). Results are cached by shape, so the identical
layers of a large model are mapped once.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from xdsl.dialects.builtin import DictionaryAttr
from xdsl.ir import Operation

from backends.cost.attention import attention_gemms
from backends.op_cost import compute_dtype, op_gemm, skipped_sparsity
from backends.targets import AccelTranTarget, GpuTarget, PhazeTarget, Target
from backends.tiling import acceltran, phaze
from backends.tiling.gpu import gpu_tile
from backends.tiling.record import WHOLE, accel_entry, gpu_entry, record
from backends.tiling.tile import Tile, TileCost
from ir import linalg_ops as la
from ir.dtypes import nbytes_of
from ir.errors import TandemError
from ir.types import shape
from ir.work import GemmShape


@dataclass(frozen=True)
class Choice:
    """The chosen tile of one GEMM and the predictions for it and for the default tile."""

    tile: Tile
    cost: TileCost
    default: TileCost

    @property
    def gain(self) -> float:
        """Relative time saved against the default tile (>= 0)."""
        d = self.default.seconds
        return (d - self.cost.seconds) / d if d > 0 else 0.0


def op_gemms(
    op: Operation, fused_attention: bool = True, gpu: bool = False
) -> dict[str, GemmShape]:
    """The GEMMs of a matmul ("" -> its GEMM) or an attention op (by part name); else {}."""
    if isinstance(op, la.MatmulOp):
        return {WHOLE: op_gemm(op)}
    if not isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
        return {}
    b, h, sq, d = shape(op.q)
    sk = shape(op.k)[2]
    backward = isinstance(op, la.AttentionBackwardOp)
    if gpu and fused_attention:
        backward = False  # the fused kernel is costed by the two forward GEMM shapes
    return {
        name: GemmShape(*dims) for name, dims in attention_gemms(b * h, sq, sk, d, backward).items()
    }


def evaluate(
    target: Target,
    g: GemmShape,
    tile: Tile,
    eb: int,
    sparsity: float,
    operands: acceltran.Operands = None,
) -> TileCost:
    """The template's cost of ``tile`` on all cores / PEs (``operands``: AccelTran's
    per-operand zero fractions, ``backends/tiling/acceltran.py``)."""
    if isinstance(target, AccelTranTarget):
        return acceltran.evaluate(target, g, tile.pe, tile.blocking, eb, sparsity, operands)
    if isinstance(target, PhazeTarget):
        return phaze.evaluate(target, g, tile.pe, tile.blocking, eb, sparsity)
    raise TandemError(f"tiling: no tile model for target kind {target.kind!r}")


@lru_cache(maxsize=65536)
def choose(
    target: Target,
    g: GemmShape,
    eb: int = 2,
    sparsity: float = 0.0,
    operands: acceltran.Operands = None,
) -> Choice:
    """The mapper's tile for GEMM ``g`` on an accelerator, with the default tile's cost."""
    if isinstance(target, AccelTranTarget):
        best = acceltran.best_tile(target, g, eb, sparsity, operands)
        default = acceltran.default_tile(target, g, eb, sparsity, operands)
    elif isinstance(target, PhazeTarget):
        best = phaze.best_tile(target, g, eb, sparsity)
        default = phaze.default_tile(target, g, eb, sparsity)
    else:
        raise TandemError(f"tiling: no tile mapper for target kind {target.kind!r}")
    cost = evaluate(target, g, best, eb, sparsity, operands)
    base = evaluate(target, g, default, eb, sparsity, operands)
    if base.rank() < cost.rank():  # never worse than the default (a safeguard)
        best, cost = default, base
    return Choice(best, cost, base)


def choose_tiles(op: Operation, target: Target, fused_attention: bool = True) -> dict[str, Any]:
    """Per GEMM of ``op``: a ``Choice`` on accelerators, the GEMM model's tile info on GPUs."""
    gemms = op_gemms(op, fused_attention, isinstance(target, GpuTarget))
    # the sparsity the target skips (AccelTran's sparse units; GPUs and PHAZE run dense)
    dt, sp = compute_dtype(op), skipped_sparsity(op, target)
    if isinstance(target, GpuTarget):
        return {name: gpu_tile(target, g, dt) for name, g in gemms.items()}
    operands = sp.operands if isinstance(op, la.MatmulOp) else None
    eb = nbytes_of(dt)
    return {name: choose(target, g, eb, sp.pairs, operands) for name, g in gemms.items()}


def tile_attr(choices: dict[str, Any]) -> DictionaryAttr:
    """The op's ``tile`` record of ``choose_tiles``' result."""
    parts = {
        name: accel_entry(c.tile, c.cost, c.default) if isinstance(c, Choice) else gpu_entry(c)
        for name, c in choices.items()
    }
    return record(parts)
