"""Kernel time of each op of a function under a fusion preset: the `fuse` pass's kernels,
costed as the simulator costs them.

The placement search needs a layer's time "as it will run", so the fusion preset is an input
of the estimate, not a pass that already ran (../shared/PIPELINE.md). Which ops run as one
kernel is `backends.fusion.plan_kernels` (the analysis the `fuse` pass rewrites from); a
kernel is priced by `op_cost.kernel_cost` (what `tfm.fused` costs), every other op by
`op_cost` (attention as the preset runs it: materialised with Megatron's fused softmax for
`fused`, flash for `flash` and `inductor`, PyTorch's SDPA for `eager`).

`sustained` is the fraction of the calibrated tensor-core speed a long training run keeps
(the cluster file's `sustained_compute`): GEMM time, and attention's GEMMs, are divided by it.
`dropout=True` adds Megatron's dropout (0.1, not in the zoo's IR): one kernel over the
attention probabilities (read, write, 1-byte mask) and its backward, and the backward of each
bias-dropout-add (read the gradient and the mask, write the gradient; the forward's mask
write is inside the calibrated `residual` kernel efficiency).

    times = Kernels(fn.body.block, "fused").seconds(target, dropout=True, sustained=0.88)
    times.of[op]            # seconds booked on op: a kernel's on its head op, others 0
    times.backward[op]      # extra backward seconds of the forward kernel headed by op
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from xdsl.ir import Block, Operation, SSAValue

from backends.cost import memory_op_cost
from backends.fusion import PRESETS, Kernel, plan_kernels
from backends.op_cost import compute_dtype, kernel_cost, op_cost, signature
from backends.targets import GpuTarget
from ir import linalg_ops as la
from ir.attrs import MATERIALISED
from ir.base import TfmOp
from ir.comm_ops import COMM_OPS
from ir.dtypes import nbytes_of
from ir.errors import TandemError
from ir.types import nbytes, numel, shape

_COMM = tuple(COMM_OPS)
DROPOUT_KERNEL = "bias_dropout_add"


def check_preset(preset: str) -> str:
    if preset not in PRESETS:
        raise TandemError(f"unknown kernel preset {preset!r}; expected one of {', '.join(PRESETS)}")
    return preset


def is_view(op: Operation) -> bool:
    return isinstance(op, TfmOp) and op.IS_VIEW


@dataclass
class Times:
    """Seconds per op (a kernel's on its head op) and extra backward seconds per forward
    kernel head (dropout's backward, which the IR does not hold)."""

    of: dict[Operation, float] = field(default_factory=dict)
    backward: dict[Operation, float] = field(default_factory=dict)


class Kernels:
    """The kernels of a block under a preset (analysed once); `seconds` costs them at the
    values' current types (the planner retypes one sharded template per microbatch)."""

    def __init__(self, block: Block, preset: str) -> None:
        check_preset(preset)
        self.preset = preset
        self.plan = plan_kernels(block, preset)
        self.ops = [op for op in block.ops if isinstance(op, TfmOp)]
        self.heads = {k.head: k for k in self.plan.kernels}
        # ops whose booked time is a GEMM's (a matmul, or a kernel holding one)
        self.gemms = {op for op in self.ops if isinstance(op, la.MatmulOp)} - set(
            self.plan.kernel_of
        ) | {k.head for k in self.plan.kernels if any(isinstance(o, la.MatmulOp) for o in k.ops)}

    def kernel_of(self, op: Operation) -> Kernel | None:
        return self.plan.kernel_of.get(op)

    def seconds(
        self,
        target: GpuTarget,
        *,
        dropout: bool = False,
        sustained: float = 1.0,
        sizes: Callable[[SSAValue], tuple[int, int]] | None = None,
    ) -> Times:
        """`sizes(value) -> (elements, bytes)` when the caller knows them (faster)."""
        size = sizes or _size
        out = Times()
        cache: dict[tuple, float] = {}
        dead = self.plan.dead
        for op in self.ops:
            kernel = self.heads.get(op)
            if kernel is not None:  # identical layers' kernels are costed once
                key = (kernel.name, *(signature(o) for o in kernel.ops))
                if key not in cache:
                    cache[key] = _kernel_seconds(kernel, target, sustained, size)
                out.of[op] = cache[key]
                if dropout and kernel.forward and kernel.name == DROPOUT_KERNEL:
                    out.backward[op] = _hidden_dropout_backward(kernel, target, size)
                continue
            if op in self.plan.kernel_of or op in dead or is_view(op) or isinstance(op, _COMM):
                continue
            key = signature(op)
            if key not in cache:
                cache[key] = self._op_seconds(op, target, dropout, sustained)
            out.of[op] = cache[key]
        return out

    def _op_seconds(
        self, op: Operation, target: GpuTarget, dropout: bool, sustained: float
    ) -> float:
        if isinstance(op, la.MatmulOp):
            return op_cost(op, target).seconds / sustained
        if isinstance(op, la.AttentionOp | la.AttentionBackwardOp):
            return attention_seconds(op, target, self.plan.attention, dropout, sustained)
        return op_cost(op, target).seconds


def _size(v: SSAValue) -> tuple[int, int]:
    return numel(v), nbytes(v)


def _kernel_seconds(
    kernel: Kernel,
    target: GpuTarget,
    sustained: float,
    size: Callable[[SSAValue], tuple[int, int]],
) -> float:
    """One kernel as `tfm.fused` costs it (inputs read once, outputs written once)."""
    read = float(sum(size(v)[1] for v in kernel.inputs))
    wrote = float(sum(size(v)[1] for v in kernel.outputs))
    flops = sum(op.work().flops for op in kernel.ops if isinstance(op, TfmOp))
    cost = kernel_cost(
        target, kernel.name, kernel.ops, read, wrote, flops, compute_dtype(kernel.head)
    )
    gemm = any(isinstance(op, la.MatmulOp) for op in kernel.ops)
    return cost.seconds / sustained if gemm else cost.seconds


def _hidden_dropout_backward(
    kernel: Kernel, target: GpuTarget, size: Callable[[SSAValue], tuple[int, int]]
) -> float:
    """The gradient through the dropout of a bias-dropout-add: read it and the mask, write it."""
    elements, nbytes_ = size(kernel.outputs[0]) if kernel.outputs else (0, 0)
    if not elements:
        return 0.0
    dt = compute_dtype(kernel.head)
    return memory_op_cost(target, 2.0 * nbytes_ + elements, elements, dt, "dropout").seconds


def attention_seconds(
    op: Operation,
    target: GpuTarget,
    attention: str | None,
    dropout: bool,
    sustained: float = 1.0,
) -> float:
    """Attention forward or backward as `op_cost` prices it under the preset's attention
    kernel, its GEMMs at the sustained speed, plus the dropout kernels of materialised
    attention (flash and SDPA apply dropout inside the kernel)."""
    assert isinstance(op, la.AttentionOp | la.AttentionBackwardOp)
    cost = op_cost(op, target, attention=attention)
    parts = cost.detail.get("parts")
    if not isinstance(parts, dict):  # one flash / SDPA kernel
        return cost.seconds / sustained
    seconds = sum(s if name.startswith("softmax") else s / sustained for name, s in parts.items())
    if dropout and attention == MATERIALISED:
        b, h, sq, _d = shape(op.q)
        scores = float(b * h * sq * shape(op.k)[2])
        dt = compute_dtype(op)
        eb = nbytes_of(dt)
        seconds += memory_op_cost(target, (2 * eb + 1) * scores, scores, dt, "dropout").seconds
    return seconds
