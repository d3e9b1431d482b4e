"""Arguments and helpers shared by commands that take a model."""

from __future__ import annotations

import argparse
import math
import os
import warnings
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ir.errors import TandemError
from tandem.files import Outputs

if TYPE_CHECKING:
    from xdsl.dialects.builtin import ModuleOp

    from frontends.zoo import ModelSpec, Overrides

OVERRIDES = ["layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq", "batch"]
OVERRIDE_HELP = {
    "layers": "number of transformer blocks",
    "hidden": "hidden size h",
    "heads": "attention heads a",
    "kv_heads": "key/value heads (grouped-query attention)",
    "ffn": "FFN (MLP) width",
    "vocab": "vocabulary size v",
    "seq": "sequence length s",
    "batch": "batch (microbatch) size b",
}


def add_model_arguments(p: argparse.ArgumentParser, *, mlir: bool = False) -> None:
    what = "MODEL (zoo name, path/to/file.py:factory" + (", or a .mlir file)" if mlir else ")")
    p.add_argument("model", metavar="MODEL", help=what)
    p.add_argument(
        "--training", action="store_true", help="forward + loss + backward instead of forward only"
    )
    add_override_arguments(p)


def add_override_arguments(
    p: argparse.ArgumentParser, *, prefix: str = "", dtype_help: str = "parameter dtype"
) -> None:
    """The zoo shape overrides (`--layers`, `--hidden`, ...) and `--dtype`."""
    for name in OVERRIDES:
        p.add_argument(
            f"--{name.replace('_', '-')}",
            type=_positive,
            dest=name,
            metavar="N",
            help=prefix + OVERRIDE_HELP[name],
        )
    p.add_argument("--dtype", choices=["f32", "f16", "bf16"], help=dtype_help)


def _positive(text: str) -> int:
    try:
        v = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if v <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {v}")
    return v


def non_negative_int(text: str) -> int:
    """argparse type: an integer >= 0."""
    try:
        v = int(text)
    except ValueError:
        v = -1
    if v < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return v


def positive_float(text: str) -> float:
    """argparse type: a finite number > 0 (not nan, not inf)."""
    try:
        v = float(text)
    except ValueError:
        v = math.nan
    if not (math.isfinite(v) and v > 0):
        raise argparse.ArgumentTypeError(f"expected a finite positive number, got {text!r}")
    return v


def add_checkpoint_argument(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--checkpoint",
        metavar="FILE",
        help="load these weights (a PyTorch state dict of the same architecture) first",
    )


def apply_checkpoint(args: argparse.Namespace, spec: ModelSpec) -> None:
    """Load `--checkpoint` into the model, if given."""
    path = getattr(args, "checkpoint", None)
    if path:
        from frontends.checkpoint import load_checkpoint

        load_checkpoint(spec.module, path)


def overrides_from(args: argparse.Namespace) -> Overrides:
    from frontends.zoo import Overrides

    return Overrides(
        **{k: getattr(args, k, None) for k in OVERRIDES}, dtype=getattr(args, "dtype", None)
    )


def is_mlir(model: str) -> bool:
    return model.endswith(".mlir")


def load_spec(args: argparse.Namespace, *, device: str = "meta") -> ModelSpec:
    """The model of the command line; on `meta` (shapes only) unless real weights are needed."""
    from frontends.user_model import resolve_model
    from frontends.zoo import model_names

    model = args.model
    if (
        isinstance(model, str)
        and model.strip().lower() not in model_names()
        and os.path.exists(model)
        and not model.endswith((".py", ".mlir"))
    ):
        what = "a directory" if os.path.isdir(model) else "a file"
        raise TandemError(
            f"{model}: is {what}, not a model; expected a zoo name, path/to/file.py:factory "
            f"or a .mlir file"
        )
    quiet()
    return resolve_model(model, overrides_from(args), training=args.training, device=device)


def loss_note(spec: ModelSpec) -> str | None:
    """Which training loss a user model got (`frontends/adapt.py`), for the report."""
    return spec.config.get("loss") if spec.training else None


def load_ir(args: argparse.Namespace, *, device: str = "meta") -> ModuleOp:
    """The model as tfm IR: parsed from a .mlir file, or imported from a model."""
    if is_mlir(args.model):
        from ir.io import read_module

        if any(getattr(args, k, None) for k in OVERRIDES + ["dtype"]):
            raise TandemError("shape overrides apply to models, not to .mlir files")
        return read_module(args.model)
    from frontends.importer import import_model

    return import_model(load_spec(args, device=device))


def quiet() -> None:
    """Silence library chatter (transformers, torch deprecations) on the terminal."""
    import logging

    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    # torch.export logs failed guards (with graph dumps) itself; our one error line says it
    logging.getLogger("torch").setLevel(logging.CRITICAL)
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.set_verbosity_error()
    except ImportError:
        pass


def input_files(args: argparse.Namespace) -> list[str]:
    """The files a command reads: the model (.mlir, or the .py of file.py:factory), a target
    or cluster .toml and a CSV given as paths, a checkpoint and an inputs file. Outputs may
    never be one of them."""
    files: list[str] = []
    model = getattr(args, "model", None)
    if isinstance(model, str):
        if ".py:" in model:
            files.append(model.rpartition(":")[0])
        elif model.endswith((".py", ".mlir")):
            files.append(model)
    for key in ("target", "cluster", "csv"):
        value = getattr(args, key, None)
        if isinstance(value, str) and (key == "csv" or value.endswith(".toml") or os.sep in value):
            files.append(value)
    for key in ("checkpoint", "inputs"):  # weights and data files (`tandem sparsity`)
        value = getattr(args, key, None)
        if isinstance(value, str):
            files.append(value)
    return files


def plan_outputs(args: argparse.Namespace, named: Sequence[tuple[str, str | None]]) -> Outputs:
    """Check every output file `(option, path)` before any work (tandem.files.Outputs)."""
    out = Outputs(inputs=input_files(args))
    for option, path in named:
        out.add(path, option)
    return out
