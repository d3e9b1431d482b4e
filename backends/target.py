"""Hardware targets as data: load and validate TOML files.

A target file has a top-level ``kind`` ("gpu", "acceltran" or "phaze") and kind-specific
tables (see the built-ins in ``backends/targets/``). Every key is checked on load: unknown
keys, missing keys, wrong types and non-positive numbers raise :class:`TandemError` with one
line naming the file and the key. Units are SI throughout: seconds, bytes, FLOP/s, bytes/s,
Hz, watts, joules; areas in um^2 (per module, as published) and mm^2 (totals).

Public API: ``load_target``, ``target_names``, ``load_cluster``, ``cluster_names``,
``dtype_bytes``, ``normalize_dtype`` and the dataclasses ``GpuTarget``, ``AccelTranTarget``,
``PhazeTarget``, ``Cluster``.
"""

from __future__ import annotations

import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ir.dtypes import parse_dtype
from ir.errors import TandemError

TARGETS_DIR = Path(__file__).parent / "targets"
CLUSTERS_DIR = Path(__file__).parent / "clusters"

# ----------------------------------------------------------------------------------------
# A tiny schema language: each spec validates one value and returns the converted value.


class _Spec:
    optional = False
    default: Any = None

    def check(self, value: Any, where: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Num(_Spec):
    """A number; positive unless ``allow_zero``; ``le`` an upper bound; ``integer``."""

    def __init__(self, *, integer: bool = False, allow_zero: bool = False,
                 le: float | None = None, optional: bool = False, default: Any = None,
                 pow2: bool = False) -> None:
        self.integer, self.allow_zero, self.le = integer, allow_zero, le
        self.optional, self.default, self.pow2 = optional, default, pow2

    def check(self, value: Any, where: str) -> Any:
        what = "a positive" if not self.allow_zero else "a non-negative"
        what += " integer" if self.integer else " number"
        if self.le is not None:
            what += f" <= {self.le:g}"
        if self.pow2:
            what += " (a power of two)"
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and self.integer and isinstance(value, float):
            ok = value.is_integer()
        if ok:
            ok = math.isfinite(value) and (value > 0 or (self.allow_zero and value == 0))
        if ok and self.le is not None:
            ok = value <= self.le
        if ok and self.pow2:
            ok = int(value) & (int(value) - 1) == 0
        if not ok:
            raise TandemError(f"{where} must be {what}, got {value!r}")
        return int(value) if self.integer else float(value)


class Str(_Spec):
    def __init__(self, choices: tuple[str, ...] | None = None, *, optional: bool = False,
                 default: Any = None) -> None:
        self.choices, self.optional, self.default = choices, optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            want = f"one of {list(self.choices)}" if self.choices else "a string"
            raise TandemError(f"{where} must be {want}, got {value!r}")
        return value


class Bool(_Spec):
    def __init__(self, *, optional: bool = False, default: Any = None) -> None:
        self.optional, self.default = optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, bool):
            raise TandemError(f"{where} must be true or false, got {value!r}")
        return value


class List(_Spec):
    def __init__(self, item: _Spec, *, min_len: int = 1, length: int | None = None,
                 optional: bool = False, default: Any = None) -> None:
        self.item, self.min_len, self.length = item, min_len, length
        self.optional, self.default = optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, list):
            raise TandemError(f"{where} must be a list, got {value!r}")
        if self.length is not None and len(value) != self.length:
            raise TandemError(f"{where} must have {self.length} entries, got {len(value)}")
        if len(value) < self.min_len:
            raise TandemError(f"{where} must have at least {self.min_len} entries, got {len(value)}")
        return tuple(self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value))


class Table(_Spec):
    """A TOML table with a fixed set of keys; ``open_values`` accepts any key with that spec."""

    def __init__(self, fields: dict[str, _Spec] | None = None, *, optional: bool = False,
                 open_values: _Spec | None = None) -> None:
        self.fields = fields or {}
        self.optional, self.open_values = optional, open_values
        self.default = None

    def check(self, value: Any, where: str, top: bool = False) -> Any:
        """Validate; ``top`` means ``where`` is "file: [table]" and keys follow a space."""

        def join(key: str) -> str:
            return f"{where} {key}" if top else f"{where}.{key}"

        if not isinstance(value, dict):
            raise TandemError(f"{where} must be a table, got {value!r}")
        out: dict[str, Any] = {}
        for key in value:
            if key not in self.fields and self.open_values is None:
                known = ", ".join(sorted(self.fields))
                raise TandemError(f"{join(key)} is not a known key (expected one of: {known})")
        for key, spec in self.fields.items():
            if key in value:
                out[key] = spec.check(value[key], join(key))
            elif spec.optional:
                out[key] = spec.default
            else:
                raise TandemError(f"{join(key)} is missing")
        if self.open_values is not None:
            for key in value:
                if key not in self.fields:
                    out[key] = self.open_values.check(value[key], join(key))
        return out


def _check_file(spec: Table, data: dict[str, Any], fname: str) -> dict[str, Any]:
    """Validate a whole file; keys of top-level tables are reported as "file: [table] key"."""
    out: dict[str, Any] = {}
    for key in data:
        if key not in spec.fields:
            known = ", ".join(sorted(spec.fields))
            raise TandemError(f"{fname}: {key} is not a known key (expected one of: {known})")
    for key, sub in spec.fields.items():
        if key not in data:
            if sub.optional:
                out[key] = sub.default
                continue
            what = f"[{key}]" if isinstance(sub, Table) else key
            raise TandemError(f"{fname}: {what} is missing")
        if isinstance(sub, Table):
            out[key] = sub.check(data[key], f"{fname}: [{key}]", top=True)
        else:
            out[key] = sub.check(data[key], f"{fname}: {key}")
    return out


# ----------------------------------------------------------------------------------------
# Schemas

_EFF = Num(le=1.0)
_ALIGN_TABLE = List(_EFF, length=7)
_PEAKS = Table({"f32": Num(), "tf32": Num(optional=True), "f16": Num(),
                "bf16": Num(optional=True), "f8": Num(optional=True),
                "i8": Num(optional=True)})

GPU_SCHEMA = Table({
    "kind": Str(("gpu",)),
    "name": Str(),
    "description": Str(optional=True, default=""),
    "compute": Table({
        "sm_count": Num(integer=True),
        "clock_hz": Num(),
        "peak_flops": _PEAKS,
        "tile_shapes": List(List(Num(integer=True), length=2)),
        "k_tile": Num(integer=True),
        "alignment_bytes": Num(integer=True, pow2=True),
        "launch_overhead_s": Num(allow_zero=True),
        "max_split_k": Num(integer=True),
    }),
    "memory": Table({
        "hbm_bandwidth": Num(),
        "hbm_capacity": Num(),
        "l2_bytes": Num(),
    }),
    "efficiency": Table({
        "gemm_max": _EFF,
        "tile": List(_EFF),
        "k_overhead": Num(allow_zero=True),
        "align_k": _ALIGN_TABLE,
        "align_n": _ALIGN_TABLE,
        "align_m": _ALIGN_TABLE,
        "gemm_memory": _EFF,
        "split_k_overhead": Num(allow_zero=True),
        "memory_op": Table(open_values=_EFF),
    }),
    "calibration": Table(open_values=Num(allow_zero=True), optional=True),
})

_MODULE = Table({"area_um2": Num(), "dynamic_mw": Num(), "leakage_mw": Num()})

ACCELTRAN_SCHEMA = Table({
    "kind": Str(("acceltran",)),
    "name": Str(),
    "description": Str(optional=True, default=""),
    "compute": Table({
        "pes": Num(integer=True),
        "lanes_per_pe": Num(integer=True),
        "macs_per_lane": Num(integer=True),
        "softmax_per_pe": Num(integer=True),
        "layernorm_per_pe": Num(integer=True),
        "clock_hz": Num(),
        "tile_b": Num(integer=True),
        "tile_x": Num(integer=True),
        "training": Bool(optional=True, default=False),
    }),
    "buffers": Table({
        "activation_mb": Num(),
        "weight_mb": Num(),
        "mask_mb": Num(),
        "area_mm2_per_mb": Num(),
        "leakage_mw_per_mb": Num(allow_zero=True),
        "access_nj_per_64b_per_sqrt_mb": Num(allow_zero=True),
    }),
    "main_memory": Table({
        "type": Str(("lpddr3", "hbm", "rram")),
        "bandwidth": Num(),
        "capacity": Num(),
        "energy_nj_per_64b": Num(allow_zero=True),
    }),
    "vector": Table({
        "softmax_cycles_per_tile": Num(),
        "layernorm_cycles_per_tile": Num(),
        "gelu_cycles_per_tile": Num(),
        "elementwise_cycles_per_tile": Num(),
    }),
    "modules": Table({
        name: _MODULE for name in (
            "mac_lane", "softmax", "layernorm", "pre_sparsity", "post_sparsity",
            "dataflow", "dma", "fifo", "stochastic_rounding")
    }),
})

PHAZE_SCHEMA = Table({
    "kind": Str(("phaze",)),
    "name": Str(),
    "description": Str(optional=True, default=""),
    "compute": Table({
        "tensor_cores": Num(integer=True),
        "tc_width": Num(integer=True),
        "tc_depth": Num(integer=True),
        "vector_cores": Num(integer=True),
        "vc_lanes": Num(integer=True),
        "clock_hz": Num(),
        "area_budget_mm2": Num(),
    }),
    "memory": Table({
        "global_buffer_bytes": Num(),
        "global_buffer_bandwidth": Num(),
        "hbm_bandwidth": Num(),
        "hbm_capacity": Num(),
    }),
    "vector_cycles_per_element": Table(open_values=Num()),
})

_LINK = Table({"bandwidth": Num(), "latency_s": Num(allow_zero=True), "efficiency": _EFF})

CLUSTER_SCHEMA = Table({
    "kind": Str(("cluster",)),
    "name": Str(),
    "description": Str(optional=True, default=""),
    "device": Str(),
    "gpus_per_node": Num(integer=True),
    "max_nodes": Num(integer=True),
    "intra_node": _LINK,
    "inter_node": _LINK,
})


# ----------------------------------------------------------------------------------------
# Dataclasses


@dataclass(frozen=True)
class GemmParams:
    """The GPU GEMM efficiency model, hashable (used as a cache key). See cost/gemm.py."""

    sm_count: int
    tile_shapes: tuple[tuple[int, int], ...]
    tile_eff: tuple[float, ...]
    k_tile: int
    alignment_bytes: int
    gemm_max: float
    k_overhead: float
    align_k: tuple[float, ...]
    align_n: tuple[float, ...]
    align_m: tuple[float, ...]
    gemm_memory: float
    split_k_overhead: float
    max_split_k: int


@dataclass(frozen=True, eq=False)
class GpuTarget:
    """A GPU: peaks per dtype, HBM, tile shapes for cuBLAS-like tiling, calibrated efficiencies."""

    name: str
    kind: str
    description: str
    source: str
    sm_count: int
    clock_hz: float
    peak_flops_by_dtype: dict[str, float]
    tile_shapes: tuple[tuple[int, int], ...]
    k_tile: int
    alignment_bytes: int
    launch_overhead_s: float
    hbm_bandwidth: float
    hbm_capacity: float
    l2_bytes: float
    gemm: GemmParams
    memory_op_efficiency: dict[str, float]
    calibration: dict[str, float] = field(default_factory=dict)

    def compute_units(self) -> list[str]:
        """One stream: every op runs on the "sm" unit."""
        return ["sm"]

    def peak_flops(self, dtype: str = "f16") -> float:
        """Dense peak FLOP/s for a dtype (tensor cores for f16/bf16/tf32)."""
        d = parse_dtype(dtype)
        if d not in self.peak_flops_by_dtype:
            raise TandemError(f"{self.name}: no peak_flops for dtype {d} "
                              f"(has {sorted(self.peak_flops_by_dtype)})")
        return self.peak_flops_by_dtype[d]

    @property
    def mem_bandwidth(self) -> float:
        """HBM bandwidth in bytes/s."""
        return self.hbm_bandwidth

    @property
    def mem_capacity(self) -> float:
        return self.hbm_capacity


@dataclass(frozen=True)
class Module:
    """One AccelTran hardware module: area (um^2) and power (mW) per instance."""

    area_um2: float
    dynamic_mw: float
    leakage_mw: float


@dataclass(frozen=True, eq=False)
class AccelTranTarget:
    """An AccelTran/ELECTOR accelerator instance (Tuli and Jha, arXiv 2302.14705)."""

    name: str
    kind: str
    description: str
    source: str
    pes: int
    lanes_per_pe: int
    macs_per_lane: int
    softmax_per_pe: int
    layernorm_per_pe: int
    clock_hz: float
    tile_b: int
    tile_x: int
    training: bool
    activation_buffer_mb: float
    weight_buffer_mb: float
    mask_buffer_mb: float
    buffer_area_mm2_per_mb: float
    buffer_leakage_mw_per_mb: float
    buffer_access_nj_per_64b_per_sqrt_mb: float
    main_memory_type: str
    main_memory_bandwidth: float
    main_memory_capacity: float
    main_memory_energy_nj_per_64b: float
    vector_cycles_per_tile: dict[str, float]
    modules: dict[str, Module]

    def compute_units(self) -> list[str]:
        return ["mac", "softmax", "layernorm", "dma"]

    @property
    def total_lanes(self) -> int:
        return self.pes * self.lanes_per_pe

    def peak_flops(self, dtype: str = "f16") -> float:
        """2 FLOPs per MAC per cycle over all lanes (dtype-independent fixed-point MACs)."""
        parse_dtype(dtype)
        return 2.0 * self.total_lanes * self.macs_per_lane * self.clock_hz

    @property
    def mem_bandwidth(self) -> float:
        return self.main_memory_bandwidth

    @property
    def mem_capacity(self) -> float:
        return self.main_memory_capacity


@dataclass(frozen=True, eq=False)
class PhazeTarget:
    """A PHAZE accelerator template instance (Wang et al., arXiv 2407.13143)."""

    name: str
    kind: str
    description: str
    source: str
    tensor_cores: int
    tc_width: int
    tc_depth: int
    vector_cores: int
    vc_lanes: int
    clock_hz: float
    area_budget_mm2: float
    global_buffer_bytes: float
    global_buffer_bandwidth: float
    hbm_bandwidth: float
    hbm_capacity: float
    vector_cycles_per_element: dict[str, float]

    def compute_units(self) -> list[str]:
        return [f"tc{i}" for i in range(self.tensor_cores)] + [
            f"vc{i}" for i in range(self.vector_cores)]

    def peak_flops(self, dtype: str = "f16") -> float:
        """All tensor cores, 2 FLOPs per MAC per cycle."""
        parse_dtype(dtype)
        return 2.0 * self.tensor_cores * self.tc_width * self.tc_depth * self.clock_hz

    @property
    def mem_bandwidth(self) -> float:
        return self.hbm_bandwidth

    @property
    def mem_capacity(self) -> float:
        return self.hbm_capacity


@dataclass(frozen=True)
class Link:
    bandwidth: float  # bytes/s per device per direction
    latency_s: float
    efficiency: float  # achieved fraction of bandwidth (NCCL bus bandwidth / link)

    @property
    def effective_bandwidth(self) -> float:
        return self.bandwidth * self.efficiency


@dataclass(frozen=True, eq=False)
class Cluster:
    """Nodes of identical GPUs: NVLink inside a node, InfiniBand between nodes."""

    name: str
    kind: str
    description: str
    source: str
    device: str
    gpus_per_node: int
    max_nodes: int
    intra_node: Link
    inter_node: Link

    def device_target(self) -> GpuTarget:
        t = load_target(self.device)
        if not isinstance(t, GpuTarget):
            raise TandemError(f"{Path(self.source).name}: device must name a gpu target, "
                              f"got {self.device!r} of kind {t.kind}")
        return t

    def compute_units(self) -> list[str]:
        return ["sm"]

    def peak_flops(self, dtype: str = "f16") -> float:
        return self.device_target().peak_flops(dtype)

    @property
    def mem_bandwidth(self) -> float:
        return self.device_target().mem_bandwidth


Target = GpuTarget | AccelTranTarget | PhazeTarget


# ----------------------------------------------------------------------------------------
# Loading


def _resolve(name_or_path: str, folder: Path, what: str) -> Path:
    p = Path(name_or_path)
    if p.suffix == ".toml" or p.exists() or "/" in str(name_or_path):
        if not p.is_file():
            raise TandemError(f"{name_or_path}: no such {what} file")
        return p
    cand = folder / f"{name_or_path}.toml"
    if not cand.is_file():
        names = ", ".join(sorted(x.stem for x in folder.glob("*.toml")))
        raise TandemError(f"unknown {what} {name_or_path!r}; built-ins: {names}; "
                          "or give a path to a .toml file")
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
        raise TandemError(f"{fname}: kind is missing (expected \"gpu\", \"acceltran\" or \"phaze\")")
    if kind == "gpu":
        return _gpu(_check_file(GPU_SCHEMA, data, fname), path)
    if kind == "acceltran":
        return _acceltran(_check_file(ACCELTRAN_SCHEMA, data, fname), path)
    if kind == "phaze":
        return _phaze(_check_file(PHAZE_SCHEMA, data, fname), path)
    raise TandemError(f"{fname}: kind must be one of [\"gpu\", \"acceltran\", \"phaze\"], "
                      f"got {kind!r}")


def target_names() -> list[str]:
    """Names of the built-in targets."""
    return sorted(p.stem for p in TARGETS_DIR.glob("*.toml"))


def load_cluster(name_or_path: str) -> Cluster:
    """Load a built-in cluster by name (see ``cluster_names()``) or a .toml file by path."""
    path = _resolve(str(name_or_path), CLUSTERS_DIR, "cluster")
    d = _check_file(CLUSTER_SCHEMA, _read(path), path.name)
    c = Cluster(name=d["name"], kind="cluster", description=d["description"], source=str(path),
                device=d["device"], gpus_per_node=d["gpus_per_node"], max_nodes=d["max_nodes"],
                intra_node=Link(**d["intra_node"]), inter_node=Link(**d["inter_node"]))
    try:
        c.device_target()
    except TandemError as e:
        raise TandemError(f"{path.name}: device {d['device']!r} does not load: {e}") from None
    return c


def cluster_names() -> list[str]:
    """Names of the built-in clusters."""
    return sorted(p.stem for p in CLUSTERS_DIR.glob("*.toml"))


def _gpu(d: dict[str, Any], path: Path) -> GpuTarget:
    c, m, e = d["compute"], d["memory"], d["efficiency"]
    tiles = tuple((int(a), int(b)) for a, b in c["tile_shapes"])
    if len(e["tile"]) != len(tiles):
        raise TandemError(f"{path.name}: [efficiency] tile must have one entry per "
                          f"[compute] tile_shapes entry ({len(tiles)}), got {len(e['tile'])}")
    peaks = {k: v for k, v in c["peak_flops"].items() if v is not None}
    gemm = GemmParams(
        sm_count=c["sm_count"], tile_shapes=tiles, tile_eff=tuple(e["tile"]),
        k_tile=c["k_tile"], alignment_bytes=c["alignment_bytes"], gemm_max=e["gemm_max"],
        k_overhead=e["k_overhead"], align_k=tuple(e["align_k"]), align_n=tuple(e["align_n"]),
        align_m=tuple(e["align_m"]), gemm_memory=e["gemm_memory"],
        split_k_overhead=e["split_k_overhead"], max_split_k=c["max_split_k"])
    mem_eff = dict(e["memory_op"])
    if "elementwise" not in mem_eff:
        raise TandemError(f"{path.name}: [efficiency] memory_op.elementwise is missing")
    return GpuTarget(
        name=d["name"], kind="gpu", description=d["description"], source=str(path),
        sm_count=c["sm_count"], clock_hz=c["clock_hz"], peak_flops_by_dtype=peaks,
        tile_shapes=tiles, k_tile=c["k_tile"], alignment_bytes=c["alignment_bytes"],
        launch_overhead_s=c["launch_overhead_s"], hbm_bandwidth=m["hbm_bandwidth"],
        hbm_capacity=m["hbm_capacity"], l2_bytes=m["l2_bytes"], gemm=gemm,
        memory_op_efficiency=mem_eff, calibration=dict(d["calibration"] or {}))


def _acceltran(d: dict[str, Any], path: Path) -> AccelTranTarget:
    c, b, mm, v = d["compute"], d["buffers"], d["main_memory"], d["vector"]
    return AccelTranTarget(
        name=d["name"], kind="acceltran", description=d["description"], source=str(path),
        pes=c["pes"], lanes_per_pe=c["lanes_per_pe"], macs_per_lane=c["macs_per_lane"],
        softmax_per_pe=c["softmax_per_pe"], layernorm_per_pe=c["layernorm_per_pe"],
        clock_hz=c["clock_hz"], tile_b=c["tile_b"], tile_x=c["tile_x"],
        training=c["training"],
        activation_buffer_mb=b["activation_mb"], weight_buffer_mb=b["weight_mb"],
        mask_buffer_mb=b["mask_mb"], buffer_area_mm2_per_mb=b["area_mm2_per_mb"],
        buffer_leakage_mw_per_mb=b["leakage_mw_per_mb"],
        buffer_access_nj_per_64b_per_sqrt_mb=b["access_nj_per_64b_per_sqrt_mb"],
        main_memory_type=mm["type"], main_memory_bandwidth=mm["bandwidth"],
        main_memory_capacity=mm["capacity"],
        main_memory_energy_nj_per_64b=mm["energy_nj_per_64b"],
        vector_cycles_per_tile={k.removesuffix("_cycles_per_tile"): val for k, val in v.items()},
        modules={k: Module(**val) for k, val in d["modules"].items()})


def _phaze(d: dict[str, Any], path: Path) -> PhazeTarget:
    c, m = d["compute"], d["memory"]
    return PhazeTarget(
        name=d["name"], kind="phaze", description=d["description"], source=str(path),
        tensor_cores=c["tensor_cores"], tc_width=c["tc_width"], tc_depth=c["tc_depth"],
        vector_cores=c["vector_cores"], vc_lanes=c["vc_lanes"], clock_hz=c["clock_hz"],
        area_budget_mm2=c["area_budget_mm2"], global_buffer_bytes=m["global_buffer_bytes"],
        global_buffer_bandwidth=m["global_buffer_bandwidth"],
        hbm_bandwidth=m["hbm_bandwidth"], hbm_capacity=m["hbm_capacity"],
        vector_cycles_per_element=dict(d["vector_cycles_per_element"]))
