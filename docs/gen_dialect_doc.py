"""Write docs/tfm-dialect.md from the op definitions (their docstrings carry an IR example).

python docs/gen_dialect_doc.py          # rewrite the file
python docs/gen_dialect_doc.py --check  # exit 1 if the file is stale (run by the tests)
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
    text = render()
    if "--check" in sys.argv:
        if not OUT.exists() or OUT.read_text() != text:
            print(f"{OUT} is stale: run python docs/gen_dialect_doc.py", file=sys.stderr)
            return 1
        return 0
    OUT.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
