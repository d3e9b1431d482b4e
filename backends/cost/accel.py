"""Accelerator templates: AccelTran/ELECTOR (Tuli and Jha) and PHAZE (Wang et al.).

AccelTran matmul mapping (``acceltran_matmul_cost``), C[B,M,N] = A[B,M,K] @ W[B,K,N]:

* Tiles are (b, x, y) with y == x (``tile_b``, ``tile_x`` by default; a ``tile`` chosen by
  the tiling mapper, ``backends/tiling/acceltran.py``, when given): the op has
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
* Main memory: operands move in blocks that fit the on-chip buffers (every operand read once
  and the result written once when the whole GEMM fits); time = max(compute, buffer -> PE
  traffic / buffer bandwidth, DRAM traffic / main-memory bandwidth).
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
(M + width + depth) cycles, accumulating in the core; blocks are spread over 1 core or all
cores. Per-memory-level roofline: max(compute, HBM traffic / HBM bandwidth, global-buffer
traffic / its bandwidth), with HBM traffic from blocks that fit the global buffer
(``backends/tiling/phaze.py``; a ``tile`` when given, else its default rule). Vector ops:
elements / (lanes * cores) * cycles-per-element.
"""

from __future__ import annotations

import math
from typing import Any

from backends.cost.base import OpCost, bound_of
from backends.cost.traffic import op_bytes
from backends.targets import AccelTranTarget, PhazeTarget, Target
from backends.tiling import acceltran as at_tiling
from backends.tiling import phaze as ph_tiling
from backends.tiling.tile import Tile
from ir import estimates
from ir.dtypes import nbytes_of
from ir.errors import TandemError
from ir.work import GemmShape

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
    """Tile count, cycles per tile, dense and sparse compute cycles of the default tile."""
    return at_tiling.cycles(
        target, GemmShape(batch, m, n, k), (target.tile_b, target.tile_x), sparsity
    )


def acceltran_matmul_cost(
    target: AccelTranTarget,
    batch: int,
    m: int,
    n: int,
    k: int,
    sparsity: float = 0.0,
    dtype: str = "f16",
    tile: Tile | None = None,
    single: bool = False,
    operand_sparsity: tuple[float, float, float] | None = None,
) -> OpCost:
    """Matmul C[batch,m,n] = A[batch,m,k] @ W[batch,k,n] on the MAC lanes of AccelTran.

    ``sparsity``: the fraction of zero operand pairs (skipped cycles); ``operand_sparsity``:
    zero fractions of A, W and C for their compressed traffic (default: ``sparsity`` each).
    ``tile``: the mapping (``backends.tiling``); None for the target's default tile.
    ``single``: on one PE group (the scheduler's single mode) instead of all PEs.
    """
    operands = operand_sparsity
    sa, sw, sc = at_tiling.operand_sparsity(sparsity, operands)
    _check(batch, m, n, k, sparsity, "acceltran_matmul_cost", sa, sw, sc)
    g = GemmShape(batch, m, n, k)
    eb = nbytes_of(dtype)
    if tile is None:
        tile = at_tiling.default_tile(target, g, eb, sparsity, operands)
    t = at_tiling.group_target(target) if single else target
    pe = tile.pe_single if single and tile.pe_single is not None else tile.pe
    if len(pe) != 2 or min(pe) < 1:
        raise TandemError(f"tile pe must be (b, x) with b, x >= 1, got {list(pe)}")
    tc = at_tiling.evaluate(t, g, pe, tile.blocking, eb, sparsity, operands)
    cyc = tc.detail
    compute, memory, seconds = tc.compute_s, max(tc.dram_s, tc.buffer_s), tc.seconds
    nbytes = tc.dram_bytes

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
    bx = pe[0] * pe[1] * pe[1]
    xx = pe[1] * pe[1]
    e_buf = _buffer_access_j(
        t, cyc["tiles"] * bx * eb * ((1.0 - sa) + (1.0 - sc)), t.activation_buffer_mb
    ) + _buffer_access_j(t, cyc["tiles"] * xx * eb * (1.0 - sw), t.weight_buffer_mb)
    masked = bx * ((sa > 0) + (sc > 0)) + xx * (sw > 0)
    if masked:
        e_buf += _buffer_access_j(t, cyc["tiles"] * masked / 8.0, t.mask_buffer_mb)
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
            "tile": pe,
            "active_lanes": active_lanes,
            "buffer_bytes": tc.buffer_bytes,
            "fits_on_chip": tc.fits,
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


def phaze_gemm_cost(
    target: PhazeTarget,
    batch: int,
    m: int,
    n: int,
    k: int,
    dtype: str = "f16",
    cores: int | str = "all",
    sparsity: float = 0.0,
    tile: Tile | None = None,
) -> OpCost:
    """GEMM on 1 tensor core (``cores=1``) or all of them (``cores="all"``).

    ``tile``: the mapping (``backends.tiling``); None for the default rule.
    """
    _check(batch, m, n, k, sparsity, "phaze_gemm_cost")
    t = target
    nc = _ncores(t.tensor_cores, cores, "phaze_gemm_cost")
    g = GemmShape(batch, m, n, k)
    eb = nbytes_of(dtype)
    if tile is None:
        tile = ph_tiling.default_tile(t, g, eb, sparsity)
    pe = tile.pe
    if nc == 1 and nc < t.tensor_cores and tile.pe_single is not None:
        pe = tile.pe_single
    if nc != t.tensor_cores and nc != 1:
        pe = (ph_tiling.default_split(t, g, nc), 0)
    if not 1 <= len(pe) <= 2 or pe[0] < 1 or (len(pe) == 2 and pe[1] not in (0, 1)):
        raise TandemError(
            f"tile pe must be (m_split >= 1, input_stationary 0 or 1), got {list(pe)}"
        )
    tc = ph_tiling.evaluate(t, g, pe, tile.blocking, eb, sparsity, nc)
    compute, memory = tc.compute_s, max(tc.dram_s, tc.buffer_s)
    return OpCost(
        seconds=tc.seconds,
        flops=2.0 * batch * m * n * k * (1.0 - sparsity),
        bytes=tc.dram_bytes,
        compute_seconds=compute,
        memory_seconds=memory,
        unit="tc",
        bound=bound_of(compute, memory, 0.0),
        detail={
            **tc.detail,
            "hbm_seconds": tc.dram_s,
            "global_buffer_seconds": tc.buffer_s,
            "global_buffer_bytes": tc.buffer_bytes,
            "fits_on_chip": tc.fits,
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


def phaze_area(target: PhazeTarget) -> dict[str, float] | None:
    """Area in mm^2 of tensor cores, vector cores, global buffer and "total" (None without
    an ``[area]`` table in the target file).

    Tensor cores: MACs (width x depth each) plus a fixed part per core; vector cores: lanes
    plus a fixed part per core; the global buffer by its size, interpolated linearly between
    the listed sizes (extrapolated along the nearest segment).
    """
    a = target.area_model
    if a is None:
        return None
    t = target
    tc = t.tensor_cores * (t.tc_width * t.tc_depth * a["mm2_per_mac"] + a["mm2_per_tensor_core"])
    vc = t.vector_cores * (t.vc_lanes * a["mm2_per_vector_lane"] + a["mm2_per_vector_core"])
    sizes, areas = a["global_buffer_mib"], a["global_buffer_mm2"]
    mib = t.global_buffer_bytes / MB
    i = 1
    while i < len(sizes) - 1 and mib > sizes[i]:
        i += 1
    x0, x1, y0, y1 = sizes[i - 1], sizes[i], areas[i - 1], areas[i]
    gb = max(0.0, y0 + (y1 - y0) * (mib - x0) / (x1 - x0))
    return {
        "tensor_cores": tc,
        "vector_cores": vc,
        "global_buffer": gb,
        "total": tc + vc + gb,
    }


# ----------------------------------------------------------------------------------------
# Either template, with a recorded tile and the scheduler's single-core / single-group mode


def _single(target: Target, cores: int | str, who: str) -> bool:
    if cores == "all":
        return False
    if isinstance(target, AccelTranTarget) and cores != 1:
        raise TandemError(f"{who}: cores must be 'all' or 1 (one PE group), got {cores!r}")
    return True


def accel_gemm_cost(
    target: Target,
    batch: int,
    m: int,
    n: int,
    k: int,
    dtype: str = "f16",
    sparsity: float = 0.0,
    *,
    tile: Tile | None = None,
    cores: int | str = "all",
    operand_sparsity: tuple[float, float, float] | None = None,
) -> OpCost:
    """A GEMM on AccelTran (all PEs or, ``cores=1``, one PE group) or PHAZE (n cores).

    ``operand_sparsity``: AccelTran only, (s_A, s_W, s_C) for the compressed traffic.
    """
    if isinstance(target, AccelTranTarget):
        single = _single(target, cores, "accel_gemm_cost")
        return acceltran_matmul_cost(
            target, batch, m, n, k, sparsity, dtype, tile, single, operand_sparsity
        )
    if isinstance(target, PhazeTarget):
        return phaze_gemm_cost(target, batch, m, n, k, dtype, cores, sparsity, tile)
    raise TandemError(f"accel_gemm_cost: unsupported target kind {target.kind!r}")


def accel_vector_cost(
    target: Target,
    kind: str,
    elements: int,
    dtype: str = "f16",
    sparsity: float = 0.0,
    cores: int | str = "all",
) -> OpCost:
    """A vector op on AccelTran's units (all PEs or one PE group) or PHAZE's vector cores."""
    if isinstance(target, AccelTranTarget):
        single = _single(target, cores, "accel_vector_cost")
        t = at_tiling.group_target(target) if single else target
        return acceltran_vector_cost(t, kind, elements, sparsity=sparsity, dtype=dtype)
    if isinstance(target, PhazeTarget):
        return phaze_vector_cost(target, kind, elements, cores, dtype)
    raise TandemError(f"accel_vector_cost: unsupported target kind {target.kind!r}")


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
