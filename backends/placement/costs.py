"""Per-layer times and memory of a plan on a cluster, from a template variant.

    lc = layer_costs(variant.layer, cluster, t=8, recompute="full", sp=False)
    lc.fwd, lc.bwd, lc.saved       # seconds per microbatch (compute + tensor-parallel
                                   # collectives on the critical path), bytes kept

Tensor-parallel collectives are on the critical path (Megatron-LM does not overlap them);
with sequence parallelism each all-reduce becomes a reduce-scatter plus an all-gather (the
same bytes on the ring) and the ops on tensor-replicated values (norms, residual adds,
dropout) work on 1/t of the sequence. Full recomputation repeats the forward (collectives
included) before the backward; selective recomputation repeats attention's forward.

Memory per parameter (mixed precision, Megatron-LM): the weight in the model dtype, its
gradient in fp32 at the peak (bf16 accumulates in fp32; fp16 gradients are copied to fp32 for
the step), and Adam's fp32 master weight and two moments (12 bytes, divided over the
data-parallel ranks with ZeRO-1 / the distributed optimizer): 18 bytes per parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

from backends.cost.comm import collective_seconds
from backends.placement.template import Segment
from backends.targets import Cluster

ADAM_BYTES = 12  # fp32 master weight, first and second moment
# Adam step traffic per parameter: read and write the fp32 weight and both moments (24),
# read the gradient (4), write the model-dtype weight (2), read the gradient again for the
# norm used by clipping (4)
OPTIMIZER_TRAFFIC = 34


@dataclass
class LayerCosts:
    """One segment (a layer, or the embedding's / head's extra) under a plan, per microbatch."""

    compute_fwd: float
    compute_bwd: float  # includes recomputation
    comm_fwd: float
    comm_bwd: float  # includes the recomputed forward's collectives
    saved: float  # activations kept until the backward, bytes
    transient: float  # working memory while it runs, bytes
    params: int

    @property
    def fwd(self) -> float:
        return self.compute_fwd + self.comm_fwd

    @property
    def bwd(self) -> float:
        return self.compute_bwd + self.comm_bwd


def comm_seconds(cluster: Cluster, entries: list[tuple[str, float]], t: int) -> float:
    """Tensor-parallel collectives of a segment on a group of t consecutive ranks."""
    return sum(collective_seconds(cluster, kind, nbytes, t, 1) for kind, nbytes in entries)


def layer_costs(
    seg: Segment, cluster: Cluster, t: int, recompute: str, sp: bool, is_layer: bool = True
) -> LayerCosts:
    sp_ranks = t if sp else 1
    shrink = 1.0 - 1.0 / sp_ranks
    fwd = seg.fwd_s - seg.repl_fwd_s * shrink
    bwd = seg.bwd_s - seg.repl_bwd_s * shrink
    cf = comm_seconds(cluster, seg.comm_fwd, t)
    cb = comm_seconds(cluster, seg.comm_bwd, t)
    mode = recompute if is_layer else "none"
    if mode == "full":
        bwd += fwd
        cb += cf
    elif mode == "selective":
        bwd += seg.attn_fwd_s
    saved = seg.saved(mode, sp_ranks) if is_layer else seg.saved("none", 1)
    transient = max(0.0, seg.working - saved)
    return LayerCosts(fwd, bwd, cf, cb, saved, transient, seg.params)


def bytes_per_param(dtype: str, zero: bool, d: int) -> float:
    """Weight + gradient + Adam state per parameter on one rank (fp32 training keeps no
    separate master weight)."""
    shard = d if zero else 1
    if dtype == "f32":
        return 4 + 4 + 8 / shard
    # the gradient: an fp32 accumulation buffer (bf16), or fp16 gradients copied to fp32 at
    # the optimizer step (Megatron-LM's fp16 optimizer): 4 bytes either way at the peak
    return 2 + 4 + ADAM_BYTES / shard


def grad_bytes(dtype: str) -> int:
    """Bytes per gradient element as accumulated and all-reduced: fp16 models keep fp16
    gradients (Megatron-LM 2021); bf16 models accumulate in fp32."""
    return 2 if dtype == "f16" else 4
