"""`tandem flops MODEL|in.mlir [--training] [--json]`: FLOPs and bytes by op kind."""

from __future__ import annotations

import argparse
import json

from tandem.commands.common import add_model_arguments, load_ir

HELP = "count FLOPs and bytes by op kind (matmul/attention figures comparable with torch's FlopCounterMode)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from backends.flops import count_module
    from tandem.report import si, table

    totals = count_module(load_ir(args))
    if args.json:
        print(json.dumps(totals.to_json(), indent=2))
        return 0
    rows = [[kind, str(v["ops"]), si(v["flops"], "FLOP"), si(v["bytes"], "B")] for kind, v in sorted(totals.by_kind.items())]
    rows.append(["total", str(totals.ops), si(totals.flops, "FLOP"), si(totals.bytes, "B")])
    print(table(["op kind", "ops", "FLOPs", "bytes"], rows))
    print(f"matmul + attention FLOPs (FlopCounterMode's accounting): {totals.mm_flops:,}")
    return 0
