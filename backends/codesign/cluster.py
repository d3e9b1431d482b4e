"""Co-design on a training cluster: the space's ``[placement]`` (GPUs, global batch, fixed
plan keys) and one candidate planned by the placement search.

    cluster = "dgx-a100-80gb"                 # at the top of the space file
    [placement]
    gpus = 64
    global_batch = 512
    fix = "recompute=full"                    # plan keys every candidate keeps (as tandem plan --fix)
    kernels = "fused"
    [parameters]
    "plan.t" = { choices = [1, 2, 4, 8] }     # optional: a plan key searched with the shape

Each candidate's shape goes to ``Toolchain.plan`` (``tandem.planning.plan``: every t, p, d,
microbatch, recompute, sp, vp and zero that fits, the fastest simulated event by event);
the candidate's latency is the best plan's iteration time, its throughput the plan's tokens
per second, its memory the busiest GPU's. A ``plan.<key>`` parameter fixes that key for the
candidate (``Fixed``); keys that are neither searched nor fixed are the planner's choice.
A shape no plan fits is ``infeasible`` with its memory over the GPU's; a plan key that
does not split the GPUs (t = 3 on 64 GPUs) is ``infeasible`` with a ``plan`` violation.
"""

from __future__ import annotations

import dataclasses
import functools
import math
from dataclasses import dataclass
from typing import Any

from backends.placement.plan import Fixed, parse_fix, parse_value
from backends.placement.search import NoPlan, Request, check_request
from backends.targets import Cluster, load_cluster
from ir.errors import TandemError

PLAN_KEYS = tuple(f.name for f in dataclasses.fields(Fixed))
PLAN_TOP = 3  # plans simulated event by event per candidate (the closed form ranks the rest)


@dataclass(frozen=True)
class Placement:
    """Where and how a cluster space trains: cluster, GPUs, global batch, fixed plan keys."""

    cluster: str
    gpus: int
    global_batch: int
    fixed: Fixed = Fixed()
    kernels: str = "fused"

    def request(self, fixed: Fixed | None = None) -> Request:
        return Request(
            self.cluster, self.gpus, self.global_batch, fixed or self.fixed, self.kernels
        )

    def fix_text(self) -> str:
        return ",".join(f"{k}={_text(v)}" for k, v in self.fixed.given().items())

    def to_json(self) -> dict[str, Any]:
        return {
            "cluster": self.cluster,
            "gpus": self.gpus,
            "global_batch": self.global_batch,
            "fix": self.fix_text(),
            "kernels": self.kernels,
        }


def _text(v: Any) -> str:
    return ("on" if v else "off") if isinstance(v, bool) else str(v)


@functools.cache
def cluster_of(name: str) -> Cluster:
    return load_cluster(name)


def load_placement(
    fname: str,
    cluster: str | None,
    table: dict[str, Any] | None,
    cli: dict[str, Any],
) -> Placement | None:
    """The space's placement: its ``cluster`` and ``[placement]``, overridden by the command
    line (``cli``: cluster, gpus, global_batch, fix); None for a single-device space."""
    given = {k: v for k, v in cli.items() if v not in (None, "")}
    if cluster is None and "cluster" not in given:
        if table is not None:
            raise TandemError(
                f'{fname}: [placement] needs cluster = "..." (the training cluster to plan on)'
            )
        if given:
            flags = ", ".join(f"--{k.replace('_', '-')}" for k in given)
            raise TandemError(
                f"{flags}: space {fname} has no cluster (give --cluster, or use a cluster "
                "space such as cluster-shape)"
            )
        return None
    table = dict(table or {})
    name = str(given.get("cluster", cluster))
    try:
        cl = cluster_of(name)
    except TandemError as e:
        where = "--cluster" if "cluster" in given else f"{fname}: cluster"
        raise TandemError(f"{where} {name!r} does not load: {e}") from None
    values: dict[str, Any] = {}
    for key in ("gpus", "global_batch"):
        value = given.get(key, table.get(key))
        if value is None:
            flag = "--" + key.replace("_", "-")
            raise TandemError(f"{fname}: [placement] {key} is missing (give it here or {flag})")
        values[key] = int(value)
    fix = given.get("fix", table.get("fix") or "")
    try:
        fixed = parse_fix(str(fix))
    except TandemError as e:
        raise TandemError(
            f"{fname}: [placement] fix: {e}" if "fix" not in given else str(e)
        ) from None
    kernels = str(table.get("kernels") or "fused")
    placement = Placement(name, values["gpus"], values["global_batch"], fixed, kernels)
    try:
        check_request(placement.request(), cl)
    except TandemError as e:
        shown = [f"--{k.replace('_', '-')} {given[k]}" for k in given if k != "cluster"]
        where = ", ".join(shown) if shown else f"{fname}: [placement]"
        raise TandemError(f"{where}: {e}") from None
    return placement


def device_template(fname: str, place: Placement | None) -> str:
    """A cluster space's template: the cluster's GPU (a single-device space must name one)."""
    if place is None:
        raise TandemError(f"{fname}: template is missing (a target name or .toml path)")
    return cluster_of(place.cluster).device


def check_device(fname: str, place: Placement, tdata: dict[str, Any]) -> None:
    device = cluster_of(place.cluster).device_target
    if tdata.get("name") != device.name:
        raise TandemError(
            f"{fname}: template {tdata.get('name')!r} is not the GPU of cluster "
            f"{place.cluster!r} ({device.name}): leave template out or name that GPU"
        )


def check_space(fname: str, placement: Placement, params: tuple[Any, ...], pipeline: str) -> None:
    """What a cluster space may search: model knobs and plan keys (not fixed by ``fix``);
    no hardware keys (the cluster's GPUs are given) and no pass pipeline."""
    if pipeline.strip():
        raise TandemError(
            f"{fname}: pipeline is not run on a cluster (the plan search costs the layers with "
            "its kernels preset): leave it out"
        )
    for p in params:
        where = f"{fname}: [parameters] {p.name}"
        if p.group == "hardware":
            raise TandemError(
                f"{where}: hardware keys are not searched on a cluster (its GPUs are given)"
            )
        if p.group == "model" and p.key == "batch":
            raise TandemError(f"{where}: on a cluster the batch is [placement] global_batch")
        if p.group != "plan":
            continue
        if p.key not in PLAN_KEYS:
            raise TandemError(
                f"{where} is not a plan key (expected one of: "
                + ", ".join(f"plan.{k}" for k in PLAN_KEYS)
                + ")"
            )
        if p.key in placement.fixed.given():
            raise TandemError(f"{where} is also fixed by [placement] fix / --fix: give one")
        if p.choices is None:
            raise TandemError(f"{where}: a plan key needs choices, e.g. choices = [1, 2, 4, 8]")
        for value in p.choices:
            try:
                parse_value(p.key, value)
            except TandemError as e:
                raise TandemError(f"{where}: {e}") from None


def plan_candidate(
    placement: Placement,
    toolchain: Any,
    shape: dict[str, int],
    plan_values: dict[str, Any],
    metrics: dict[str, float],
) -> tuple[str, dict[str, float], dict[str, Any], str]:
    """(status, violations, the best plan, error) of one shape; fills ``metrics``."""
    fixed = dataclasses.replace(
        placement.fixed,
        **{k.split(".", 1)[1]: parse_value(k.split(".", 1)[1], v) for k, v in plan_values.items()},
    )
    request = placement.request(fixed)
    cl = cluster_of(placement.cluster)
    capacity = cl.device_target.hbm_capacity
    try:
        check_request(request, cl)
        if fixed.p and fixed.p > shape["layers"]:
            raise TandemError(f"p={fixed.p} pipeline stages for {shape['layers']} layers")
    except TandemError as e:
        return "infeasible", {"plan": 1.0}, {}, str(e)
    try:
        best = toolchain.plan(shape, request)
    except NoPlan as e:
        if not math.isfinite(e.smallest):
            return "infeasible", {"plan": 1.0}, {}, str(e)
        metrics["memory_bytes"] = e.smallest
        return "infeasible", {"memory_bytes": e.smallest - capacity}, {}, str(e)
    metrics["latency_s"] = best["iteration_s"]
    metrics["tokens_per_s"] = best["tokens_per_s"]
    metrics["memory_bytes"] = best["memory_bytes_per_gpu"]
    metrics["mfu"] = best["mfu"]
    return "ok", {"memory_bytes": best["memory_bytes_per_gpu"] - capacity}, best, ""


def plan_text(plan: dict[str, Any]) -> str:
    """The plan's short form (``t2 p1 d32 mb4 none sp zero``), or "" when none."""
    return str(plan.get("key", ""))
