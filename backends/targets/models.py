"""What a loaded target is: frozen dataclasses, SI units (seconds, bytes, FLOP/s, Hz, W, J).

Every target kind shares :class:`TargetBase`: ``name``, ``kind``, ``description``, ``source``
(the file), ``compute_units()``, ``peak_flops(dtype)``, and main memory as ``mem_bandwidth``
(bytes/s) and ``mem_capacity`` (bytes).

    t = load_target("a100-sxm4-40gb")   # GpuTarget
    t.peak_flops("bf16"), t.mem_bandwidth, t.compute_units()   # 3.12e14, 1.555e12, ["sm"]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from ir.dtypes import parse_dtype
from ir.errors import TandemError


@dataclass(frozen=True, eq=False)
class TargetBase:
    """The interface the simulator and the reports use; subclasses add their own fields."""

    name: str
    kind: str
    description: str
    source: str

    # The fields holding main-memory bandwidth and capacity.
    memory_fields: ClassVar[tuple[str, str]] = ("hbm_bandwidth", "hbm_capacity")

    @property
    def mem_bandwidth(self) -> float:
        """Main-memory (HBM / DRAM) bandwidth in bytes/s."""
        return getattr(self, self.memory_fields[0])

    @property
    def mem_capacity(self) -> float:
        """Main-memory capacity in bytes."""
        return getattr(self, self.memory_fields[1])

    def compute_units(self) -> list[str]:  # pragma: no cover - interface
        """Names of the units ops run on (an index names one of several alike)."""
        raise NotImplementedError

    def peak_flops(self, dtype: str = "f16") -> float:  # pragma: no cover - interface
        """Dense peak FLOP/s for a dtype."""
        raise NotImplementedError

    def peak_flops_table(self) -> dict[str, float]:
        """Peak FLOP/s per dtype; one entry "all" where the peak does not depend on it."""
        return {"all": self.peak_flops("f16")}

    def facts(self) -> dict[str, Any]:
        """Key numbers as JSON-ready data (the ``target`` object of docs/report-schema.md)."""
        return {
            "name": self.name,
            "kind": self.kind,
            "description": self.description,
            "peak_flops": self.peak_flops_table(),
            "mem_bandwidth": self.mem_bandwidth,
            "mem_capacity": self.mem_capacity,
        }


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


@dataclass(frozen=True)
class StructuredSparsity:
    """Sparse tensor cores: a GEMM with an operand pruned to `pattern` ("2:4": two non-zeros
    in every four along the reduction dim) runs its math `speedup` times faster (1 to 2)."""

    pattern: str
    speedup: float


@dataclass(frozen=True, eq=False)
class GpuTarget(TargetBase):
    """A GPU: peaks per dtype, HBM, tile shapes for cuBLAS-like tiling, calibrated efficiencies."""

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
    # [sparsity] of the file; None: unstructured zeros and structured ones gain nothing
    structured_sparsity: StructuredSparsity | None = None

    def compute_units(self) -> list[str]:
        """One stream: every op runs on the "sm" unit."""
        return ["sm"]

    def peak_flops(self, dtype: str = "f16") -> float:
        """Dense peak FLOP/s for a dtype (tensor cores for f16/bf16/tf32)."""
        d = parse_dtype(dtype)
        if d not in self.peak_flops_by_dtype:
            raise TandemError(
                f"{self.name}: no peak_flops for dtype {d} (has {sorted(self.peak_flops_by_dtype)})"
            )
        return self.peak_flops_by_dtype[d]

    def peak_flops_table(self) -> dict[str, float]:
        return dict(self.peak_flops_by_dtype)


@dataclass(frozen=True)
class AccelTranModule:
    """One AccelTran hardware module: area (um^2) and power (mW) per instance."""

    area_um2: float
    dynamic_mw: float
    leakage_mw: float


@dataclass(frozen=True, eq=False)
class AccelTranTarget(TargetBase):
    """An AccelTran/ELECTOR accelerator instance (Tuli and Jha, arXiv 2302.14705)."""

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
    modules: dict[str, AccelTranModule]

    memory_fields: ClassVar[tuple[str, str]] = ("main_memory_bandwidth", "main_memory_capacity")

    def compute_units(self) -> list[str]:
        return ["mac", "softmax", "layernorm", "dma"]

    @property
    def total_lanes(self) -> int:
        return self.pes * self.lanes_per_pe

    @property
    def buffer_mb(self) -> float:
        """All on-chip buffers (activation + weight + mask) in MB."""
        return self.activation_buffer_mb + self.weight_buffer_mb + self.mask_buffer_mb

    def peak_flops(self, dtype: str = "f16") -> float:
        """2 FLOPs per MAC per cycle over all lanes (dtype-independent fixed-point MACs)."""
        parse_dtype(dtype)
        return 2.0 * self.total_lanes * self.macs_per_lane * self.clock_hz


@dataclass(frozen=True, eq=False)
class PhazeTarget(TargetBase):
    """A PHAZE accelerator template instance (Wang et al., arXiv 2407.13143)."""

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
            f"vc{i}" for i in range(self.vector_cores)
        ]

    def peak_flops(self, dtype: str = "f16") -> float:
        """All tensor cores, 2 FLOPs per MAC per cycle."""
        parse_dtype(dtype)
        return 2.0 * self.tensor_cores * self.tc_width * self.tc_depth * self.clock_hz


Target = GpuTarget | AccelTranTarget | PhazeTarget


@dataclass(frozen=True)
class Link:
    """One interconnect level of a cluster."""

    bandwidth: float  # bytes/s per device per direction
    latency_s: float
    efficiency: float  # achieved fraction of bandwidth (NCCL bus bandwidth / link)

    @property
    def effective_bandwidth(self) -> float:
        return self.bandwidth * self.efficiency


@dataclass(frozen=True, eq=False)
class Cluster:
    """Nodes of identical GPUs: NVLink inside a node, InfiniBand between nodes.

    ``device`` is the GPU's target name as written in the file; ``device_target`` the
    loaded target.
    """

    name: str
    kind: str
    description: str
    source: str
    device: str
    device_target: GpuTarget
    gpus_per_node: int
    max_nodes: int
    intra_node: Link
    inter_node: Link
