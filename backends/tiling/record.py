"""The tile record on the IR: one ``tile`` attribute per matmul / attention op.

On an accelerator a matmul's record holds the PE tile (and the single-core / single-group PE
tile where the target has that mode), the on-chip blocking and loop order, and what the cost
model predicts for it: seconds, DRAM and buffer traffic, the bound, and the default tile's
seconds:

    %y = tfm.matmul %x, %w {tile = {pe = array<i64: 1, 16>, pe_single = array<i64: 1, 8>,
        block = array<i64: 128, 768, 768>, order = "mnk", seconds = 7.3e-07 : f64,
        default_seconds = 7.3e-07 : f64, dram_bytes = 1.6e+06 : f64,
        buffer_bytes = 1.1e+07 : f64, bound = "compute"}} : ...

Attention ops hold one such record per GEMM of their materialised form
(``tile = {scores = {...}, values = {...}}``). On GPUs the record explains the GEMM model's
own choice (``cta``, ``split_k``, ``ctas``, ``waves``, tile and wave efficiency).

``read_tiles(op)`` turns an accelerator record back into ``Tile`` objects for the cost model
(``None`` when the op has none or it is a GPU record); a malformed record is a TandemError
naming the op.
"""

from __future__ import annotations

from typing import Any

from xdsl.dialects.builtin import (
    DenseArrayBase,
    DictionaryAttr,
    FloatAttr,
    IntegerAttr,
    StringAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute, Operation

from backends.tiling.blocking import ORDERS, Blocking
from backends.tiling.tile import Tile, TileCost
from ir.attrs import TILE, where
from ir.errors import TandemError

WHOLE = ""  # the part name of a matmul's single GEMM


def _ints(vs: tuple[int, ...]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in vs])


def _value(v: Any) -> Attribute:
    if isinstance(v, str):
        return StringAttr(v)
    if isinstance(v, int):
        return IntegerAttr(v, i64)
    if isinstance(v, float):
        return FloatAttr(v, f64)
    if isinstance(v, tuple):
        return _ints(v)
    raise TypeError(f"cannot record {v!r}")


def accel_entry(tile: Tile, cost: TileCost, default: TileCost) -> DictionaryAttr:
    """The record of one GEMM on an accelerator."""
    b = tile.blocking
    fields: dict[str, Attribute] = {"pe": _ints(tile.pe)}
    if tile.pe_single is not None:
        fields["pe_single"] = _ints(tile.pe_single)
    fields["block"] = _ints((b.mb, b.nb, b.kb))
    fields["order"] = StringAttr(b.order)
    for name, value in (
        ("seconds", cost.seconds),
        ("default_seconds", default.seconds),
        ("dram_bytes", cost.dram_bytes),
        ("buffer_bytes", cost.buffer_bytes),
    ):
        fields[name] = FloatAttr(float(f"{value:.6g}"), f64)
    fields["bound"] = StringAttr(cost.bound)
    return DictionaryAttr(fields)


def gpu_entry(info: dict[str, Any]) -> DictionaryAttr:
    """The record of one GEMM on a GPU (``backends.tiling.gpu.gpu_tile``)."""
    out: dict[str, Attribute] = {}
    for k, v in info.items():
        out[k] = FloatAttr(float(f"{v:.6g}"), f64) if isinstance(v, float) else _value(v)
    return DictionaryAttr(out)


def record(parts: dict[str, DictionaryAttr]) -> DictionaryAttr:
    """The op's attribute: the one entry of a matmul, or the entries by GEMM name."""
    if set(parts) == {WHOLE}:
        return parts[WHOLE]
    return DictionaryAttr(dict(parts))


def _ints_of(op: Operation, entry: DictionaryAttr, key: str, n: int | None) -> tuple[int, ...]:
    a = entry.data.get(key)
    if not isinstance(a, DenseArrayBase):
        raise TandemError(f"{where(op)}: {TILE} record needs {key} = array<i64: ...>, got {a}")
    vals = tuple(int(v) for v in a.get_values())
    low = 0 if key.startswith("pe") else 1  # a PE tile may hold flags (PHAZE's dataflow)
    if (n is not None and len(vals) != n) or not vals or any(v < low for v in vals):
        what = "non-negative" if low == 0 else "positive"
        want = f"{n} {what} integers" if n is not None else f"{what} integers"
        raise TandemError(f"{where(op)}: {TILE} {key} must be {want}, got {list(vals)}")
    return vals


def _tile(op: Operation, entry: DictionaryAttr) -> Tile:
    pe = _ints_of(op, entry, "pe", None)
    single = _ints_of(op, entry, "pe_single", len(pe)) if "pe_single" in entry.data else None
    mb, nb, kb = _ints_of(op, entry, "block", 3)
    order = entry.data.get("order")
    if not isinstance(order, StringAttr) or order.data not in ORDERS:
        raise TandemError(f"{where(op)}: {TILE} order must be one of {list(ORDERS)}, got {order}")
    return Tile(pe, Blocking(mb, nb, kb, order.data), single)


def read_tiles(op: Operation) -> dict[str, Tile] | None:
    """The accelerator tiles recorded on ``op`` by GEMM name ("" for a matmul), or None."""
    a = op.attributes.get(TILE)
    if a is None:
        return None
    if not isinstance(a, DictionaryAttr):
        raise TandemError(f"{where(op)}: attribute {TILE!r} must be a dictionary, got {a}")
    if "cta" in a.data:
        return None  # a GPU record: the GEMM model's own choice, nothing to impose
    if "pe" in a.data:
        return {WHOLE: _tile(op, a)}
    out: dict[str, Tile] = {}
    for name, entry in a.data.items():
        if not isinstance(entry, DictionaryAttr):
            raise TandemError(f"{where(op)}: {TILE} part {name!r} must be a dictionary")
        if "cta" in entry.data:
            return None
        out[name] = _tile(op, entry)
    return out
