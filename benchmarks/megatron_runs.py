"""Predicted vs measured iteration time of Megatron-LM's published runs (../shared/REFERENCE.md
section 2), the plan search against the published plans, and the planner's speed.

    python benchmarks/megatron_runs.py            # per-row error, fixed to the published plan
    python benchmarks/megatron_runs.py --search   # + the best plans the search finds per row
    python benchmarks/megatron_runs.py --fit      # + the least-squares sustained_compute
    python benchmarks/megatron_runs.py --timing   # + `tandem plan` end to end (175B, 1T)

Each row is what `tandem plan gpt3-175b --layers L --hidden h --heads a --ffn 4h --vocab
51200 --dtype f16 --cluster dgx-a100-80gb --gpus N --global-batch B --fix ... --json`
computes (the commands are printed); the runs trained GPT models in fp16 with Megatron-LM's
fused kernels and dropout 0.1. Measured times: Narayanan et al. (SC'21) Table 1 gives TFLOP/s
per GPU, so the time is their Eq. 3 FLOPs / (TFLOP/s x GPUs); Korthikanti et al. (2022)
Table 5 gives seconds.

Each row also names what its software and recipe fixed (`software`): Narayanan et al.'s
weak-scaling series recomputes every layer on Megatron-LM of early 2021 (no selective
recomputation, no sequence parallelism, no distributed optimizer, no overlapped
communication); Korthikanti et al.'s rows each measure one recompute / sequence-parallel
technique on the 2022 code, which overlaps the backward's tensor-parallel communication
(`tp_overlap`) and still has no distributed optimizer nor overlapped data-parallel
all-reduce. `--search` reports, per row, the best plan within those options, the same with
the published tensor-parallel degree, and the best with every option (a modern stack:
overlapped communication, distributed optimizer, selective recomputation, sequence
parallelism).
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SC21 = "recompute=full,sp=off,zero=off,overlap=off,tp_overlap=off"
MLSYS22 = "zero=off,overlap=off,tp_overlap=on"  # + the row's recompute / sp (what it measures)
MODERN = "overlap=on,tp_overlap=on"
CLUSTER = "dgx-a100-80gb"


@dataclass(frozen=True)
class Row:
    name: str
    layers: int
    hidden: int
    heads: int
    plan: str  # the published plan
    software: str  # what the published software could do (fixed while searching)
    gpus: int
    batch: int
    tflops: float | None = None  # measured TFLOP/s per GPU (Eq. 3), or
    seconds: float | None = None  # measured seconds per iteration

    @property
    def fix(self) -> str:
        """The published plan with its software's options."""
        keys = {k.split("=")[0] for k in self.plan.split(",")}
        extra = [kv for kv in self.software.split(",") if kv.split("=")[0] not in keys]
        return ",".join([self.plan, *extra])


ROWS = [
    Row("1.7B", 24, 2304, 24, "t=1,p=1,d=32,mb=16,vp=1", SC21, 32, 512, tflops=137e12),
    Row("18.4B", 40, 6144, 48, "t=8,p=1,d=32,mb=8,vp=1", SC21, 256, 1024, tflops=135e12),
    Row("145.6B", 80, 12288, 96, "t=8,p=8,d=24,mb=2,vp=2", SC21, 1536, 2304, tflops=148e12),
    Row(
        "22B full",
        48,
        6144,
        64,
        "t=8,p=1,d=1,mb=4,vp=1,recompute=full,sp=off",
        "recompute=full,sp=off," + MLSYS22,
        8,
        4,
        seconds=1.42,
    ),
    Row(
        "22B sel+sp",
        48,
        6144,
        64,
        "t=8,p=1,d=1,mb=4,vp=1,recompute=selective,sp=on",
        "recompute=selective,sp=on," + MLSYS22,
        8,
        4,
        seconds=1.10,
    ),
]


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


def measured(row: Row) -> float:
    if row.seconds is not None:
        return row.seconds
    assert row.tflops is not None
    return eq3(row.batch, row.layers, row.hidden) / (row.tflops * row.gpus)


def command(row: Row, fix: str | None = None) -> str:
    return (
        f"tandem plan gpt3-175b --layers {row.layers} --hidden {row.hidden} --heads {row.heads} "
        f"--ffn {4 * row.hidden} --vocab 51200 --dtype f16 --cluster {CLUSTER} --gpus {row.gpus} "
        f"--global-batch {row.batch} --fix {fix or row.fix} --json"
    )


class Templates:
    """One planning template per model shape (3 layers at microbatch 32; every microbatch the
    search may pick is a retyping of it)."""

    def __init__(self) -> None:
        self.cache: dict = {}

    def of(self, row: Row):
        from frontends.zoo import Overrides
        from tandem.planning import import_template

        key = (row.hidden, row.heads)
        if key not in self.cache:
            ov = Overrides(
                hidden=row.hidden,
                heads=row.heads,
                ffn=4 * row.hidden,
                vocab=51200,
                seq=2048,
                dtype="f16",
            )
            self.cache[key] = import_template("gpt3-175b", ov, 32, "f16")[0]
        tpl = self.cache[key]
        tpl.layers_total = row.layers
        return tpl


def predict(row: Row, tpls: Templates, cluster, fix: str):
    """The best plan with the keys of `fix` fixed (the rest searched)."""
    from backends.placement.plan import parse_fix
    from backends.placement.search import Request, search

    return search(tpls.of(row), Request(cluster, row.gpus, row.batch, parse_fix(fix)), top=1)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--search", action="store_true")
    ap.add_argument("--fit", action="store_true")
    ap.add_argument("--timing", action="store_true")
    args = ap.parse_args()

    from backends.targets import load_cluster

    cluster = load_cluster(CLUSTER)
    tpls = Templates()
    t0 = time.perf_counter()
    for row in ROWS:
        tpls.of(row)
    print(f"(templates imported in {time.perf_counter() - t0:.1f} s)\n")

    print(
        f"{'run':11s} {'measured':>9s} {'predicted':>9s} {'error':>7s}  memory/GPU  where the time goes"
    )
    errors = []
    published = {}
    for row in ROWS:
        ev = predict(row, tpls, cluster, row.fix).plans[0]
        published[row.name] = ev
        err = ev.iteration_s / measured(row) - 1
        errors.append(err)
        where = " ".join(
            f"{k.removesuffix('_s')} {v / ev.iteration_s:.0%}"
            for k, v in ev.breakdown.items()
            if v > 0.0005 * ev.iteration_s
        )
        print(
            f"{row.name:11s} {measured(row):8.3f}s {ev.iteration_s:8.3f}s {err:+7.1%}  "
            f"{ev.memory_bytes / 1e9:6.1f} GB  {where}"
        )
    mean = sum(map(abs, errors)) / len(errors)
    print(f"mean |error| {mean:.1%}, max {max(map(abs, errors)):.1%}")
    print("\ncommands:\n" + "\n".join(command(r) for r in ROWS))

    if args.search:
        print(
            "\nsearch: published/best = how much slower the published plan is predicted than the"
            " best plan\n(a) within the published software's options, (b) also with the "
            "published t, (c) with every option"
        )
        for row in ROWS:
            pub = published[row.name]
            t = row.plan.split(",")[0]
            for label, fix in (
                ("(a)", row.software),
                ("(b)", f"{t},{row.software}"),
                ("(c)", MODERN),
            ):
                best = predict(row, tpls, cluster, fix).plans[0]
                print(
                    f"{row.name if label == '(a)' else '':11s} {label} best {best.iteration_s:7.3f}s"
                    f"  published/best {pub.iteration_s / best.iteration_s - 1:+6.1%}  "
                    f"{best.plan.key()}"
                )

    if args.fit:
        print(
            "\nsustained_compute fit (least squares of log errors; at most 1: the calibrated speed)"
        )
        fits = []
        for s in (0.86, 0.88, 0.9, 0.92, 0.94, 0.96, 0.98, 1.0):
            cl = dataclasses.replace(cluster, sustained_compute=s)
            errs = [
                predict(r, tpls, cl, r.fix).plans[0].iteration_s / measured(r) - 1 for r in ROWS
            ]
            rms = math.sqrt(sum(math.log1p(e) ** 2 for e in errs) / len(errs))
            fits.append((rms, s))
            print(f"  {s:.2f}: " + " ".join(f"{e:+6.1%}" for e in errs) + f"   rms {rms:.3f}")
        print(f"  best {min(fits)[1]:.2f} (the cluster file has {cluster.sustained_compute:.2f})")

    if args.timing:
        timing()
    return 0


TIMED = (
    ["gpt3-175b", "--gpus", "1024", "--global-batch", "1536"],
    # 1T parameters (Narayanan et al.'s largest shape: 128 layers, h = 25600, 160 heads)
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
)


def timing() -> None:
    """`tandem plan` end to end, as a user runs it (a fresh process each)."""
    print("\ntandem plan end to end (limits: 10 s for 175B on 1024 GPUs, 30 s for 1T on 3072)")
    for argv in TIMED:
        cmd = [str(Path(sys.executable).parent / "tandem"), "plan", *argv, "--cluster", CLUSTER]
        t = time.perf_counter()
        c0 = _children_cpu()
        subprocess.run([*cmd, "--top", "1"], check=True, capture_output=True)
        print(
            f"  tandem plan {' '.join(argv)}: {time.perf_counter() - t:.1f} s wall, "
            f"{_children_cpu() - c0:.1f} s CPU"
        )


def _children_cpu() -> float:
    import resource

    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


if __name__ == "__main__":
    sys.exit(main())
