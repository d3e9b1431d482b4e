"""The schemas of the four file kinds: ``kind = "gpu"``, ``"acceltran"``, ``"phaze"`` and
``"cluster"`` (see the built-in files next to this module and in ``backends/clusters/``).

    [compute]
    sm_count = 108          # Num(integer=True): a positive integer
    [tensor_core]
    align_bytes = 128       # Num(integer=True, pow2=True)
"""

from __future__ import annotations

from backends.targets.schema import Bool, List, Num, Str, Table

_EFF = Num(le=1.0)
_ALIGN_TABLE = List(_EFF)  # one entry per byte alignment below align_bytes (checked on load)
_CUDA_CORE_PEAKS = Table(
    {
        "f64": Num(optional=True),
        "f32": Num(),
        "f16": Num(optional=True),
        "bf16": Num(optional=True),
    }
)
_TENSOR_CORE_PEAKS = Table(
    {
        "f64": Num(optional=True),
        "tf32": Num(optional=True),
        "f16": Num(optional=True),
        "bf16": Num(optional=True),
        "f8": Num(optional=True),
        "i8": Num(optional=True),
    }
)

GPU_SCHEMA = Table(
    {
        "kind": Str(("gpu",)),
        "name": Str(),
        "description": Str(optional=True, default=""),
        "compute": Table(
            {
                "sm_count": Num(integer=True),
                "clock_hz": Num(),
                "launch_overhead_s": Num(allow_zero=True),
                "cuda_core_flops": _CUDA_CORE_PEAKS,
            }
        ),
        "tensor_core": Table(
            {
                "peak_flops": _TENSOR_CORE_PEAKS,
                "align_bytes": Num(integer=True, pow2=True),
                "cuda_core_fallback": Table(
                    {
                        "below_bytes": Num(integer=True, pow2=True),
                        "max_dim": Num(integer=True),
                    },
                    optional=True,
                ),
                # sparse tensor cores: structured sparsity they exploit (absent: dense only)
                "structured_sparsity": Table(
                    {"pattern": Str(("2:4",)), "speedup": Num(le=2.0)}, optional=True
                ),
            }
        ),
        "gemm": Table(
            {
                "tile_shapes": List(List(Num(integer=True), length=2)),
                "k_tile": Num(integer=True),
                "max_split_k": Num(integer=True),
                "vector_bytes": Num(integer=True, pow2=True),
            }
        ),
        "memory": Table(
            {
                "hbm_bandwidth": Num(),
                "hbm_capacity": Num(),
                "l2_bytes": Num(),
            }
        ),
        "efficiency": Table(
            {
                "gemm_max": _EFF,
                "tile": List(_EFF),
                "k_overhead": Num(allow_zero=True),
                "align_k": _ALIGN_TABLE,
                "align_n": _ALIGN_TABLE,
                "align_m": _ALIGN_TABLE,
                "gemm_memory": _EFF,
                "split_k_overhead": Num(allow_zero=True),
                "cuda_core_fallback": List(_EFF, length=2, optional=True),
                "memory_op": Table(open_values=_EFF),
            }
        ),
        "calibration": Table(open_values=Num(allow_zero=True), optional=True),
        # fused kernels (backends/cost/fusion.py); absent: taken from [efficiency] memory_op
        "fusion": Table(
            {"stream": _EFF, "residual": _EFF, "norm": _EFF, "softmax": _EFF},
            optional=True,
        ),
        "fusion_calibration": Table(open_values=Num(allow_zero=True), optional=True),
    }
)

_MODULE = Table({"area_um2": Num(), "dynamic_mw": Num(), "leakage_mw": Num()})

ACCELTRAN_SCHEMA = Table(
    {
        "kind": Str(("acceltran",)),
        "name": Str(),
        "description": Str(optional=True, default=""),
        "compute": Table(
            {
                "pes": Num(integer=True),
                "lanes_per_pe": Num(integer=True),
                "macs_per_lane": Num(integer=True),
                "softmax_per_pe": Num(integer=True),
                "layernorm_per_pe": Num(integer=True),
                "clock_hz": Num(),
                "tile_b": Num(integer=True),
                "tile_x": Num(integer=True),
                # the tiling mapper's choices (AccelTran's design space: b {1,4}, x {8,16,32})
                "tile_b_options": List(Num(integer=True), optional=True, default=(1, 4)),
                "tile_x_options": List(Num(integer=True), optional=True, default=(8, 16, 32)),
                # the scheduler's unit of the MAC-lane array: equal groups of PEs
                "pe_groups": Num(integer=True, optional=True, default=1),
                "training": Bool(optional=True, default=False),
            }
        ),
        "buffers": Table(
            {
                "activation_mb": Num(),
                "weight_mb": Num(),
                "mask_mb": Num(),
                "area_mm2_per_mb": Num(),
                "leakage_mw_per_mb": Num(allow_zero=True),
                "access_nj_per_64b_per_sqrt_mb": Num(allow_zero=True),
                "bandwidth_bytes_per_cycle_per_pe": Num(optional=True, default=256.0),
            }
        ),
        "main_memory": Table(
            {
                "type": Str(("lpddr3", "hbm", "rram")),
                "bandwidth": Num(),
                "capacity": Num(),
                "energy_nj_per_64b": Num(allow_zero=True),
            }
        ),
        "vector": Table(
            {
                "softmax_cycles_per_tile": Num(),
                "layernorm_cycles_per_tile": Num(),
                "gelu_cycles_per_tile": Num(),
                "elementwise_cycles_per_tile": Num(),
            }
        ),
        "modules": Table(
            {
                name: _MODULE
                for name in (
                    "mac_lane",
                    "softmax",
                    "layernorm",
                    "pre_sparsity",
                    "post_sparsity",
                    "dataflow",
                    "dma",
                    "fifo",
                    "stochastic_rounding",
                )
            }
        ),
    }
)

PHAZE_SCHEMA = Table(
    {
        "kind": Str(("phaze",)),
        "name": Str(),
        "description": Str(optional=True, default=""),
        "compute": Table(
            {
                "tensor_cores": Num(integer=True),
                "tc_width": Num(integer=True),
                "tc_depth": Num(integer=True),
                "vector_cores": Num(integer=True),
                "vc_lanes": Num(integer=True),
                "clock_hz": Num(),
                "area_budget_mm2": Num(),
            }
        ),
        "memory": Table(
            {
                "global_buffer_bytes": Num(),
                "global_buffer_bandwidth": Num(),
                "hbm_bandwidth": Num(),
                "hbm_capacity": Num(),
            }
        ),
        "vector_cycles_per_element": Table(open_values=Num()),
        # optional area model (mm^2); without it the target has no area
        "area": Table(
            {
                "mm2_per_mac": Num(),
                "mm2_per_tensor_core": Num(allow_zero=True),
                "mm2_per_vector_lane": Num(),
                "mm2_per_vector_core": Num(allow_zero=True),
                "global_buffer_mib": List(Num(), min_len=2),
                "global_buffer_mm2": List(Num(), min_len=2),
            },
            optional=True,
        ),
    }
)

_LINK = Table({"bandwidth": Num(), "latency_s": Num(allow_zero=True), "efficiency": _EFF})

# How a training run uses the GPUs, beyond their datasheet: sustained_compute is the fraction
# of the calibrated GEMM throughput a long training run sustains (clocks under power).
_TRAINING = Table({"sustained_compute": Num(le=1.0, optional=True, default=1.0)}, optional=True)

CLUSTER_SCHEMA = Table(
    {
        "kind": Str(("cluster",)),
        "name": Str(),
        "description": Str(optional=True, default=""),
        "device": Str(),
        "gpus_per_node": Num(integer=True),
        "max_nodes": Num(integer=True),
        "intra_node": _LINK,
        "inter_node": _LINK,
        "training": _TRAINING,
    }
)
