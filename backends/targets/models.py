"""What a loaded target is: frozen dataclasses, SI units (seconds, bytes, FLOP/s, Hz, W, J).

Every target kind shares :class:`TargetBase`: ``name``, ``kind``, ``description``, ``source``
(the file), ``compute_units()``, ``peak_flops(dtype)``, and main memory as ``mem_bandwidth``
(bytes/s) and ``mem_capacity`` (bytes).

    t = load_target("a100-sxm4-40gb")   # GpuTarget
    t.peak_flops("bf16"), t.mem_bandwidth, t.compute_units()   # 3.12e14, 1.555e12, ["sm"]
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

from ir.dtypes import nbytes_of, parse_dtype
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
    """What decides a GPU's GEMM speed, hashable (a cache key); see ``cost/gemm.py``.

    From the target file: the SM count, the library's tile shapes, the tensor cores' full-rate
    alignment ``align_bytes`` and the CUDA-core fallback rule (``fallback_below_bytes``,
    ``fallback_max_dim``; 0 = none). Fitted (``[efficiency]``): the rest.
    """

    sm_count: int
    tile_shapes: tuple[tuple[int, int], ...]
    tile_eff: tuple[float, ...]
    k_tile: int
    align_bytes: int
    gemm_max: float
    k_overhead: float
    align_k: tuple[float, ...]
    align_n: tuple[float, ...]
    align_m: tuple[float, ...]
    gemm_memory: float
    split_k_overhead: float
    max_split_k: int
    vector_bytes: int = 16
    fallback_below_bytes: int = 0
    fallback_max_dim: int = 0
    fallback_eff: tuple[float, float] = (1.0, 1.0)  # k, n misaligned


@dataclass(frozen=True)
class FusionParams:
    """Achieved fractions of HBM bandwidth of one fused kernel, by kernel class (see
    backends/cost/fusion.py and the `[fusion]` table of the GPU files).

    stream: pointwise kernels (bias+GELU, SwiGLU, RoPE, inductor pointwise); residual:
    bias+dropout+add; norm: layer/RMS norm and other row reductions; softmax: the
    scale+mask+softmax kernel over materialised attention scores.
    """

    stream: float
    residual: float
    norm: float
    softmax: float

    def efficiency(self, kernel_class: str) -> float:
        return float(getattr(self, kernel_class))


@dataclass(frozen=True)
class StructuredSparsity:
    """Sparse tensor cores: a GEMM with an operand pruned to `pattern` ("2:4": two non-zeros
    in every four along the reduction dim) runs its math `speedup` times faster (1 to 2)."""

    pattern: str
    speedup: float


@dataclass(frozen=True, eq=False)
class GpuTarget(TargetBase):
    """A GPU: tensor-core and CUDA-core peaks per dtype, HBM, and the GEMM mechanisms.

    ``tensor_core_flops``: dense tensor-core peak per dtype (GEMMs of these dtypes run on
    tensor cores); ``cuda_core_flops``: CUDA-core (SIMT) peak per dtype. ``peak_flops(d)`` is
    the tensor-core peak where the dtype has one, else the CUDA-core peak.
    """

    sm_count: int
    clock_hz: float
    tensor_core_flops: dict[str, float]
    cuda_core_flops: dict[str, float]
    launch_overhead_s: float
    hbm_bandwidth: float
    hbm_capacity: float
    l2_bytes: float
    gemm: GemmParams
    memory_op_efficiency: dict[str, float]
    calibration: dict[str, float] = field(default_factory=dict)
    # [tensor_core.structured_sparsity] of the file; None: dense kernels only (structured
    # zeros gain nothing either)
    structured_sparsity: StructuredSparsity | None = None
    fusion: FusionParams = field(default_factory=lambda: FusionParams(0.75, 0.75, 0.5, 0.5))

    @property
    def peak_flops_by_dtype(self) -> dict[str, float]:
        """Peak per dtype: tensor cores where the dtype has them, CUDA cores otherwise."""
        return {**self.cuda_core_flops, **self.tensor_core_flops}

    @property
    def tile_shapes(self) -> tuple[tuple[int, int], ...]:
        """The library's CTA tile shapes (rows, cols of C)."""
        return self.gemm.tile_shapes

    @property
    def align_bytes(self) -> int:
        """Tensor cores run at full rate when every dim's byte size is a multiple of this."""
        return self.gemm.align_bytes

    def align_elements(self, dtype: str = "f16") -> int:
        """``align_bytes`` in elements of ``dtype`` (8 fp16 on a V100, 64 on an A100)."""
        return max(1, self.gemm.align_bytes // nbytes_of(dtype))

    def uses_tensor_cores(self, dtype: str) -> bool:
        """Whether GEMMs of ``dtype`` run on tensor cores."""
        return parse_dtype(dtype) in self.tensor_core_flops

    def compute_units(self) -> list[str]:
        """One stream: every op runs on the "sm" unit."""
        return ["sm"]

    def peak_flops(self, dtype: str = "f16") -> float:
        """Dense peak FLOP/s for a dtype (tensor cores where it has them)."""
        d = parse_dtype(dtype)
        peaks = self.peak_flops_by_dtype
        if d not in peaks:
            raise TandemError(f"{self.name}: no peak_flops for dtype {d} (has {sorted(peaks)})")
        return peaks[d]

    def cuda_core_peak(self, dtype: str = "f16") -> float:
        """CUDA-core peak FLOP/s for a dtype (the f32 one where the dtype has no entry)."""
        d = parse_dtype(dtype)
        return self.cuda_core_flops.get(d, self.cuda_core_flops["f32"])

    def peak_flops_table(self) -> dict[str, float]:
        return self.peak_flops_by_dtype


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
    # the tiling mapper's choices of (tile_b, tile_x); on-chip buffer -> PE bandwidth
    tile_b_options: tuple[int, ...] = (1, 4)
    tile_x_options: tuple[int, ...] = (8, 16, 32)
    buffer_bytes_per_cycle_per_pe: float = 256.0
    # the scheduler splits the PEs (with their lanes, softmax and layer-norm units) into
    # pe_groups equal groups: an op runs on one group ("mac2") or on all ("mac")
    pe_groups: int = 1

    memory_fields: ClassVar[tuple[str, str]] = ("main_memory_bandwidth", "main_memory_capacity")

    def compute_units(self) -> list[str]:
        """mac, softmax, layernorm (one per PE group when pe_groups > 1) and dma."""
        kinds = ("mac", "softmax", "layernorm")
        if self.pe_groups == 1:
            return [*kinds, "dma"]
        return [f"{k}{g}" for k in kinds for g in range(self.pe_groups)] + ["dma"]

    @property
    def total_lanes(self) -> int:
        return self.pes * self.lanes_per_pe

    def one_group(self) -> AccelTranTarget:
        """One PE group as a target of its own (an op in the scheduler's single mode)."""
        if self.pe_groups == 1:
            return self
        return replace(self, name=f"{self.name}/group", pes=self.pes // self.pe_groups, pe_groups=1)

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
    # mm^2 per MAC / tensor core / vector lane / vector core, and the global buffer's area at
    # sizes in MiB (``global_buffer_mib`` -> ``global_buffer_mm2``); None: no area model
    area_model: dict[str, Any] | None = None

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
    sustained_compute: float = 1.0  # fraction of calibrated GEMM speed a training run keeps
