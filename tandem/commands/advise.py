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
import json

from ir.errors import TandemError
from tandem.commands.common import add_model_arguments, is_mlir, load_ir, load_spec

HELP = "recommend hardware-friendly model shapes (vocabulary, heads, hidden, FFN, microbatch, t)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument("--target", default="a100-sxm4-40gb", help="target name or .toml (default a100-sxm4-40gb)")
    p.add_argument("--tp", type=int, default=1, metavar="T", help="tensor-parallel degree (default 1)")
    p.add_argument("--budget", type=float, default=0.05,
                   help="largest relative change in parameter count (default 0.05)")
    p.add_argument("--attention", choices=["megatron", "unfused", "flash"], default="megatron",
                   help="attention kernel model: two GEMMs + fused softmax (default), "
                        "two GEMMs + PyTorch softmax, or one flash kernel")
    p.add_argument("--max-head-dim", type=int, default=128, metavar="D",
                   help="largest head dim to recommend (default 128)")
    p.add_argument("--json", action="store_true", help="print JSON")


def run(args: argparse.Namespace) -> int:
    from backends.advisor import advise, shape_from_config, shape_from_ir
    from backends.targets import load_target

    if args.tp < 1:
        raise TandemError(f"--tp must be a positive integer, got {args.tp}")
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
    report = advise(shape, target, model=args.model, budget=args.budget, dtype=dtype,
                    training=args.training, attention=args.attention,
                    max_head_dim=args.max_head_dim)
    if args.json:
        print(json.dumps(report.to_json(), indent=2))
    else:
        print(report.table())
    return 0
