"""`tandem verify MODEL [--training] [-p PIPELINE] [--via torch-mlir] [--checkpoint FILE]`: the IR
computes what PyTorch computes. With `dynaprop{...}` in the pipeline, PyTorch runs under the
DynaProp runtime with the same settings (`frontends.dynaprop`).

Verify runs the model with real weights on the CPU (PyTorch eager and the reference
interpreter): a zoo model too big for this machine's memory is refused up front, naming the
memory it would need.
"""

from __future__ import annotations

import argparse

from ir.errors import TandemError
from tandem.commands.common import (
    add_checkpoint_argument,
    add_model_arguments,
    apply_checkpoint,
    load_spec,
    loss_note,
    positive_float,
)
from tandem.files import json_text

HELP = "import (and optionally transform) a model, run it on the reference interpreter, compare with PyTorch"

# memory verify needs, in multiples of the weights' bytes (a rough floor, activations aside):
# inference holds the weights once plus outputs; training also the gradients of PyTorch eager
# and of the interpreter, and autograd's saved tensors
_WEIGHT_COPIES = {False: 1.5, True: 4.0}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument("-p", "--passes", default="", help="pass pipeline to apply before comparing")
    p.add_argument(
        "--rtol",
        type=positive_float,
        default=None,
        help="tolerance on the relative error, a positive number (default 1e-4 f32, 2e-2 f16/bf16)",
    )
    p.add_argument("--json", action="store_true", help="print the comparison as JSON")
    add_checkpoint_argument(p)
    p.add_argument(
        "--via",
        choices=["torch-export", "torch-mlir"],
        default="torch-export",
        help="import route (torch-mlir: forward graphs only)",
    )


def available_memory() -> int | None:
    """Bytes of memory this machine can still give (Linux MemAvailable), or None."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def check_memory(args: argparse.Namespace) -> None:
    """Refuse a zoo model whose real weights would not fit, before building it."""
    from frontends.user_model import is_user_spec

    if is_user_spec(args.model):
        return  # the factory builds it as it likes
    from ir.text import si

    meta = load_spec(args, device="meta")
    weight_bytes = sum(p.numel() * p.element_size() for p in meta.module.parameters())
    need = int(weight_bytes * _WEIGHT_COPIES[bool(args.training)])
    have = available_memory()
    if have is not None and need > have:
        raise TandemError(
            f"verify runs {args.model} with real weights on the CPU: "
            f"{si(meta.config.get('params', 0))} parameters need about {si(need, 'B')} "
            f"({si(weight_bytes, 'B')} of weights{', gradients' if args.training else ''} and "
            f"activations), but only {si(have, 'B')} is available; verify a smaller "
            f"configuration (--layers, --hidden, a -tiny model) or use a shape-only command "
            f"(flops, import, compile)"
        )


def run(args: argparse.Namespace) -> int:
    check_memory(args)
    try:
        spec = load_spec(args, device="cpu")
        apply_checkpoint(args, spec)
        from frontends.trace import user_code
        from tandem.api import verify

        with user_code():
            report = verify(spec, pipeline=args.passes, rtol=args.rtol, via=args.via)
    except MemoryError:
        raise TandemError(
            f"out of memory verifying {args.model} with real weights on the CPU; verify a "
            f"smaller configuration (--layers, --hidden, a -tiny model)"
        ) from None
    except RuntimeError as exc:  # torch's allocator raises RuntimeError, not MemoryError
        if "allocate" not in str(exc).lower():
            raise
        raise TandemError(
            f"out of memory verifying {args.model} with real weights on the CPU "
            f"({' '.join(str(exc).split())[:120]}); verify a smaller configuration"
        ) from None
    loss = loss_note(spec)
    if args.json:
        data: dict[str, object] = {
            "ok": report.ok,
            "rtol": report.rtol,
            "max_abs": _number(report.max_abs),
            "max_rel": _number(report.max_rel),
            "tensors": [
                {"name": c.name, "max_abs": _number(c.max_abs), "max_rel": _number(c.max_rel)}
                for c in report.comparisons
            ],
        }
        if loss:
            data["loss"] = loss
        print(json_text(data))
    else:
        worst = report.worst
        print(
            f"{spec.name} ({'training' if spec.training else 'inference'}): compared {len(report.comparisons)} tensors"
        )
        if loss:
            print(f"  training loss: {loss}")
        print(
            f"  max abs error {report.max_abs:.3e}   max rel error {report.max_rel:.3e}   tolerance {report.rtol:.1e}"
        )
        if worst is not None:
            print(f"  worst: {worst.name}")
        print("  PASS" if report.ok else "  FAIL")
    return 0 if report.ok else 1


def _number(x: float) -> float | None:
    """A finite error, or null (NaN/infinity: the IR computed no number, a failure)."""
    import math

    return x if math.isfinite(x) else None
