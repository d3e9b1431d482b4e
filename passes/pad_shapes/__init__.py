"""pad-shapes: zero-pad GEMM dims and attention head dims where the cost model predicts a gain.

    %w: tensor<64x50257xf16> {tfm.param = "lm_head.weight"}
    %y = tfm.matmul %x, %w : (tensor<8192x64xf16>, tensor<64x50257xf16>) -> tensor<8192x50257xf16>

becomes (the weight is padded at compile time: apply `tfm.param_pad` to the checkpoint tensor)

    %w: tensor<64x50304xf16> {tfm.param = "lm_head.weight", tfm.param_pad = array<i64: 0, 47>}
    %yp = tfm.matmul %x, %w {pad.gain = 0.61 : f64} : (tensor<8192x64xf16>, tensor<64x50304xf16>) -> tensor<8192x50304xf16>
    %y = tfm.slice %yp {dim = 1 : i64, start = 0 : i64, end = 50257 : i64, step = 1 : i64} : ...

The rewritten IR computes exactly what the original computed: reduction dims are padded with
zeros (`tfm.pad`), padded outputs are sliced away (`tfm.slice`; padded logits never reach the
softmax or the loss), attention keeps its explicit `scale` of the original head dim, and the
gradient of a padded parameter is returned padded (zero in the padded rows/cols).

How it decides (Anthony et al., arXiv 2401.14489: alignment, tile and wave quantization):
- A 2-D parameter and the GEMMs that use it form a group: its forward GEMM and the backward GEMM
  computing dX (the weight is read) and the one computing its gradient dW. One weight dim is M,
  N or K in different GEMMs, so the group shares one padded size per weight dim; the other GEMM
  dims (tokens) are chosen per GEMM. A GEMM on no parameter is a group of its own, and so are a
  `tfm.attention` and its `tfm.attention_backward` (padding the head dim D).
- Candidates per dim: the dim rounded up to 8, 16, 32, 64, 128 elements and to the target's tile
  sizes. A group's time is the cost model's predicted GEMM/attention time plus one copy per
  distinct activation that must be padded at run time (weights are padded at compile time, and a
  pad of a value whose extra rows/cols are already zero folds away). A group is padded only when
  its predicted time drops by at least `min-gain` (relative), so the predicted time never grows.
- Results are cached by shape, so the 96 identical layers of GPT-3 175B are searched once.

Options:
  target: hardware target name or .toml path for the cost model (default a100-sxm4-40gb).
  min-gain: least relative predicted gain of a group to pad it (default 0.02).
  verbose: print a per-group summary table to stderr.
  multiple: if > 0, force every GEMM dim and head dim up to a multiple of this, whatever the
    cost model says (for tests and experiments; the gain attributes still show the prediction).
    Another way to force padding on: `target="tests/data/pad-everything.toml"`, a made-up GPU
    on which every dim that is not a multiple of 256 bytes runs at 1% of peak.
  attention: also pad attention head dims (default true).
  fused-attention: cost attention as one fused (flash) kernel, else as two GEMMs and a softmax.

Every padded op gets `pad.gain` (the predicted relative gain of its group); the module gets
`pad.gain` (over all GEMMs and attention ops) and `pad.params` (parameter name -> padding).

Files: `costs` (the cost model, cached by shape), `groups` (GEMMs, the parameters they touch,
groups), `search` (candidate sizes, the padding chosen per group), `extents` (which trailing
rows/cols are known zero), `rewrite` (the patterns), `summary` (the verbose table).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, ModuleOp
from xdsl.ir import BlockArgument, Operation
from xdsl.passes import ModulePass

from ir import attrs
from ir.base import float_attr, ints_attr
from ir.errors import PassError
from ir.linalg_ops import MatmulOp
from ir.types import shape
from passes.pad_shapes.costs import Costs, Shape
from passes.pad_shapes.groups import collect_groups, param_name
from passes.pad_shapes.rewrite import rewrite_function
from passes.pad_shapes.search import Decision, Options, Planner
from passes.pad_shapes.summary import summary_table


@dataclass(frozen=True)
class PadShapes(ModulePass):
    """Pad GEMM dims (and attention head dims) to hardware-friendly sizes; see the module doc.

    Options: target, min-gain, verbose, multiple, attention, fused-attention.
    """

    name = "pad-shapes"

    target: str = "a100-sxm4-40gb"
    min_gain: float | int = 0.02  # int too, so that `min-gain=0` parses
    verbose: bool = False
    multiple: int = 0
    attention: bool = True
    fused_attention: bool = True

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        if self.multiple < 0:
            raise PassError(f"pad-shapes: multiple must be >= 0, got {self.multiple}")
        if not 0 <= float(self.min_gain) <= 1:  # also refuses nan
            raise PassError(f"pad-shapes: min-gain must be in [0, 1], got {self.min_gain}")
        costs = Costs(self.target, self.fused_attention)
        planner = Planner(costs, Options(float(self.min_gain), self.multiple))
        decisions: list[Decision] = []
        all_params: dict[str, Shape] = {}
        for fn in [o for o in op.walk() if isinstance(o, func.FuncOp) and not o.is_declaration]:
            fn_decisions, params = _pad_function(fn, planner, self.attention)
            decisions += fn_decisions
            all_params.update(params)
        _annotate_module(op, decisions, all_params)
        if self.verbose:
            print(summary_table(decisions, costs.target.name), file=sys.stderr)


def _pad_function(
    fn: func.FuncOp, planner: Planner, attention: bool
) -> tuple[list[Decision], dict[str, Shape]]:
    """Plan and rewrite one function; returns the decisions and name -> padding of parameters."""
    groups, att_groups = collect_groups(fn)
    gemm_decisions = [planner.decide(g) for g in groups]
    att_decisions = [planner.decide_attention(g) for g in att_groups] if attention else []
    padded_params: dict[BlockArgument, Shape] = {}
    for group, dec in zip(groups, gemm_decisions, strict=True):
        if dec.applied and group.param is not None and dec.param_shape != shape(group.param):
            padded_params[group.param] = dec.param_shape  # type: ignore[assignment]
    dims: dict[Operation, tuple[int, ...]] = {}
    gains: dict[Operation, float] = {}
    for dec in gemm_decisions + att_decisions:
        for o, d in dec.dims.items():
            if dec.applied and _changes(o, d):
                dims[o] = d
                gains[o] = dec.gain
    pads = {
        param_name(a) or "": tuple(w - h for w, h in zip(s, shape(a), strict=True))
        for a, s in padded_params.items()
    }
    if dims or padded_params:
        rewrite_function(fn, dims, gains, padded_params)
    return gemm_decisions + att_decisions, pads


def _changes(op: Operation, dims: tuple[int, ...]) -> bool:
    if isinstance(op, MatmulOp):
        _, m, n, k = op.dims()
        return tuple(dims) != (m, n, k)
    return dims[0] != shape(op.q)[-1]  # type: ignore[attr-defined]


def _annotate_module(
    module: ModuleOp, decisions: Sequence[Decision], params: dict[str, Shape]
) -> None:
    if not any(d.applied for d in decisions):
        return
    before = sum(d.before for d in decisions)
    after = sum(d.after if d.applied else d.before for d in decisions)
    module.attributes[attrs.PAD_GAIN] = float_attr(
        round((before - after) / before, 6) if before else 0.0
    )
    if params:
        module.attributes[attrs.PAD_PARAMS] = DictionaryAttr(
            {n: ints_attr(p) for n, p in sorted(params.items())}
        )


__all__ = ["PadShapes"]
