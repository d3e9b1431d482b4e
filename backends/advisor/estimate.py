"""Predicted per-GPU time of a ModelShape: the same per-op cost functions the simulator uses.

    est = Estimator(load_target("a100-sxm4-40gb"), dtype="f16", training=False)
    e = est.estimate(shape)          # GPT-3 2.7B, b=4, s=2048
    e.layer_tflops                   # 150 (32 heads, h/a = 80); 173 with 20 heads (h/a = 128)

Per layer: the weight GEMMs (`shape.layer_gemms`, priced by `gemm_cost`), attention and the
memory-bound kernels as the kernel preset runs them (the same presets and cost functions as
`fuse{kernels=...}` and the simulator):

    eager     one flash kernel for attention; every elementwise op its own kernel
              (`vector_op_cost`: 2 layer norms, bias add + activation (+ gate product), 2 x
              bias add + residual add)
    fused     attention materialised: two GEMMs and Megatron's fused scale-mask-softmax;
              fused kernels (`fused_kernel_cost`): 2 layer norms, bias+activation, 2
              bias-dropout-adds
    flash     fused, with one flash kernel for attention (the default)
    inductor  flash attention; bias + residual + layer norm in one kernel (twice) and the
              bias + activation kernel

Once per model: the logits GEMM and a fused cross-entropy. Training adds each GEMM's two
backward GEMMs (`shape.backward_gemms`), twice the memory traffic, and the attention core
once more (selective activation recomputation).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field

from backends.advisor.shape import (
    GemmDims,
    ModelShape,
    attention_gemms,
    backward_gemms,
    layer_gemms,
    logits_gemm,
    param_count,
)
from backends.cost import attention_cost, gemm_cost, memory_op_cost, vector_op_cost
from backends.cost.fusion import fused_kernel_cost
from backends.targets import GpuTarget, Target
from ir import estimates
from ir.dtypes import nbytes_of
from ir.errors import TandemError

KERNEL_PRESETS = ("eager", "fused", "flash", "inductor")
BYTES_PER_PARAM_TRAINING = 16  # fp16 weights and grads + fp32 master weights and Adam moments


@dataclass(frozen=True)
class Estimate:
    """Predicted per-GPU time and GEMM FLOPs of one layer and of the whole model."""

    layer_seconds: float
    layer_flops: float
    model_seconds: float
    model_flops: float
    params: int
    memory_bytes: float
    tokens: int
    parts: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def seconds_per_token(self) -> float:
        return self.model_seconds / self.tokens

    @property
    def layer_tflops(self) -> float:
        return self.layer_flops / self.layer_seconds / 1e12

    @property
    def model_tflops(self) -> float:
        return self.model_flops / self.model_seconds / 1e12

    def to_json(self) -> dict:
        return {
            "layer_seconds": self.layer_seconds,
            "layer_tflops": self.layer_tflops,
            "model_seconds": self.model_seconds,
            "model_tflops": self.model_tflops,
            "seconds_per_token": self.seconds_per_token,
            "params": self.params,
            "memory_bytes": self.memory_bytes,
            "layer_parts_seconds": dict(self.parts),
        }


class Estimator:
    """Per-GPU time of a ModelShape on a target, from the per-op cost models (cached)."""

    def __init__(
        self,
        target: Target,
        *,
        dtype: str = "f16",
        training: bool = False,
        kernels: str = "flash",
    ) -> None:
        if kernels not in KERNEL_PRESETS:
            raise TandemError(f"kernels must be one of {list(KERNEL_PRESETS)}, got {kernels!r}")
        self.target, self.dtype, self.training, self.kernels = target, dtype, training, kernels
        self.eb = nbytes_of(dtype)
        self._cache: dict[tuple, Estimate] = {}

    def gemm(self, g: GemmDims) -> float:
        return gemm_cost(self.target, *g, self.dtype).seconds

    def gemms_time(self, gemms: Iterable[GemmDims]) -> tuple[float, float]:
        """Seconds and FLOPs of GEMMs (training: with their backward GEMMs)."""
        seconds = flops = 0.0
        for g in gemms:
            passes = [g, *backward_gemms(g)] if self.training else [g]
            for p in passes:
                seconds += self.gemm(p)
                flops += 2.0 * math.prod(p)
        return seconds, flops

    def memory_op(self, kind: str, elements: float) -> float:
        factor = 2.0 if self.training else 1.0
        return factor * vector_op_cost(self.target, kind, int(elements), self.dtype).seconds

    def kernel(self, kind: str, tensors: float, elements: float) -> float:
        """Seconds of one fused kernel of class `kind` moving `tensors` tensors of `elements`
        (accelerators: the same traffic as one memory op)."""
        nbytes = tensors * self.eb * elements
        flops = estimates.VECTOR_OP * elements
        if isinstance(self.target, GpuTarget):
            return fused_kernel_cost(self.target, nbytes, flops, kind).seconds
        return memory_op_cost(self.target, nbytes, flops, self.dtype).seconds

    def memory_ops_time(self, s: ModelShape) -> float:
        """Norms, activation and residual kernels of one layer under the kernel preset."""
        tokens = s.batch * s.seq
        hidden = tokens * s.hidden
        act = tokens * s.ffn // s.tp
        gate = 1 if s.gated else 0
        if self.kernels == "eager":
            activation = self.memory_op("add", act * (1 + gate)) + self.memory_op("gelu", act)
            activation += gate * self.memory_op("elementwise", act)  # the gate product
            return (
                2 * self.memory_op("layernorm", hidden)
                + activation
                + 2 * (self.memory_op("add", hidden) + self.memory_op("add", hidden))
            )
        factor = 2.0 if self.training else 1.0  # the backward kernel moves about as much
        activation = self.kernel("stream", 2 + gate, act)  # read x (and the gate), write y
        if self.kernels == "inductor":  # bias + residual + norm: read 2, write sum and norm
            return factor * (activation + 2 * self.kernel("norm", 4, hidden))
        norms = 2 * self.kernel("norm", 2, hidden)
        residuals = 2 * self.kernel("residual", 3, hidden)  # read x and the residual, write
        return factor * (norms + activation + residuals)

    def attention_time(self, s: ModelShape) -> tuple[float, float]:
        t, d = s.tp, s.head_dim
        gemms = attention_gemms(s)
        flops = 2.0 * sum(math.prod(g) for g in gemms) * (3 if self.training else 1)
        if self.kernels == "fused":
            seconds, _ = self.gemms_time(gemms)
            elements = s.batch * s.heads // t * s.seq * s.seq  # b*a/t score matrices
            # fused scale-mask-softmax: read scores, write probabilities (backward: 3 tensors)
            seconds += self.kernel("softmax", 2, elements)
            if self.training:
                seconds += self.kernel("softmax", 3, elements)
            return seconds, flops
        b, heads, kvh = s.batch, s.heads // t, max(1, s.kv_heads // t)
        seconds = attention_cost(
            self.target, b, heads, kvh, s.seq, s.seq, d, self.dtype, causal=False
        ).seconds
        if self.training:
            seconds += attention_cost(
                self.target,
                b,
                heads,
                kvh,
                s.seq,
                s.seq,
                d,
                self.dtype,
                causal=False,
                backward=True,
            ).seconds
        return seconds, flops

    def recompute_time(self, s: ModelShape) -> float:
        """Selective recomputation re-runs the attention core in the backward pass."""
        if not self.training:
            return 0.0
        fwd = Estimator(self.target, dtype=self.dtype, training=False, kernels=self.kernels)
        return fwd.attention_time(s)[0]

    def estimate(self, s: ModelShape, base: ModelShape | None = None) -> Estimate:
        key = (s, base)
        if key not in self._cache:
            self._cache[key] = self._estimate(s, base or s)
        return self._cache[key]

    def _estimate(self, s: ModelShape, base: ModelShape) -> Estimate:
        s.check()
        tokens = s.batch * s.seq
        parts: dict[str, float] = {}
        gemms = layer_gemms(s)
        for name, g in gemms.items():
            parts[name], _ = self.gemms_time([g])
        gemm_flops = self.gemms_time(gemms.values())[1]
        parts["attention"], att_flops = self.attention_time(s)
        parts["attention"] += self.recompute_time(s)
        parts["memory_ops"] = self.memory_ops_time(s)
        layer_seconds = sum(parts.values())
        layer_flops = gemm_flops + att_flops
        logits = logits_gemm(s)
        head_seconds, head_flops = self.gemms_time([logits])
        head_seconds += self.memory_op("elementwise", tokens * logits[2])  # fused cross-entropy
        params = param_count(s, base)
        model_seconds = s.layers * layer_seconds + head_seconds
        model_flops = s.layers * layer_flops + head_flops
        return Estimate(
            layer_seconds,
            layer_flops,
            model_seconds,
            model_flops,
            params,
            self.memory(s, params),
            tokens,
            parts,
        )

    def memory(self, s: ModelShape, params: int) -> float:
        """Bytes per GPU: model states (training: 16 per parameter) plus activations."""
        if not self.training:
            return self.eb * params / s.tp
        return BYTES_PER_PARAM_TRAINING * params / s.tp + self.activation_bytes(s)

    def activation_bytes(self, s: ModelShape) -> float:
        """Stashed activations, 34*s*b*h/t bytes per layer: selective recomputation with
        sequence parallelism (Korthikanti et al., arXiv 2205.05198)."""
        if not self.training:
            return 0.0
        return s.layers * 34.0 * s.seq * s.batch * s.hidden / s.tp
