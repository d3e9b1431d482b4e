"""tile: record how each matmul and attention op maps onto the target's memory hierarchy.

    %y = tfm.matmul %x, %w : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>

becomes, on `tile{target=acceltran-server}`,

    %y = tfm.matmul %x, %w {tile = {pe = array<i64: 1, 16>, pe_single = array<i64: 1, 16>,
        block = array<i64: 128, 768, 768>, order = "mnk", seconds = 6.14e-06 : f64,
        default_seconds = 6.14e-06 : f64, dram_bytes = 1.57e+06 : f64,
        buffer_bytes = 2.83e+07 : f64, bound = "dram"}} : ...

On accelerators the mapper (`backends/tiling`) picks the PE tile and the on-chip blocking and
loop order with the least predicted time (max of compute and of each level's traffic over
its bandwidth, under the buffers' capacities), never worse than the target's default tile;
the cost model then uses the recorded tile. Attention ops get one record per GEMM of their
materialised form. On GPUs the record explains the GEMM model's own CTA tile and split-K
(tile and wave quantization); it changes no prediction. One attribute per op, never one op
per tile: the IR's meaning is unchanged.

The module gets `tile.gain`: the predicted relative time saved over all tiled GEMMs.

Options:
  target: hardware target name or .toml path (default a100-sxm4-40gb).
  fused-attention: GPUs: attention as one fused kernel (its two GEMM shapes) or materialised.
  verbose: print one row per distinct GEMM (tile, predicted time, default time, gain).
"""

from __future__ import annotations

import sys
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation
from xdsl.passes import ModulePass

from backends.targets import load_target
from backends.tiling.mapper import Choice, choose_tiles, tile_attr
from ir import attrs
from ir.base import float_attr
from ir.errors import PassError, TandemError
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.text import seconds, table

TILED = (MatmulOp, AttentionOp, AttentionBackwardOp)


@dataclass(frozen=True)
class Tile(ModulePass):
    """Record each matmul / attention op's tile; see the module doc.

    Options: target, fused-attention, verbose.
    """

    name = "tile"

    target: str = "a100-sxm4-40gb"
    fused_attention: bool = True
    verbose: bool = False

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        try:
            target = load_target(self.target)
        except TandemError as exc:
            raise PassError(f"tile: {exc}") from None
        rows: dict[tuple, list] = {}
        before = after = 0.0
        for o in op.walk():
            if not isinstance(o, TILED):
                continue
            choices = choose_tiles(o, target, self.fused_attention)
            if not choices:
                continue
            o.attributes[attrs.TILE] = tile_attr(choices)
            for part, c in choices.items():
                if isinstance(c, Choice):
                    before += c.default.seconds
                    after += c.cost.seconds
                _count(rows, o, part, c)
        if before > 0:
            op.attributes[attrs.TILE_GAIN] = float_attr(round((before - after) / before, 6))
        if self.verbose:
            print(_table(rows, target.name, before, after), file=sys.stderr)


def _count(rows: dict[tuple, list], op: Operation, part: str, c: object) -> None:
    key: tuple
    if isinstance(c, Choice):
        key = (op.name, part, c.tile, round(c.cost.seconds, 15), round(c.default.seconds, 15))
        tile = f"pe={c.tile.pe} block={c.tile.blocking.mb}x{c.tile.blocking.nb}x"
        tile += f"{c.tile.blocking.kb} {c.tile.blocking.order}"
        row = [op.name, part, 0, tile, seconds(c.default.seconds), seconds(c.cost.seconds)]
        row += [f"{100 * c.gain:+.1f}%", c.cost.bound]
    else:
        info = dict(c)  # type: ignore[call-overload]
        key = (op.name, part, str(sorted(info.items())))
        tile = f"cta={info['cta'][0]}x{info['cta'][1]} split-k={info['split_k']}"
        tile += f" waves={info['waves']} wave-eff={info['wave_efficiency']:.2f}"
        row = [op.name, part, 0, tile, "", seconds(info["seconds"]), "", info["bound"]]
    rows.setdefault(key, row)[2] += 1


def _table(rows: dict[tuple, list], target: str, before: float, after: float) -> str:
    body = [[str(c) for c in r] for r in rows.values()]
    if before > 0:
        gain = f"{100 * (before - after) / before:+.1f}%"
        body.append(["total", "", "", "", seconds(before), seconds(after), gain, ""])
    head = f"tile on {target}: one row per distinct GEMM (default tile -> chosen tile)\n"
    headers = ["op", "gemm", "count", "tile", "default", "chosen", "gain", "bound"]
    return head + table(headers, body, right=[2, 4, 5, 6])


__all__ = ["Tile"]
