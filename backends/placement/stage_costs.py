"""Per-stage times of a placed function, from its own ops: what `tandem compile` simulates.

The placed IR holds one rank's ops of every (virtual) stage (`stage = k`). Each stage's
forward and backward are the kernel times of its ops under the fusion preset
(`kernels.Kernels`) plus its tensor-parallel collectives on the cluster's link; full
recomputation adds the forward of its transformer layers (collectives included) to the
backward, selective recomputation their attention forward.

    chunks = stage_times(placed_fn, plan, cluster, "fused", dropout=True)
    chunks[s] == (forward s, backward s, collectives s) of virtual stage s, per microbatch
"""

from __future__ import annotations

from xdsl.dialects import func

from backends.cost.comm import collective_seconds
from backends.placement import kernels
from backends.placement.plan import Plan
from backends.targets import Cluster
from ir import attrs
from ir import comm_ops as co
from ir import linalg_ops as la


def stage_times(
    fn: func.FuncOp, plan: Plan, cluster: Cluster, preset: str, *, dropout: bool = True
) -> list[tuple[float, float, float]]:
    ops = [op for op in fn.body.block.ops if not isinstance(op, func.ReturnOp)]
    times = kernels.Kernels(fn.body.block, preset).seconds(
        cluster.device_target, dropout=dropout, sustained=cluster.sustained_compute
    )
    n = len(plan.stage_layers)
    fwd = [0.0] * n
    bwd = [0.0] * n
    redo = [0.0] * n
    comm = [0.0] * n
    for op in ops:
        stage = attrs.read_int(op, attrs.STAGE)
        if stage is None:
            continue
        backward = attrs.phase_of(op) == attrs.BACKWARD
        cost = times.of.get(op, 0.0)
        bwd[stage] += times.backward.get(op, 0.0)  # dropout's backward, not in the IR
        if isinstance(op, co.SplitOp):
            continue
        if isinstance(op, co._Collective) and op.group_name == "tp":
            cost = collective_seconds(
                cluster, op.name.removeprefix("tfm."), op.message_bytes(), op.size, 1
            )
            repeats = (
                2
                if plan.recompute == "full" and not backward and attrs.layer_of(op) is not None
                else 1
            )
            comm[stage] += cost * repeats
        if backward:
            bwd[stage] += cost
            continue
        fwd[stage] += cost
        in_layer = attrs.layer_of(op) is not None
        if plan.recompute == "full" and in_layer:
            redo[stage] += cost
        elif plan.recompute == "selective" and isinstance(op, la.AttentionOp):
            redo[stage] += cost
    return [(fwd[s], bwd[s] + redo[s], comm[s]) for s in range(n)]
