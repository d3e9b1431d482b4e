"""Cutting the layer chain into pipeline stages: the slowest stage as fast as possible.

    partition(96, layer_time, extra=[emb, 0, ..., head], cap=[...])  # layers per stage

The embedding's time sits on the first stage and the head's on the last (`extra`), each
stage holds at most `cap[i]` layers (its memory), so stages may hold different numbers of
layers. PHAZE's dynamic programme over the chain (`partition_dp`) solves the general case;
for identical layers bisection on the bottleneck with greedy filling finds the same optimum
in O(p log L) (the tests check they agree).
"""

from __future__ import annotations

from collections.abc import Callable


def partition(
    layers: int, layer_time: float, extra: list[float], cap: list[int]
) -> tuple[int, ...] | None:
    """Layers per stage minimising the slowest stage (`extra[i]`: the stage's fixed time,
    `cap[i]`: the most layers its memory holds), or None when they do not fit.

    Exact for a chain of identical layers: bisection on the bottleneck, each stage filled
    greedily (`partition_dp` is the general dynamic programme; the tests check they agree).
    """
    p = len(extra)
    if p == 1:
        return (layers,) if cap[0] >= layers else None
    if sum(min(c, layers) for c in cap) < layers or min(cap) < 1:
        return None
    options = sorted({n * layer_time + e for n in range(1, layers + 1) for e in set(extra)})

    def fill(limit: float) -> tuple[int, ...] | None:
        counts, left = [], layers
        for i in range(p):
            room = int((limit - extra[i]) / layer_time + 1e-9) if layer_time > 0 else layers
            n = max(0, min(room, cap[i], left - (p - i - 1)))
            if n < 1:
                return None
            counts.append(n)
            left -= n
        return tuple(counts) if left == 0 else None

    lo, hi = 0, len(options) - 1
    best = fill(options[hi] + layers * layer_time)
    while lo <= hi:
        mid = (lo + hi) // 2
        got = fill(options[mid])
        if got is not None:
            best, hi = got, mid - 1
        else:
            lo = mid + 1
    return best


def partition_dp(cost: Callable[[int, int, int], float], layers: int, p: int) -> tuple[int, ...]:
    """The dynamic programme over the chain: stage i holding layers [a, b) costs
    `cost(i, a, b)` (inf when it does not fit); minimise the slowest stage."""
    inf = float("inf")
    best = [[inf] * (layers + 1) for _ in range(p + 1)]
    cut = [[0] * (layers + 1) for _ in range(p + 1)]
    best[0][0] = 0.0
    for i in range(1, p + 1):
        for b in range(i, layers + 1):
            for a in range(i - 1, b):
                value = max(best[i - 1][a], cost(i - 1, a, b))
                if value < best[i][b]:
                    best[i][b], cut[i][b] = value, a
    if best[p][layers] == inf:
        return ()
    counts, b = [], layers
    for i in range(p, 0, -1):
        counts.append(b - cut[i][b])
        b = cut[i][b]
    return tuple(reversed(counts))
