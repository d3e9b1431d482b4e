"""Accelerator templates: AccelTran/ELECTOR (Tuli and Jha) and PHAZE (Wang et al.).

AccelTran matmul mapping (``acceltran_matmul_cost``), C[B,M,N] = A[B,M,K] @ W[B,K,N]:

* Tiles are (b, x, y) with y == x (``tile_b``, ``tile_x``): the op has
  ceil(B/b) * ceil(M/x) * ceil(N/x) * ceil(K/x) tiles, each a (b, x, x) @ (x, x) product
  of b*x*x*x MACs.
* One MAC lane (M = ``macs_per_lane`` multipliers + adder tree) computes one length-M slice
  of a dot product per cycle, so a tile takes b * x * x * ceil(x/M) cycles on one lane.
* Tiles are spread over all PEs * lanes_per_pe lanes in waves:
  dense cycles = ceil(tiles / lanes) * cycles_per_tile.
* Sparsity (DynaProp): the pre-sparsity unit ANDs the operands' masks and feeds only
  non-zero pairs, so compute cycles = (1 - s) * dense cycles, s the fraction of zero pairs.
  Each operand moves compressed: (1 - s_x) of its values plus a 1-bit mask per element, s_x
  its own zero fraction (``operand_sparsity`` = (s_A, s_W, s_C); by default all three are s).
* Main memory: every operand is read once and the result written once (layer-by-layer
  dataflow with on-chip reuse inside the buffers); time = max(compute, traffic / bandwidth).
* Energy = dynamic power of the busy lane modules (MAC lane, FIFO, pre/post-sparsity) times
  their busy time + dynamic power of the active PEs' dataflow and DMA units times the op time
  + leakage of active modules and of the buffers times the op time (idle modules are
  power-gated) + buffer accesses (0.08 nJ * sqrt(MB) per 64-byte block) + main-memory
  accesses (per 64-byte block).

Vector ops (``acceltran_vector_cost``): softmax on the softmax units, layer norm on the
layer-norm units, GELU and other elementwise ops on the MAC lanes; each unit processes one
x-element tile per ``<kind>_cycles_per_tile`` cycles. Inputs of vector ops are assumed to be
on chip (the producer's output) unless they exceed the activation buffer.

PHAZE (``phaze_gemm_cost``): n tensor cores, each a width x depth weight-stationary systolic
array; a GEMM is split into depth x width blocks of W, each streamed with the M rows of A in
(M + width + depth) cycles, accumulating in the core; blocks are spread over 1 core or all cores. Per-memory-level
roofline: max(compute, HBM traffic / HBM bandwidth, global-buffer traffic / its bandwidth),
with HBM traffic from the best output tiling that fits the global buffer. Vector ops: elements
/ (lanes * cores) * cycles-per-element.
"""

from __future__ import annotations

import math
from typing import Any

from backends.cost.base import OpCost, bound_of
from backends.cost.traffic import op_bytes
from backends.targets import AccelTranTarget, PhazeTarget, Target
from ir import estimates
from ir.dtypes import nbytes_of
from ir.errors import TandemError

MB = 1 << 20
_LANE_MODULES = ("mac_lane", "fifo", "pre_sparsity", "post_sparsity")
_PE_MODULES = ("dataflow", "dma")


def _check(batch: int, m: int, n: int, k: int, sparsity: float, who: str, *operands: float) -> None:
    for name, v in (("batch", batch), ("m", m), ("n", n), ("k", k)):
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise TandemError(f"{who}: {name} must be a positive integer, got {v!r}")
    for s in (sparsity, *operands):
        if not 0.0 <= float(s) < 1.0:
            raise TandemError(f"{who}: sparsity must be in [0, 1), got {s!r}")


# ----------------------------------------------------------------------------------------
# AccelTran


def acceltran_area(target: AccelTranTarget) -> dict[str, float]:
    """Area in mm^2 per module kind (all instances) plus "buffers" and "total".

    Counted as in AccelTran: per lane a MAC lane, a FIFO and pre-/post-sparsity units
    (+ stochastic rounding when training); per PE dataflow, DMA, the softmax units and the
    layer-norm units; on-chip buffers at ``area_mm2_per_mb``. Main memory is excluded.
    """
    mods = target.modules
    lanes = target.total_lanes
    counts = {
        "mac_lane": lanes,
        "fifo": lanes,
        "pre_sparsity": lanes,
        "post_sparsity": lanes,
        "softmax": target.pes * target.softmax_per_pe,
        "layernorm": target.pes * target.layernorm_per_pe,
        "dataflow": target.pes,
        "dma": target.pes,
        "stochastic_rounding": lanes if target.training else 0,
    }
    area = {name: cnt * mods[name].area_um2 * 1e-6 for name, cnt in counts.items()}
    area["buffers"] = target.buffer_mb * target.buffer_area_mm2_per_mb
    area["total"] = sum(area.values())
    return area


def _lane_power(t: AccelTranTarget, what: str) -> float:
    """Watts of one lane's module stack ("dynamic_mw" or "leakage_mw")."""
    names = _LANE_MODULES + (("stochastic_rounding",) if t.training else ())
    return sum(getattr(t.modules[n], what) for n in names) * 1e-3


def _pe_power(t: AccelTranTarget, what: str) -> float:
    return sum(getattr(t.modules[n], what) for n in _PE_MODULES) * 1e-3


def _buffer_access_j(t: AccelTranTarget, nbytes: float, buffer_mb: float) -> float:
    return nbytes / 64.0 * t.buffer_access_nj_per_64b_per_sqrt_mb * math.sqrt(buffer_mb) * 1e-9


def _main_memory_j(t: AccelTranTarget, nbytes: float) -> float:
    return nbytes / 64.0 * t.main_memory_energy_nj_per_64b * 1e-9


def acceltran_matmul_cycles(
    target: AccelTranTarget, batch: int, m: int, n: int, k: int, sparsity: float = 0.0
) -> dict[str, float]:
    """Tile count, cycles per tile, dense and sparse compute cycles (see module docstring)."""
    b, x = target.tile_b, target.tile_x
    tiles = math.ceil(batch / b) * math.ceil(m / x) * math.ceil(n / x) * math.ceil(k / x)
    per_tile = b * x * x * math.ceil(x / target.macs_per_lane)
    dense = math.ceil(tiles / target.total_lanes) * per_tile
    return {
        "tiles": tiles,
        "cycles_per_tile": per_tile,
        "dense_cycles": dense,
        "cycles": dense * (1.0 - sparsity),
    }


def _sparse_bytes(elements: float, eb: int, sparsity: float) -> float:
    """Compressed size: non-zero values plus a 1-bit mask per element (dense: no mask)."""
    if sparsity <= 0.0:
        return elements * eb
    return elements * (1.0 - sparsity) * eb + elements / 8.0


def acceltran_matmul_cost(
    target: AccelTranTarget,
    batch: int,
    m: int,
    n: int,
    k: int,
    sparsity: float = 0.0,
    dtype: str = "f16",
    operand_sparsity: tuple[float, float, float] | None = None,
) -> OpCost:
    """Matmul C[batch,m,n] = A[batch,m,k] @ W[batch,k,n] on the MAC lanes of AccelTran.

    ``sparsity``: the fraction of zero operand pairs (skipped cycles); ``operand_sparsity``:
    zero fractions of A, W and C for their compressed traffic (default: ``sparsity`` each).
    """
    sa, sw, sc = operand_sparsity or (sparsity, sparsity, sparsity)
    _check(batch, m, n, k, sparsity, "acceltran_matmul_cost", sa, sw, sc)
    t = target
    eb = nbytes_of(dtype)
    cyc = acceltran_matmul_cycles(t, batch, m, n, k, sparsity)
    compute = cyc["cycles"] / t.clock_hz
    a_el, w_el, c_el = batch * m * k, batch * k * n, batch * m * n
    nbytes = sum(_sparse_bytes(e, eb, s) for e, s in ((a_el, sa), (w_el, sw), (c_el, sc)))
    memory = nbytes / t.main_memory_bandwidth
    seconds = max(compute, memory)

    active_lanes = min(cyc["tiles"], t.total_lanes)
    active_pes = math.ceil(active_lanes / t.lanes_per_pe)
    busy_lane_s = cyc["tiles"] * cyc["cycles_per_tile"] * (1.0 - sparsity) / t.clock_hz
    e_dyn = (
        _lane_power(t, "dynamic_mw") * busy_lane_s
        + _pe_power(t, "dynamic_mw") * active_pes * seconds
    )
    leak_w = (
        _lane_power(t, "leakage_mw") * active_lanes
        + _pe_power(t, "leakage_mw") * active_pes
        + t.buffer_leakage_mw_per_mb * t.buffer_mb * 1e-3
    )
    # buffer traffic: every tile reads its A and W tiles and updates its output tile
    keep = 1.0 - sparsity
    bx = t.tile_b * t.tile_x * t.tile_x
    xx = t.tile_x * t.tile_x
    e_buf = _buffer_access_j(
        t, cyc["tiles"] * bx * eb * ((1.0 - sa) + (1.0 - sc)), t.activation_buffer_mb
    ) + _buffer_access_j(t, cyc["tiles"] * xx * eb * (1.0 - sw), t.weight_buffer_mb)
    if max(sparsity, sa, sw, sc) > 0:
        e_buf += _buffer_access_j(t, cyc["tiles"] * (2 * bx + xx) / 8.0, t.mask_buffer_mb)
    e_mm = _main_memory_j(t, nbytes)
    energy = e_dyn + leak_w * seconds + e_buf + e_mm
    return OpCost(
        seconds=seconds,
        flops=2.0 * batch * m * n * k * keep,
        bytes=nbytes,
        compute_seconds=compute,
        memory_seconds=memory,
        unit="mac",
        energy_j=energy,
        bound=bound_of(compute, memory, 0.0),
        detail={
            **cyc,
            "active_lanes": active_lanes,
            "energy_dynamic_j": e_dyn,
            "energy_leakage_j": leak_w * seconds,
            "energy_buffer_j": e_buf,
            "energy_main_memory_j": e_mm,
        },
    )


_VECTOR_UNIT = {"softmax": "softmax", "layernorm": "layernorm"}


def acceltran_vector_cost(
    target: AccelTranTarget, op_kind: str, elements: int, sparsity: float = 0.0, dtype: str = "f16"
) -> OpCost:
    """Softmax / layer norm on their units; GELU and other elementwise ops on the MAC lanes."""
    if elements < 0:
        raise TandemError(f"acceltran_vector_cost: elements must be >= 0, got {elements}")
    t = target
    unit = _VECTOR_UNIT.get(op_kind, "mac")
    if unit == "softmax":
        units, module, cpt = (
            t.pes * t.softmax_per_pe,
            t.modules["softmax"],
            t.vector_cycles_per_tile["softmax"],
        )
    elif unit == "layernorm":
        units, module, cpt = (
            t.pes * t.layernorm_per_pe,
            t.modules["layernorm"],
            t.vector_cycles_per_tile["layernorm"],
        )
    else:
        units, module = t.total_lanes, t.modules["mac_lane"]
        cpt = t.vector_cycles_per_tile["gelu" if op_kind == "gelu" else "elementwise"]
    keep = 1.0 - sparsity
    tiles = math.ceil(elements * keep / t.tile_x)
    cycles = math.ceil(tiles / units) * cpt if tiles else 0
    compute = cycles / t.clock_hz
    nbytes_onchip = op_bytes(op_kind, elements, dtype) * keep
    spills = nbytes_onchip > t.activation_buffer_mb * MB
    nbytes = nbytes_onchip if spills else 0.0
    memory = nbytes / t.main_memory_bandwidth
    seconds = max(compute, memory)
    active = min(tiles, units)
    busy_s = tiles * cpt / t.clock_hz
    energy = (
        module.dynamic_mw * 1e-3 * busy_s
        + (module.leakage_mw * 1e-3 * active + t.buffer_leakage_mw_per_mb * t.buffer_mb * 1e-3)
        * seconds
        + _buffer_access_j(t, nbytes_onchip, t.activation_buffer_mb)
        + _main_memory_j(t, nbytes)
    )
    return OpCost(
        seconds=seconds,
        flops=estimates.VECTOR_OP * elements * keep,
        bytes=nbytes,
        compute_seconds=compute,
        memory_seconds=memory,
        unit=unit,
        energy_j=energy,
        bound=bound_of(compute, memory, 0.0),
        detail={"tiles": tiles, "cycles": cycles, "units": units, "spills_to_main_memory": spills},
    )


# ----------------------------------------------------------------------------------------
# PHAZE


def _ncores(total: int, cores: int | str, who: str) -> int:
    if cores == "all":
        return total
    if not isinstance(cores, int) or not 1 <= cores <= total:
        raise TandemError(f"{who}: cores must be 'all' or 1..{total}, got {cores!r}")
    return cores


def _hbm_traffic(t: PhazeTarget, batch: int, m: int, n: int, k: int, eb: int) -> float:
    """HBM bytes of the best square output tiling whose working set fits the global buffer."""
    total = eb * batch * (m * k + k * n + m * n)
    if total <= t.global_buffer_bytes:
        return float(total)
    best = math.inf
    tk = t.tc_depth
    tile = max(t.tc_width, t.tc_depth)
    while tile <= max(m, n) * 2:
        # double-buffered A and W chunks + fp32 accumulators
        need = 2 * 2 * tile * tk * eb + tile * tile * 4
        if need <= t.global_buffer_bytes:
            traffic = (
                eb * batch * (m * k * math.ceil(n / tile) + k * n * math.ceil(m / tile) + m * n)
            )
            best = min(best, traffic)
        tile *= 2
    if best == math.inf:  # not even one tile fits: stream everything per block
        best = eb * batch * (m * k * math.ceil(n / t.tc_width) + k * n * math.ceil(m / tk) + m * n)
    return float(best)


def phaze_gemm_cost(
    target: PhazeTarget,
    batch: int,
    m: int,
    n: int,
    k: int,
    dtype: str = "f16",
    cores: int | str = "all",
    sparsity: float = 0.0,
) -> OpCost:
    """GEMM on 1 tensor core (``cores=1``) or all of them (``cores="all"``)."""
    _check(batch, m, n, k, sparsity, "phaze_gemm_cost")
    t = target
    nc = _ncores(t.tensor_cores, cores, "phaze_gemm_cost")
    eb = nbytes_of(dtype)
    w, d = t.tc_width, t.tc_depth
    blocks = batch * math.ceil(k / d) * math.ceil(n / w)
    # few blocks: also split the streamed rows over cores
    msplit = max(1, min(nc // blocks, math.ceil(m / w))) if blocks < nc else 1
    rows = math.ceil(m / msplit)
    passes = math.ceil(blocks * msplit / nc)
    cycles = passes * (rows + w + d)
    keep = 1.0 - sparsity
    compute = cycles / t.clock_hz * keep
    hbm = _hbm_traffic(t, batch, m, n, k, eb) * keep
    # global buffer <-> cores: per block pass the W block and the A rows; partial sums stay
    # in the core's accumulators across the K loop, so outputs are written once
    gb = (blocks * msplit * (d * w * eb + rows * d * eb) + eb * batch * m * n) * keep
    t_hbm = hbm / t.hbm_bandwidth
    t_gb = gb / t.global_buffer_bandwidth
    memory = max(t_hbm, t_gb)
    seconds = max(compute, memory)
    return OpCost(
        seconds=seconds,
        flops=2.0 * batch * m * n * k * keep,
        bytes=hbm,
        compute_seconds=compute,
        memory_seconds=memory,
        unit="tc",
        bound=bound_of(compute, memory, 0.0),
        detail={
            "cores": nc,
            "cycles": cycles,
            "blocks": blocks,
            "m_split": msplit,
            "hbm_seconds": t_hbm,
            "global_buffer_seconds": t_gb,
            "global_buffer_bytes": gb,
        },
    )


def phaze_vector_cost(
    target: PhazeTarget, kind: str, elements: int, cores: int | str = "all", dtype: str = "f16"
) -> OpCost:
    """Vector op: ceil(elements / (lanes * cores)) * cycles-per-element[kind]."""
    if elements < 0:
        raise TandemError(f"phaze_vector_cost: elements must be >= 0, got {elements}")
    t = target
    nc = _ncores(t.vector_cores, cores, "phaze_vector_cost")
    table = t.vector_cycles_per_element
    cpe = table.get(kind, table.get("elementwise", 1.0))
    cycles = math.ceil(elements / (t.vc_lanes * nc)) * cpe
    compute = cycles / t.clock_hz
    nbytes = op_bytes(kind, elements, dtype)
    t_gb = nbytes / t.global_buffer_bandwidth
    hbm = nbytes if nbytes > t.global_buffer_bytes else 0.0
    memory = max(t_gb, hbm / t.hbm_bandwidth)
    return OpCost(
        seconds=max(compute, memory),
        flops=float(elements) * cpe,
        bytes=hbm,
        compute_seconds=compute,
        memory_seconds=memory,
        unit="vc",
        bound=bound_of(compute, memory, 0.0),
        detail={"cores": nc, "cycles": cycles, "cycles_per_element": cpe},
    )


# ----------------------------------------------------------------------------------------


def transfer_cost(target: Target, nbytes: float, flops: float = 0.0, kind: str = "copy") -> OpCost:
    """A plain main-memory transfer (DMA) on an accelerator template."""
    if isinstance(target, AccelTranTarget):
        sec = nbytes / target.main_memory_bandwidth
        energy = _main_memory_j(target, nbytes) + _pe_power(target, "dynamic_mw") * target.pes * sec
        unit = "dma"
    elif isinstance(target, PhazeTarget):
        sec = nbytes / target.hbm_bandwidth
        energy, unit = 0.0, "vc"
    else:
        raise TandemError(f"transfer_cost: unsupported target kind {target.kind!r}")
    detail: dict[str, Any] = {"kind": kind}
    return OpCost(
        seconds=sec,
        flops=float(flops),
        bytes=float(nbytes),
        compute_seconds=0.0,
        memory_seconds=sec,
        unit=unit,
        energy_j=energy,
        bound="memory",
        detail=detail,
    )
