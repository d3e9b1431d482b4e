"""What pad-shapes asks the cost model: predicted seconds of GEMMs, attention and pad copies.

The same `backends.cost` functions the simulator uses, cached by shape, so the 96 identical
layers of GPT-3 175B are priced once. For the logits GEMM

    %y = tfm.matmul %x, %w : (tensor<8192x64xf16>, tensor<64x50257xf16>) -> tensor<8192x50257xf16>

the search compares

    costs.gemm(1, 8192, 50257, 64, "f16")             # as it stands
    costs.gemm(1, 8192, 50304, 64, "f16")             # N padded (the weight: at compile time)
    costs.copy((8192, 50257), (8192, 50304), "f16")   # a run-time tfm.pad, e.g. of dY
"""

from __future__ import annotations

import math

from backends.cost import attention_cost, gemm_cost, memory_op_cost
from backends.targets import load_target
from ir.dtypes import nbytes_of
from ir.errors import PassError, TandemError

Shape = tuple[int, ...]


class Costs:
    """Predicted seconds of GEMMs, attention and pad copies on one target, cached by shape."""

    def __init__(self, target_name: str, fused_attention: bool = True) -> None:
        try:
            self.target = load_target(target_name)
        except TandemError as e:
            raise PassError(f"pad-shapes: {e}") from e
        self.fused = fused_attention
        self._gemm: dict[tuple, float] = {}
        self._att: dict[tuple, float] = {}
        self._copy: dict[tuple, float] = {}

    def tile_sizes(self) -> tuple[int, ...]:
        """Tile edges of the target (cuBLAS CTA tiles, AccelTran tile_x, PHAZE core size)."""
        t = self.target
        sizes: set[int] = set()
        for tm, tn in getattr(t, "tile_shapes", ()):
            sizes |= {tm, tn}
        for name in ("tile_x", "tc_width", "tc_depth"):
            if getattr(t, name, None):
                sizes.add(int(getattr(t, name)))
        return tuple(sorted(sizes))

    def gemm(self, batch: int, m: int, n: int, k: int, dt: str) -> float:
        key = (batch, m, n, k, dt)
        if key not in self._gemm:
            self._gemm[key] = gemm_cost(self.target, batch, m, n, k, cost_dtype(dt)).seconds
        return self._gemm[key]

    def attention(
        self,
        b: int,
        h: int,
        kvh: int,
        sq: int,
        sk: int,
        d: int,
        dt: str,
        causal: bool,
        backward: bool,
    ) -> float:
        key = (b, h, kvh, sq, sk, d, dt, causal, backward)
        if key not in self._att:
            self._att[key] = attention_cost(
                self.target,
                b,
                h,
                kvh,
                sq,
                sk,
                d,
                cost_dtype(dt),
                causal=causal,
                fused=self.fused,
                backward=backward,
            ).seconds
        return self._att[key]

    def copy(self, src: Shape, dst: Shape, dt: str) -> float:
        """A pad kernel: read `src`, write `dst` (zeros included)."""
        key = (src, dst, dt)
        if key not in self._copy:
            nbytes = float(nbytes_of(dt)) * (math.prod(src) + math.prod(dst))
            self._copy[key] = memory_op_cost(
                self.target, nbytes, 0.0, cost_dtype(dt), "copy"
            ).seconds
        return self._copy[key]


def cost_dtype(dt: str) -> str:
    """The dtype the cost model prices `dt` at (integer and f64 tensors as f32)."""
    return dt if dt in ("f32", "f16", "bf16") else "f32"
