"""`tandem import MODEL -o out.mlir`: a model as tfm IR."""

from __future__ import annotations

import argparse

from tandem.commands.common import add_model_arguments, check_output_path, load_spec
from tandem.mlir_io import print_module, write_text

HELP = "import a model (zoo name or file.py:factory) into tfm IR"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-o", "--output", help="output .mlir file (default: stdout)")
    p.add_argument("--generic", action="store_true", help="print the generic MLIR form")


def run(args: argparse.Namespace) -> int:
    from frontends.importer import import_model

    check_output_path(args.output)
    spec = load_spec(args)
    write_text(args.output, print_module(import_model(spec), generic=args.generic))
    return 0
