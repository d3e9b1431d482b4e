"""The schemas of the four file kinds: ``kind = "gpu"``, ``"acceltran"``, ``"phaze"`` and
``"cluster"`` (see the built-in files next to this module and in ``backends/clusters/``).

    [compute]
    sm_count = 108          # Num(integer=True): a positive integer
    alignment_bytes = 128   # Num(integer=True, pow2=True)
"""

from __future__ import annotations

from backends.targets.schema import Bool, List, Num, Str, Table

_EFF = Num(le=1.0)
_ALIGN_TABLE = List(_EFF, length=7)
_PEAKS = Table(
    {
        "f32": Num(),
        "tf32": Num(optional=True),
        "f16": Num(),
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
                "peak_flops": _PEAKS,
                "tile_shapes": List(List(Num(integer=True), length=2)),
                "k_tile": Num(integer=True),
                "alignment_bytes": Num(integer=True, pow2=True),
                "launch_overhead_s": Num(allow_zero=True),
                "max_split_k": Num(integer=True),
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
                "memory_op": Table(open_values=_EFF),
            }
        ),
        "calibration": Table(open_values=Num(allow_zero=True), optional=True),
        # structured sparsity the tensor cores exploit; absent: dense kernels only
        "sparsity": Table({"structured": Str(("2:4",)), "speedup": Num(le=2.0)}, optional=True),
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
    }
)

_LINK = Table({"bandwidth": Num(), "latency_s": Num(allow_zero=True), "efficiency": _EFF})

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
    }
)
