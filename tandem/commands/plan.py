"""`tandem plan MODEL --cluster C --gpus N --global-batch B [--fix k=v,...] [--top K] [--json]`.

Searches tensor (t), pipeline (p) and data (d) parallel degrees, the microbatch, activation
recomputation (none | selective | full), sequence parallelism (sp), interleaved virtual
stages (vp) and optimizer sharding (zero), and prints the K fastest plans that fit in the
GPUs' memory with their iteration time, tokens/s, TFLOP/s per GPU (counted as Megatron-LM
counts them), MFU, memory per GPU and where the time goes. `--fix` fixes any subset:

    tandem plan gpt3-175b --cluster dgx-a100-80gb --gpus 1024 --global-batch 1536
    tandem plan gpt3-175b --layers 80 --cluster dgx-a100-80gb --gpus 1536 --global-batch 2304 \\
        --fix t=8,p=8,d=24,mb=2,recompute=full,sp=off,vp=2 --json
"""

from __future__ import annotations

import argparse
import json
import sys

from ir.text import seconds, si, table
from tandem.commands.common import (
    OVERRIDES,
    _positive,
    add_override_arguments,
    plan_outputs,
    quiet,
)

HELP = "search how to train a model on a cluster (parallel plan, iteration time, memory)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("model", metavar="MODEL", help="zoo name or path/to/file.py:factory")
    add_override_arguments(p, dtype_help="training dtype (default bf16)")
    p.add_argument("--cluster", default="dgx-a100-80gb", metavar="C", help="cluster name or .toml")
    p.add_argument("--gpus", type=_positive, required=True, metavar="N", help="number of GPUs")
    p.add_argument(
        "--global-batch", type=_positive, required=True, metavar="B", help="sequences per iteration"
    )
    p.add_argument(
        "--fix",
        default="",
        metavar="KEYS",
        help="fix plan keys: t=8,p=8,d=24,mb=2,recompute=full,sp=off,vp=1,zero=off,overlap=off,"
        "tp_overlap=off",
    )
    p.add_argument(
        "--top", type=_positive, default=5, metavar="K", help="plans to show (default 5)"
    )
    p.add_argument(
        "--kernels",
        choices=["eager", "fused", "flash", "inductor"],
        default="fused",
        help="fusion preset the layers are costed with (the fuse pass's kernels; default "
        "fused: Megatron-LM's)",
    )
    p.add_argument("--json", action="store_true", help="print the plans as JSON")
    p.add_argument("--trace", metavar="OUT.json", help="Chrome trace of the best plan's iteration")


def run(args: argparse.Namespace) -> int:
    from backends.placement.plan import parse_fix
    from backends.sim.cluster import chrome_trace
    from frontends.zoo import Overrides
    from tandem.files import write_text
    from tandem.planning import plan

    fixed = parse_fix(args.fix)
    plan_outputs(args, [("--trace", args.trace)])  # checked before the search
    quiet()
    overrides = Overrides(**{k: getattr(args, k) for k in OVERRIDES}, dtype=args.dtype)
    bar = _progress()
    try:
        report = plan(
            args.model,
            overrides,
            cluster=args.cluster,
            gpus=args.gpus,
            global_batch=args.global_batch,
            fixed=fixed,
            top=args.top,
            kernels=args.kernels,
            progress=bar,
        )
    finally:
        bar.close()
    if args.trace:
        write_text(
            args.trace, json.dumps(chrome_trace(report.best.trace), separators=(",", ":")) + "\n"
        )
    if args.json:
        print(json.dumps(report.to_json(), indent=1))
        return 0
    print(render(report))
    return 0


class _progress:
    """A tqdm bar on stderr while the search runs (quiet when stderr is not a terminal)."""

    def __init__(self) -> None:
        from tqdm import tqdm

        self.bar = tqdm(
            total=0, desc="searching", unit="split", file=sys.stderr, disable=None, leave=False
        )

    def __call__(self, done: int, total: int) -> None:
        self.bar.total = total
        self.bar.n = done
        self.bar.refresh()

    def close(self) -> None:
        self.bar.close()


def render(report) -> str:
    f = report.facts
    data = report.to_json()
    lines = [
        f"{report.model}: {f.layers} layers, hidden {f.hidden}, {f.heads} heads, seq {f.seq}, "
        f"vocab {f.vocab}, {f.dtype}",
        f"{data['cluster']}: {report.request.gpus} GPUs, global batch {report.request.global_batch}, "
        f"{report.request.kernels} kernels",
        "",
    ]
    rows = []
    for i, p in enumerate(data["plans"], 1):
        plan = f"t{p['t']} p{p['p']} d{p['d']} mb{p['microbatch']} {p['recompute']}"
        plan += f" vp{p['vp']}" if p["vp"] > 1 else ""
        plan += " sp" if p["sequence_parallel"] else ""
        plan += " zero" if p["zero"] else ""
        b = p["breakdown"]
        total = p["iteration_s"]
        where = " ".join(
            f"{k.removesuffix('_s').replace('_comm', '')} {v / total:.0%}"
            for k, v in b.items()
            if v / total >= 0.005
        )
        rows.append(
            [
                str(i),
                plan,
                _stages(p["stage_layers"]),
                seconds(total),
                si(p["tokens_per_s"], "tok/s"),
                f"{p['tflops_per_gpu']:.0f}",
                f"{p['mfu']:.1%}",
                si(p["memory_bytes_per_gpu"], "B"),
                where,
            ]
        )
    lines.append(
        table(
            [
                "#",
                "plan",
                "layers/stage",
                "iteration",
                "tokens/s",
                "TFLOP/s/GPU",
                "MFU",
                "memory/GPU",
                "time",
            ],
            rows,
            right=[3, 4, 5, 6, 7],
        )
    )
    r = report.result
    lines += [
        "",
        f"{r.evaluated} plans costed ({r.rejected_memory} over memory) in {r.search_s:.2f} s; "
        f"template import {report.import_s:.2f} s",
    ]
    lines += [f"note: {n}" for n in report.notes]
    return "\n".join(lines)


def _stages(counts: list[int]) -> str:
    if len(set(counts)) == 1:
        return f"{counts[0]}x{len(counts)}" if len(counts) > 1 else str(counts[0])
    if len(counts) > 6:
        return f"{counts[0]},{counts[1]}..{counts[-1]}"
    return ",".join(map(str, counts))
