"""`tandem cost gemm --target T --csv in.csv [-o out.csv]`: predict GEMM times from a CSV.

The CSV names ``batch,m,n,k`` (optional ``dtype``, ``sparsity``); the output repeats every
row with ``predicted_seconds`` and ``predicted_tflops`` (tandem/gemm_csv.py).
"""

from __future__ import annotations

import argparse

from tandem.commands.common import plan_outputs

HELP = "predict op costs on a target from a CSV of shapes (`cost gemm`)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("what", choices=["gemm"], help="what the CSV rows are")
    p.add_argument(
        "--target",
        "-t",
        required=True,
        metavar="TARGET",
        help="built-in target name or path to a .toml file",
    )
    p.add_argument("--csv", required=True, metavar="IN.csv", help="input CSV (batch,m,n,k,...)")
    p.add_argument("-o", "--output", metavar="OUT.csv", help="output CSV (default: stdout)")


def run(args: argparse.Namespace) -> int:
    from tandem.gemm_csv import cost_gemm_csv

    out = None if args.output in (None, "-") else args.output
    outputs = plan_outputs(args, [("-o", out)])
    text = cost_gemm_csv(args.target, args.csv)
    if out is None:
        print(text, end="")
    else:
        outputs.write({out: text})
    return 0
