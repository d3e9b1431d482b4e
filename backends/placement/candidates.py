"""Which plans the search tries: the (t, p, d, microbatch) splits a request allows, the
virtual stages of each, and one clear error per bad request.

    check_request(request, cluster, template)     # TandemError naming the bad key
    for t, p, d, mb in candidates(request, template, gpus_per_node=8): ...
    vps(None, p=8, m=48, layers=80)              # [1, 2, 5]: interleaving needs p > 2
"""

from __future__ import annotations

from collections.abc import Iterator

from backends.placement import kernels
from backends.placement.plan import Request
from backends.placement.template import Template
from backends.targets import Cluster
from ir.errors import TandemError

MICROBATCHES = (1, 2, 4, 8, 16, 32)
MAX_VP = 8


def _divisors(n: int) -> list[int]:
    return [k for k in range(1, n + 1) if n % k == 0]


def check_request(request: Request, cluster: Cluster, template: Template | None = None) -> None:
    """One clear error per bad input: GPUs not divisible by the fixed degrees, a batch not
    divisible by d x microbatch, more stages than layers, an unknown preset (an unknown
    cluster fails to load before). Without a template, only what needs no model."""
    n, b = request.gpus, request.global_batch
    fx = request.fixed
    if n < 1 or b < 1:
        raise TandemError(f"gpus and global batch must be positive, got {n} and {b}")
    if n > cluster.gpus_per_node * cluster.max_nodes:
        raise TandemError(
            f"{cluster.name} has at most {cluster.gpus_per_node * cluster.max_nodes} GPUs, asked for {n}"
        )
    degrees = 1
    for key in ("t", "p", "d"):
        value = getattr(fx, key)
        degrees *= value or 1
    if n % degrees:
        given = " x ".join(f"{k}={getattr(fx, k)}" for k in ("t", "p", "d") if getattr(fx, k))
        raise TandemError(f"{n} GPUs are not divisible by {given}")
    if fx.t and fx.p and fx.d and fx.t * fx.p * fx.d != n:
        raise TandemError(f"t x p x d = {fx.t * fx.p * fx.d}, not the {n} GPUs asked for")
    if fx.d and fx.microbatch and b % (fx.d * fx.microbatch):
        raise TandemError(
            f"global batch {b} is not divisible by d x microbatch = {fx.d} x {fx.microbatch}"
        )
    if fx.d and b % fx.d:
        raise TandemError(f"global batch {b} is not divisible by d={fx.d}")
    if fx.vp and fx.vp > 1 and fx.p and fx.p <= 2:
        raise TandemError(
            f"vp={fx.vp} with p={fx.p}: the interleaved schedule needs more than 2 pipeline stages"
        )
    if template is not None and fx.p and fx.p > template.layers_total:
        raise TandemError(f"p={fx.p} pipeline stages for {template.layers_total} layers")
    if request.kernels not in kernels.PRESETS:
        kernels.check_preset(request.kernels)


def candidates(
    request: Request, template: Template, gpus_per_node: int = 8
) -> Iterator[tuple[int, int, int, int]]:
    """(t, p, d, microbatch) splits of the GPUs and the batch allowed by the fixed keys;
    unless fixed, tensor parallelism stays inside a node (Megatron-LM's practice)."""
    fx = request.fixed
    n, batch = request.gpus, request.global_batch
    facts = template.facts
    for t in _divisors(n):
        if fx.t is not None and t != fx.t:
            continue
        if fx.t is None and (t > gpus_per_node or facts.heads % t or facts.hidden % t):
            continue
        for p in _divisors(n // t):
            if (fx.p is not None and p != fx.p) or p > template.layers_total:
                continue
            d = n // (t * p)
            if (fx.d is not None and d != fx.d) or batch % d:
                continue
            for mb in MICROBATCHES if fx.microbatch is None else (fx.microbatch,):
                if (batch // d) % mb == 0 and template.batch % mb == 0:
                    yield t, p, d, mb


def vps(fixed: int | None, p: int, m: int, layers: int) -> list[int]:
    """Virtual stages per device: Megatron-LM's interleaved schedule needs more than two
    stages, layers divisible by the chunks and (searched) microbatches by the stages."""
    if fixed is not None:
        return [fixed] if fixed == 1 or (p > 2 and layers % (p * fixed) == 0) else []
    if p <= 2:
        return [1]
    out = [1]
    for v in range(2, MAX_VP + 1):
        if layers % (p * v) == 0 and m % p == 0:
            out.append(v)
    return out
