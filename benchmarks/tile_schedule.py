"""Benchmark of the tile and schedule passes (predictions of the accelerator cost models).

    .venv/bin/python benchmarks/tile_schedule.py [--skip-175b]

Prints
1. per model (BERT-base s=128 b=1, GPT-2 s=1024 b=1; f16 training IR, all layers) and target
   (acceltran-server, tpuv4-like): one row per distinct layer segment (forward, backward) with
   the sequential, list and CP-SAT makespans, the critical-path and work lower bounds, the
   solver status and time, and the check that the simulated latency of the scheduled IR equals
   the sum of its segments' makespans (identical layers reused);
2. the tiling gain per model and target (acceltran-server, acceltran-edge, tpuv4-like): the
   predicted time of every tiled GEMM with the target's default tile and with the chosen tile,
   and a brute-force check that the mapper found the optimum of its cost on every distinct GEMM;
3. the wall-clock time of `tile` + `schedule` on GPT-3 175B training IR (import not included).
"""

from __future__ import annotations

import argparse
import time

MODELS = {"bert-base": {"seq": 128, "batch": 1}, "gpt2": {"seq": 1024, "batch": 1}}
SCHEDULE_TARGETS = ["acceltran-server", "tpuv4-like"]
TILE_TARGETS = ["acceltran-server", "acceltran-edge", "tpuv4-like"]


def _import(name: str, **over):
    import tandem.api as api

    return api.import_model(name, api.Overrides(dtype="f16", **over), training=True)


def _unscheduled_sequential(module, target: str) -> float:
    from backends.sim import simulate

    return sum(r.seconds for r in simulate(module, target).rows)


def schedule_table(models: dict) -> None:
    from backends.schedule.solve import schedule_function
    from backends.sim import entry_function, simulate
    from backends.targets import load_target
    from ir.text import seconds, table
    from tandem.pipeline import run_pipeline

    rows = []
    checks = []
    for name, module in models.items():
        for tname in SCHEDULE_TARGETS:
            ir = module.clone()
            run_pipeline(ir, f"tile{{target={tname}}}")
            fn = entry_function(ir)
            t0 = time.perf_counter()
            plan = schedule_function(fn, load_target(tname), time_limit=10.0, workers=2)
            wall = time.perf_counter() - t0
            run_pipeline(ir, f"schedule{{target={tname}}}")
            sim = simulate(ir, tname).latency_s
            total = sum(r["count"] * r["ilp_s"] for r in plan.rows)
            checks.append(
                f"{name} on {tname}: simulated {seconds(sim)} = sum of "
                f"{plan.segments} segment makespans ({len(plan.rows)} solved) "
                f"{seconds(total)}: {'equal' if abs(sim - total) <= 1e-9 * total else 'DIFFER'}"
                f" (relative difference {abs(sim - total) / total:.1e}); schedule pass {wall:.2f} s"
            )
            for r in plan.rows:
                if not r["segment"].startswith("layers"):
                    continue
                ok = (
                    r["ilp_s"] <= r["list_s"] * (1 + 1e-12) <= r["sequential_s"] * (1 + 2e-12)
                    and r["ilp_s"] >= max(r["critical_path_s"], r["work_s"]) * (1 - 1e-12)
                    and r["status"] == "optimal"
                    and r["solve_s"] < 10
                )
                rows.append(
                    [
                        name,
                        tname,
                        r["segment"].split(" ", 2)[-1],
                        str(r["tasks"]),
                        seconds(r["sequential_s"]),
                        seconds(r["list_s"]),
                        seconds(r["ilp_s"]),
                        f"{100 * (1 - r['ilp_s'] / r['sequential_s']):.1f}%",
                        seconds(r["critical_path_s"]),
                        seconds(r["work_s"]),
                        r["status"],
                        f"{r['solve_s']:.2f} s",
                        "ok" if ok else "FAIL",
                    ]
                )
    print("\n1. One layer, forward and backward (f16 training IR), CP-SAT on 2 workers")
    head = ["model", "target", "phase", "ops", "sequential", "list", "ilp", "saved"]
    head += ["crit. path", "work/units", "status", "solve", "check"]
    print(table(head, rows))
    print("\n".join(checks))


def tiling_table(models: dict) -> None:
    from backends.targets import load_target
    from backends.tiling import acceltran, phaze
    from backends.tiling.mapper import Choice, choose_tiles
    from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
    from ir.text import seconds, table

    brute = {"acceltran": acceltran, "phaze": phaze}
    rows = []
    checked = 0
    for name, module in models.items():
        ops = [
            o for o in module.walk() if isinstance(o, MatmulOp | AttentionOp | AttentionBackwardOp)
        ]
        for tname in TILE_TARGETS:
            t = load_target(tname)
            before = after = 0.0
            changed = 0
            for o in ops:
                for c in choose_tiles(o, t).values():
                    assert isinstance(c, Choice)
                    before += c.default.seconds
                    after += c.cost.seconds
                    changed += c.cost.seconds < c.default.seconds * (1 - 1e-9)
            mod = brute[t.kind]
            for g, c in _distinct_gemms(ops, t).items():
                best = min(
                    (mod.evaluate(t, g, pe, b, 2, 0.0) for pe, b in mod.all_tiles(t, g)),
                    key=lambda x: x.rank(),
                )
                assert best.rank() == c.cost.rank(), (tname, g, best, c.cost)
                checked += 1
            rows.append(
                [
                    name,
                    tname,
                    str(len(ops)),
                    str(changed),
                    seconds(before),
                    seconds(after),
                    f"{100 * (before - after) / before:+.2f}%",
                ]
            )
    print("\n2. Tiling: predicted time of all GEMMs (f16 training IR), default tile -> chosen tile")
    print(table(["model", "target", "ops", "GEMMs improved", "default", "chosen", "gain"], rows))
    print(
        f"brute force over every tile, blocking and loop order agrees on {checked} distinct GEMMs"
    )


def _distinct_gemms(ops, t) -> dict:
    from backends.tiling.mapper import choose, op_gemms

    out = {}
    for o in ops:
        for g in op_gemms(o).values():
            out[g] = choose(t, g, 2, 0.0)
    return out


def gpt3_timing() -> None:
    from ir.tfm import make_context
    from tandem.pipeline import build_pipeline, run_pipeline

    t0 = time.perf_counter()
    ir = _import("gpt3-175b")
    print(f"\n3. GPT-3 175B training IR ({time.perf_counter() - t0:.0f} s to import)")
    for tname in SCHEDULE_TARGETS + ["a100-sxm4-40gb"]:
        module = ir.clone()
        spec = f"tile{{target={tname}}},schedule{{target={tname}}}"
        t0 = time.perf_counter()
        for p in build_pipeline(spec).passes:
            p.apply(make_context(), module)
        apply_s = time.perf_counter() - t0
        module = ir.clone()
        t0 = time.perf_counter()
        run_pipeline(module, spec)
        print(
            f"{tname}: tile + schedule {apply_s:.2f} s "
            f"({time.perf_counter() - t0:.2f} s with the IR verifier after each pass)"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--skip-175b", action="store_true", help="skip the GPT-3 175B timing")
    args = ap.parse_args()
    models = {name: _import(name, **over) for name, over in MODELS.items()}
    schedule_table(models)
    tiling_table(models)
    if not args.skip_175b:
        gpt3_timing()


if __name__ == "__main__":
    main()
