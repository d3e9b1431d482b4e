"""`tandem verify MODEL [--training] [-p PIPELINE] [--via torch-mlir] [--checkpoint FILE]`: the IR
computes what PyTorch computes. With `dynaprop{...}` in the pipeline, PyTorch runs under the
DynaProp runtime with the same settings (`frontends.dynaprop`)."""

from __future__ import annotations

import argparse

from tandem.commands.common import (
    add_checkpoint_argument,
    add_model_arguments,
    apply_checkpoint,
    load_spec,
)

HELP = "import (and optionally transform) a model, run it on the reference interpreter, compare with PyTorch"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-p", "--passes", default="", help="pass pipeline to apply before comparing")
    p.add_argument(
        "--rtol",
        type=float,
        default=None,
        help="tolerance on the relative error (default 1e-4 f32, 2e-2 f16/bf16)",
    )
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_checkpoint_argument(p)
    p.add_argument(
        "--via",
        choices=["torch-export", "torch-mlir"],
        default="torch-export",
        help="import route (torch-mlir: forward graphs only)",
    )


def run(args: argparse.Namespace) -> int:
    spec = load_spec(args, device="cpu")
    apply_checkpoint(args, spec)
    from tandem.api import verify

    report = verify(spec, pipeline=args.passes, rtol=args.rtol, via=args.via)
    if args.json:
        import json

        print(
            json.dumps(
                {
                    "ok": report.ok,
                    "rtol": report.rtol,
                    "max_abs": report.max_abs,
                    "max_rel": report.max_rel,
                    "tensors": [
                        {"name": c.name, "max_abs": c.max_abs, "max_rel": c.max_rel}
                        for c in report.comparisons
                    ],
                },
                indent=2,
            )
        )
    else:
        worst = report.worst
        print(
            f"{spec.name} ({'training' if spec.training else 'inference'}): compared {len(report.comparisons)} tensors"
        )
        print(
            f"  max abs error {report.max_abs:.3e}   max rel error {report.max_rel:.3e}   tolerance {report.rtol:.1e}"
        )
        if worst is not None:
            print(f"  worst: {worst.name}")
        print("  PASS" if report.ok else "  FAIL")
    return 0 if report.ok else 1
