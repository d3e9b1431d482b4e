"""`tandem import MODEL -o out.mlir`: a model as tfm IR.

MODEL is a zoo name, `file.py:factory`, or a `.mlir` file in torch-mlir's `torch` dialect
(what `torch_mlir.fx.export_and_import(..., output_type="torch")` prints). `--via torch-mlir`
exports a model with torch-mlir's fx importer instead of Tandem's own torch.export capture.
"""

from __future__ import annotations

import argparse

from ir.errors import TandemError
from ir.io import print_module
from tandem.commands.common import (
    OVERRIDES,
    add_model_arguments,
    is_mlir,
    load_spec,
    loss_note,
    plan_outputs,
)

HELP = "import a model (zoo name, file.py:factory, or a torch-dialect .mlir file) into tfm IR"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument("-o", "--output", help="output .mlir file (default: stdout)")
    p.add_argument("--generic", action="store_true", help="print the generic MLIR form")
    p.add_argument(
        "--via",
        choices=["torch-export", "torch-mlir"],
        default="torch-export",
        help="frontend for models: Tandem's torch.export capture (default) or torch-mlir's fx importer "
        "(forward graphs only)",
    )


def run(args: argparse.Namespace) -> int:
    out = plan_outputs(args, [("-o", args.output)])
    note = None
    if is_mlir(args.model):
        ir = _from_file(args)
    elif args.via == "torch-mlir":
        from frontends.torch_mlir_import import TRAINING_UNSUPPORTED, import_via_torch_mlir

        if args.training:
            raise TandemError(TRAINING_UNSUPPORTED)
        spec = load_spec(args)
        ir = import_via_torch_mlir(spec.module, spec.example_inputs).ir
    else:
        from frontends.importer import import_model

        spec = load_spec(args)
        ir = import_model(spec)
        note = loss_note(spec)
    text = print_module(ir, generic=args.generic)
    if note:
        text = f"// training loss: {note}\n{text}"
    if args.output in (None, "-"):
        print(text, end="")
    else:
        out.write({args.output: text})
    return 0


def _from_file(args: argparse.Namespace):
    """tfm IR of a .mlir file: torch dialect is translated, tfm IR is read as it is."""
    from frontends.torch_mlir_import import import_torch_mlir, is_torch_dialect
    from ir.io import parse_text
    from ir.source import read_text

    if any(getattr(args, k, None) for k in OVERRIDES + ["dtype"]):
        raise TandemError("shape overrides apply to models, not to .mlir files")
    if args.training:
        raise TandemError(
            f"{args.model}: a .mlir file holds one graph; --training applies to models"
        )
    text = read_text(args.model, "MLIR")
    if is_torch_dialect(text):
        return import_torch_mlir(text, args.model).ir
    return parse_text(text, args.model)
