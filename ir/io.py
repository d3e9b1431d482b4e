"""Reading and printing tfm IR text, with diagnostics that name the file, line and op.

module = parse_text(text, "model.mlir")     # parse + verify; TandemError on bad input
module = read_module("model.mlir")
text = print_module(module)                 # custom format; generic=True for MLIR tools
"""

from __future__ import annotations

import io
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from ir.errors import TandemError
from ir.source import read_text
from ir.tfm import make_context
from ir.types import check_static_type


def parse_error_line(path: str, exc: ParseError) -> str:
    """`file:line:col: message` for a parse error."""
    try:
        loc = exc.span.get_location()
        line, col = loc[1:3] if len(loc) == 3 else loc[:2]
    except Exception:  # noqa: BLE001 - a location is a courtesy
        return f"{path}: {exc.msg}"
    return f"{path}:{line}:{col}: {exc.msg}"


def parse_text(
    text: str, path: str = "<input>", ctx: Context | None = None, verify: bool = True
) -> ModuleOp:
    ctx = ctx or make_context()
    parser = None
    try:
        parser = Parser(ctx, text, path)  # lexes the first token already
        module = parser.parse_module()
    except ParseError as exc:
        raise TandemError(parse_error_line(path, exc)) from exc
    except (VerifyException, DiagnosticException) as exc:  # a property of the wrong kind
        line = _line_at(text, parser)  # the op just parsed
        raise TandemError(f"{path}:{line}: invalid IR: {_first_line(exc)}") from exc
    except Exception as exc:  # noqa: BLE001 - the parser trips on some malformed input
        line = _line_at(text, parser)
        raise TandemError(
            f"{path}:{line}: invalid IR ({type(exc).__name__}: {_first_line(exc)})"
        ) from exc
    if verify:
        verify_ir(module, path)
    return module


def _line_at(text: str, parser: Parser | None) -> int:
    pos = parser.pos if parser is not None else 0
    return text[:pos].rstrip().count("\n") + 1


def verify_ir(module: ModuleOp, path: str = "<input>") -> None:
    """Check the IR is well formed (every op's verifier); TandemError with the first problem."""
    try:
        module.verify()
        for op in module.walk():
            if isinstance(op, func.FuncOp):
                for i, t in enumerate(op.function_type.inputs.data):
                    check_static_type(t, f"@{op.sym_name.data} argument {i}")
                for i, t in enumerate(op.function_type.outputs.data):
                    check_static_type(t, f"@{op.sym_name.data} result {i}")
    except (VerifyException, DiagnosticException) as exc:
        raise TandemError(f"{path}: invalid IR: {_first_line(exc)}") from exc


def _first_line(exc: Exception) -> str:
    lines = (ln.strip() for ln in str(exc).splitlines())
    return next((ln for ln in lines if ln and "^^^" not in ln), str(exc))


def read_module(path: str | Path, ctx: Context | None = None, verify: bool = True) -> ModuleOp:
    return parse_text(read_text(path, "MLIR"), str(path), ctx, verify)


def print_module(module: ModuleOp, generic: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(module)
    out.write("\n")
    return out.getvalue()
