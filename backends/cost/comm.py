"""Collective communication: alpha-beta ring model on a ``Cluster``.

For n devices over a link of achieved bandwidth bw (bytes/s per device per direction) and
per-step latency alpha:

* all-reduce:      2(n-1)/n * bytes / bw + 2(n-1) * alpha
* all-gather:      (n-1)/n * bytes / bw + (n-1) * alpha   (bytes = gathered output size)
* reduce-scatter:  (n-1)/n * bytes / bw + (n-1) * alpha   (bytes = input size)
* p2p send:        bytes / bw + alpha

``intra_node=True`` uses NVLink; ``False`` uses InfiniBand (per-GPU share of the node's NICs);
``None`` picks NVLink when the n devices fit in one node.
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
