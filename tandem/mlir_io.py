"""Reading and writing tfm modules: clear diagnostics in, nothing half-written out."""

from __future__ import annotations

import io
import os
import tempfile
from pathlib import Path

from xdsl.context import Context
from xdsl.dialects.builtin import ModuleOp
from xdsl.parser import Parser
from xdsl.printer import Printer
from xdsl.utils.exceptions import DiagnosticException, ParseError, VerifyException

from ir.tfm import make_context
from tandem.errors import TandemError


def parse_error_line(path: str, exc: ParseError) -> str:
    """`file:line:col: message` for a parse error."""
    try:
        line, col = exc.span.get_location()[1:3] if len(exc.span.get_location()) == 3 else exc.span.get_location()[:2]
    except Exception:  # noqa: BLE001 - a location is a courtesy
        return f"{path}: {exc.msg}"
    return f"{path}:{line}:{col}: {exc.msg}"


def parse_text(text: str, path: str = "<input>", ctx: Context | None = None, verify: bool = True) -> ModuleOp:
    ctx = ctx or make_context()
    try:
        module = Parser(ctx, text, path).parse_module()
    except ParseError as exc:
        raise TandemError(parse_error_line(path, exc)) from exc
    if verify:
        verify_module(module, path)
    return module


def verify_module(module: ModuleOp, path: str = "<input>") -> None:
    try:
        module.verify()
    except (VerifyException, DiagnosticException) as exc:
        first = next((ln.strip() for ln in str(exc).splitlines() if ln.strip() and "^^^" not in ln), str(exc))
        raise TandemError(f"{path}: invalid IR: {first}") from exc


def read_module(path: str | Path, ctx: Context | None = None, verify: bool = True) -> ModuleOp:
    p = Path(path)
    if not p.is_file():
        raise TandemError(f"{p}: no such file")
    return parse_text(p.read_text(), str(p), ctx, verify)


def print_module(module: ModuleOp, generic: bool = False) -> str:
    out = io.StringIO()
    Printer(stream=out, print_generic_format=generic).print_op(module)
    out.write("\n")
    return out.getvalue()


def write_text(path: str | Path | None, data: str | bytes) -> None:
    """Write `data` (text or bytes) to `path` atomically (temp file + rename), so a failure
    leaves nothing half-written; text goes to stdout when path is None or '-'."""
    if path is None or str(path) == "-":
        print(data if isinstance(data, str) else data.decode(), end="")
        return
    p = Path(path)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise TandemError(f"{p}: directory {folder} does not exist")
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; a written file gets the usual mode
    try:
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
