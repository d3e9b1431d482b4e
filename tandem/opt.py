"""`tandem-opt`: xDSL's opt driver with the tfm dialect and every tfm and xDSL pass.

    tandem-opt model.mlir -p 'fold-transposes,pad-shapes{target=a100-sxm4-40gb}' -o out.mlir

Errors print one `error:` line naming the input (with line:col for parse errors) and exit 1;
the output file is checked before any work and written only when everything succeeded.
Ctrl-C prints one line and exits 130. The output target is MLIR text (`-t mlir`), whatever
the file's extension.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any


def _tool_class() -> type[Any]:
    """xDSL's opt driver with tfm registered (imported late: Ctrl-C during start-up is ours)."""
    import io

    from xdsl.dialects import get_all_dialects
    from xdsl.xdsl_opt_main import xDSLOptMain

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

        def register_all_targets(self) -> None:
            """MLIR text only: the code generators (x86-asm, llvm, ...) know no tfm op."""
            super().register_all_targets()
            self.available_targets = {"mlir": self.available_targets["mlir"]}

        def prepare_input(self):
            if not self.args.frontend:
                self.args.frontend = "mlir"  # MLIR text, whatever the file is called
            return super().prepare_input()

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

    return TandemOptMain


def _describe(exc: BaseException, path: str) -> str:
    from xdsl.utils.exceptions import DiagnosticException, ParseError

    from ir.errors import one_line

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
    return f"{path}: {one_line(exc)[:300]}"


def main(argv: Sequence[str] | None = None) -> int:
    from tandem.cli import interrupted

    try:
        from tandem import files

        files.catch_interrupts()
        code = _main(list(sys.argv[1:] if argv is None else argv))
        return interrupted() if files.interrupted() else code
    except KeyboardInterrupt:
        return interrupted()


def _main(argv: list[str]) -> int:
    import warnings

    warnings.filterwarnings("ignore")
    from xdsl.utils.exceptions import ArgSpecParseError

    from ir.errors import TandemError
    from ir.source import read_text
    from tandem.files import Outputs
    from tandem.files import interrupted as files_interrupted

    tool = None
    path = _input_name(argv)
    running = False
    try:
        tool = _tool_class()(args=argv)
        if tool.args.input_file is not None:
            path = tool.args.input_file
            read_text(path, "MLIR")  # a directory, a missing or non-UTF-8 file: one line
        outputs = Outputs(inputs=[tool.args.input_file])
        output = outputs.add(tool.args.output_file, "-o")
        running = True
        tool.run()
        running = False
        text = tool.buffer.getvalue()
        if output is None:
            print(text, end="")
        else:
            outputs.write({output: text})
    except SystemExit:
        raise
    except TandemError as exc:
        if running:  # a pass's error: said of the input, like the parser's
            return _report(tool, _describe(exc, path))
        print(f"error: {exc}", file=sys.stderr)  # our own checks name the file already
        return 1
    except BrokenPipeError:
        from tandem.cli import broken_pipe

        return broken_pipe()
    except (Exception, ArgSpecParseError) as exc:  # noqa: BLE001 - one line for every failure
        if files_interrupted():
            raise KeyboardInterrupt from None
        return _report(tool, _describe(exc, path))
    return 0


def _input_name(argv: list[str]) -> str:
    """The input file named on the command line (for errors before xDSL has parsed it)."""
    import argparse
    import contextlib
    import io

    pre = argparse.ArgumentParser(add_help=False, exit_on_error=False)
    for short, long in (("-o", "--output-file"), ("-p", "--passes"), ("-t", "--target")):
        pre.add_argument(short, long)
    pre.add_argument("-f", "--frontend")
    pre.add_argument("input_file", nargs="?")
    try:
        with contextlib.redirect_stderr(io.StringIO()):
            known, _ = pre.parse_known_args(argv)
    except (argparse.ArgumentError, SystemExit):
        return "<stdin>"
    return known.input_file or "<stdin>"


def _report(tool, message: str) -> int:
    """An error line on stderr (exit 1), or on stdout with --verify-diagnostics (exit 0)."""
    if tool is not None and (tool.args.verify_diagnostics or tool.args.parsing_diagnostics):
        print(message)
        return 0
    print(f"error: {message}", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
