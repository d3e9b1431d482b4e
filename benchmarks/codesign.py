"""Benchmark of the co-design search (`tandem codesign`): the three built-in spaces.

    .venv/bin/python benchmarks/codesign.py [--only acceltran|phaze|shape|workers|cluster]
        [--trials N] [--out DIR]

Prints
1. BERT-base (inference, s=512) on the AccelTran space, DynaProp at the sparsity measured on
   the model for each threshold searched (reference interpreter, 2 of 12 layers, random
   weights: printed per threshold): the Pareto front against AccelTran-Server (latency and
   energy, at no more area; AccelTran-Server runs DynaProp at tau 0.06, measured too), and
   the best design's ratios next to TransCODE's headline (5.2x lower latency, 3.0x lower
   energy against the previous best pair: that pair, the model and DynaProp's sparsity were
   co-designed on a trained model, see the note);
2. GPT-3 2.7B-shaped training (b=1, s=2048, bf16) on the PHAZE space at the TPUv4-like area:
   the fastest design found against the TPUv4-like template, in iteration time;
3. model-shape search for GPT-3 2.7B (b=4, s=2048, f16) on an A100 within +-5% of its
   parameters: the fastest shape found against GPT-3 2.7B's own (h/a = 80, vocabulary
   50257), with its head dim and vocabulary;
4. 200 trials of the AccelTran search with --workers 2 (Ray) and --workers 1: wall time and
   whether the fronts are equal;
5. model-shape search for GPT-3 2.7B trained on 64 GPUs (global batch 512, bf16) on the
   cluster-shape space, each shape with its best plan: on DGX A100 80 GB nodes with
   --workers 2 (and --workers 1: the same trials?), and on 40 GB nodes, where the shape
   changes the plan; the fastest shape and its plan against the base shape's.

Every figure comes from a real search (the same code as the command); each search writes
its files under --out (default a temporary folder).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

PAPER_LATENCY, PAPER_ENERGY = 5.2, 3.0  # TransCODE (arXiv 2303.14882), co-designed pair


def search(  # noqa: ANN201
    model: str, space: str, out: Path, trials: int, workers: int = 1, placement: dict | None = None
):
    from backends.codesign import SearchSettings, best_design, load_space, pareto_front, run_search
    from tandem.codesign import toolchain_for
    from tandem.codesign_files import write_results

    sp = load_space(space, None, placement)
    # measured sparsity tables are kept under OUT/sparsity, shared by the searches
    tc = toolchain_for(
        model, sp.model, training=None, overrides={}, sparsity_dir=str(out.parent / "sparsity")
    )
    t0 = time.perf_counter()
    outcome = run_search(
        sp, tc, SearchSettings(trials=trials, seed=0, workers=workers, progress=False)
    )
    wall = time.perf_counter() - t0
    out.mkdir(parents=True, exist_ok=True)
    write_results(out, outcome, tc)
    front = pareto_front(outcome.results, sp.objectives)
    return sp, outcome, front, best_design(front, sp), wall


def dense_reference(sp, name: str):  # noqa: ANN001, ANN201
    """A reference design of BERT-base costed without measured sparsity (dense matmuls)."""
    from backends.codesign import Evaluator
    from tandem.codesign import ModelToolchain, toolchain_for

    class Dense(ModelToolchain):
        def measure_sparsity(self, stage, shape):  # noqa: ANN001, ANN201
            return None

    tc = toolchain_for("bert-base", sp.model, training=None, overrides={})
    ref = next(r for r in sp.references if r.name == name)
    return Evaluator(sp, Dense(tc.model, tc.training, tc.overrides)).evaluate_reference(ref)


def ms(s: float) -> str:
    return f"{s * 1e3:.3g} ms"


def acceltran(out: Path, trials: int) -> None:
    from backends.codesign import front_dominates, ratios
    from backends.codesign.measure import describe

    sp, o, front, best, wall = search("bert-base", "acceltran", out / "acceltran", trials)
    server = next(r for r in o.references if r.name == "AccelTran-Server")
    print(f"\n1. BERT-base on the AccelTran space: {len(o.results)} trials in {wall:.1f} s")
    if o.skipped_stages:
        print(f"   pipeline stages not available yet: {', '.join(o.skipped_stages)}")
    print("   DynaProp sparsity used per threshold (measured on the model, reference interpreter):")
    for line in describe(o.measurements) or ["none measured: dense costs"]:
        print(f"     {line}")
    print(
        f"   AccelTran-Server: latency {ms(server.metric('latency_s'))}, energy "
        f"{server.metric('energy_j'):.3g} J, area {server.metric('area_mm2'):.4g} mm^2 (the budget)"
    )
    dense = dense_reference(sp, "AccelTran-Server")
    print(
        f"   (its dense costs, prunes but no sparsity: {ms(dense.metric('latency_s'))}, "
        f"{dense.metric('energy_j'):.3g} J: the measured sparsity gives "
        f"{dense.metric('latency_s') / server.metric('latency_s'):.2f}x latency, "
        f"{dense.metric('energy_j') / server.metric('energy_j'):.2f}x energy)"
    )
    print(f"   front: {len(front)} designs; dominates AccelTran-Server (both objectives, no more")
    print(f"   area): {'yes' if front_dominates(front, server, sp.objectives) else 'no'}")
    for r in front:
        gain = ratios(r, server, sp.objectives)
        print(
            f"     trial {r.trial:3d}: {ms(r.metric('latency_s'))}, {r.metric('energy_j'):.3g} J, "
            f"{r.metric('area_mm2'):.4g} mm^2, tau {r.params.get('plan.tau_fwd')}  (latency "
            f"{gain['latency']:.2f}x, energy {gain['energy']:.2f}x better)"
        )
    assert best is not None
    g = ratios(best, server, sp.objectives)
    print(
        f"   best (smallest energy x delay, tau {best.params.get('plan.tau_fwd')}): latency "
        f"{g['latency']:.2f}x, energy {g['energy']:.2f}x lower than AccelTran-Server; paper: "
        f"{PAPER_LATENCY}x / {PAPER_ENERGY}x (against the previous best pair, with DynaProp "
        "on a trained, co-designed model; here random weights, whose attention probabilities "
        "at s=512 all fall below tau)"
    )


def phaze(out: Path, trials: int) -> None:
    sp, o, front, best, wall = search("gpt3-2.7b", "phaze", out / "phaze", trials)
    ref = next(r for r in o.references if r.name == "TPUv4-like")
    assert best is not None
    print(f"\n2. GPT-3 2.7B training (b=1, s=2048) on the PHAZE space: {len(o.results)} trials")
    print(f"   in {wall:.1f} s; area budget {sp.area_budget:.4g} mm^2 (TPUv4-like)")
    print(
        f"   TPUv4-like: iteration {ms(ref.metric('latency_s'))}, {ref.metric('area_mm2'):.4g} mm^2"
    )
    print(
        f"   fastest found: iteration {ms(best.metric('latency_s'))}, "
        f"{best.metric('area_mm2'):.4g} mm^2: "
        f"{ref.metric('latency_s') / best.metric('latency_s'):.2f}x faster"
    )
    print("   design: " + ", ".join(f"{k.split('.')[-1]}={v}" for k, v in best.params.items()))


def shape(out: Path, trials: int) -> None:
    from backends.codesign.shape import shape_overrides
    from frontends.zoo import build_model

    sp, o, front, best, wall = search("gpt3-2.7b", "gpu-shape", out / "shape", trials)
    ref = o.references[0]
    assert best is not None
    base = build_model("gpt3-2.7b", device="meta").config
    s = shape_overrides(base, {sp.param(k).key: v for k, v in best.params.items()})
    hd = s["hidden"] // s["heads"]
    print("\n3. GPT-3 2.7B shape on an A100 (b=4, s=2048, f16, materialised attention):")
    print(f"   {len(o.results)} trials in {wall:.1f} s, parameters within +-5%")
    print(
        f"   GPT-3 2.7B's own shape (h=2560, a=32, h/a=80, v=50257): "
        f"{ms(ref.metric('latency_s'))} per forward"
    )
    print(
        f"   fastest found: h={s['hidden']}, a={s['heads']}, h/a={hd}, v={s['vocab']}: "
        f"{ms(best.metric('latency_s'))}, {ref.metric('latency_s') / best.metric('latency_s'):.3f}x"
        f" as fast, {best.metric('params') / 1e9:.3f} B params"
    )
    print(
        f"   seed 000's direction: h/a multiple of 64: {'yes' if hd % 64 == 0 else 'no'}; "
        f"vocabulary padded to a multiple of 64: {'yes' if s['vocab'] % 64 == 0 else 'no'}"
    )


def workers(out: Path, trials: int) -> None:
    results = {}
    for k in (2, 1):
        sp, o, front, _, wall = search("bert-base", "acceltran", out / f"workers{k}", trials, k)
        results[k] = ([r.key for r in front], wall, o)
    same = results[1][0] == results[2][0]
    print(f"\n4. {trials} trials of the AccelTran search on this machine (2 cores, shared):")
    for k in (2, 1):
        _, wall, o = results[k]
        print(
            f"   --workers {k}: {wall:.1f} s ({'Ray, started and stopped' if k > 1 else 'in-process'}; "
            f"{o.evaluated} evaluated, {o.reused} reused)"
        )
    print(f"   same front for the same seed: {'yes' if same else 'NO'}")


def _row(r) -> tuple:  # noqa: ANN001
    """A trial's parameters, plan and metrics (NaN as None: comparable)."""
    metrics = {k: None if v != v else v for k, v in r.metrics.items()}
    return r.params, r.plan.get("key"), metrics


def cluster(out: Path, trials: int) -> None:
    from backends.codesign.shape import shape_overrides
    from frontends.zoo import build_model

    base = build_model("gpt3-2.7b", device="meta").config
    print("\n5. GPT-3 2.7B shape trained on 64 GPUs (global batch 512, bf16), +-5% parameters,")
    print("   every shape planned (t, p, d, microbatch, recompute, sp, vp, zero):")
    runs = {}
    for name, workers, placement in (
        ("dgx-a100-80gb", 2, None),
        ("dgx-a100-80gb", 1, None),
        ("dgx-a100", 1, {"cluster": "dgx-a100"}),
    ):
        folder = out / f"cluster-{name}-w{workers}"
        sp, o, front, best, wall = search(
            "gpt3-2.7b", "cluster-shape", folder, trials, workers, placement
        )
        runs[(name, workers)] = o
        assert best is not None
        refs = {r.name: r for r in o.references}
        s = shape_overrides(base, {sp.param(k).key: v for k, v in best.params.items()})
        feasible = sum(r.feasible for r in o.results)
        print(
            f"   {name}, --workers {workers}: {len(o.results)} trials ({o.evaluated} evaluated, "
            f"{feasible} feasible) in {wall:.1f} s"
        )
        if workers == 1 and (name, 2) in runs:
            other = runs[(name, 2)].results
            same = [_row(r) for r in o.results] == [_row(r) for r in other]
            print(f"     same trials, plans and times as --workers 2: {'yes' if same else 'NO'}")
            continue
        for ref_name, ref in refs.items():
            print(
                f"     {ref_name:31s} {ref.metric('latency_s'):.3f} s/iteration, "
                f"MFU {ref.metric('mfu'):.1%}, plan {ref.plan.get('key', ref.error)}"
            )
        padded = refs["base model, padded vocabulary"].metric("latency_s")
        own = refs["base model"].metric("latency_s")
        lat = best.metric("latency_s")
        print(
            f"     fastest: h={s['hidden']}, a={s['heads']}, h/a={s['hidden'] // s['heads']}, "
            f"v={s['vocab']}: {lat:.3f} s, MFU {best.metric('mfu'):.1%}, plan {best.plan['key']}"
        )
        print(
            f"     {own / lat:.3f}x the base shape's speed ({padded / lat:.3f}x with its "
            f"vocabulary padded), {best.metric('params') / base['params']:.3f}x its parameters"
        )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", choices=["acceltran", "phaze", "shape", "workers", "cluster"])
    ap.add_argument("--trials", type=int, help="trials per search (default: each space's)")
    ap.add_argument("--out", help="folder for the searches' files (default: a temporary one)")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="codesign-bench-"))
    from tandem.commands.common import quiet

    quiet()
    print(f"files under {out}")
    jobs = {
        "acceltran": lambda: acceltran(out, args.trials or 200),
        "phaze": lambda: phaze(out, args.trials or 200),
        "shape": lambda: shape(out, args.trials or 60),
        "workers": lambda: workers(out, args.trials or 200),
        "cluster": lambda: cluster(out, args.trials or 40),
    }
    for name, job in jobs.items():
        if args.only in (None, name):
            job()


if __name__ == "__main__":
    main()
