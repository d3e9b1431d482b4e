"""The verbose table of pad-shapes: one row per distinct group, identical layers counted once.

pad-shapes on a100-sxm4-40gb: predicted GEMM + attention time per group
group                                     count  M x N x K (first GEMM)                        before    after    gain
model.transformer.h.*.attn.c_attn.weight     12  8192x2304x768 -> 8192x2304x768 (+2 GEMMs)     389 us   389 us   +0.0%  kept
model.transformer.wte.weight                  1  8192x50257x768 -> 8192x50272x768 (+2 GEMMs)  19.3 ms  9.49 ms  +50.8%  padded
total                                        61                                               50.7 ms    41 ms  +19.3%
"""

from __future__ import annotations

from collections.abc import Sequence

from ir.text import seconds, table
from passes.pad_shapes.search import Decision


def summary_table(decisions: Sequence[Decision], target: str) -> str:
    """One row per distinct (group name pattern, shape) with the count of identical groups."""
    rows: dict[tuple, list] = {}
    for d in decisions:
        key = (
            _generic_name(d.name),
            d.describe,
            d.applied,
            round(d.before, 12),
            round(d.after, 12),
        )
        if key in rows:
            rows[key][1] += 1
            continue
        rows[key] = [
            key[0],
            1,
            d.describe,
            seconds(d.before),
            seconds(d.after),
            f"{100 * d.gain:+.1f}%",
            "padded" if d.applied else "kept",
        ]
    before = sum(d.before for d in decisions)
    after = sum(d.after if d.applied else d.before for d in decisions)
    body = [[str(c) for c in r] for r in rows.values()]
    body.append(
        [
            "total",
            str(len(decisions)),
            "",
            seconds(before),
            seconds(after),
            f"{100 * (before - after) / before if before else 0.0:+.1f}%",
            "",
        ]
    )
    head = f"pad-shapes on {target}: predicted GEMM + attention time per group\n"
    return head + table(
        ["group", "count", "M x N x K (first GEMM)", "before", "after", "gain", ""],
        body,
        right=[1, 3, 4, 5],
    )


def _generic_name(name: str) -> str:
    """`model.h.7.attn.weight` -> `model.h.*.attn.weight`, so identical layers share a row."""
    return ".".join("*" if part.isdigit() else part for part in name.split("."))
