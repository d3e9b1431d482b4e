"""`tandem advise MODEL --target T [--tp T] [--budget 0.05] [--json]`: faster nearby shapes.

    tandem advise gpt3-2.7b --target a100-sxm4-40gb --batch 4
    tandem advise gpt2 --batch 8 --training --json

For each sizing guideline of Anthony et al. (arXiv 2401.14489) prints the current value, the
recommended nearby value and the predicted change in layer and model throughput (achieved
GEMM TFLOP/s per GPU), in time per token and in parameter count. Zoo models are judged from
their configuration; user models (`file.py:factory`, `.mlir`) from shapes read off their IR.
"""

from __future__ import annotations

import argparse
import math
from typing import TYPE_CHECKING

from ir.errors import TandemError
from ir.text import si, table
from tandem.commands.common import add_model_arguments, is_mlir, load_ir, load_spec
from tandem.files import json_text

if TYPE_CHECKING:
    from backends.advisor import Report

HELP = "recommend hardware-friendly model shapes (vocabulary, heads, hidden, FFN, microbatch, t)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument(
        "--target", default="a100-sxm4-40gb", help="target name or .toml (default a100-sxm4-40gb)"
    )
    p.add_argument(
        "--tp", type=int, default=1, metavar="T", help="tensor-parallel degree (default 1)"
    )
    p.add_argument(
        "--budget",
        type=float,
        default=0.05,
        help="largest relative change in parameter count (default 0.05)",
    )
    p.add_argument(
        "--kernels",
        choices=["eager", "fused", "flash", "inductor"],
        default="flash",
        help="kernel preset the layers are priced with, as `fuse` compiles them: flash "
        "(default: Megatron-LM's fused kernels + FlashAttention), fused (attention scores "
        "materialised, as the paper measured), eager or inductor",
    )
    p.add_argument(
        "--max-head-dim",
        type=int,
        default=128,
        metavar="D",
        help="largest head dim to recommend (default 128)",
    )
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from backends.advisor import advise, shape_from_config, shape_from_ir
    from backends.targets import load_target

    if args.tp < 1:
        raise TandemError(f"--tp must be a positive integer, got {args.tp}")
    if not (math.isfinite(args.budget) and 0 <= args.budget < 1):
        raise TandemError(f"--budget must be a number in [0, 1), got {args.budget}")
    if args.max_head_dim < 64:
        raise TandemError(f"--max-head-dim must be at least 64, got {args.max_head_dim}")
    target = load_target(args.target)
    dtype = args.dtype or "f16"
    if is_mlir(args.model):
        shape = shape_from_ir(load_ir(args), tp=args.tp)
    else:
        spec = load_spec(args, device="meta")
        if spec.config.get("family") == "user":
            from frontends.importer import import_model

            shape = shape_from_ir(import_model(spec), tp=args.tp, params=spec.config.get("params"))
        else:
            shape = shape_from_config(spec.config, tp=args.tp)
    report = advise(
        shape,
        target,
        model=args.model,
        budget=args.budget,
        dtype=dtype,
        training=args.training,
        kernels=args.kernels,
        max_head_dim=args.max_head_dim,
    )
    if args.json:
        print(json_text(report.to_json()))
    else:
        print(render_table(report))
    return 0


def render_table(report: Report) -> str:
    """A heading with the baseline, then one row per guideline (blank changes: keep)."""
    from backends.advisor import relative_changes

    s, b = report.shape, report.baseline
    mode = "training step" if report.settings["training"] else "forward"
    head = (
        f"{report.model} on {report.target} ({report.settings['dtype']}, {mode}, "
        f"{report.settings['kernels']} kernels, b={s.batch} s={s.seq} t={s.tp}): "
        f"{si(b.params)} params, layer {b.layer_tflops:.1f} TFLOP/s, "
        f"model {b.model_tflops:.1f} TFLOP/s, {b.model_seconds * 1e3:.3g} ms per microbatch"
    )
    rows = []
    for a in report.advice:
        ch = relative_changes(a.current.estimate, a.recommended.estimate)
        same = not a.changed
        rows.append(
            [
                a.guideline,
                a.current.value,
                "keep" if same else a.recommended.value,
                _pct(ch["layer_throughput_change"], same),
                _pct(ch["model_throughput_change"], same),
                _pct(ch["time_per_token_change"], same),
                _pct(ch["params_change"], same),
                a.note,
            ]
        )
    headers = [
        "guideline",
        "current",
        "recommended",
        "layer TFLOP/s",
        "model TFLOP/s",
        "time/token",
        "params",
        "why",
    ]
    return head + "\n" + table(headers, rows, right=[3, 4, 5, 6])


def _pct(x: float, same: bool) -> str:
    return "" if same else f"{100 * x:+.1f}%"
