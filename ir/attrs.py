"""The names of every attribute Tandem puts on the IR, and typed readers for them.

Argument and result attributes label what a function's values are:

    func.func @train_step(%ids: tensor<2x16xi64> {tfm.input = "in0"},
                          %w: tensor<64x50304xf16> {tfm.param = "lm_head.weight", tfm.param_pad = array<i64: 0, 47>})
        -> (tensor<f32> {tfm.output = "loss"}, tensor<64x50304xf16> {tfm.grad_of = "lm_head.weight"})

Discardable op attributes carry what the frontend and the passes learnt about an op:

    %y = tfm.matmul %x, %w {layer = 3 : i64, phase = "backward", sparsity = 0.4 : f64,
                            sparsity.lhs = 0.4 : f64, sparsity.rhs = 0.0 : f64,
                            sched.unit = "mac", sched.start = 1.5e-06 : f64} : (...) -> ...
    %p = tfm.prune %x {threshold = 0.06 : f64, dynaprop.site = "ffn_in", layer = 3 : i64} : ...

Passes name attributes through these constants, never as string literals.
"""

from __future__ import annotations

import math
import re

from xdsl.dialects.builtin import FloatAttr, IntegerAttr, StringAttr, f64, i64
from xdsl.ir import Operation

from ir.errors import TandemError

# ---- function arguments and results ----------------------------------------------------
INPUT = "tfm.input"  # a user input: "in0", "in1", ...
PARAM = "tfm.param"  # a parameter, by its fully qualified name
BUFFER = "tfm.buffer"  # a buffer or lifted constant, by name
# A parameter zero-padded by a pass: array<i64: ...> of rows/cols appended per dim. Apply the
# same padding to a checkpoint tensor (backends.verify.pad_parameter) to run the padded IR.
PARAM_PAD = "tfm.param_pad"
OUTPUT = "tfm.output"  # "out0", ... or "loss"
GRAD_OF = "tfm.grad_of"  # the gradient of the named parameter

# ---- ops: set by the frontend ----------------------------------------------------------
LAYER = "layer"  # i64: the transformer block the op belongs to (absent: embedding, head, loss)
PHASE = "phase"  # "backward" on backward ops (absent: forward)
BACKWARD = "backward"
FORWARD = "forward"

# ---- ops and module: set by passes -----------------------------------------------------
# Sparsity of a matmul (or attention) as a sparse unit sees it, each an f64 in [0, 1):
#   sparsity       fraction of multiply-accumulate operand pairs with a zero operand (the work a
#                  pre-sparsity unit skips); without it, 1 - (1 - s_lhs) * (1 - s_rhs)
#   sparsity.lhs   fraction of zero elements in the left operand (s_a: its compressed bytes)
#   sparsity.rhs   fraction of zero elements in the right operand (s_b)
SPARSITY = "sparsity"
SPARSITY_LHS = "sparsity.lhs"
SPARSITY_RHS = "sparsity.rhs"
# string "2:4": one operand is pruned to 2 non-zeros in every 4 (GPU sparse tensor cores)
SPARSITY_PATTERN = "sparsity.pattern"
DYNAPROP_SITE = "dynaprop.site"  # string on tfm.prune: the DynaProp site (ir.sparsity)
PAD_GAIN = "pad.gain"  # f64: predicted relative gain of the op's padding group (and module)
PAD_PARAMS = "pad.params"  # module: parameter name -> padding applied
SCHED_UNIT = "sched.unit"  # string: the compute unit that runs the op ("mac", "tc3", "sm")
SCHED_START = "sched.start"  # f64 seconds: the earliest start the schedule asks for
# dictionary: how a matmul / attention op maps onto the chip (backends/tiling/record.py)
TILE = "tile"
TILE_GAIN = "tile.gain"  # module, f64: predicted relative time saved by the chosen tiles
# ---- the entry function: set by the schedule pass (a complete schedule, checked by the
# simulator: an op that cannot start at its sched.start is an error)
SCHED_MAKESPAN = "sched.makespan"  # f64 seconds: the schedule's predicted latency
SCHED_STATUS = "sched.status"  # "optimal" (every distinct layer proven) or "feasible"
SCHED_BOUND = "sched.bound"  # f64 seconds: the best proven lower bound of the makespan
SCHED_SOLVE_TIME = "sched.solve_time"  # f64 seconds spent in the solver
SCHED_TARGET = "sched.target"  # string: the target the schedule was made for
PLACEMENT = "placement"  # i64: the device that runs the op (default 0)
# string: how an attention op runs, "flash" (one kernel) or "materialised" (QK^T GEMM, softmax
# kernel, PV GEMM); absent: flash. `tfm.fused` has a property of the same name (its kernel).
KERNEL = "kernel"
FLASH = "flash"
MATERIALISED = "materialised"
FUSE_KERNELS = "fuse.kernels"  # module: the preset the fuse pass ran ("eager", "fused", ...)
# Written by the place pass (passes/place.py):
STAGE = "stage"  # i64 on an op: its (virtual) pipeline stage; absent: computed on every stage
PLAN = "tfm.plan"  # module: the parallel plan (t, p, d, microbatch, ...) as a dictionary
# argument: how a parameter is split over the tensor-parallel ranks, "dim/blocks" ("1/3":
# dim 1, each of 3 blocks split); absent: every rank holds it whole
SHARD = "tfm.shard"


_LAYER_RE = re.compile(r"\.(\d+)\.")


def layer_of_name(name: str) -> int | None:
    """The transformer block a parameter name belongs to (`h.3.attn.c_attn.weight` -> 3)."""
    m = _LAYER_RE.search(name)
    return int(m.group(1)) if m else None


def layer_of(op: Operation) -> int | None:
    """The op's transformer block, or None (embedding, head, loss, or unknown)."""
    a = op.attributes.get(LAYER)
    return a.value.data if isinstance(a, IntegerAttr) else None


def set_layer(op: Operation, layer: int | None) -> None:
    if layer is None:
        op.attributes.pop(LAYER, None)
    else:
        op.attributes[LAYER] = IntegerAttr(layer, i64)


def phase_of(op: Operation) -> str:
    """ "forward" or "backward"."""
    a = op.attributes.get(PHASE)
    return a.data if isinstance(a, StringAttr) else FORWARD


def where(op: Operation) -> str:
    """`tfm.matmul in layer 3` (or just the op name): the start of an error about `op`."""
    layer = layer_of(op)
    return op.name if layer is None else f"{op.name} in layer {layer}"


def read_str(op: Operation, name: str) -> str | None:
    a = op.attributes.get(name)
    if a is None:
        return None
    if not isinstance(a, StringAttr):
        raise TandemError(f"{where(op)}: attribute {name!r} must be a string, got {a}")
    return a.data


def read_int(op: Operation, name: str) -> int | None:
    a = op.attributes.get(name)
    if a is None:
        return None
    if not isinstance(a, IntegerAttr):
        raise TandemError(f"{where(op)}: attribute {name!r} must be an integer, got {a}")
    return a.value.data


def read_float(
    op: Operation,
    name: str,
    *,
    low: float = -math.inf,
    high: float = math.inf,
    high_open: bool = False,
) -> float | None:
    """A float (or integer) attribute in [low, high] (or [low, high) when `high_open`)."""
    a = op.attributes.get(name)
    if a is None:
        return None
    value = float(a.value.data) if isinstance(a, FloatAttr | IntegerAttr) else math.nan
    above = value >= high if high_open else value > high
    if not math.isfinite(value) or value < low or above:
        bracket = ")" if high_open else "]"
        raise TandemError(
            f"{where(op)}: attribute {name!r} must be a number in "
            f"[{low:g}, {high:g}{bracket}, got {a}"
        )
    return value


def f64_attr(value: float) -> FloatAttr:
    return FloatAttr(float(value), f64)
