"""Hardware targets as data: load and validate TOML files.

A target file has a top-level ``kind`` ("gpu", "acceltran" or "phaze") and kind-specific
tables (see the built-in files in this folder; clusters in ``backends/clusters/``). Every key
is checked on load: unknown keys, missing keys, wrong types and non-positive numbers raise
:class:`TandemError` with one line naming the file and the key. Units are SI throughout:
seconds, bytes, FLOP/s, bytes/s, Hz, watts, joules; areas in um^2 (per module, as published)
and mm^2 (totals).

    from backends.targets import load_target
    t = load_target("h100-sxm")       # or a path: load_target("my-gpu.toml")

Modules: ``schema.py`` (the validation language), ``specs.py`` (the four file schemas),
``models.py`` (the dataclasses), ``loader.py`` (loading by name or path).
"""

from backends.targets.loader import (
    CLUSTERS_DIR,
    TARGETS_DIR,
    cluster_names,
    load_cluster,
    load_target,
    target_names,
)
from backends.targets.models import (
    AccelTranModule,
    AccelTranTarget,
    Cluster,
    FusionParams,
    GemmParams,
    GpuTarget,
    Link,
    PhazeTarget,
    StructuredSparsity,
    Target,
    TargetBase,
)

__all__ = [
    "CLUSTERS_DIR",
    "TARGETS_DIR",
    "AccelTranModule",
    "AccelTranTarget",
    "Cluster",
    "FusionParams",
    "GemmParams",
    "GpuTarget",
    "Link",
    "PhazeTarget",
    "StructuredSparsity",
    "Target",
    "TargetBase",
    "cluster_names",
    "load_cluster",
    "load_target",
    "target_names",
]
