"""The Pareto front of a search, its best design, the comparison with the reference designs,
and the plot.

    front = pareto_front(outcome.results, space.objectives)    # feasible, non-dominated
    best = best_design(front, space)                           # see ``Space.best``
    ratios(best, server, space.objectives)                     # {"latency": 5.2, ...} x better
    png = pareto_png(outcome, front, best)                     # bytes of a PNG
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence

from backends.codesign.evaluate import Result
from backends.codesign.space import Space
from backends.codesign.space_file import OBJECTIVES


def _values(r: Result, objectives: Sequence[str]) -> list[float]:
    """Objective values as costs (smaller is better: maximised objectives negated)."""
    out = []
    for o in objectives:
        column, sense, _ = OBJECTIVES[o]
        v = r.metric(column)
        out.append(-v if sense == "max" else v)
    return out


def dominates(a: Result, b: Result, objectives: Sequence[str]) -> bool:
    """a is no worse than b in every objective and better in one."""
    va, vb = _values(a, objectives), _values(b, objectives)
    return all(x <= y for x, y in zip(va, vb, strict=True)) and any(
        x < y for x, y in zip(va, vb, strict=True)
    )


def pareto_front(results: Sequence[Result], objectives: Sequence[str]) -> list[Result]:
    """The feasible results no other feasible result dominates (one per candidate), sorted
    by the first objective."""
    seen: dict[str, Result] = {}
    for r in results:
        if r.feasible and all(math.isfinite(v) for v in _values(r, objectives)):
            seen.setdefault(r.key, r)
    cands = list(seen.values())
    front = [r for r in cands if not any(dominates(o, r, objectives) for o in cands)]
    return sorted(front, key=lambda r: _values(r, objectives))


def best_design(front: Sequence[Result], space: Space) -> Result | None:
    """The front's best design: the smallest product of the objectives (maximised ones
    inverted) when ``space.best == "product"``, else the best value of that objective."""
    if not front:
        return None
    if space.best == "product":

        def cost(r: Result) -> float:
            return math.prod(
                abs(v) if v > 0 else 1.0 / abs(v) for v in _values(r, space.objectives)
            )

        return min(front, key=cost)
    return min(front, key=lambda r: _values(r, [space.best])[0])


def ratios(best: Result, ref: Result, objectives: Sequence[str]) -> dict[str, float]:
    """How many times better ``best`` is than ``ref`` in each objective (> 1: better)."""
    out = {}
    for o in objectives:
        column, sense, _ = OBJECTIVES[o]
        b, r = best.metric(column), ref.metric(column)
        out[o] = (r / b if sense == "min" else b / r) if b and r else math.nan
    return out


def front_dominates(front: Sequence[Result], ref: Result, objectives: Sequence[str]) -> bool:
    """Some design of the front is better than ``ref`` in every objective."""
    vr = _values(ref, objectives)
    return any(all(x < y for x, y in zip(_values(r, objectives), vr, strict=True)) for r in front)


def pareto_png(
    results: Sequence[Result],
    front: Sequence[Result],
    references: Sequence[Result],
    best: Result | None,
    space: Space,
) -> bytes:
    """The trials, the front, the best design and the reference designs (stars), as PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    objs = space.objectives
    fig, ax = plt.subplots(figsize=(7, 5), dpi=110)

    def label(o: str) -> str:
        unit = OBJECTIVES[o][2]
        return f"{o} ({unit})" if unit else o

    def xy(r: Result) -> tuple[float, float]:
        if len(objs) == 1:
            return float(r.trial), r.metric(OBJECTIVES[objs[0]][0])
        return r.metric(OBJECTIVES[objs[0]][0]), r.metric(OBJECTIVES[objs[1]][0])

    ok = [xy(r) for r in results if r.feasible]
    bad = [xy(r) for r in results if r.status == "infeasible"]
    bad = [p for p in bad if all(math.isfinite(v) for v in p)]
    if bad:
        bx, by = zip(*bad, strict=True)
        ax.scatter(bx, by, s=10, c="#e0a0a0", marker="x", label="infeasible")
    if ok:
        ox, oy = zip(*ok, strict=True)
        ax.scatter(ox, oy, s=12, c="#a0a0a0", label="feasible")
    if len(objs) > 1 and front:
        pts = [xy(r) for r in front]
        ax.plot(*zip(*pts, strict=True), "-o", c="tab:blue", ms=4, label="Pareto front")
    elif front:
        best_so_far, lo = [], math.inf
        for r in sorted((r for r in results if r.feasible), key=lambda r: r.trial):
            lo = min(lo, r.metric(OBJECTIVES[objs[0]][0]))
            best_so_far.append((r.trial, lo))
        ax.step(*zip(*best_so_far, strict=True), where="post", c="tab:blue", label="best so far")
    if best is not None:
        ax.scatter(*xy(best), s=80, facecolors="none", edgecolors="tab:green", label="best design")
    for r in references:
        if r.status == "failed":
            continue
        x, y = xy(r)
        if len(objs) == 1 and math.isfinite(y):
            ax.axhline(y, ls="--", c="tab:red", lw=1)
            ax.annotate(r.name, (0, y), textcoords="offset points", xytext=(4, 3), fontsize=8)
        elif math.isfinite(x) and math.isfinite(y):
            ax.scatter([x], [y], marker="*", s=140, c="tab:red", zorder=5)
            ax.annotate(r.name, (x, y), textcoords="offset points", xytext=(6, 4), fontsize=8)
    ax.set_xlabel("trial" if len(objs) == 1 else label(objs[0]))
    ax.set_ylabel(label(objs[0] if len(objs) == 1 else objs[1]))
    for axis, vals in (("x", [p[0] for p in ok]), ("y", [p[1] for p in ok])):
        pos = [v for v in vals if v > 0 and math.isfinite(v)]
        if len(objs) > 1 and pos and max(pos) / min(pos) > 20:
            getattr(ax, f"set_{axis}scale")("log")
    ax.set_title(f"{space.name}: {len(results)} trials, {len(front)} on the front", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
