"""The `tandem` command line: one module per command under `tandem/commands/`.

Every command raises `TandemError` for bad input; `main` prints it as one line and exits 1.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence
from typing import NoReturn

from ir.errors import TandemError

# command name -> module under tandem.commands exposing `HELP`, `add_arguments(p)` and `run(args) -> int`
COMMANDS = {
    "import": "import_",
    "verify": "verify",
    "sparsity": "sparsity",
    "flops": "flops",
    "simulate": "simulate",
    "compile": "compile",
    "cost": "cost",
    "advise": "advise",
    "targets": "targets",
}


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


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except TandemError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `tandem import ... | head`: the reader left, which is fine
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except Exception as exc:  # noqa: BLE001 - users get one line; TANDEM_DEBUG=1 shows the trace
        if os.environ.get("TANDEM_DEBUG"):
            raise
        print(
            f"internal error: {type(exc).__name__}: {exc} (set TANDEM_DEBUG=1 for a traceback)",
            file=sys.stderr,
        )
        return 2


if __name__ == "__main__":
    sys.exit(main())
