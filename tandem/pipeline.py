"""Run a textual pass pipeline (`'pad-shapes{target=a100-sxm4-40gb},fold-transposes'`), and
make sure a module runs with a kernel preset (`fuse_kernels`)."""

from __future__ import annotations

from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

from backends.sim.engine import kernels_of
from ir.attrs import SCHED_MAKESPAN
from ir.errors import TandemError, one_line
from ir.io import verify_ir
from ir.tfm import make_context
from passes import get_all_passes


def build_pipeline(spec: str) -> PassPipeline:
    try:
        return PassPipeline.parse_spec(get_all_passes(), spec)
    except TandemError:
        raise
    except (
        Exception,
        ArgSpecParseError,
    ) as exc:  # xDSL's spec errors; ArgSpecParseError is a BaseException
        hint = (
            ' (quote option values with spaces or slashes: target="path/to.toml")'
            if isinstance(exc, ArgSpecParseError)
            else ""
        )
        raise TandemError(f"bad pass pipeline {spec!r}: {one_line(exc)}{hint}") from exc


def run_pipeline(module: ModuleOp, spec: str) -> ModuleOp:
    """Apply the passes in `spec` to `module` in place and verify the result."""
    if not spec.strip():
        return module
    pipeline = build_pipeline(spec)
    ctx = make_context()
    for p in pipeline.passes:
        try:
            p.apply(ctx, module)
        except TandemError:
            raise
        except Exception as exc:
            raise TandemError(f"pass {p.name} failed: {type(exc).__name__}: {exc}") from exc
        verify_ir(module, f"after {p.name}")
    return module


# The kernels a model runs with unless told otherwise: Megatron-LM's fused kernels with
# FlashAttention, as current training stacks do.
DEFAULT_KERNELS = "flash"


def _scheduled(module: ModuleOp) -> bool:
    return any(isinstance(op, func.FuncOp) and SCHED_MAKESPAN in op.attributes for op in module.ops)


def fuse_kernels(module: ModuleOp, kernels: str | None = None) -> bool:
    """Fuse `module` in place with preset `kernels` (default flash) unless `fuse` already ran.

    Returns True when it fused. A module fused with another preset than an explicit
    `kernels` is an error: fusion is not undone.
    """
    done = kernels_of(module)
    if done == "none" and _scheduled(module):
        if kernels is not None:
            raise TandemError(
                "the IR is scheduled but not fused: fusing now would invalidate the schedule; "
                f"run fuse{{kernels={kernels}}} before tile and schedule"
            )
        return False
    if done != "none":
        if kernels is not None and kernels != done:
            raise TandemError(
                f"the IR was already fused with kernels={done}; compile the unfused model "
                f"to run it with kernels={kernels}"
            )
        return False
    run_pipeline(module, f"fuse{{kernels={kernels or DEFAULT_KERNELS}}}")
    return True
