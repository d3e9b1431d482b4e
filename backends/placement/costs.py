"""Per-layer times and memory of a plan on a cluster, from a template variant.

    lc = layer_costs(variant.layer, cluster, t=8, recompute="full", sp=False)
    lc.fwd, lc.bwd, lc.saved       # seconds per microbatch (compute + tensor-parallel
                                   # collectives on the critical path), bytes kept

Tensor-parallel collectives are on the critical path (Megatron-LM does not overlap them);
with sequence parallelism each all-reduce becomes a reduce-scatter plus an all-gather (the
same bytes on the ring), the ops on tensor-replicated values (norms, residual adds,
dropout) work on 1/t of the sequence, and the backward all-gathers each column-parallel
layer's input again for its weight gradient (the gathered input is not kept: that is where
the 34sbh/t activation memory comes from; Korthikanti et al. 2022, section 4.2.2). Full recomputation repeats the forward (collectives
included) before the backward; selective recomputation repeats attention's forward.

Each microbatch's backward adds its fresh weight gradients into the accumulated ones (Megatron-
LM's `main_grad.add_(grad)`, zeroed every iteration): read the gradient, read and write the
accumulator, a memory-bound pass over the rank's parameters (`accumulate_seconds`).

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


def regather_seconds(cluster: Cluster, seg: Segment, t: int) -> float:
    """Sequence parallelism's extra backward all-gathers: one per backward all-reduce of the
    layer without it (each column-parallel layer's input gradient), of the same size."""
    again = [("all_gather", nbytes) for kind, nbytes in seg.comm_bwd if kind == "all_reduce"]
    return comm_seconds(cluster, again, t)


def backward_comm_seconds(
    cluster: Cluster, seg: Segment, t: int, sp: bool, tp_overlap: bool = False
) -> float:
    """The backward's exposed tensor-parallel communication. With `tp_overlap` (Megatron-LM's
    asynchronous communication) each column-parallel layer's input-gradient all-reduce runs
    during its weight-gradient GEMM; with sequence parallelism the re-gather runs during the
    input-gradient GEMM and the reduce-scatter (half of each all-reduce's ring) during the
    weight-gradient GEMM, the all-gathers of the output gradients stay exposed. What the GEMMs
    (as long as the forward's, each) cannot hide is exposed."""
    ring = comm_seconds(cluster, seg.comm_bwd, t)
    again = regather_seconds(cluster, seg, t) if sp else 0.0
    if not tp_overlap:
        return ring + again
    if sp:
        return ring / 2 + max(0.0, ring / 2 + again - 2 * seg.gemm_fwd_s)
    return max(0.0, ring - seg.gemm_fwd_s)


def layer_costs(
    seg: Segment,
    cluster: Cluster,
    t: int,
    recompute: str,
    sp: bool,
    is_layer: bool = True,
    tp_overlap: bool = False,
) -> LayerCosts:
    sp_ranks = t if sp else 1
    shrink = 1.0 - 1.0 / sp_ranks
    fwd = seg.fwd_s - seg.repl_fwd_s * shrink
    bwd = seg.bwd_s - seg.repl_bwd_s * shrink
    cf = comm_seconds(cluster, seg.comm_fwd, t)
    cb = backward_comm_seconds(cluster, seg, t, sp, tp_overlap)
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


def accumulate_seconds(cluster: Cluster, dtype: str, params: float) -> float:
    """One microbatch's gradient accumulation over `params` weights (see the module doc)."""
    target = cluster.device_target
    nbytes = params * (_dtype_bytes(dtype) + 2 * grad_bytes(dtype))
    return nbytes / (target.hbm_bandwidth * target.memory_op_efficiency.get("elementwise", 0.8))


def _dtype_bytes(dtype: str) -> int:
    return 4 if dtype == "f32" else 2


def grad_bytes(dtype: str) -> int:
    """Bytes per gradient element as accumulated and all-reduced: fp16 models keep fp16
    gradients (Megatron-LM 2021); bf16 models accumulate in fp32."""
    return 2 if dtype == "f16" else 4
