"""Reading the text of an input file with one clear error for every way it can fail.

text = read_text("model.mlir", "MLIR")   # TandemError: "model.mlir: not UTF-8 text (...)"
"""

from __future__ import annotations

from pathlib import Path

from ir.errors import TandemError


def read_text(path: str | Path, what: str = "input") -> str:
    """The text of a file; one clear error for a missing file, a directory, a file that cannot
    be read or is not UTF-8 text. A UTF-8 byte order mark is dropped."""
    p = Path(path)
    if str(path) == "":
        raise TandemError(f"empty {what} path")
    if p.is_dir():
        raise TandemError(f"{p}: is a directory, not a {what} file")
    try:
        data = p.read_bytes()
    except FileNotFoundError:
        raise TandemError(f"{p}: no such file") from None
    except OSError as e:
        raise TandemError(f"{p}: cannot read: {e.strerror or type(e).__name__}") from None
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise TandemError(
            f"{p}: not UTF-8 text (byte {data[e.start]:#04x} at offset {e.start}); "
            f"expected a {what} file"
        ) from None
