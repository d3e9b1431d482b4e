"""The co-design search's connection to the frontend and the passes (the layers above
``backends/codesign``), and the results files.

    tc = ModelToolchain("bert-base")
    outcome = run_search(load_space("acceltran"), tc, SearchSettings(trials=40, seed=0))
    write_results("out/", outcome)      # trials.csv, pareto.csv, references.csv, pareto.png,
                                        # best.toml, best.json, search.json

``ModelToolchain`` is a small frozen dataclass, so Ray can ship it to workers: each worker
imports its own models.

DynaProp's sparsity (``measure_sparsity``, for ``measured=$SPARSITY`` in a space's pipeline)
is measured on the real model with the reference interpreter: a zoo model with its random
(seeded) weights on ``MEASURE_LAYERS`` of its layers (random layers are alike), or all its
layers with the weights of ``checkpoint``; in f32 on the CPU, on the model's example batch
(random token ids). Tables are kept in ``sparsity_dir`` (``OUTDIR/sparsity``) when given.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from backends.codesign.cluster import PLAN_TOP
from backends.placement.search import Request
from ir.errors import TandemError

DTYPE_KEYS = ("dtype",)
MEASURE_LAYERS = 2  # layers of a zoo model with random weights that sparsity is measured on
TABLE_VERSION = 1  # in the cache key of measured tables: bump when measuring changes


@dataclass(frozen=True)
class ModelToolchain:
    """A zoo model (or ``file.py:factory``, or a .mlir file) with base overrides, imported on
    the meta device; the pass pipeline of ``tandem.pipeline``."""

    model: str
    training: bool = False
    overrides: tuple[tuple[str, Any], ...] = ()
    checkpoint: str = ""  # weights for measuring DynaProp's sparsity (default: random)
    sparsity_dir: str = ""  # where measured tables are kept ("": not kept)

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

    def measure_sparsity(self, stage: str, shape: dict[str, int]) -> str | None:
        """The JSON table of DynaProp's sparsity with the settings of ``stage`` (a dynaprop
        pass) measured on the model at ``shape`` (see the module doc); None for a .mlir."""
        if self._is_mlir():
            return None
        config = _dynaprop_config(stage)
        shape = dict(shape)
        if not self.checkpoint and shape.get("layers", 0) > MEASURE_LAYERS:
            shape["layers"] = MEASURE_LAYERS
        file = self._table_file(config, shape)
        if file is not None and file.is_file():
            return file.read_text()
        from tandem.files import json_text, write_text

        text = json_text(self._measure(config, shape)) + "\n"
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
            write_text(file, text)
        return text

    def _table_file(self, config: Any, shape: dict[str, int]) -> Path | None:
        if not self.sparsity_dir:
            return None
        ck = Path(self.checkpoint)
        stamp = [str(ck.resolve()), ck.stat().st_mtime_ns] if ck.is_file() else self.checkpoint
        key = [TABLE_VERSION, self.model, self.overrides, self.training, sorted(shape.items())]
        key += [config.pipeline(), stamp]
        digest = hashlib.sha1(json.dumps(key, default=str).encode()).hexdigest()[:10]
        name = re.sub(r"[^A-Za-z0-9_.-]+", "_", Path(self.model).name)[-40:]
        return Path(self.sparsity_dir) / f"{name}-tau{config.tau_fwd:g}-{digest}.json"

    def _measure(self, config: Any, shape: dict[str, int]) -> dict[str, Any]:
        from tandem.sparsity import input_batches, measured_table

        _quiet()
        spec, imported = _real_model(
            self.model, self.overrides, self.training, tuple(sorted(shape.items())), self.checkpoint
        )
        full = (self.config() or {}).get("layers")
        weights = (
            f"weights of {Path(self.checkpoint).name}" if self.checkpoint else "random weights"
        )
        return measured_table(
            spec,
            config,
            input_batches(spec),
            imported=imported,
            model_layers=full,
            weights=weights,
            dtype="f32",
            inputs="the example batch (random token ids)",
        )


def _dynaprop_config(stage: str) -> Any:
    """The DynaPropConfig of a ``dynaprop{...}`` stage."""
    from passes.dynaprop import DynaPropPass
    from tandem.pipeline import build_pipeline

    passes = build_pipeline(stage).passes
    if len(passes) != 1 or not isinstance(passes[0], DynaPropPass):
        raise TandemError(f"measured=$SPARSITY belongs in a dynaprop stage, not in {stage!r}")
    return passes[0].config()


@functools.lru_cache(maxsize=1)
def _real_model(
    model: str,
    overrides: tuple[tuple[str, Any], ...],
    training: bool,
    shape: tuple[tuple[str, int], ...],
    checkpoint: str,
) -> tuple[Any, Any]:
    """(spec, imported IR) of the model with weights at ``shape``, in f32 on the CPU (the
    last one is kept: every threshold is measured on the same import)."""
    from frontends.importer import trace_and_import
    from frontends.user_model import resolve_model
    from frontends.zoo import Overrides

    base = {k: v for k, v in overrides if k not in DTYPE_KEYS}
    ov = {**base, **dict(shape)} if shape else {}
    spec = resolve_model(model, Overrides(**ov), training=training, device="cpu")
    if checkpoint:
        from frontends.checkpoint import load_checkpoint

        load_checkpoint(spec.module, checkpoint)
    return spec, trace_and_import(spec.module, spec.example_inputs, training=spec.training)


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
    model: str,
    space_model: dict[str, Any],
    *,
    training: bool | None,
    overrides: dict[str, Any],
    checkpoint: str = "",
    sparsity_dir: str = "",
) -> ModelToolchain:
    """The toolchain for ``model``: the space's [model] defaults (training, dtype, batch,
    seq), overridden by what the command line gives; ``checkpoint`` and ``sparsity_dir``
    for measuring DynaProp's sparsity."""
    base: dict[str, Any] = {
        k: space_model[k] for k in ("dtype", "batch", "seq") if space_model.get(k) is not None
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    if model.endswith(".mlir") or ":" in model:
        if overrides and any(v is not None for v in overrides.values()):
            raise TandemError("shape overrides apply to zoo models only")
        base = {}
    train = training if training is not None else bool(space_model.get("training", False))
    if checkpoint and model.endswith(".mlir"):
        raise TandemError(
            "--checkpoint needs a model with weights (a zoo name or file.py), not .mlir"
        )
    return ModelToolchain(model, train, tuple(sorted(base.items())), checkpoint, sparsity_dir)
