"""`tandem targets [--json]`: the built-in hardware targets and clusters with key numbers."""

from __future__ import annotations

import argparse
import json
from typing import TYPE_CHECKING, Any

from ir.text import si, table

if TYPE_CHECKING:
    from backends.targets import Cluster, Target

HELP = "list the built-in hardware targets and clusters"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", action="store_true", help="print JSON")


def target_facts(t: Target) -> dict[str, Any]:
    """Key numbers of a target: peaks (FLOP/s), bandwidth (bytes/s), capacity (bytes), units."""
    return {**t.facts(), "units": t.compute_units()}


def cluster_facts(c: Cluster) -> dict[str, Any]:
    return {
        "name": c.name,
        "kind": "cluster",
        "description": c.description,
        "device": c.device,
        "gpus_per_node": c.gpus_per_node,
        "max_nodes": c.max_nodes,
        "intra_node_bandwidth": c.intra_node.bandwidth,
        "inter_node_bandwidth": c.inter_node.bandwidth,
    }


def run(args: argparse.Namespace) -> int:
    from backends.targets import cluster_names, load_cluster, load_target, target_names

    targets = [target_facts(load_target(n)) for n in target_names()]
    clusters = [cluster_facts(load_cluster(n)) for n in cluster_names()]
    if args.json:
        print(json.dumps({"targets": targets, "clusters": clusters}, indent=1))
        return 0
    rows = []
    for t in targets:
        peaks = t["peak_flops"]
        main = "f16" if "f16" in peaks else next(iter(peaks))
        rows.append(
            [
                t["name"],
                t["kind"],
                si(peaks[main], "FLOP/s") + f" {main}",
                si(t["mem_bandwidth"], "B/s"),
                si(t["mem_capacity"], "B"),
                ",".join(_compact_units(t["units"])),
            ]
        )
    print(table(["target", "kind", "peak", "bandwidth", "memory", "units"], rows, right=[2, 3, 4]))
    print()
    rows = [
        [
            c["name"],
            c["device"],
            str(c["gpus_per_node"]),
            si(c["intra_node_bandwidth"], "B/s"),
            si(c["inter_node_bandwidth"], "B/s"),
        ]
        for c in clusters
    ]
    print(table(["cluster", "device", "GPUs/node", "intra-node", "inter-node (per GPU)"], rows))
    print(
        "\nUse a name with --target, or copy a .toml file from backends/targets/ and pass its path."
    )
    return 0


def _compact_units(units: list[str]) -> list[str]:
    """["tc0", ..., "tc7", "vc0", "vc1"] -> ["tc0-7", "vc0-1"]."""
    out: list[str] = []
    groups: dict[str, list[str]] = {}
    for u in units:
        base = u.rstrip("0123456789")
        if base != u:
            groups.setdefault(base, []).append(u[len(base) :])
            if len(groups[base]) == 1:
                out.append(base)
        else:
            out.append(u)
    return [f"{u}{groups[u][0]}-{groups[u][-1]}" if u in groups else u for u in out]
