"""The `tandem` command line: one module per command under `tandem/commands/`.

Every command raises `TandemError` for bad input; `main` prints it as one line and exits 1.
Ctrl-C at any moment, start-up included, prints one line and exits 130. This module imports
only the standard library at the top, so an interrupt during start-up lands in `main` too.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

# command name -> module under tandem.commands exposing `HELP`, `add_arguments(p)` and `run(args) -> int`
COMMANDS = {
    "import": "import_",
    "verify": "verify",
    "sparsity": "sparsity",
    "flops": "flops",
    "simulate": "simulate",
    "compile": "compile",
    "plan": "plan",
    "cost": "cost",
    "advise": "advise",
    "targets": "targets",
    "codesign": "codesign",
}

INTERRUPTED = 130


def _load(module: str):
    return importlib.import_module(f"tandem.commands.{module}")


class Parser(argparse.ArgumentParser):
    """argparse with a one-line error: `error: tandem import: unrecognized arguments: --x`."""

    def error(self, message: str) -> NoReturn:
        print(f"error: {self.prog}: {message} (see '{self.prog} --help')", file=sys.stderr)
        sys.exit(2)


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="tandem", description="Co-design Transformers with hardware.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for name, module in COMMANDS.items():
        try:
            mod = _load(module)
        except ModuleNotFoundError as exc:
            if exc.name == f"tandem.commands.{module}":
                continue  # command not built yet
            raise
        p = sub.add_parser(name, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def interrupted() -> int:
    """Ctrl-C: one line on stderr, exit status 130."""
    try:
        print("interrupted", file=sys.stderr)
    except Exception:  # noqa: BLE001 - stderr gone: the exit status says it
        pass
    return INTERRUPTED


def broken_pipe() -> int:
    """`tandem import ... | head`: the reader left, which is fine."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    try:
        from tandem import files

        files.catch_interrupts()
        code = _main(argv)
        return interrupted() if files.interrupted() else code
    except KeyboardInterrupt:
        return interrupted()


def _main(argv: Sequence[str] | None) -> int:
    import warnings

    warnings.filterwarnings("ignore")  # library chatter (numpy, torch) is not for users
    from tandem.files import interrupted as was_interrupted

    args = build_parser().parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:
        if was_interrupted():  # Ctrl-C that a library turned into another error
            raise KeyboardInterrupt from None
        return _report(exc)


def _report(exc: BaseException) -> int:
    """One line on stderr for a failed command; its exit status."""
    from ir.errors import TandemError

    if isinstance(exc, TandemError):
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if isinstance(exc, BrokenPipeError):
        return broken_pipe()
    if isinstance(exc, MemoryError):
        print(
            "error: out of memory (use a smaller configuration, or a shape-only command: "
            "import, flops, simulate, compile)",
            file=sys.stderr,
        )
        return 1
    if os.environ.get("TANDEM_DEBUG"):
        raise exc
    msg = " ".join(str(exc).split())[:300]
    print(
        f"internal error: {type(exc).__name__}: {msg} (set TANDEM_DEBUG=1 for a traceback)",
        file=sys.stderr,
    )
    return 2


if __name__ == "__main__":
    sys.exit(main())
