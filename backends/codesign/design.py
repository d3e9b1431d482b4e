"""One hardware design: the template's TOML tables with some keys changed, validated as a
target, written back as a TOML file that ``tandem simulate --target`` loads.

    data = design_data(template_data, {"compute.pes": 256}, "acceltran-256")
    target = target_from_data(data, Path("acceltran-256.toml"))
    text = target_toml(data)          # load_target(path) gives the same target back
    area_of(target)                   # mm^2, or None where the target has no area model
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from backends.cost import acceltran_area, phaze_area
from backends.targets import AccelTranTarget, PhazeTarget, Target
from backends.targets.loader import target_from_data
from ir.errors import TandemError


def set_key(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` with ``a.b.c`` set (tables along the path copied, not shared).

    A value for a key the template holds as an integer stays an integer (2.0 -> 2).
    """
    head, _, rest = dotted.partition(".")
    out = dict(data)
    if rest:
        sub = out.get(head)
        if not isinstance(sub, dict):
            raise TandemError(f"{dotted}: {head} is not a table of the template")
        out[head] = set_key(sub, rest, value)
        return out
    old = out.get(head)
    if isinstance(old, int) and not isinstance(old, bool) and isinstance(value, float):
        if value.is_integer():
            value = int(value)
    out[head] = value
    return out


def design_data(template: dict[str, Any], values: dict[str, Any], name: str) -> dict[str, Any]:
    """The template's tables with ``values`` (dotted keys) applied and the design's name."""
    data = copy.deepcopy(template)
    for key, value in values.items():
        data = set_key(data, key, value)
    data["name"] = name
    changed = ", ".join(f"{k}={v}" for k, v in values.items())
    base = str(template.get("name", "template"))
    data["description"] = (
        f"co-design of {base}: {changed}" if changed else str(template.get("description", ""))
    )
    return data


def build_target(
    template: dict[str, Any], template_path: str, values: dict[str, Any], name: str
) -> Target:
    """Validate the design (every key, as when loading a file) and build its target."""
    data = design_data(template, values, name)
    return target_from_data(data, Path(template_path).with_name(f"{name}.toml"))


def area_of(target: Target) -> float | None:
    """Chip area in mm^2 (AccelTran: modules and buffers; PHAZE: its [area] model)."""
    if isinstance(target, AccelTranTarget):
        return acceltran_area(target)["total"]
    if isinstance(target, PhazeTarget):
        area = phaze_area(target)
        return None if area is None else area["total"]
    return None


# ---------------------------------------------------------------------------------------- TOML


def _scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        if not math.isfinite(v):
            raise TandemError(f"cannot write {v!r} to a target file")
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(_scalar(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{_key(k)} = {_scalar(x)}" for k, x in v.items()) + " }"
    raise TandemError(f"cannot write {type(v).__name__} to a target file")


def _key(k: str) -> str:
    return k if k.replace("_", "").replace("-", "").isalnum() else _scalar(k)


def target_toml(data: dict[str, Any], header: str = "") -> str:
    """TOML text of a target's tables: top-level values, then one [table] per sub-table
    (tables inside those are written inline)."""
    lines = [f"# {line}" if line else "#" for line in header.splitlines()]
    tables = []
    for k, v in data.items():
        if isinstance(v, dict):
            tables.append((k, v))
        else:
            lines.append(f"{_key(k)} = {_scalar(v)}")
    for k, v in tables:
        lines += ["", f"[{_key(k)}]"]
        lines += [f"{_key(kk)} = {_scalar(vv)}" for kk, vv in v.items()]
    return "\n".join(lines) + "\n"
