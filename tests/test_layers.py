"""The layers point one way: ir <- frontends, backends <- passes <- tandem.

`ir/` is the bottom (dialect, errors, attribute names, dtypes); `frontends/` and `backends/`
use only `ir/`; `passes/` may also use `backends/` (the cost model); `tandem/` (API, command
line, text and file output) sits on top. Imports inside functions count too: a cycle dodged
with a late import is still a cycle.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("ir", "frontends", "backends", "passes", "tandem")
ALLOWED = {
    "ir": {"ir"},
    "frontends": {"ir", "frontends"},
    "backends": {"ir", "backends"},
    "passes": {"ir", "backends", "passes"},
    "tandem": set(PACKAGES),
}


def project_imports(path: Path) -> list[tuple[int, str]]:
    """(line, imported module) for every import of a project package in `path`."""
    tree = ast.parse(path.read_text(), str(path))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
        else:
            continue
        found += [(node.lineno, n) for n in names if n.split(".")[0] in PACKAGES]
    return found


def modules(package: str) -> list[Path]:
    return sorted((ROOT / package).rglob("*.py"))


@pytest.mark.parametrize("package", PACKAGES)
def test_imports_point_downward(package: str) -> None:
    bad = []
    for path in modules(package):
        for line, name in project_imports(path):
            if name.split(".")[0] not in ALLOWED[package]:
                bad.append(f"{path.relative_to(ROOT)}:{line} imports {name}")
    assert not bad, "imports against the layer order:\n" + "\n".join(bad)


def test_checker_sees_violations(tmp_path: Path) -> None:
    """The check itself: an upward import, also inside a function, is found."""
    f = tmp_path / "m.py"
    f.write_text("import os\nfrom ir import tfm\n\ndef g():\n    from tandem.cli import main\n")
    assert project_imports(f) == [(2, "ir"), (5, "tandem.cli")]
