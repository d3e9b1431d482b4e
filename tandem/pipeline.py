"""Run a textual pass pipeline (`'pad-shapes{target=a100-sxm4-40gb},fold-transposes'`)."""

from __future__ import annotations

from xdsl.dialects.builtin import ModuleOp
from xdsl.passes import PassPipeline
from xdsl.utils.exceptions import ArgSpecParseError

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
