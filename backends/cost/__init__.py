"""Per-op cost models: functions of shapes, dispatched on ``target.kind``.

``OpCost`` (``base.py``) is the common result. GPU models live in ``gemm.py``, ``memory_ops.py``
(with the minimal traffic of memory-bound ops in ``traffic.py``) and ``attention.py``;
AccelTran and PHAZE templates in ``accel.py``; collectives in ``comm.py``. The dispatching
entry points ``gemm_cost``, ``memory_op_cost`` and ``vector_op_cost`` pick the model by
``target.kind``.

    from backends.cost import gemm_cost
    gemm_cost(load_target("a100-sxm4-40gb"), 1, 8192, 8192, 8192).tflops   # ~252
"""

from __future__ import annotations

from backends.cost.accel import (
    acceltran_area,
    acceltran_matmul_cost,
    acceltran_vector_cost,
    phaze_area,
    phaze_gemm_cost,
    phaze_vector_cost,
)
from backends.cost.attention import attention_cost
from backends.cost.base import OpCost, bound_of
from backends.cost.comm import (
    allgather_cost,
    allreduce_cost,
    p2p_cost,
    reduce_scatter_cost,
)
from backends.cost.gemm import gemm_cost, gpu_gemm_cost
from backends.cost.memory_ops import memory_op_cost, vector_op_cost

__all__ = [
    "OpCost",
    "bound_of",
    "gemm_cost",
    "gpu_gemm_cost",
    "memory_op_cost",
    "vector_op_cost",
    "attention_cost",
    "acceltran_matmul_cost",
    "acceltran_vector_cost",
    "acceltran_area",
    "phaze_area",
    "phaze_gemm_cost",
    "phaze_vector_cost",
    "allreduce_cost",
    "allgather_cost",
    "reduce_scatter_cost",
    "p2p_cost",
]
