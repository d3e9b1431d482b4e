"""Writing output files: atomically, so a failed command leaves nothing half-written."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from ir.errors import TandemError


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
