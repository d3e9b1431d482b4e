"""Load targets and clusters by built-in name or by path, validating every key.

load_target("a100-sxm4-40gb")        # backends/targets/a100-sxm4-40gb.toml
load_target("./my-gpu.toml")         # a user's copy
load_cluster("dgx-a100")             # backends/clusters/dgx-a100.toml
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from backends.targets.models import (
    AccelTranModule,
    AccelTranTarget,
    Cluster,
    GemmParams,
    GpuTarget,
    Link,
    PhazeTarget,
    StructuredSparsity,
    Target,
)
from backends.targets.schema import check_file
from backends.targets.specs import ACCELTRAN_SCHEMA, CLUSTER_SCHEMA, GPU_SCHEMA, PHAZE_SCHEMA
from ir.errors import TandemError

TARGETS_DIR = Path(__file__).parent
CLUSTERS_DIR = Path(__file__).parent.parent / "clusters"


def _resolve(name_or_path: str, folder: Path, what: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in str(name_or_path):
        if not p.is_file():
            raise TandemError(f"{name_or_path}: no such {what} file")
        return p
    cand = folder / f"{name_or_path}.toml"
    if not cand.is_file():
        names = ", ".join(sorted(x.stem for x in folder.glob("*.toml")))
        raise TandemError(
            f"unknown {what} {name_or_path!r}; built-ins: {names}; or give a path to a .toml file"
        )
    return cand


def _read(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise TandemError(f"{path.name}: not valid TOML: {e}") from None
    except OSError as e:
        raise TandemError(f"{path}: cannot read: {e.strerror}") from None


def load_target(name_or_path: str) -> Target:
    """Load a built-in target by name (see ``target_names()``) or a .toml file by path."""
    path = _resolve(str(name_or_path), TARGETS_DIR, "target")
    data = _read(path)
    fname = path.name
    kind = data.get("kind")
    if kind is None:
        raise TandemError(f'{fname}: kind is missing (expected "gpu", "acceltran" or "phaze")')
    if kind == "gpu":
        return _gpu(check_file(GPU_SCHEMA, data, fname), path)
    if kind == "acceltran":
        return _acceltran(check_file(ACCELTRAN_SCHEMA, data, fname), path)
    if kind == "phaze":
        return _phaze(check_file(PHAZE_SCHEMA, data, fname), path)
    raise TandemError(f'{fname}: kind must be one of ["gpu", "acceltran", "phaze"], got {kind!r}')


def target_names() -> list[str]:
    """Names of the built-in targets."""
    return sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))


def load_cluster(name_or_path: str) -> Cluster:
    """Load a built-in cluster by name (see ``cluster_names()``) or a .toml file by path."""
    path = _resolve(str(name_or_path), CLUSTERS_DIR, "cluster")
    d = check_file(CLUSTER_SCHEMA, _read(path), path.name)
    try:
        device = load_target(d["device"])
        if not isinstance(device, GpuTarget):
            raise TandemError(
                f"{path.name}: device must name a gpu target, "
                f"got {d['device']!r} of kind {device.kind}"
            )
    except TandemError as e:
        raise TandemError(f"{path.name}: device {d['device']!r} does not load: {e}") from None
    return Cluster(
        name=d["name"],
        kind="cluster",
        description=d["description"],
        source=str(path),
        device=d["device"],
        device_target=device,
        gpus_per_node=d["gpus_per_node"],
        max_nodes=d["max_nodes"],
        intra_node=Link(**d["intra_node"]),
        inter_node=Link(**d["inter_node"]),
    )


def cluster_names() -> list[str]:
    """Names of the built-in clusters."""
    return sorted(p.stem for p in CLUSTERS_DIR.glob("*.toml"))


def _gpu(d: dict[str, Any], path: Path) -> GpuTarget:
    c, m, e = d["compute"], d["memory"], d["efficiency"]
    tiles = tuple((int(a), int(b)) for a, b in c["tile_shapes"])
    if len(e["tile"]) != len(tiles):
        raise TandemError(
            f"{path.name}: [efficiency] tile must have one entry per "
            f"[compute] tile_shapes entry ({len(tiles)}), got {len(e['tile'])}"
        )
    peaks = {k: v for k, v in c["peak_flops"].items() if v is not None}
    gemm = GemmParams(
        sm_count=c["sm_count"],
        tile_shapes=tiles,
        tile_eff=tuple(e["tile"]),
        k_tile=c["k_tile"],
        alignment_bytes=c["alignment_bytes"],
        gemm_max=e["gemm_max"],
        k_overhead=e["k_overhead"],
        align_k=tuple(e["align_k"]),
        align_n=tuple(e["align_n"]),
        align_m=tuple(e["align_m"]),
        gemm_memory=e["gemm_memory"],
        split_k_overhead=e["split_k_overhead"],
        max_split_k=c["max_split_k"],
    )
    mem_eff = dict(e["memory_op"])
    if "elementwise" not in mem_eff:
        raise TandemError(f"{path.name}: [efficiency] memory_op.elementwise is missing")
    return GpuTarget(
        name=d["name"],
        kind="gpu",
        description=d["description"],
        source=str(path),
        sm_count=c["sm_count"],
        clock_hz=c["clock_hz"],
        peak_flops_by_dtype=peaks,
        tile_shapes=tiles,
        k_tile=c["k_tile"],
        alignment_bytes=c["alignment_bytes"],
        launch_overhead_s=c["launch_overhead_s"],
        hbm_bandwidth=m["hbm_bandwidth"],
        hbm_capacity=m["hbm_capacity"],
        l2_bytes=m["l2_bytes"],
        gemm=gemm,
        memory_op_efficiency=mem_eff,
        calibration=dict(d["calibration"] or {}),
        structured_sparsity=_structured(d.get("sparsity"), path),
    )


def _structured(table: dict[str, Any] | None, path: Path) -> StructuredSparsity | None:
    if table is None:
        return None
    if table["speedup"] < 1.0:
        raise TandemError(
            f"{path.name}: [sparsity] speedup must be >= 1 (a sparse GEMM is never slower "
            f"than the dense one it replaces), got {table['speedup']!r}"
        )
    return StructuredSparsity(table["structured"], table["speedup"])


def _acceltran(d: dict[str, Any], path: Path) -> AccelTranTarget:
    c, b, mm, v = d["compute"], d["buffers"], d["main_memory"], d["vector"]
    return AccelTranTarget(
        name=d["name"],
        kind="acceltran",
        description=d["description"],
        source=str(path),
        pes=c["pes"],
        lanes_per_pe=c["lanes_per_pe"],
        macs_per_lane=c["macs_per_lane"],
        softmax_per_pe=c["softmax_per_pe"],
        layernorm_per_pe=c["layernorm_per_pe"],
        clock_hz=c["clock_hz"],
        tile_b=c["tile_b"],
        tile_x=c["tile_x"],
        training=c["training"],
        activation_buffer_mb=b["activation_mb"],
        weight_buffer_mb=b["weight_mb"],
        mask_buffer_mb=b["mask_mb"],
        buffer_area_mm2_per_mb=b["area_mm2_per_mb"],
        buffer_leakage_mw_per_mb=b["leakage_mw_per_mb"],
        buffer_access_nj_per_64b_per_sqrt_mb=b["access_nj_per_64b_per_sqrt_mb"],
        main_memory_type=mm["type"],
        main_memory_bandwidth=mm["bandwidth"],
        main_memory_capacity=mm["capacity"],
        main_memory_energy_nj_per_64b=mm["energy_nj_per_64b"],
        vector_cycles_per_tile={k.removesuffix("_cycles_per_tile"): val for k, val in v.items()},
        modules={k: AccelTranModule(**val) for k, val in d["modules"].items()},
    )


def _phaze(d: dict[str, Any], path: Path) -> PhazeTarget:
    c, m = d["compute"], d["memory"]
    return PhazeTarget(
        name=d["name"],
        kind="phaze",
        description=d["description"],
        source=str(path),
        tensor_cores=c["tensor_cores"],
        tc_width=c["tc_width"],
        tc_depth=c["tc_depth"],
        vector_cores=c["vector_cores"],
        vc_lanes=c["vc_lanes"],
        clock_hz=c["clock_hz"],
        area_budget_mm2=c["area_budget_mm2"],
        global_buffer_bytes=m["global_buffer_bytes"],
        global_buffer_bandwidth=m["global_buffer_bandwidth"],
        hbm_bandwidth=m["hbm_bandwidth"],
        hbm_capacity=m["hbm_capacity"],
        vector_cycles_per_element=dict(d["vector_cycles_per_element"]),
    )
