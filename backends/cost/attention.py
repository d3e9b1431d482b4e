"""Scaled-dot-product attention cost: fused (flash-style) or materialised.

Shapes: Q [batch, heads, sq, head_dim], K/V [batch, kv_heads, sk, head_dim].

* Fused (GPU): FLOPs 4*b*h*sq*sk*d forward (half with ``causal``), backward 2.5x forward.
  The compute time is the *compute* term of the two bmm shapes on the GEMM model
  (scores: batch=b*h, m=sq, n=sk, k=d; values: batch=b*h, m=sq, n=d, k=sk), so head-dim
  alignment and tile effects apply (h/a = 128 is faster per FLOP than 80); main-memory
  traffic is only Q, K, V, O (+ dO, dQ, dK, dV and the row statistics in backward).
* Materialised: the two bmm via ``gemm_cost`` plus softmax over the b*h*sq*sk scores via the
  memory-op / vector model (backward: four bmm and the softmax backward); causal masking
  saves nothing here. With ``fused_softmax`` (GPU) the softmax is Megatron's one
  scale+mask+softmax kernel (``cost/fusion.py``: scores read once, probabilities written
  once), as the `fused` kernel preset runs it; without, PyTorch's eager softmax.
* AccelTran and PHAZE always materialise (their matmul and vector units).
"""

from __future__ import annotations

from backends.cost.accel import accel_gemm_cost, accel_vector_cost
from backends.cost.base import OpCost
from backends.cost.fusion import fused_softmax_cost
from backends.cost.gemm import gemm_cost, gpu_gemm_cost
from backends.cost.memory_ops import memory_op_cost, vector_op_cost
from backends.targets import GpuTarget, Target
from backends.tiling.tile import Tile
from ir import estimates
from ir.dtypes import nbytes_of
from ir.errors import TandemError

BACKWARD_FLOP_FACTOR = estimates.ATTENTION_BACKWARD_FACTOR


def _combine(parts: dict[str, OpCost], unit: str) -> OpCost:
    """Serial composition: times, FLOPs, bytes and energies add."""
    sec = sum(p.seconds for p in parts.values())
    comp = sum(p.compute_seconds for p in parts.values())
    mem = sum(p.memory_seconds for p in parts.values())
    return OpCost(
        seconds=sec,
        flops=sum(p.flops for p in parts.values()),
        bytes=sum(p.bytes for p in parts.values()),
        compute_seconds=comp,
        memory_seconds=mem,
        unit=unit,
        energy_j=sum(p.energy_j for p in parts.values()),
        bound="compute" if comp >= mem else "memory",
        detail={"parts": {k: p.seconds for k, p in parts.items()}},
    )


def attention_gemms(
    bh: int, sq: int, sk: int, d: int, backward: bool
) -> dict[str, tuple[int, int, int, int]]:
    """The (batch, m, n, k) of each GEMM of materialised attention, by name."""
    if not backward:
        return {"scores": (bh, sq, sk, d), "values": (bh, sq, d, sk)}
    return {
        "grad_values": (bh, sk, d, sq),  # dV = P^T dO
        "grad_probs": (bh, sq, sk, d),  # dP = dO V^T
        "grad_query": (bh, sq, d, sk),  # dQ = dS K
        "grad_key": (bh, sk, d, sq),  # dK = dS^T Q
    }


def _materialised(
    target: Target,
    b: int,
    h: int,
    sq: int,
    sk: int,
    d: int,
    dtype: str,
    sparsity: float,
    backward: bool,
    fused_softmax: bool = False,
    tiles: dict[str, Tile] | None = None,
    cores: int | str = "all",
) -> OpCost:
    bh = b * h
    scores = bh * sq * sk
    eb = nbytes_of(dtype)
    gemms = attention_gemms(bh, sq, sk, d, backward)
    tiles = tiles or {}
    fused = fused_softmax and isinstance(target, GpuTarget)

    def g(part: str) -> OpCost:
        bb, m, n, k = gemms[part]
        if isinstance(target, GpuTarget):
            return gemm_cost(target, bb, m, n, k, dtype, sparsity)
        tile = tiles.get(part)
        return accel_gemm_cost(target, bb, m, n, k, dtype, sparsity, tile=tile, cores=cores)

    def softmax(elements: int) -> OpCost:
        if isinstance(target, GpuTarget):
            return vector_op_cost(target, "softmax", elements, dtype, sparsity)
        return accel_vector_cost(target, "softmax", elements, dtype, sparsity, cores)

    if not backward:
        if isinstance(target, GpuTarget) and fused:
            sm = fused_softmax_cost(target, scores * (1 - sparsity), eb, estimates.SOFTMAX * scores)
        else:
            sm = softmax(scores)
        parts = {"scores": g("scores"), "softmax": sm, "values": g("values")}
    else:
        if isinstance(target, GpuTarget) and fused:
            sm_bwd = fused_softmax_cost(
                target, scores * (1 - sparsity), eb, 4.0 * scores, backward=True
            )
        elif isinstance(target, GpuTarget):
            # softmax backward: read P and dP, write dS
            sm_bwd = memory_op_cost(
                target,
                3.0 * eb * scores * (1 - sparsity),
                4.0 * scores * (1 - sparsity),
                dtype,
                "softmax",
            )
        else:
            sm_bwd = softmax(2 * scores)
        parts = {
            "grad_values": g("grad_values"),
            "grad_probs": g("grad_probs"),
            "softmax_backward": sm_bwd,
            "grad_query": g("grad_query"),
            "grad_key": g("grad_key"),
        }
    unit = "sm" if target.kind == "gpu" else ("mac" if target.kind == "acceltran" else "tc")
    out = _combine(parts, unit)
    out.detail["fused"] = False
    return out


def _fused_gpu(
    target: GpuTarget,
    b: int,
    h: int,
    kvh: int,
    sq: int,
    sk: int,
    d: int,
    dtype: str,
    causal: bool,
    sparsity: float,
    backward: bool,
) -> OpCost:
    bh = b * h
    eb = nbytes_of(dtype)
    frac = 0.5 if causal and sq == sk else 1.0
    keep = 1.0 - sparsity
    comp = (
        (
            gpu_gemm_cost(target, bh, sq, sk, d, dtype).compute_seconds
            + gpu_gemm_cost(target, bh, sq, d, sk, dtype).compute_seconds
        )
        * frac
        * keep
    )
    flops = 4.0 * bh * sq * sk * d * frac * keep
    q_o = eb * b * h * sq * d
    k_v = eb * b * kvh * sk * d
    stats = 4.0 * b * h * sq  # fp32 log-sum-exp per row
    if backward:
        comp *= BACKWARD_FLOP_FACTOR
        flops *= BACKWARD_FLOP_FACTOR
        nbytes = 4 * q_o + 4 * k_v + stats  # read Q, O, dO, K, V; write dQ, dK, dV
        launches = 2
    else:
        nbytes = 2 * q_o + 2 * k_v + stats
        launches = 1
    mem = nbytes / (target.hbm_bandwidth * target.gemm.gemm_memory)
    launch = launches * target.launch_overhead_s
    bound = "latency" if launch >= max(comp, mem) else ("compute" if comp >= mem else "memory")
    return OpCost(
        seconds=max(comp, mem) + launch,
        flops=flops,
        bytes=nbytes,
        compute_seconds=comp,
        memory_seconds=mem,
        unit="sm",
        bound=bound,
        detail={"fused": True, "causal_fraction": frac},
    )


def attention_cost(
    target: Target,
    batch: int,
    heads: int,
    kv_heads: int,
    sq: int,
    sk: int,
    head_dim: int,
    dtype: str = "f16",
    causal: bool = False,
    fused: bool = True,
    sparsity: float = 0.0,
    backward: bool = False,
    fused_softmax: bool = False,
    tiles: dict[str, Tile] | None = None,
    cores: int | str = "all",
) -> OpCost:
    """Cost of softmax(Q K^T / sqrt(d)) V forward (or its backward with ``backward=True``).

    ``fused``: one flash kernel on GPUs; else materialised, with the softmax as one fused
    kernel when ``fused_softmax`` (Megatron) or as PyTorch's eager softmax.
    Accelerators: ``tiles`` maps GEMM names (``attention_gemms``) to recorded tiles;
    ``cores=1`` runs on one core / PE group (the scheduler's single mode).
    """
    for name, v in (
        ("batch", batch),
        ("heads", heads),
        ("kv_heads", kv_heads),
        ("sq", sq),
        ("sk", sk),
        ("head_dim", head_dim),
    ):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise TandemError(f"attention_cost: {name} must be a positive integer, got {v!r}")
    if heads % kv_heads:
        raise TandemError(
            f"attention_cost: heads ({heads}) must be a multiple of kv_heads ({kv_heads})"
        )
    if not 0.0 <= sparsity < 1.0:
        raise TandemError(f"attention_cost: sparsity must be in [0, 1), got {sparsity!r}")
    if isinstance(target, GpuTarget) and fused:
        return _fused_gpu(
            target, batch, heads, kv_heads, sq, sk, head_dim, dtype, causal, sparsity, backward
        )
    return _materialised(
        target,
        batch,
        heads,
        sq,
        sk,
        head_dim,
        dtype,
        sparsity,
        backward,
        fused_softmax,
        tiles,
        cores,
    )
