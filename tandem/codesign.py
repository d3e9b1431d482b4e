"""The co-design search's connection to the frontend and the passes (the layers above
``backends/codesign``), and the results files.

    tc = ModelToolchain("bert-base")
    outcome = run_search(load_space("acceltran"), tc, SearchSettings(trials=40, seed=0))
    write_results("out/", outcome)      # trials.csv, pareto.csv, references.csv, pareto.png,
                                        # best.toml, best.json, search.json

``ModelToolchain`` is a small frozen dataclass, so Ray can ship it to workers: each worker
imports its own models.
"""

from __future__ import annotations

import functools
import logging
import warnings
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from backends.codesign.cluster import PLAN_TOP
from backends.placement.search import Request
from ir.errors import TandemError

DTYPE_KEYS = ("dtype",)


@dataclass(frozen=True)
class ModelToolchain:
    """A zoo model (or ``file.py:factory``, or a .mlir file) with base overrides, imported on
    the meta device; the pass pipeline of ``tandem.pipeline``."""

    model: str
    training: bool = False
    overrides: tuple[tuple[str, Any], ...] = ()

    def _is_mlir(self) -> bool:
        return self.model.endswith(".mlir")

    def config(self) -> dict[str, Any] | None:
        if self._is_mlir():
            return None
        cfg = _config(self.model, self.overrides, self.training)
        return cfg if all(k in cfg for k in ("hidden", "heads", "layers", "vocab")) else None

    def build(self, shape: dict[str, int]) -> ModuleOp:
        _quiet()
        if self._is_mlir():
            from ir.io import read_module

            return read_module(self.model)
        from frontends.importer import import_model
        from frontends.user_model import resolve_model
        from frontends.zoo import Overrides

        ov = {**dict(self.overrides), **shape} if self.config() is not None else {}
        spec = resolve_model(self.model, Overrides(**ov), training=self.training, device="meta")
        return import_model(spec)

    def run_pipeline(self, module: ModuleOp, spec: str) -> None:
        from tandem.pipeline import run_pipeline

        run_pipeline(module, spec)

    def pass_names(self) -> frozenset[str]:
        from passes import get_all_passes

        return frozenset(get_all_passes())

    def plan(self, shape: dict[str, int], request: Request) -> dict[str, Any]:
        """The best training plan at ``shape`` (``tandem.planning.plan``; the vocabulary
        as the shape gives it, the batch is the request's global batch)."""
        from frontends.zoo import Overrides
        from tandem.planning import plan

        _quiet()
        ov = {**dict(self.overrides), **shape}
        ov.pop("batch", None)
        cluster = request.cluster if isinstance(request.cluster, str) else request.cluster.source
        report = plan(
            self.model,
            Overrides(**ov),
            cluster=cluster,
            gpus=request.gpus,
            global_batch=request.global_batch,
            fixed=request.fixed,
            top=PLAN_TOP,
            kernels=request.kernels,
            pad_vocab=False,
        )
        best = report.to_json()["plans"][0]
        best["key"] = report.best.plan.key()
        return best


@functools.cache
def _config(model: str, overrides: tuple[tuple[str, Any], ...], training: bool) -> dict[str, Any]:
    from frontends.user_model import resolve_model
    from frontends.zoo import Overrides

    _quiet()
    spec = resolve_model(model, Overrides(**dict(overrides)), training=training, device="meta")
    return dict(spec.config)


def _quiet() -> None:
    warnings.filterwarnings("ignore")
    logging.getLogger("transformers").setLevel(logging.ERROR)
    logging.getLogger("torch").setLevel(logging.CRITICAL)


def toolchain_for(
    model: str, space_model: dict[str, Any], *, training: bool | None, overrides: dict[str, Any]
) -> ModelToolchain:
    """The toolchain for ``model``: the space's [model] defaults (training, dtype, batch,
    seq), overridden by what the command line gives."""
    base: dict[str, Any] = {
        k: space_model[k] for k in ("dtype", "batch", "seq") if space_model.get(k) is not None
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    if model.endswith(".mlir") or ":" in model:
        if overrides and any(v is not None for v in overrides.values()):
            raise TandemError("shape overrides apply to zoo models only")
        base = {}
    train = training if training is not None else bool(space_model.get("training", False))
    return ModelToolchain(model, train, tuple(sorted(base.items())))
