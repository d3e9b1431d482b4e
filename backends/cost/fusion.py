"""Fused-kernel cost on GPUs: one kernel, inputs read once, outputs written once.

A kernel made of several ops (`tfm.fused`, or the softmax inside materialised attention)
runs at the roofline of its external traffic and its arithmetic, plus one launch floor:

    memory  = bytes / (HBM bandwidth * efficiency[class])
    compute = flops / peak vector (f32) FLOP/s
    seconds = max(memory, compute) + launch_overhead_s

The efficiency depends on what the kernel does, not on how many ops it holds; the classes
and their calibration (target TOML `[fusion]`, fitted by tools/calibrate_fusion.py):

    stream    pointwise chains: bias+GELU, SwiGLU, RoPE, inductor pointwise kernels
              (Megatron's fused bias-GELU, ops_a100.csv)
    residual  bias + dropout + residual add (Megatron's bias_dropout_add, ops_a100.csv)
    norm      layer / RMS norm and other row reductions (ops_a100.csv)
    softmax   scale + mask + softmax over materialised attention scores (whole Megatron
              layers, layers_a100.csv: the only measurement of that kernel)

Every efficiency is <= 1, so no kernel beats peak bandwidth or peak compute.

    fused_kernel_cost(load_target("a100-sxm4-40gb"), 4 * 8192 * 10240, 8 * 8192 * 10240, "stream")
"""

from __future__ import annotations

from backends.cost.base import OpCost
from backends.cost.memory_ops import gpu_stream_cost
from backends.targets import GpuTarget
from ir.errors import TandemError

KERNEL_CLASSES = ("stream", "residual", "norm", "softmax")


def kernel_class(name: str, kinds: set[str], vector_kinds: set[str]) -> str:
    """The class of a kernel from its name and the report/vector kinds of its ops."""
    if "softmax" in kinds or "softmax" in name:
        return "softmax"
    if kinds & {"norm", "reduce", "loss"} or name.endswith("norm") or "norm_" in name:
        return "norm"
    if "dropout" in vector_kinds or name.startswith("bias_dropout_add"):
        return "residual"
    return "stream"


def fused_kernel_cost(
    target: GpuTarget, bytes: float, flops: float, kernel: str = "stream"
) -> OpCost:
    """One fused memory-bound kernel moving `bytes` and doing `flops` (see the module doc)."""
    if kernel not in KERNEL_CLASSES:
        raise TandemError(
            f"fused_kernel_cost: kernel class must be one of {list(KERNEL_CLASSES)}, got {kernel!r}"
        )
    if bytes < 0 or flops < 0:
        raise TandemError(f"fused_kernel_cost: bytes and flops must be >= 0, got {bytes}, {flops}")
    eff = target.fusion.efficiency(kernel)
    return gpu_stream_cost(target, bytes, flops, eff, {"kernel_class": kernel})


def fused_softmax_cost(
    target: GpuTarget, elements: float, dtype_bytes: int, flops: float, backward: bool = False
) -> OpCost:
    """Megatron's scale+mask+softmax over `elements` scores: read them, write probabilities
    (backward: read the output gradient and the probabilities, write the score gradient)."""
    tensors = 3 if backward else 2
    return fused_kernel_cost(target, tensors * dtype_bytes * elements, flops, "softmax")
