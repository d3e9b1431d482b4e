"""Reading inputs and writing outputs, so a failed command leaves nothing behind.

Every command plans its output files before doing any work and writes them all at the end:

    out = Outputs(inputs=[args.model, args.target])
    out.add(args.output, "-o")             # checked now: directory, writable, not an input, once
    out.add(args.trace, "--trace")
    ...                                     # the slow work
    out.write({args.output: text, args.trace: trace_json})   # temp files, then renames

A file is written to a temporary file in its directory and renamed over the target only when
every output was written, so an error (or Ctrl-C) leaves neither a partial file nor half of
the outputs. Devices and pipes (`/dev/null`, `/dev/stdout`) are written in place, first.
`-` (or no path) means stdout.
"""

from __future__ import annotations

import json
import math
import os
import stat
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path

from ir.errors import TandemError
from ir.source import read_text

__all__ = [
    "Outputs",
    "catch_interrupts",
    "interrupted",
    "json_text",
    "read_input",
    "write_text",
]

_INTERRUPTED = False


def _on_sigint(signum: int, frame: object) -> None:
    global _INTERRUPTED
    _INTERRUPTED = True
    raise KeyboardInterrupt


def catch_interrupts() -> None:
    """Remember every Ctrl-C (then raise KeyboardInterrupt as usual): a library that swallows
    the exception, or turns it into another (transformers' lazy imports do), cannot hide it
    from `interrupted()`, and `Outputs.write` then writes nothing."""
    import signal
    import threading

    global _INTERRUPTED
    _INTERRUPTED = False
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGINT, _on_sigint)


def interrupted() -> bool:
    """Whether Ctrl-C was pressed since `catch_interrupts()`."""
    return _INTERRUPTED


def _strerror(e: OSError) -> str:
    return e.strerror or type(e).__name__


def _identity(path: str) -> tuple[str, tuple[int, int] | None]:
    """The real path, and (device, inode) when the file exists (hard links are the same file)."""
    real = os.path.realpath(path)
    try:
        st = os.stat(real)
    except OSError:
        return real, None
    return real, (st.st_dev, st.st_ino)


class Outputs:
    """The output files of one command: checked when added, written together by `write`."""

    def __init__(self, inputs: Iterable[str | os.PathLike | None] = ()) -> None:
        self.paths: dict[str, str] = {}  # path -> the option that named it
        self.ids: dict[str, tuple[str, tuple[int, int] | None]] = {}
        self.inputs = {
            _identity(str(p))
            for p in inputs
            if p is not None and str(p) not in ("", "-") and Path(str(p)).exists()
        }

    def add(self, path: str | os.PathLike | None, option: str = "-o") -> str | None:
        """Check an output path now (None and '-' are stdout); the path, or None for stdout."""
        if path is None:
            return None
        p = str(path)
        if p == "-":
            return None
        if not p.strip():
            raise TandemError(f"{option}: empty output path")
        ident = _identity(p)
        real, inode = ident
        for other, opt in self.paths.items():
            o_real, o_inode = self.ids[other]
            if real == o_real or (inode is not None and inode == o_inode):
                raise TandemError(
                    f"{p}: named by both {opt} and {option}; give two different files"
                )
        if any(real == r or (inode is not None and inode == i) for r, i in self.inputs):
            raise TandemError(
                f"{p}: is an input of this command; refusing to overwrite it ({option})"
            )
        _check_writable(p)
        self.paths[p] = option
        self.ids[p] = ident
        return p

    def write(self, files: Mapping[str | None, str | bytes]) -> None:
        """Write every planned file: devices first, then temp files renamed over the targets."""
        if interrupted():
            raise KeyboardInterrupt
        items = [(p, d) for p, d in files.items() if p is not None and p != "-"]
        for p, _ in items:
            if p not in self.paths:
                raise TandemError(f"{p}: output was not planned (tandem bug)")
        special = [(p, d) for p, d in items if _is_special(p)]
        regular = [(p, d) for p, d in items if not _is_special(p)]
        for p, data in special:
            try:
                with open(p, "wb" if isinstance(data, bytes) else "w") as f:
                    f.write(data)
            except OSError as e:
                raise TandemError(f"{p}: cannot write: {_strerror(e)}") from None
        temps: list[tuple[str, str]] = []
        try:
            for p, data in regular:
                temps.append((_write_temp(p, data), p))
            for tmp, p in temps:
                os.replace(tmp, p)
        except OSError as e:
            raise TandemError(f"{p}: cannot write: {_strerror(e)}") from None
        finally:
            for tmp, _ in temps:
                Path(tmp).unlink(missing_ok=True)


def _is_special(path: str) -> bool:
    """An existing file that is not a regular file (a device, a pipe): written in place."""
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)


def _folder(path: str) -> Path:
    parent = Path(path).parent
    return parent if str(parent) else Path(".")


def _check_writable(path: str) -> None:
    """A directory, a missing or unwritable folder: one error now, before any work."""
    p = Path(path)
    if p.is_dir():
        raise TandemError(f"{path}: is a directory; give a file name")
    folder = _folder(path)
    if not folder.exists():
        raise TandemError(f"{path}: directory {folder} does not exist")
    if not folder.is_dir():
        raise TandemError(f"{path}: {folder} is not a directory")
    if _is_special(path):
        if not os.access(path, os.W_OK):
            raise TandemError(f"{path}: cannot write: permission denied")
        return
    try:  # proves the folder takes new files (read-only file systems, /proc, permissions)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".tmp")
        os.close(fd)
        os.unlink(tmp)
    except OSError as e:
        raise TandemError(f"{path}: cannot write in {folder}: {_strerror(e)}") from None


def _write_temp(path: str, data: str | bytes) -> str:
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=_folder(path), prefix=f".{p.name}.", suffix=".tmp")
    umask = os.umask(0)
    os.umask(umask)
    try:
        os.fchmod(fd, 0o666 & ~umask)  # mkstemp creates 0600; a written file gets the usual mode
        with os.fdopen(fd, "wb" if isinstance(data, bytes) else "w") as f:
            f.write(data)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return tmp


def write_text(path: str | Path | None, data: str | bytes) -> None:
    """Write one output (checked, then atomic); text goes to stdout when path is None or '-'."""
    if path is None or str(path) == "-":
        print(data if isinstance(data, str) else data.decode(), end="")
        return
    out = Outputs()
    out.add(path)
    out.write({str(path): data})


def read_input(path: str | os.PathLike, what: str = "input") -> str:
    """The text of an input file (`ir.io.read_text`: one clear error for a missing file, a
    directory, an unreadable or non-UTF-8 file)."""
    return read_text(str(path), what)


def _finite(value: object, where: str) -> object:
    if isinstance(value, float) and not math.isfinite(value):
        raise TandemError(
            f"result {where} is {value}: not a finite number (check the target's values)"
        )
    if isinstance(value, dict):
        return {k: _finite(v, f"{where}.{k}" if where else str(k)) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def json_text(data: object, *, indent: int | None = 2, compact: bool = False) -> str:
    """JSON that any parser reads: a non-finite number (NaN, Infinity) is an error naming it."""
    checked = _finite(data, "")
    if compact:
        return json.dumps(checked, separators=(",", ":"), allow_nan=False)
    return json.dumps(checked, indent=indent, allow_nan=False)
