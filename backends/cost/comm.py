"""Collective communication: alpha-beta ring model on a ``Cluster``.

For n devices over a link of achieved bandwidth bw (bytes/s per device per direction) and
per-step latency alpha:

* all-reduce:      2(n-1)/n * bytes / bw + 2(n-1) * alpha
* all-gather:      (n-1)/n * bytes / bw + (n-1) * alpha   (bytes = gathered output size)
* reduce-scatter:  (n-1)/n * bytes / bw + (n-1) * alpha   (bytes = input size)
* p2p send:        bytes / bw + alpha

``intra_node=True`` uses NVLink; ``False`` uses InfiniBand (per-GPU share of the node's NICs);
``None`` picks NVLink when the n devices fit in one node.

Two-level topology (``group_link``): a group of n ranks ``stride`` apart (tensor-parallel
groups are consecutive ranks, data-parallel ones ``t`` apart, pipeline neighbours ``t*d``
apart) runs on NVLink when it fits in one node. A group spanning nodes rings through every
node: with k of its members in each node, k rings run side by side, each crossing the node
boundary through one member's NIC, so the ring sees min(NVLink, k x one NIC):

    group_link(dgx, 8, 1)     # NVLink (one node)
    group_link(dgx, 24, 64)   # one member per node: one NIC, 25 GB/s x efficiency
    group_link(dgx, 32, 1)    # 8 per node: 8 NICs, 200 GB/s x efficiency
"""

from __future__ import annotations

from backends.cost.base import OpCost
from backends.targets import Cluster, Link
from ir.errors import TandemError


def _link(cluster: Cluster, n: int, intra_node: bool | None) -> tuple[Link, str]:
    if intra_node is None:
        intra_node = n <= cluster.gpus_per_node
    if intra_node and n > cluster.gpus_per_node:
        raise TandemError(
            f"{cluster.name}: {n} devices do not fit in one node "
            f"({cluster.gpus_per_node} GPUs per node)"
        )
    if n > cluster.gpus_per_node * cluster.max_nodes:
        raise TandemError(
            f"{cluster.name}: {n} devices exceed the cluster "
            f"({cluster.max_nodes} nodes x {cluster.gpus_per_node} GPUs)"
        )
    return (cluster.intra_node, "nvlink") if intra_node else (cluster.inter_node, "ib")


def _ring(
    cluster: Cluster,
    nbytes: float,
    n: int,
    intra_node: bool | None,
    bw_factor: float,
    steps: int,
    what: str,
) -> OpCost:
    if nbytes < 0:
        raise TandemError(f"{what}: bytes must be >= 0, got {nbytes}")
    if not isinstance(n, int) or n < 1:
        raise TandemError(f"{what}: n_devices must be a positive integer, got {n!r}")
    if n == 1:
        return OpCost(
            0.0,
            0.0,
            0.0,
            0.0,
            0.0,
            "link",
            bound="latency",
            detail={"collective": what, "n_devices": 1},
        )
    link, name = _link(cluster, n, intra_node)
    beta = bw_factor * nbytes / link.effective_bandwidth
    alpha = steps * link.latency_s
    return OpCost(
        seconds=beta + alpha,
        flops=0.0,
        bytes=bw_factor * nbytes,
        compute_seconds=0.0,
        memory_seconds=beta,
        unit="link",
        bound="latency" if alpha >= beta else "memory",
        detail={
            "collective": what,
            "link": name,
            "n_devices": n,
            "bandwidth": link.effective_bandwidth,
            "latency_seconds": alpha,
        },
    )


def allreduce_cost(
    cluster: Cluster, bytes: float, n_devices: int, intra_node: bool | None = None
) -> OpCost:
    """Ring all-reduce of a ``bytes``-sized buffer on every device."""
    n = n_devices
    return _ring(cluster, bytes, n, intra_node, 2.0 * (n - 1) / n, 2 * (n - 1), "allreduce")


def allgather_cost(
    cluster: Cluster, bytes: float, n_devices: int, intra_node: bool | None = None
) -> OpCost:
    """Ring all-gather; ``bytes`` is the size of the gathered (output) buffer."""
    n = n_devices
    return _ring(cluster, bytes, n, intra_node, (n - 1) / n, n - 1, "allgather")


def reduce_scatter_cost(
    cluster: Cluster, bytes: float, n_devices: int, intra_node: bool | None = None
) -> OpCost:
    """Ring reduce-scatter; ``bytes`` is the size of the (input) buffer on each device."""
    n = n_devices
    return _ring(cluster, bytes, n, intra_node, (n - 1) / n, n - 1, "reduce_scatter")


def p2p_cost(cluster: Cluster, bytes: float, intra_node: bool = True) -> OpCost:
    """Point-to-point send of ``bytes`` (e.g. a pipeline stage boundary)."""
    if bytes < 0:
        raise TandemError(f"p2p: bytes must be >= 0, got {bytes}")
    link = cluster.intra_node if intra_node else cluster.inter_node
    beta = bytes / link.effective_bandwidth
    return OpCost(
        seconds=beta + link.latency_s,
        flops=0.0,
        bytes=float(bytes),
        compute_seconds=0.0,
        memory_seconds=beta,
        unit="link",
        bound="latency" if link.latency_s >= beta else "memory",
        detail={"collective": "p2p", "link": "nvlink" if intra_node else "ib"},
    )


def group_link(cluster: Cluster, n: int, stride: int = 1) -> tuple[float, float, str]:
    """(achieved bandwidth per rank, latency per ring step, link name) of a group of n ranks
    `stride` apart (see the module docstring)."""
    if n < 1 or stride < 1:
        raise TandemError(f"group of {n} ranks {stride} apart: both must be >= 1")
    per_node = cluster.gpus_per_node
    if n * stride <= per_node or n == 1:
        return cluster.intra_node.effective_bandwidth, cluster.intra_node.latency_s, "nvlink"
    members = max(1, min(n, per_node // stride))
    if n <= members:
        return cluster.intra_node.effective_bandwidth, cluster.intra_node.latency_s, "nvlink"
    ib = cluster.inter_node.effective_bandwidth * members
    bw = min(cluster.intra_node.effective_bandwidth, ib)
    return bw, cluster.inter_node.latency_s, "ib"


RING_FACTOR = {
    "all_reduce": lambda n: 2.0 * (n - 1) / n,
    "all_gather": lambda n: (n - 1) / n,
    "reduce_scatter": lambda n: (n - 1) / n,
}
RING_STEPS = {
    "all_reduce": lambda n: 2 * (n - 1),
    "all_gather": lambda n: n - 1,
    "reduce_scatter": lambda n: n - 1,
}


def collective_seconds(
    cluster: Cluster, kind: str, nbytes: float, n: int, stride: int = 1
) -> float:
    """Ring time of `kind` (all_reduce, all_gather, reduce_scatter) of an `nbytes` buffer
    (the whole, gathered or input, buffer) over n ranks `stride` apart."""
    if kind not in RING_FACTOR:
        raise TandemError(f"unknown collective {kind!r}; expected one of {', '.join(RING_FACTOR)}")
    if n <= 1 or nbytes <= 0:
        return 0.0
    bw, alpha, _name = group_link(cluster, n, stride)
    return RING_FACTOR[kind](n) * nbytes / bw + RING_STEPS[kind](n) * alpha


def p2p_seconds(cluster: Cluster, nbytes: float, distance: int, split: int = 1) -> float:
    """A send between ranks `distance` apart; across nodes Megatron's scatter/gather splits it
    over the `split` tensor-parallel ranks' NICs and all-gathers it on NVLink."""
    if nbytes <= 0:
        return 0.0
    if distance < cluster.gpus_per_node:
        link = cluster.intra_node
        return nbytes / link.effective_bandwidth + link.latency_s
    link = cluster.inter_node
    send = nbytes / split / link.effective_bandwidth + link.latency_s
    return send + (collective_seconds(cluster, "all_gather", nbytes, split) if split > 1 else 0.0)
