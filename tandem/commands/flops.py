"""`tandem flops MODEL|in.mlir [--training] [--json]`: FLOPs and bytes by op kind."""

from __future__ import annotations

import argparse

from ir.errors import TandemError
from tandem.commands.common import add_model_arguments, is_mlir, load_spec, loss_note
from tandem.files import json_text

HELP = "count FLOPs and bytes by op kind (matmul/attention figures comparable with torch's FlopCounterMode)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument("--json", action="store_true", help="print JSON")
    p.add_argument(
        "--compare-torch",
        action="store_true",
        help="also run torch's FlopCounterMode on the model (shapes only) and compare",
    )


def run(args: argparse.Namespace) -> int:
    from backends.flops import count_module
    from ir.text import si, table

    if args.compare_torch and is_mlir(args.model):
        raise TandemError("--compare-torch needs a model, not a .mlir file")
    loss = None
    if is_mlir(args.model):
        from tandem.commands.common import load_ir

        ir = load_ir(args)
    else:
        from frontends.importer import import_model

        spec = load_spec(args)
        loss = loss_note(spec)
        ir = import_model(spec)
    totals = count_module(ir)
    torch_total = None
    if args.compare_torch:
        from frontends.flop_counter import torch_flop_count

        spec = load_spec(args)  # afresh: the count swaps the weights for fake tensors
        torch_total = torch_flop_count(spec.module, spec.example_inputs, spec.training)
    if args.json:
        data = totals.to_json()
        if loss:
            data["loss"] = loss
        if torch_total is not None:
            data["torch_flop_counter_flops"] = torch_total
        print(json_text(data))
        return 0 if torch_total in (None, totals.mm_flops) else 1
    rows = [
        [kind, str(v["ops"]), si(v["flops"], "FLOP"), si(v["bytes"], "B")]
        for kind, v in sorted(totals.by_kind.items())
    ]
    rows.append(["total", str(totals.ops), si(totals.flops, "FLOP"), si(totals.bytes, "B")])
    print(table(["op kind", "ops", "FLOPs", "bytes"], rows))
    if loss:
        print(f"training loss: {loss}")
    print(f"matmul + attention FLOPs (FlopCounterMode's accounting): {totals.mm_flops:,}")
    if torch_total is None:
        return 0
    same = torch_total == totals.mm_flops
    print(
        f"torch FlopCounterMode on the model:                      {torch_total:,}  "
        f"({'equal' if same else 'DIFFERENT'})"
    )
    return 0 if same else 1
