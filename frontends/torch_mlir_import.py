"""torch-mlir interoperability: torch-dialect MLIR in, tfm out, and a second frontend that
imports models through torch-mlir's fx importer instead of Tandem's torch.export capture.

    tr = read_torch_mlir("model.mlir")          # what torch_mlir.fx.export_and_import(..., output_type="torch") gives
    tr.ir, tr.weights                           # tfm IR; weights the file holds, by parameter name
    imported = import_via_torch_mlir(module, example_inputs)   # model -> torch-mlir -> tfm

Weights that torch-mlir freezes into `torch.vtensor.literal` (dense_resource or non-splat
dense) become function parameters (`tfm.param`), named after the resource key; through
`import_via_torch_mlir` the keys are the model's parameter names, so checkpoints map one to
one. torch-mlir's fx importer exports forward graphs only: training graphs come from the
torch.export route.
"""

from __future__ import annotations

from pathlib import Path

import torch

from frontends.importer import Imported
from frontends.torch_mlir.export import export_torch_mlir
from frontends.torch_mlir.parse import TORCH_PREFIX, parse_torch_text
from frontends.torch_mlir.translate import TorchTranslation, translate
from ir.errors import TandemError
from ir.source import read_text

TRAINING_UNSUPPORTED = (
    "torch-mlir's fx importer exports forward (inference) graphs only; "
    "import training graphs with --via torch-export (the default)"
)

__all__ = [
    "import_torch_mlir",
    "read_torch_mlir",
    "is_torch_dialect",
    "import_via_torch_mlir",
    "TorchTranslation",
    "TRAINING_UNSUPPORTED",
]


def is_torch_dialect(text: str) -> bool:
    """Whether MLIR text holds torch-dialect ops or types (rather than tfm IR)."""
    return (
        f'"{TORCH_PREFIX}' in text or f"!{TORCH_PREFIX}" in text or f" {TORCH_PREFIX}aten." in text
    )


def import_torch_mlir(
    text: str,
    path: str = "<input>",
    *,
    name: str = "forward",
    names: dict[str, str] | None = None,
    buffers=frozenset(),
) -> TorchTranslation:
    """tfm IR of torch-dialect MLIR text (the entry function `@main`, `@forward` or the first)."""
    return translate(parse_torch_text(text, path), name=name, names=names, buffers=buffers)


def read_torch_mlir(path: str | Path, *, name: str = "forward") -> TorchTranslation:
    return import_torch_mlir(read_text(path, "MLIR"), str(path), name=name)


def import_via_torch_mlir(
    module: torch.nn.Module, example_inputs: tuple, *, training: bool = False
) -> Imported:
    """Export `module` with torch-mlir (weights as named resources, no data) and translate to tfm."""
    if training:
        raise TandemError(TRAINING_UNSUPPORTED)
    exported = export_torch_mlir(module, tuple(example_inputs))
    tr = import_torch_mlir(
        exported.text, "<torch-mlir>", names=exported.names, buffers=exported.buffers
    )
    return Imported(tr.ir, exported.constants)
