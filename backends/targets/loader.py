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
    FusionParams,
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
from ir.source import read_text

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
        return tomllib.loads(read_text(path, "TOML"))
    except tomllib.TOMLDecodeError as e:
        raise TandemError(f"{path.name}: not valid TOML: {e}") from None


def load_target(name_or_path: str) -> Target:
    """Load a built-in target by name (see ``target_names()``) or a .toml file by path."""
    path = _resolve(str(name_or_path), TARGETS_DIR, "target")
    return target_from_data(_read(path), path)


def target_data(name_or_path: str) -> tuple[dict[str, Any], Path]:
    """The raw TOML tables of a target file (by built-in name or path), and its path."""
    path = _resolve(str(name_or_path), TARGETS_DIR, "target")
    return _read(path), path


def target_from_data(data: dict[str, Any], path: Path) -> Target:
    """Validate the tables of a target file (as read from ``path``) and build the target.

    Errors name ``path.name``, so a target built in memory (a co-design candidate) reports
    the file it will be written to.
    """
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
        sustained_compute=(d["training"] or {}).get("sustained_compute", 1.0),
    )


def cluster_names() -> list[str]:
    """Names of the built-in clusters."""
    return sorted(p.stem for p in CLUSTERS_DIR.glob("*.toml"))


def _gpu(d: dict[str, Any], path: Path) -> GpuTarget:
    c, tc, g, m, e = d["compute"], d["tensor_core"], d["gemm"], d["memory"], d["efficiency"]
    tiles = tuple((int(a), int(b)) for a, b in g["tile_shapes"])
    if len(e["tile"]) != len(tiles):
        raise TandemError(
            f"{path.name}: [efficiency] tile must have one entry per "
            f"[gemm] tile_shapes entry ({len(tiles)}), got {len(e['tile'])}"
        )
    align = tc["align_bytes"]
    n_align = max(1, align.bit_length() - 1)  # byte alignments 1, 2, 4, ... align/2
    for key in ("align_k", "align_n", "align_m"):
        if len(e[key]) > n_align:
            raise TandemError(
                f"{path.name}: [efficiency] {key} must have at most {n_align} entries (byte "
                f"alignments 1, 2, ... {max(1, align // 2)} below [tensor_core] align_bytes = "
                f"{align}), got {len(e[key])}"
            )
    fb = tc["cuda_core_fallback"] or {"below_bytes": 0, "max_dim": 0}
    if fb["below_bytes"] and e["cuda_core_fallback"] is None:
        raise TandemError(
            f"{path.name}: [efficiency] cuda_core_fallback is missing "
            "(needed by [tensor_core.cuda_core_fallback])"
        )
    gemm = GemmParams(
        sm_count=c["sm_count"],
        tile_shapes=tiles,
        tile_eff=tuple(e["tile"]),
        k_tile=g["k_tile"],
        align_bytes=align,
        gemm_max=e["gemm_max"],
        k_overhead=e["k_overhead"],
        align_k=tuple(e["align_k"]),
        align_n=tuple(e["align_n"]),
        align_m=tuple(e["align_m"]),
        gemm_memory=e["gemm_memory"],
        split_k_overhead=e["split_k_overhead"],
        max_split_k=g["max_split_k"],
        vector_bytes=g["vector_bytes"],
        fallback_below_bytes=fb["below_bytes"],
        fallback_max_dim=fb["max_dim"],
        fallback_eff=tuple(e["cuda_core_fallback"] or (1.0, 1.0)),
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
        tensor_core_flops={k: v for k, v in tc["peak_flops"].items() if v is not None},
        cuda_core_flops={k: v for k, v in c["cuda_core_flops"].items() if v is not None},
        launch_overhead_s=c["launch_overhead_s"],
        hbm_bandwidth=m["hbm_bandwidth"],
        hbm_capacity=m["hbm_capacity"],
        l2_bytes=m["l2_bytes"],
        gemm=gemm,
        memory_op_efficiency=mem_eff,
        calibration=dict(d["calibration"] or {}),
        structured_sparsity=_structured(tc["structured_sparsity"], path),
        fusion=_fusion(d["fusion"], mem_eff),
    )


def _fusion(table: dict[str, float] | None, mem_eff: dict[str, float]) -> FusionParams:
    """The [fusion] table, or (a file without one) the unfused memory-op efficiencies."""
    if table is not None:
        return FusionParams(**table)
    plain = mem_eff["elementwise"]
    norm = mem_eff.get("layernorm", plain)
    return FusionParams(plain, mem_eff.get("bias_dropout_add", plain), norm, norm)


def _structured(table: dict[str, Any] | None, path: Path) -> StructuredSparsity | None:
    """The [tensor_core.structured_sparsity] table, or None (dense tensor cores only)."""
    if table is None:
        return None
    if table["speedup"] < 1.0:
        raise TandemError(
            f"{path.name}: [tensor_core.structured_sparsity] speedup must be >= 1 (a sparse "
            f"GEMM is never slower than the dense one it replaces), got {table['speedup']!r}"
        )
    return StructuredSparsity(table["pattern"], table["speedup"])


def _acceltran(d: dict[str, Any], path: Path) -> AccelTranTarget:
    c, b, mm, v = d["compute"], d["buffers"], d["main_memory"], d["vector"]
    if c["pes"] % c["pe_groups"]:
        raise TandemError(
            f"{path.name}: [compute] pe_groups ({c['pe_groups']}) must divide pes ({c['pes']})"
        )
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
        tile_b_options=tuple(c["tile_b_options"]),
        tile_x_options=tuple(c["tile_x_options"]),
        pe_groups=c["pe_groups"],
        buffer_bytes_per_cycle_per_pe=b["bandwidth_bytes_per_cycle_per_pe"],
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
        area_model=_phaze_area_model(d["area"], path),
    )


def _phaze_area_model(a: dict[str, Any] | None, path: Path) -> dict[str, Any] | None:
    if a is None:
        return None
    sizes, areas = a["global_buffer_mib"], a["global_buffer_mm2"]
    if len(sizes) != len(areas):
        raise TandemError(
            f"{path.name}: [area] global_buffer_mm2 must have one entry per global_buffer_mib "
            f"entry ({len(sizes)}), got {len(areas)}"
        )
    if any(b <= a for a, b in zip(sizes, sizes[1:], strict=False)):
        raise TandemError(f"{path.name}: [area] global_buffer_mib must be increasing, got {sizes}")
    return dict(a)
