"""Write docs/tfm-dialect.md from the op definitions (their docstrings carry an IR example).

    python docs/gen_dialect_doc.py     # or: make docs

The file is generated, not committed: adding an op never means editing the reference by hand.
"""

from __future__ import annotations

import inspect
import sys
from pathlib import Path

from ir.tfm import TFM

OUT = Path(__file__).with_name("tfm-dialect.md")


def render() -> str:
    lines = [
        "# The tfm dialect",
        "",
        "Generated from the op definitions by `python docs/gen_dialect_doc.py`; do not edit by hand.",
        "Values are builtin ranked tensors with static shapes. Properties print inside the",
        "attribute dictionary; `layer` and `phase` are discardable attributes set by the importer.",
        "",
    ]
    for op in sorted(TFM.operations, key=lambda o: o.name):
        doc = inspect.cleandoc(op.__doc__ or "").splitlines()
        example = [ln.strip() for ln in doc if ln.strip().startswith("%")]
        summary = [ln for ln in doc if not ln.strip().startswith("%")]
        lines += [f"## `{op.name}`", "", " ".join(s for s in summary if s).strip(), ""]
        if example:
            lines += ["```mlir", *example, "```", ""]
    return "\n".join(lines).rstrip() + "\n"


def main() -> int:
    OUT.write_text(render())
    print(f"wrote {OUT}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
