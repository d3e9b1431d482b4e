"""Communication between devices: collectives over a group, and pipeline point-to-point.

The placement pass (`passes/place.py`) writes one program for every rank of a group (SPMD):
shapes are each rank's own part. A collective names its group (`"tp"` tensor parallel,
`"dp"` data parallel) and the group's size `ranks`:

    %y = tfm.all_reduce %x {group = "tp", ranks = 2 : i64, reduce = #tfm<reduce_kind sum>} : (tensor<32x64xbf16>) -> tensor<32x64xbf16>
    %y = tfm.all_gather %x {group = "tp", ranks = 2 : i64, dim = 1 : i64, blocks = 1 : i64} : (tensor<32x128xbf16>) -> tensor<32x256xbf16>
    %y = tfm.split %x {group = "tp", ranks = 2 : i64, dim = 1 : i64, blocks = 3 : i64} : (tensor<32x192xbf16>) -> tensor<32x96xbf16>
    %s = tfm.send %x {dst = 1 : i64} : (tensor<2x16x64xbf16>) -> tensor<2x16x64xbf16>
    %r = tfm.recv %s {src = 0 : i64} : (tensor<2x16x64xbf16>) -> tensor<2x16x64xbf16>

A dimension split over a group in `blocks` blocks holds, on rank r, the r-th part of every
block (a fused QKV weight split in 3 blocks keeps each rank's share of Q, of K and of V).
`tfm.split` keeps this rank's part of a replicated tensor (no communication). On one rank
(`ranks = 1`) every op is the identity; over more ranks the reference interpreter cannot run
them alone: `backends/placement/emulate.py` runs every rank and calls `collective()` (or
`local()` for `tfm.split`) with all ranks' operands. Communication time is the cluster
simulator's (`backends/cost/comm.py`), so `work()` counts no FLOPs and no memory traffic;
`message_bytes()` is what crosses the link per rank.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

from xdsl.dialects.builtin import I64, IntegerAttr, StringAttr, TensorType
from xdsl.ir import Attribute, SSAValue
from xdsl.irdl import irdl_op_definition, operand_def, prop_def, result_def, traits_def
from xdsl.traits import Pure

from ir.base import TfmOp, int_attr
from ir.enums import ReduceKind, ReduceKindAttr
from ir.errors import TandemError
from ir.lazy import torch
from ir.types import dtype, fmt, nbytes, normalize_dim, shape
from ir.work import OpWork

if TYPE_CHECKING:
    from torch import Tensor

COMM_WORK = OpWork("comm", 0, 0, 0, 0)


def chunks(t: Tensor, dim: int, ranks: int, blocks: int) -> list[Tensor]:
    """Each rank's part of `t` along `dim`: the r-th slice of every one of `blocks` blocks."""
    parts = [b.chunk(ranks, dim) for b in t.chunk(blocks, dim)]
    return [torch.cat([p[r] for p in parts], dim) for r in range(ranks)]


def unchunk(parts: Sequence[Tensor], dim: int, blocks: int) -> Tensor:
    """The inverse of `chunks`: the whole tensor from every rank's part."""
    per_rank = [p.chunk(blocks, dim) for p in parts]
    return torch.cat([per_rank[r][b] for b in range(blocks) for r in range(len(parts))], dim)


class _Collective(TfmOp):
    """One operand, one result, a group of `ranks` ranks."""

    input = operand_def(TensorType)
    result = result_def(TensorType)
    group = prop_def(StringAttr)
    ranks = prop_def(IntegerAttr[I64])
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "comm"
    # a collective needs every rank of its group
    IS_COLLECTIVE: ClassVar[bool] = True

    @property
    def size(self) -> int:
        return self.ranks.value.data

    @property
    def group_name(self) -> str:
        return self.group.data

    def verify_(self) -> None:
        self.expect(self.size >= 1, f"ranks must be >= 1, got {self.size}")
        self.expect(dtype(self.input) == dtype(self.result), "the dtype must not change")

    def work(self) -> OpWork:
        return COMM_WORK

    def message_bytes(self) -> int:
        """Bytes of the full buffer the collective works on (the larger side)."""
        return max(nbytes(self.input), nbytes(self.result))

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        if self.size == 1:
            return [args[0].reshape(shape(self.result))]
        raise TandemError(
            f"{self.name} over {self.size} ranks needs every rank: run the placed IR with "
            "backends.placement.emulate"
        )

    def collective(self, per_rank: Sequence[Tensor]) -> list[Tensor]:  # pragma: no cover
        """Every rank's result from every rank's operand (rank order)."""
        raise NotImplementedError


class _DimCollective(_Collective):
    dim = prop_def(IntegerAttr[I64])
    blocks = prop_def(IntegerAttr[I64])

    def __init__(
        self, input: SSAValue, group: str, ranks: int, dim: int, blocks: int, result_type: Attribute
    ) -> None:
        super().__init__(
            operands=[input],
            result_types=[result_type],
            properties={
                "group": StringAttr(group),
                "ranks": int_attr(ranks),
                "dim": int_attr(dim),
                "blocks": int_attr(blocks),
            },
        )

    @property
    def axis(self) -> int:
        return normalize_dim(self.dim.value.data, len(shape(self.input)))

    @property
    def block_count(self) -> int:
        return self.blocks.value.data

    def check_sizes(self, small: SSAValue, big: SSAValue) -> None:
        s, b = shape(small), shape(big)
        d = self.axis
        self.expect(0 <= d < len(s), f"dim {self.dim.value.data} out of range for {fmt(s)}")
        want = s[:d] + (s[d] * self.size,) + s[d + 1 :]
        self.expect(b == want, f"expected {fmt(want)} for {self.size} ranks, got {fmt(b)}")
        self.expect(
            self.block_count >= 1 and s[d] % self.block_count == 0,
            f"a part of size {s[d]} does not hold {self.block_count} blocks",
        )


@irdl_op_definition
class AllReduceOp(_Collective):
    """Every rank gets the reduction (`reduce`: sum, mean, max, min) of all ranks' tensors.

    %y = tfm.all_reduce %x {group = "tp", ranks = 2 : i64, reduce = #tfm<reduce_kind sum>} : (tensor<32x64xf32>) -> tensor<32x64xf32>
    """

    name = "tfm.all_reduce"
    reduce = prop_def(ReduceKindAttr)

    def __init__(self, input: SSAValue, group: str, ranks: int, reduce: str = "sum") -> None:
        super().__init__(
            operands=[input],
            result_types=[input.type],
            properties={
                "group": StringAttr(group),
                "ranks": int_attr(ranks),
                "reduce": ReduceKindAttr(ReduceKind(reduce)),
            },
        )

    def verify_(self) -> None:
        super().verify_()
        self.expect(self.input.type == self.result.type, "result type must equal the input type")
        self.expect(
            self.reduce.data in (ReduceKind.SUM, ReduceKind.MEAN, ReduceKind.MAX, ReduceKind.MIN),
            f"reduce must be sum, mean, max or min, got {self.reduce.data}",
        )

    def collective(self, per_rank: Sequence[Tensor]) -> list[Tensor]:
        stack = torch.stack(list(per_rank))
        kind = self.reduce.data
        if kind == ReduceKind.SUM:
            out = stack.sum(0)
        elif kind == ReduceKind.MEAN:
            out = stack.mean(0)
        elif kind == ReduceKind.MAX:
            out = stack.max(0).values
        else:
            out = stack.min(0).values
        return [out.clone() for _ in per_rank]


@irdl_op_definition
class AllGatherOp(_DimCollective):
    """Every rank gets the whole tensor, concatenated from all ranks' parts along `dim`.

    %y = tfm.all_gather %x {group = "tp", ranks = 2 : i64, dim = 1 : i64, blocks = 1 : i64} : (tensor<32x128xf32>) -> tensor<32x256xf32>
    """

    name = "tfm.all_gather"

    def verify_(self) -> None:
        super().verify_()
        self.check_sizes(self.input, self.result)

    def collective(self, per_rank: Sequence[Tensor]) -> list[Tensor]:
        whole = unchunk(per_rank, self.axis, self.block_count)
        return [whole.clone() for _ in per_rank]


@irdl_op_definition
class ReduceScatterOp(_DimCollective):
    """Sums all ranks' tensors and keeps this rank's part along `dim`.

    %y = tfm.reduce_scatter %x {group = "tp", ranks = 2 : i64, dim = 0 : i64, blocks = 1 : i64} : (tensor<32x64xf32>) -> tensor<16x64xf32>
    """

    name = "tfm.reduce_scatter"

    def verify_(self) -> None:
        super().verify_()
        self.check_sizes(self.result, self.input)

    def collective(self, per_rank: Sequence[Tensor]) -> list[Tensor]:
        total = torch.stack(list(per_rank)).sum(0)
        return chunks(total, self.axis, len(per_rank), self.block_count)


@irdl_op_definition
class SplitOp(_DimCollective):
    """This rank's part of a tensor every rank holds whole (no communication).

    %y = tfm.split %x {group = "tp", ranks = 2 : i64, dim = 1 : i64, blocks = 3 : i64} : (tensor<32x192xf32>) -> tensor<32x96xf32>
    """

    name = "tfm.split"
    IS_COLLECTIVE: ClassVar[bool] = False

    def verify_(self) -> None:
        super().verify_()
        self.check_sizes(self.result, self.input)

    def message_bytes(self) -> int:
        return 0

    def local(self, args: Sequence[Tensor], rank: int) -> list[Tensor]:
        """The result on `rank`."""
        return [chunks(args[0], self.axis, self.size, self.block_count)[rank].clone()]


class _PointToPoint(TfmOp):
    input = operand_def(TensorType)
    result = result_def(TensorType)
    traits = traits_def(Pure())
    assembly_format = "$input attr-dict `:` functional-type(operands, results)"
    KIND: ClassVar[str] = "comm"

    def verify_(self) -> None:
        self.expect(self.input.type == self.result.type, "result type must equal the input type")

    def work(self) -> OpWork:
        return COMM_WORK

    def message_bytes(self) -> int:
        return nbytes(self.input)

    def interpret(self, args: Sequence[Tensor]) -> list[Tensor]:
        return [args[0]]


@irdl_op_definition
class SendOp(_PointToPoint):
    """Sends a tensor to pipeline stage `dst`; the result is the tensor in flight.

    %s = tfm.send %x {dst = 1 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.send"
    dst = prop_def(IntegerAttr[I64])

    def __init__(self, input: SSAValue, dst: int) -> None:
        super().__init__(
            operands=[input], result_types=[input.type], properties={"dst": int_attr(dst)}
        )


@irdl_op_definition
class RecvOp(_PointToPoint):
    """Receives on this stage what stage `src` sent (its operand is the `tfm.send`).

    %r = tfm.recv %s {src = 0 : i64} : (tensor<2x16x64xf32>) -> tensor<2x16x64xf32>
    """

    name = "tfm.recv"
    src = prop_def(IntegerAttr[I64])

    def __init__(self, input: SSAValue, src: int) -> None:
        super().__init__(
            operands=[input], result_types=[input.type], properties={"src": int_attr(src)}
        )


COMM_OPS: list[type[TfmOp]] = [AllReduceOp, AllGatherOp, ReduceScatterOp, SplitOp, SendOp, RecvOp]
