"""torch, imported on first use: ops carry their interpreter rule, yet parsing and printing IR
(`tandem-opt`) never pays for importing torch.

    from ir.lazy import F, torch
    def interpret(self, args): return [torch.relu(args[0])]   # torch loads here, once
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Any


class LazyModule:
    """A stand-in for a module that imports it on the first attribute access."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._module: ModuleType | None = None

    def __getattr__(self, attr: str) -> Any:
        if self._module is None:
            self._module = importlib.import_module(self._name)
        return getattr(self._module, attr)


torch: Any = LazyModule("torch")
F: Any = LazyModule("torch.nn.functional")
