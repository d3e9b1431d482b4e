"""What an op does, as numbers: its FLOPs, the bytes it moves and the GEMMs inside it.

Every tfm op answers `op.work()` (see `ir.base.TfmOp`); FLOP counting, the cost model and the
simulator all read it, so an op's arithmetic is defined once, next to the op.

    tfm.matmul (tensor<2x16x64xf16>, tensor<256x64xf16>) -> tensor<2x16x256xf16>
    OpWork(kind="matmul", flops=1048576, mm_flops=1048576, bytes_read=36864,
           bytes_written=16384, gemms=(GemmShape(batch=1, m=32, n=256, k=64),))
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class GemmShape:
    """C[batch, m, n] = A[batch, m, k] @ B[batch, k, n]: the cost model's unit of work."""

    batch: int
    m: int
    n: int
    k: int

    @property
    def flops(self) -> int:
        return 2 * self.batch * self.m * self.n * self.k


@dataclass(frozen=True)
class OpWork:
    """FLOPs and main-memory traffic of one unfused op.

    kind: the report category ("matmul", "attention", "softmax", "norm", "elementwise",
      "embedding", "reduce", "loss", "data-movement", "generic", "view").
    mm_flops: the FLOPs `torch.utils.flop_counter.FlopCounterMode` counts (matmuls and
      attention); `flops` adds the estimated arithmetic of everything else.
    bytes_read / bytes_written: operands read once, results written once (views move nothing).
    """

    kind: str
    flops: int
    mm_flops: int
    bytes_read: int
    bytes_written: int
    gemms: tuple[GemmShape, ...] = ()

    @property
    def bytes(self) -> int:
        return self.bytes_read + self.bytes_written


VIEW_WORK = OpWork("view", 0, 0, 0, 0)
