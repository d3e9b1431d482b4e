"""`tandem-opt`: xDSL's opt driver with the tfm dialect and every tfm and xDSL pass.

    tandem-opt model.mlir -p 'fold-transposes,pad-shapes{target=a100-sxm4-40gb}' -o out.mlir

Errors print one `error:` line (with file:line:col for parse errors) and exit 1; the output
file is written only when everything succeeded.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence

from xdsl.dialects import get_all_dialects
from xdsl.utils.exceptions import ArgSpecParseError, DiagnosticException, ParseError
from xdsl.xdsl_opt_main import xDSLOptMain

from ir.errors import TandemError, one_line


class TandemOptMain(xDSLOptMain):
    def register_all_dialects(self) -> None:
        from ir.tfm import TFM

        for name, factory in get_all_dialects().items():
            self.ctx.register_dialect(name, factory)
        self.ctx.register_dialect("tfm", lambda: TFM)

    def register_all_passes(self) -> None:
        from passes import get_all_passes

        for name, factory in get_all_passes().items():
            self.register_pass(name, factory)

    def prepare_output(self):
        """Buffer the output; `main` writes it atomically once every chunk succeeded."""
        self.buffer = io.StringIO()
        return _Unclosable(self.buffer)


class _Unclosable(io.TextIOBase):
    def __init__(self, inner: io.StringIO):
        self.inner = inner

    def write(self, s: str) -> int:
        return self.inner.write(s)

    def flush(self) -> None:
        pass


def _describe(exc: BaseException, path: str) -> str:
    if isinstance(exc, ParseError):
        from ir.io import parse_error_line

        return parse_error_line(path, exc)
    if isinstance(exc, DiagnosticException):
        boxed = [
            ln.strip().lstrip("|").strip()
            for ln in str(exc).splitlines()
            if ln.strip().startswith("|")
        ]
        if boxed:
            return f"{path}: {boxed[0].removeprefix('Operation does not verify: ')}"
    return f"{path}: {one_line(exc)}"


def main(argv: Sequence[str] | None = None) -> int:
    # the output file is ours to write (atomically, at the end): take every spelling of it
    pre = argparse.ArgumentParser(prog="tandem-opt", add_help=False)
    pre.add_argument("-o", "--output-file", dest="output")
    known, argv = pre.parse_known_args(list(sys.argv[1:] if argv is None else argv))
    output = known.output
    path = next(
        (a for a in argv if not a.startswith("-") and (a.endswith(".mlir") or a == "-")), "<stdin>"
    )
    try:
        tool = TandemOptMain(args=argv)
        tool.run()
    except SystemExit:
        raise
    except (ParseError, DiagnosticException, TandemError, Exception, ArgSpecParseError) as exc:  # noqa: BLE001
        if getattr(tool if "tool" in locals() else None, "args", None) is not None and (
            tool.args.verify_diagnostics or tool.args.parsing_diagnostics
        ):
            print(_describe(exc, path))
            return 0
        print(f"error: {_describe(exc, path)}", file=sys.stderr)
        return 1
    from tandem.files import write_text

    write_text(output, tool.buffer.getvalue())
    return 0


if __name__ == "__main__":
    sys.exit(main())
