"""A roofline plot of a simulation (PNG, matplotlib's Agg backend: no display needed).

Every distinct op (signature) is a point: arithmetic intensity (FLOPs per byte of main
memory) against achieved FLOP/s, sized by how often it occurs and coloured by kind. The
target's roofs are ``min(peak[dtype], intensity * bandwidth)`` for each dtype the matmuls use
(and the dense f16 peak of a GPU for reference). Ops with no main-memory traffic (on-chip on
an accelerator) or no FLOPs cannot be placed and are counted in the legend title.
"""

from __future__ import annotations

import io

import numpy as np

from backends.sim.report import SimReport


def roofline_png(report: SimReport) -> bytes:
    """The plot as PNG bytes."""
    import matplotlib  # imported on first use: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    t = report.target
    bw = t.mem_bandwidth
    points: dict[str, tuple[list[float], list[float], list[float]]] = {}
    skipped = 0
    for s in report.signatures:
        c = s.cost
        if c.seconds <= 0 or c.flops <= 0:
            continue
        if c.bytes <= 0:
            skipped += 1
            continue
        xs, ys, sizes = points.setdefault(s.kind, ([], [], []))
        xs.append(c.flops / c.bytes)
        ys.append(c.flops / c.seconds)
        sizes.append(12.0 + 6.0 * min(s.count, 100) ** 0.5)

    dtypes = sorted(report.by_dtype()) or ["f16"]
    if t.kind == "gpu" and "f16" not in dtypes:
        dtypes.append("f16")
    xs_all = [x for xs, _, _ in points.values() for x in xs]
    lo = min([*xs_all, 0.1]) / 3
    hi = max([*xs_all, max(t.peak_flops(d) for d in dtypes) / bw * 10]) * 3
    grid = np.logspace(np.log10(lo), np.log10(hi), 200)

    fig, ax = plt.subplots(figsize=(8, 5.5), dpi=110)
    styles = ["-", "--", ":", "-."]
    for i, d in enumerate(dtypes):
        peak = t.peak_flops(d)
        ax.plot(
            grid,
            np.minimum(peak, grid * bw),
            lw=1.5,
            color="black",
            ls=styles[i % len(styles)],
            label=f"roof {d}: {peak / 1e12:.3g} TFLOP/s, {bw / 1e9:.4g} GB/s",
        )
    for kind, (xs, ys, sizes) in sorted(points.items()):
        ax.scatter(xs, ys, s=sizes, alpha=0.7, label=kind, edgecolors="none")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity (FLOP / byte of main memory)")
    ax.set_ylabel("achieved FLOP/s")
    ax.set_title(
        f"{report.model.get('name', 'model')} on {t.name}: {len(report.signatures)} distinct ops"
    )
    ax.grid(True, which="major", alpha=0.3)
    legend_title = f"{skipped} on-chip ops not shown" if skipped else None
    ax.legend(fontsize=7, loc="lower right", title=legend_title, title_fontsize=7)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
