"""tfm passes. One module per pass, named after the pass (`pad_shapes.py` is `pad-shapes`).

To add a pass: write `passes/my_pass.py` with a frozen-dataclass `ModulePass`, then add one
line to `TFM_PASSES` below.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

from xdsl.passes import ModulePass

# pass name -> "module:Class", loaded lazily so start-up stays fast
TFM_PASSES: dict[str, str] = {
    "fold-transposes": "passes.fold_transposes:FoldTransposes",
    "fuse": "passes.fuse:Fuse",
    "pad-shapes": "passes.pad_shapes:PadShapes",
    "dynaprop": "passes.dynaprop:DynaPropPass",
    "tile": "passes.tile:Tile",
    "schedule": "passes.schedule:Schedule",
    "place": "passes.place:Place",
}


def _loader(path: str) -> Callable[[], type[ModulePass]]:
    module, cls = path.split(":")
    return lambda: getattr(importlib.import_module(module), cls)


def get_tfm_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    return {name: _loader(path) for name, path in TFM_PASSES.items()}


def get_all_passes() -> dict[str, Callable[[], type[ModulePass]]]:
    """tfm passes plus xDSL's own (tfm names win on a clash)."""
    from xdsl.transforms import get_all_passes as xdsl_passes

    return {**xdsl_passes(), **get_tfm_passes()}
