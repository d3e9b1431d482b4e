"""`tandem simulate in.mlir|MODEL --target T [--json] [--trace t.json] [--plot r.png] [--top N]`.

Prints the simulated latency, FLOP/s, memory (and energy/area on accelerators) with the top
ops, per-layer and per-kind tables; ``--json`` prints the report as JSON instead
(docs/report-schema.md). TARGET is a built-in name (``tandem targets``) or a .toml path.
"""

from __future__ import annotations

import argparse
import math
import time
from typing import TYPE_CHECKING

from ir.errors import TandemError
from tandem.commands.common import add_model_arguments, load_ir, non_negative_int, plan_outputs
from tandem.files import json_text

if TYPE_CHECKING:
    from backends.sim import SimReport

HELP = "simulate a model or .mlir file on a hardware target (latency, FLOP/s, memory, energy)"


def add_sim_arguments(p: argparse.ArgumentParser, *, target_required: bool = True) -> None:
    """Target and output options shared by `simulate` and `compile`."""
    p.add_argument(
        "--target",
        "-t",
        required=target_required,
        metavar="TARGET",
        help="built-in target name (see `tandem targets`) or path to a .toml file",
    )
    p.add_argument("--json", action="store_true", help="print the report as JSON")
    p.add_argument("--trace", metavar="OUT.json", help="write a Chrome/Perfetto trace")
    p.add_argument("--plot", metavar="OUT.png", help="write a roofline plot (PNG)")
    p.add_argument(
        "--top",
        type=non_negative_int,
        default=10,
        metavar="N",
        help="show the N most expensive distinct ops (default 10)",
    )
    p.add_argument(
        "--kernels",
        choices=["eager", "fused", "flash", "inductor"],
        default=None,
        help="kernel preset: eager (every op a kernel), fused (Megatron-LM's fused kernels, "
        "attention scores materialised), flash (fused + FlashAttention; the default), "
        "inductor (torch.compile-style pointwise/reduction fusion)",
    )
    p.add_argument(
        "--unfused-attention",
        dest="kernels",
        action="store_const",
        const="fused",
        help="materialise attention scores: the same as --kernels fused",
    )


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    add_sim_arguments(p)


def prepare(args: argparse.Namespace, outputs: tuple[tuple[str, str | None], ...] = ()):
    """Load the target and check every output path (`args.outputs`) before any slow work."""
    from backends.targets import load_target

    named = [*outputs, ("--trace", args.trace), ("--plot", args.plot)]
    args.outputs = plan_outputs(args, named)
    return load_target(args.target)


def emit(
    report: SimReport,
    args: argparse.Namespace,
    *,
    extra: dict | None = None,
    header: str = "",
    footer: str = "",
    files: list[tuple[str, str | bytes]] | None = None,
) -> None:
    """Render every output first, then write the files (atomically), then print."""
    from backends.sim import chrome_trace, roofline_png
    from tandem.report_text import render

    if not math.isfinite(report.latency_s):
        raise TandemError(
            f"the simulated latency is {report.latency_s} s: not a finite number (check the "
            f"target's values)"
        )
    files = list(files or [])
    if args.trace is not None:
        files.append((args.trace, json_text(chrome_trace(report), compact=True) + "\n"))
    if args.plot is not None:
        files.append((args.plot, roofline_png(report)))
    text = (
        json_text({**report.to_json(), **(extra or {})}, indent=1) + "\n"
        if args.json
        else header + render(report, top=max(0, args.top)) + footer
    )
    outputs = getattr(args, "outputs", None) or plan_outputs(args, [(p, p) for p, _ in files])
    outputs.write(dict(files))
    print(text, end="")


def run(args: argparse.Namespace) -> int:
    from backends.sim import simulate
    from tandem.pipeline import fuse_kernels

    target = prepare(args)
    t0 = time.perf_counter()
    module = load_ir(args)
    t1 = time.perf_counter()
    fuse_kernels(module, args.kernels)
    t2 = time.perf_counter()
    report = simulate(module, target, name=args.model)
    footer = (
        f"\n(load {t1 - t0:.2f} s, fuse {t2 - t1:.2f} s, simulate {report.sim_seconds:.2f} s)\n"
    )
    emit(report, args, footer=footer)
    return 0
