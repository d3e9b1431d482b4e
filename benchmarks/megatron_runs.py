"""Predicted vs measured iteration time of Megatron-LM's published runs (../shared/REFERENCE.md
section 2), the plan search against the published plans, and the planner's speed.

    python benchmarks/megatron_runs.py            # per-row error, fixed to the published plan
    python benchmarks/megatron_runs.py --search   # + the best plan the search finds per row
    python benchmarks/megatron_runs.py --fit      # + the least-squares sustained_compute
    python benchmarks/megatron_runs.py --timing   # + `tandem plan` end to end (175B, 1T)

Each row is what `tandem plan gpt3-175b --layers L --hidden h --heads a --ffn 4h --vocab
51200 --dtype f16 --cluster dgx-a100-80gb --gpus N --global-batch B --fix ... --json` computes
(the command is printed); the runs trained GPT models in fp16 with Megatron-LM's fused
kernels, dropout 0.1 and, in Narayanan et al.'s runs, full recomputation. Measured times:
Narayanan et al. (SC'21) Table 1 gives TFLOP/s per GPU, so the time is their Eq. 3 FLOPs /
(TFLOP/s x GPUs); Korthikanti et al. (2022) Table 5 gives seconds.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

# name, layers, hidden, heads, fixed plan, GPUs, global batch, TFLOP/s per GPU or seconds
ROWS = [
    ("1.7B", 24, 2304, 24, "t=1,p=1,d=32,mb=16,recompute=full,sp=off,vp=1", 32, 512, 137e12, None),
    (
        "18.4B",
        40,
        6144,
        48,
        "t=8,p=1,d=32,mb=8,recompute=full,sp=off,vp=1",
        256,
        1024,
        135e12,
        None,
    ),
    (
        "145.6B",
        80,
        12288,
        96,
        "t=8,p=8,d=24,mb=2,recompute=full,sp=off,vp=2",
        1536,
        2304,
        148e12,
        None,
    ),
    ("22B full", 48, 6144, 64, "t=8,p=1,d=1,mb=4,recompute=full,sp=off,vp=1", 8, 4, None, 1.42),
    (
        "22B sel+sp",
        48,
        6144,
        64,
        "t=8,p=1,d=1,mb=4,recompute=selective,sp=on,vp=1",
        8,
        4,
        None,
        1.10,
    ),
]
CLUSTER = "dgx-a100-80gb"


def eq3(batch: int, layers: int, hidden: int, seq: int = 2048, vocab: int = 51200) -> float:
    """Narayanan et al.'s Eq. 3: FLOPs per iteration with full recomputation."""
    return (
        96
        * batch
        * seq
        * layers
        * hidden**2
        * (1 + seq / (6 * hidden) + vocab / (16 * layers * hidden))
    )


def measured(row) -> float:
    _name, layers, hidden, _a, _fix, gpus, batch, tflops, seconds = row
    return seconds if seconds is not None else eq3(batch, layers, hidden) / (tflops * gpus)


def command(row) -> str:
    name, layers, hidden, heads, fix, gpus, batch, *_ = row
    return (
        f"tandem plan gpt3-175b --layers {layers} --hidden {hidden} --heads {heads} "
        f"--ffn {4 * hidden} --vocab 51200 --dtype f16 --cluster {CLUSTER} --gpus {gpus} "
        f"--global-batch {batch} --fix {fix},zero=off,overlap=off --json"
    )


def templates():
    """One planning template per row shape (3 layers, at the published microbatch)."""
    from backends.placement.plan import parse_fix
    from frontends.zoo import Overrides
    from tandem.planning import import_template

    out = {}
    for row in ROWS:
        _name, layers, hidden, heads, fix, *_ = row
        mb = parse_fix(fix).microbatch
        key = (hidden, heads, mb)
        if key not in out:
            ov = Overrides(
                hidden=hidden, heads=heads, ffn=4 * hidden, vocab=51200, seq=2048, dtype="f16"
            )
            out[key] = import_template("gpt3-175b", ov, mb, "f16")[0]
    return out


def predict(row, tpl, cluster, fixed=None, top=1):
    from backends.placement.plan import parse_fix
    from backends.placement.search import Request, search

    _name, layers, _h, _a, fix, gpus, batch, *_ = row
    tpl.layers_total = layers
    fx = (
        fixed
        if fixed is not None
        else dataclasses.replace(parse_fix(fix), zero=False, overlap=False)
    )
    return search(tpl, Request(cluster, gpus, batch, fx), top=top)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()

    from backends.placement.plan import Fixed, parse_fix
    from backends.targets import load_cluster

    cluster = load_cluster(CLUSTER)
    t0 = time.perf_counter()
    tpls = templates()
    print(f"(templates imported in {time.perf_counter() - t0:.1f} s)\n")

    def tpl_of(row):
        return tpls[(row[2], row[3], parse_fix(row[4]).microbatch)]

    print(
        f"{'run':11s} {'measured':>9s} {'predicted':>9s} {'error':>7s}  memory/GPU  where the time goes"
    )
    errors = []
    for row in ROWS:
        ev = predict(row, tpl_of(row), cluster).plans[0]
        err = ev.iteration_s / measured(row) - 1
        errors.append(err)
        b = ev.breakdown
        where = " ".join(
            f"{k.removesuffix('_s')} {v / ev.iteration_s:.0%}" for k, v in b.items() if v > 0
        )
        print(
            f"{row[0]:11s} {measured(row):8.3f}s {ev.iteration_s:8.3f}s {err:+7.1%}  "
            f"{ev.memory_bytes / 1e9:6.1f} GB  {where}"
        )
    print(
        f"mean |error| {sum(map(abs, errors)) / len(errors):.1%}, max {max(map(abs, errors)):.1%}"
    )
    print("\ncommands:\n" + "\n".join(command(r) for r in ROWS))

    if args.search:
        print(
            "\nsearch (the published rows' recompute / sequence parallelism and no optimizer sharding)"
        )
        for row in ROWS:
            fx = parse_fix(row[4])
            pub = predict(row, tpl_of(row), cluster).plans[0]
            same = Fixed(recompute=fx.recompute, sp=fx.sp, zero=False, overlap=False)
            best = predict(row, _search_template(row, tpls), cluster, fixed=same).plans[0]
            free = predict(
                row, _search_template(row, tpls), cluster, fixed=Fixed(overlap=False)
            ).plans[0]
            print(
                f"{row[0]:11s} published {pub.iteration_s:7.3f}s  best {best.iteration_s:7.3f}s "
                f"({best.plan.key()})  published/best {pub.iteration_s / best.iteration_s - 1:+.1%}"
                f"  | any features: {free.iteration_s:7.3f}s ({free.plan.key()})"
            )

    if args.fit:
        print("\nsustained_compute fit (least squares of log errors)")
        for s in (0.84, 0.86, 0.87, 0.88, 0.89, 0.9, 0.92, 0.95, 1.0):
            cl = dataclasses.replace(cluster, sustained_compute=s)
            errs = [predict(r, tpl_of(r), cl).plans[0].iteration_s / measured(r) - 1 for r in ROWS]
            rms = math.sqrt(sum(math.log1p(e) ** 2 for e in errs) / len(errs))
            print(f"  {s:.2f}: " + " ".join(f"{e:+6.1%}" for e in errs) + f"   rms {rms:.3f}")

    if args.timing:
        print("\ntandem plan end to end")
        for argv in (
            ["gpt3-175b", "--gpus", "1024", "--global-batch", "1536"],
            [
                "gpt3-175b",
                "--layers",
                "128",
                "--hidden",
                "25600",
                "--heads",
                "160",
                "--ffn",
                "102400",
                "--gpus",
                "3072",
                "--global-batch",
                "3072",
            ],
        ):
            cmd = [
                str(Path(sys.executable).parent / "tandem"),
                "plan",
                *argv,
                "--cluster",
                CLUSTER,
                "--top",
                "1",
            ]
            t = time.perf_counter()
            c0 = _children_cpu()
            subprocess.run(cmd, check=True, capture_output=True)
            print(
                f"  {' '.join(argv)}: {time.perf_counter() - t:.1f} s wall, {_children_cpu() - c0:.1f} s CPU"
            )
    return 0


def _search_template(row, tpls):
    """A template at the largest microbatch the search may pick (32), per row shape."""
    from frontends.zoo import Overrides
    from tandem.planning import import_template

    key = (row[2], row[3], 32)
    if key not in tpls:
        ov = Overrides(
            hidden=row[2], heads=row[3], ffn=4 * row[2], vocab=51200, seq=2048, dtype="f16"
        )
        tpls[key] = import_template("gpt3-175b", ov, 32, "f16")[0]
    return tpls[key]


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    sys.exit(main())
