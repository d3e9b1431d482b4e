"""The simulation report as terminal text: summary, top ops, per-layer and per-kind tables."""

from __future__ import annotations

from backends.sim import SimReport
from ir.text import seconds, si, table


def eng(value: float, unit: str) -> str:
    """Engineering notation for small and large values: `eng(9.6e-4, "J")` is `960 uJ`."""
    if value == 0 or abs(value) >= 1:
        return si(value, unit)
    for scale, p in ((1e-3, "m"), (1e-6, "u"), (1e-9, "n"), (1e-12, "p")):
        if abs(value) >= scale:
            return f"{value / scale:.3g} {p}{unit}"
    return f"{value:.3g} {unit}"


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def summary(report: SimReport) -> list[str]:
    """Key figures, one per line."""
    t, m, mem = report.target, report.model, report.memory
    lat = report.latency_s
    kind = "training step" if m.get("training") else "forward"
    lines = [
        f"{m.get('name') or m.get('function')} ({kind}) on {t.name} [{t.kind}]: {t.description}"
    ]
    lines.append(
        f"  model       {m['ops']} ops ({m['signatures']} distinct), "
        f"{si(m['params'])} params ({si(m['param_bytes'], 'B')})"
        + (f", {m['tokens']} tokens" if m.get("tokens") else "")
    )
    lines.append(
        f"  kernels     {m.get('kernels', m.get('costed_ops', 0))} launched "
        f"(preset {report.options.get('kernels', 'none')}"
        + (", attention as flash" if report.options.get("kernels", "none") == "none" else "")
        + ")"
    )
    tp = report.throughput()
    rate = f"{1 / lat:.3g} iterations/s" if lat > 0 else "-"
    if tp["tokens_per_s"]:
        rate += f", {si(tp['tokens_per_s'], 'tokens/s')}"
    lines.append(f"  latency     {seconds(lat)} ({rate})")
    dt = report.by_dtype()
    peaks = ", ".join(f"{d} {si(v['peak_flops'], 'FLOP/s')}" for d, v in sorted(dt.items()))
    lines.append(
        f"  compute     {si(report.flops, 'FLOP')}, achieved "
        f"{si(report.achieved_flops, 'FLOP/s')}"
        + (f", {_pct(report.utilisation())} of peak ({peaks})" if dt else "")
    )
    if t.kind == "gpu" and "f32" in dt:
        lines.append(
            "  note        f32 matmuls run at the f32 (non-tensor-core) peak; "
            "--dtype bf16 models mixed precision"
        )
    lines.append(f"  traffic     {si(report.bytes, 'B')} main memory")
    fits = "fits" if mem["fits"] else "DOES NOT FIT"
    lines.append(
        f"  memory      peak {si(mem['peak_bytes'], 'B')} of "
        f"{si(mem['capacity_bytes'], 'B')} ({fits}): arguments "
        f"{si(mem['argument_bytes'], 'B')} + activations "
        f"{si(mem['activation_peak_bytes'], 'B')}"
    )
    if report.energy:
        e = report.energy
        lines.append(
            f"  energy      {eng(e['total_j'], 'J')} (dynamic {eng(e['dynamic_j'], 'J')}, "
            f"leakage {eng(e['leakage_j'], 'J')}), average {eng(e['average_power_w'], 'W')}"
        )
    if report.sparsity:
        sp = report.sparsity
        line = (
            f"  sparsity    {sp['annotated_ops']} ops annotated: dense {seconds(sp['dense_latency_s'])}"
            f" -> sparse {seconds(sp['sparse_latency_s'])} ({sp['speedup']:.2f}x)"
        )
        if sp.get("energy_ratio"):
            line += (
                f"; energy {eng(sp['dense_energy_j'], 'J')} -> {eng(sp['sparse_energy_j'], 'J')}"
                f" ({sp['energy_ratio']:.2f}x lower)"
            )
        lines.append(line)
        if sp.get("note"):
            lines.append(f"  note        {sp['note']}")
    if report.area_mm2:
        a = report.area_mm2
        parts = sorted(((k, v) for k, v in a.items() if k != "total"), key=lambda kv: -kv[1])[:3]
        lines.append(
            f"  area        {a['total']:.3g} mm^2 (largest: "
            + ", ".join(f"{k} {v:.3g}" for k, v in parts)
            + ")"
        )
    return lines


def top_ops(report: SimReport, n: int) -> str:
    """The distinct ops taking the most time, with count, time each and share. Ops that
    print alike and cost the same (two kernels whose bodies differ only in operand order)
    share a row."""
    busy = report.busy_s or 1.0
    merged: dict[tuple, list] = {}
    for s in sorted(report.signatures, key=lambda s: -s.cost.seconds * s.count):
        c = s.cost
        if c.seconds <= 0:
            continue
        key = (s.op, s.shape, c.seconds, c.flops, c.bound, c.unit)
        if key in merged:
            merged[key][1] += s.count
        elif len(merged) < n:
            merged[key] = [s, s.count]
    rows = []
    for s, count in sorted(merged.values(), key=lambda e: -e[0].cost.seconds * e[1]):
        c = s.cost
        total = c.seconds * count
        rows.append(
            [
                s.op.removeprefix("tfm."),
                s.shape,
                str(count),
                seconds(c.seconds),
                seconds(total),
                _pct(total / busy),
                si(c.flops / c.seconds, "FLOP/s") if c.flops else "-",
                c.bound,
                c.unit,
            ]
        )
    return table(
        ["op", "shape", "count", "each", "total", "share", "achieved", "bound", "unit"],
        rows,
        right=[2, 3, 4, 5, 6],
    )


def by_layer(report: SimReport) -> str:
    """Per-layer time; runs of consecutive identical layers collapse into one row."""
    groups = report.group("layer")
    rows: list[list[str]] = []
    run: list[dict] = []

    def flush() -> None:
        if not run:
            return
        g = run[0]
        name = str(g["layer"]) if len(run) == 1 else f"{run[0]['layer']}-{run[-1]['layer']}"
        each = "" if len(run) == 1 else " each"
        rows.append(
            [
                name,
                str(g["ops"]),
                seconds(g["seconds"]) + each,
                _pct(sum(x["share"] for x in run)),
                si(g["flops"], "FLOP") + each,
            ]
        )
        run.clear()

    for g in groups:
        same = (
            run
            and isinstance(g["layer"], int)
            and g["ops"] == run[-1]["ops"]
            and abs(g["seconds"] - run[-1]["seconds"]) <= 1e-9 * max(g["seconds"], 1e-30)
            and g["layer"] == run[-1]["layer"] + 1
        )
        if not same:
            flush()
        run.append(g)
    flush()
    return table(["layer", "ops", "time", "share", "FLOPs"], rows)


def by_kind(report: SimReport) -> str:
    rows = [
        [
            g["kind"],
            str(g["ops"]),
            seconds(g["seconds"]),
            _pct(g["share"]),
            si(g["flops"], "FLOP"),
            si(g["bytes"], "B"),
        ]
        for g in report.group("kind")
    ]
    return table(["kind", "ops", "time", "share", "FLOPs", "bytes"], rows)


def units(report: SimReport) -> str:
    rows = [
        [f"{u['device']}/{u['unit']}", str(u["ops"]), seconds(u["busy_s"]), _pct(u["utilisation"])]
        for u in report.units()
    ]
    return table(["device/unit", "ops", "busy", "busy share"], rows)


def render(report: SimReport, top: int = 10) -> str:
    """The whole terminal report."""
    parts = ["\n".join(summary(report))]
    if top > 0:
        parts.append(
            f"Top {top} ops by total time (identical ops grouped)\n" + top_ops(report, top)
        )
    parts.append(
        "By layer (op time; 'embed/head' = ops outside transformer blocks)\n" + by_layer(report)
    )
    parts.append("By kind\n" + by_kind(report))
    if len(report.units()) > 1:
        parts.append("By unit\n" + units(report))
    return "\n\n".join(parts) + "\n"
