"""FLOP and byte totals of a module, by op kind, for `tandem flops` and the reports.

Each op defines its own work (`op.work()`: FLOPs, bytes, GEMMs; see `ir/work.py`); this
module adds them up. `mm_flops` is the part `torch.utils.flop_counter.FlopCounterMode`
counts (matmuls and attention, with its formulas); `flops` adds the estimated arithmetic of
everything else. Bytes are main-memory traffic of unfused ops: operands read once, results
written once; views (reshape, permute, broadcast, slice) move nothing. A `tfm.fused` kernel
counts once (its body's FLOPs, its inputs and outputs); the ops inside it are not counted again.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Operation

from ir.base import TfmOp
from ir.fused_ops import top_level
from ir.work import VIEW_WORK, OpWork


def count_op(op: Operation) -> OpWork:
    """The op's work; ops outside tfm (func.return) do none."""
    return op.work() if isinstance(op, TfmOp) else VIEW_WORK


@dataclass
class Totals:
    flops: int = 0
    mm_flops: int = 0
    bytes: int = 0
    ops: int = 0
    by_kind: dict[str, dict[str, int]] = field(
        default_factory=lambda: defaultdict(lambda: defaultdict(int))
    )

    def add(self, c: OpWork) -> None:
        self.flops += c.flops
        self.mm_flops += c.mm_flops
        self.bytes += c.bytes
        self.ops += 1
        k = self.by_kind[c.kind]
        k["ops"] += 1
        k["flops"] += c.flops
        k["bytes"] += c.bytes

    def to_json(self) -> dict:
        return {
            "flops": self.flops,
            "flop_counter_flops": self.mm_flops,
            "bytes": self.bytes,
            "ops": self.ops,
            "by_kind": {k: dict(v) for k, v in sorted(self.by_kind.items())},
        }


def count_module(module: ModuleOp) -> Totals:
    totals = Totals()
    for op in module.walk():
        if op.name.startswith("tfm.") and top_level(op):
            totals.add(count_op(op))
    return totals
