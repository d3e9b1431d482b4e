"""The evaluation pipeline of a space: a pass-pipeline template, its stages, which of them
run today, and the text for one candidate.

    stages("pad-shapes{target=$TARGET},dynaprop{tau-fwd=${plan.tau_fwd}},fuse{kernels=fused}")
    # ["pad-shapes{target=$TARGET}", "dynaprop{tau-fwd=${plan.tau_fwd}}", "fuse{kernels=fused}"]
    render(kept, target_path="/tmp/d1.toml", plan={"plan.tau_fwd": 0.06})
    # 'pad-shapes{target="/tmp/d1.toml"},dynaprop{tau-fwd=0.06}'

A stage whose pass is not registered (``passes.get_all_passes()``, asked by the caller) is
left out, so a space can name passes before they exist; ``$TARGET`` is the candidate's target
file, ``$CLUSTER`` the space's cluster, ``${plan.x}`` a plan parameter's value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

from ir.errors import TandemError

PLAN_REF = re.compile(r"\$\{(plan\.[A-Za-z0-9_]+)\}")


def stages(pipeline: str) -> list[str]:
    """Top-level stages of a pipeline (commas inside ``{...}`` or quotes do not split)."""
    out: list[str] = []
    cur: list[str] = []
    depth, quote = 0, ""
    for ch in pipeline:
        if quote:
            quote = "" if ch == quote else quote
        elif ch in "\"'":
            quote = ch
        elif ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
        elif ch == "," and depth == 0:
            out.append("".join(cur).strip())
            cur = []
            continue
        cur.append(ch)
    if depth or quote:
        raise TandemError(f"pipeline {pipeline!r}: unbalanced braces or quotes")
    last = "".join(cur).strip()
    return [s for s in (*out, last) if s]


def stage_name(stage: str) -> str:
    return stage.split("{", 1)[0].strip()


def split_available(pipeline: str, available: Iterable[str]) -> tuple[list[str], list[str]]:
    """(stages whose pass is registered, names of the stages left out)."""
    names = set(available)
    kept: list[str] = []
    skipped: list[str] = []
    for s in stages(pipeline):
        (kept if stage_name(s) in names else skipped).append(s)
    return kept, [stage_name(s) for s in skipped]


def plan_names(kept: list[str]) -> set[str]:
    """The plan parameters (``plan.x``) the kept stages use."""
    return {m for s in kept for m in PLAN_REF.findall(s)}


def uses_target(kept: list[str]) -> bool:
    return any("$TARGET" in s for s in kept)


def render(
    kept: list[str], *, target_path: str = "", cluster: str = "", plan: dict[str, Any] | None = None
) -> str:
    """The pipeline text of one candidate."""
    plan = plan or {}

    def value(m: re.Match[str]) -> str:
        return str(plan[m.group(1)])

    text = ",".join(kept)
    text = PLAN_REF.sub(value, text)
    return text.replace("$TARGET", f'"{target_path}"').replace("$CLUSTER", f'"{cluster}"')
