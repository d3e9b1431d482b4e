"""Documentation stays true: the dialect reference is regenerated from the op definitions."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_dialect_reference_is_current() -> None:
    out = subprocess.run(
        [sys.executable, "docs/gen_dialect_doc.py", "--check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert out.returncode == 0, out.stderr


def test_every_op_has_a_docstring_with_an_ir_example() -> None:
    from ir.tfm import TFM

    for op in TFM.operations:
        doc = op.__doc__ or ""
        assert op.name in doc, f"{op.name}: docstring has no IR example"
