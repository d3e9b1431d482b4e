"""Plain-text formatting shared by every layer: aligned tables, SI-prefixed numbers, times.

si(1.5e12, "FLOP/s")      # '1.5 TFLOP/s'
seconds(1.5e-3)           # '1.5 ms'
table(["op", "time"], [["tfm.matmul", "1.5 ms"]])
"""

from __future__ import annotations

from collections.abc import Sequence


def si(value: float, unit: str = "", digits: int = 3) -> str:
    """`si(1.5e12, "FLOP")` is `1.50 TFLOP`."""
    prefixes = [(1e15, "P"), (1e12, "T"), (1e9, "G"), (1e6, "M"), (1e3, "k")]
    for scale, p in prefixes:
        if abs(value) >= scale:
            return f"{value / scale:.{digits}g} {p}{unit}"
    return f"{value:.{digits}g} {unit}".rstrip()


def seconds(value: float) -> str:
    """Human time: `1.23 ms`, `45.6 us`, `2.5 s`."""
    for scale, unit in [(1.0, "s"), (1e-3, "ms"), (1e-6, "us")]:
        if abs(value) >= scale:
            return f"{value / scale:.3g} {unit}"
    return f"{value / 1e-9:.3g} ns"


def table(
    headers: Sequence[str], rows: Sequence[Sequence[str]], right: Sequence[int] | None = None
) -> str:
    """A plain aligned table; columns after the first are right-aligned unless `right` says otherwise."""
    cols = len(headers)
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(cols)]
    right = list(range(1, cols)) if right is None else list(right)

    def fmt(row: Sequence[str]) -> str:
        cells = [
            str(c).rjust(w) if i in right else str(c).ljust(w)
            for i, (c, w) in enumerate(zip(row, widths, strict=True))
        ]
        return "  ".join(cells).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([fmt(headers), rule, *(fmt(r) for r in rows)])
