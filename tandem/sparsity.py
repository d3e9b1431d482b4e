"""Measured DynaProp sparsity of a model on real inputs (`tandem sparsity`, `api.measure_sparsity`).

    batches = input_batches(spec, "corpus.txt")
    result = measure(spec, DynaPropConfig(tau_fwd=0.06), batches)   # PyTorch runtime
    result.forward, result.loss_dense, result.loss_pruned, result.sites
    ir, measured = annotated_ir(spec, DynaPropConfig(), batches)     # the IR, annotated
    table = measured_table(spec, DynaPropConfig(), batches)          # JSON for measured=

`measure` runs the model twice per batch, densely and under the DynaProp runtime
(`frontends.dynaprop`), with backward passes when `training`. `annotated_ir` imports the model,
applies the `dynaprop` pass and runs the reference interpreter on the same batches, writing the
measured sparsity of every matmul operand on the IR (`backends.sparsity`); `measured_table`
returns that measurement as the table `dynaprop{measured=...}` annotates other imports from.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from xdsl.dialects.builtin import ModuleOp

from backends.interpreter import entry
from backends.sparsity import Measured, annotate_sparsity, measure_sparsity, sparsity_table
from backends.verify import arguments
from frontends.dynaprop import DynaProp, SiteCount
from frontends.importer import Imported
from frontends.zoo import ModelSpec
from ir.errors import TandemError
from ir.sparsity import DynaPropConfig

MASK_ID = 0  # masked-LM [MASK] of byte-level models: the NUL byte never occurs in text
MASK_RATE = 0.15


@dataclass
class SparsityResult:
    """What `tandem sparsity --json` prints (see `to_json`)."""

    config: DynaPropConfig
    training: bool
    sites: list[SiteCount]
    forward: float | None
    backward: float | None
    loss_dense: float | None
    loss_pruned: float | None
    batches: int
    by_site: dict[str, dict[str, float]] = field(default_factory=dict)

    @property
    def loss_change(self) -> float | None:
        """Relative loss increase (pruned / dense - 1)."""
        if self.loss_dense is None or self.loss_pruned is None or self.loss_dense == 0:
            return None
        return self.loss_pruned / self.loss_dense - 1.0

    def to_json(self) -> dict[str, Any]:
        return {
            "tau_fwd": self.config.tau_fwd,
            "tau_bwd": self.config.tau_bwd,
            "pruned_sites": list(self.config.sites),
            "training": self.training,
            "sites": [c.to_json() for c in self.sites],
            "forward": self.forward,
            "backward": self.backward,
            "by_site": self.by_site,
            "loss_dense": self.loss_dense,
            "loss_pruned": self.loss_pruned,
            "loss_change": self.loss_change,
            "batches": self.batches,
        }


# ---------------------------------------------------------------------------- inputs


def mlm_mask(
    ids: torch.Tensor, seed: int = 0, rate: float = MASK_RATE
) -> tuple[torch.Tensor, torch.Tensor]:
    """Masked-LM inputs and labels: `rate` of the positions become MASK_ID, the others'
    labels are -100 (ignored by the loss)."""
    gen = torch.Generator().manual_seed(seed)
    masked = torch.rand(ids.shape, generator=gen) < rate
    inputs = torch.where(masked, torch.full_like(ids, MASK_ID), ids)
    labels = torch.where(masked, ids, torch.full_like(ids, -100))
    return inputs, labels


def _shape(spec: ModelSpec) -> tuple[int, int]:
    ids = spec.example_inputs[0]
    if not isinstance(ids, torch.Tensor) or ids.dim() != 2 or ids.dtype != torch.int64:
        raise TandemError(
            "--inputs needs a model whose first input is token ids [batch, seq]; "
            f"{spec.name} takes {type(ids).__name__}"
        )
    return int(ids.shape[0]), int(ids.shape[1])


def _chunks(tensors: list[torch.Tensor], batch: int, seq: int, where: str) -> list[tuple]:
    first = tensors[0]
    if first.dim() == 1:
        usable = first.numel() // seq * seq
        tensors = [t[:usable].reshape(-1, seq) for t in tensors]
    if tensors[0].dim() != 2 or tensors[0].shape[1] != seq:
        raise TandemError(
            f"{where}: token rows of length {seq} expected (the model's --seq), "
            f"got shape {list(tensors[0].shape)}"
        )
    n = tensors[0].shape[0] // batch
    if n == 0:
        raise TandemError(
            f"{where}: {tensors[0].shape[0]} rows of {seq} tokens, fewer than one batch of {batch}"
        )
    return [tuple(t[i * batch : (i + 1) * batch] for t in tensors) for i in range(n)]


def input_batches(
    spec: ModelSpec, path: str | Path | None = None, max_batches: int = 8
) -> list[tuple]:
    """Batches shaped like the model's example inputs: from `path` or the example itself.

    A `.pt` file holds token ids [N, seq] (or 1-D), or a tuple / dict (`input_ids`, `labels`)
    of them; any other file is text, read as UTF-8 bytes (token id = byte value). Training
    models get labels = ids (causal LMs shift them themselves); BERT-family models get
    masked-LM inputs (`mlm_mask`).
    """
    if path is None:
        return [tuple(spec.example_inputs)]
    p = Path(path)
    if not p.is_file():
        raise TandemError(f"inputs {p}: no such file")
    batch, seq = _shape(spec)
    given: list[torch.Tensor]
    if p.suffix == ".pt":
        try:
            data = torch.load(p, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises pickle, zip and runtime errors alike
            raise TandemError(f"inputs {p}: not a PyTorch file ({type(exc).__name__})") from None
        if isinstance(data, dict):
            data = tuple(data[k] for k in ("input_ids", "labels") if k in data)
        given = list(data) if isinstance(data, tuple | list) else [data]
        if not given or not all(isinstance(t, torch.Tensor) for t in given):
            raise TandemError(f"inputs {p}: expected a tensor of token ids (or a tuple of them)")
        given = [t.long() for t in given]
    else:
        given = [torch.tensor(list(p.read_bytes()), dtype=torch.int64)]
    vocab = spec.config.get("vocab")
    if vocab is not None and int(given[0].max()) >= vocab:
        raise TandemError(
            f"inputs {p}: token id {int(given[0].max())} is outside the model's vocabulary "
            f"({vocab}); text files need a byte-level model (--vocab 256)"
        )
    batches = _chunks(given, batch, seq, str(p))[:max_batches]
    # zoo models: the training form (ids, labels) even for inference, so a masked LM sees
    # the same masked inputs whichever form runs (callers take the inputs they need)
    n_inputs = max(len(spec.example_inputs), 2 if "family" in spec.config else 1)
    out = []
    for b in batches:
        if len(b) >= n_inputs:
            out.append(b[:n_inputs])
        elif spec.config.get("family") == "bert" and n_inputs == 2:
            out.append(mlm_mask(b[0], seed=len(out)))
        else:
            out.append((b[0], b[0].clone())[:n_inputs])
    return out


# ---------------------------------------------------------------------------- measuring


def _loss(out: Any) -> float | None:
    if isinstance(out, torch.Tensor) and out.dim() == 0:
        return float(out.detach())
    return None


def measure(
    spec: ModelSpec, config: DynaPropConfig, batches: list[tuple], *, training: bool = False
) -> SparsityResult:
    """Run every batch densely and under DynaProp; count the sites (backward when training)."""
    module = spec.module
    backward = training and spec.training
    dp = DynaProp(module, config)
    dense: list[float] = []
    pruned: list[float] = []
    n_inputs = len(spec.example_inputs)
    for full in batches:
        args = full[:n_inputs]
        with torch.no_grad():
            loss = _loss(module(*args))
        if loss is not None:
            dense.append(loss)
        with torch.set_grad_enabled(backward), dp:
            out = module(*args)
        if backward:
            if not isinstance(out, torch.Tensor) or out.dim() != 0:
                raise TandemError("--training needs a model whose forward returns the loss")
            module.zero_grad(set_to_none=True)
            out.backward()
            module.zero_grad(set_to_none=True)
        loss = _loss(out)
        if loss is not None:
            pruned.append(loss)
    stats = dp.stats
    weight_sites = [c.site for c in stats.rows() if c.site.endswith(".weight")]
    return SparsityResult(
        config=config,
        training=backward,
        sites=stats.rows(),
        forward=stats.overall("forward"),
        backward=stats.overall("backward"),
        loss_dense=sum(dense) / len(dense) if dense else None,
        loss_pruned=sum(pruned) / len(pruned) if pruned else None,
        batches=len(batches),
        by_site={
            "forward": stats.by_site("forward"),
            "backward": {
                s: v for s, v in stats.by_site("backward").items() if s not in weight_sites
            },
            "weight_grads": {
                s: v for s, v in stats.by_site("backward").items() if s in weight_sites
            },
        },
    )


def sweep(
    spec: ModelSpec,
    config: DynaPropConfig,
    taus: list[float],
    batches: list[tuple],
    *,
    training: bool = False,
) -> list[SparsityResult]:
    """`measure` for each forward threshold in `taus` (other settings from `config`)."""
    out = []
    for tau in taus:
        cfg = DynaPropConfig(
            tau, config.tau_bwd, config.sites, config.act_grads, config.weight_grads
        )
        out.append(measure(spec, cfg, batches, training=training))
    return out


def annotated_ir(
    spec: ModelSpec, config: DynaPropConfig, batches: list[tuple], imported: Imported | None = None
) -> tuple[ModuleOp, Measured]:
    """The model's IR with the `dynaprop` pass applied and every matmul annotated with the
    sparsity its operands had on `batches` (reference interpreter). `imported`: the model's
    import, when made already (it is not changed)."""
    from frontends.importer import trace_and_import
    from tandem.pipeline import run_pipeline

    if imported is None:
        imported = trace_and_import(spec.module, spec.example_inputs, training=spec.training)
    ir = imported.ir.clone()
    run_pipeline(ir, config.pipeline())
    fn = entry(ir)
    n_inputs = len(spec.example_inputs)
    runs = [arguments(fn, spec.module, tuple(b[:n_inputs]), imported.constants) for b in batches]
    measured = measure_sparsity(fn, runs)
    annotate_sparsity(fn, measured)
    return ir, measured


def measured_table(
    spec: ModelSpec,
    config: DynaPropConfig,
    batches: list[tuple],
    imported: Imported | None = None,
    **info: Any,
) -> dict[str, Any]:
    """The sparsity of every site and matmul of the model measured on `batches` (reference
    interpreter), as the JSON table `dynaprop{measured=...}` reads (`backends.sparsity_table`)."""
    ir, measured = annotated_ir(spec, config, batches, imported)
    return table_of(spec, config, ir, measured, len(batches), **info)


def table_of(
    spec: ModelSpec,
    config: DynaPropConfig,
    ir: ModuleOp,
    measured: Measured,
    batches: int,
    **info: Any,
) -> dict[str, Any]:
    """The table of a measurement `annotated_ir` made (`measured_table`)."""
    return sparsity_table(
        entry(ir),
        measured,
        config,
        model=spec.name,
        layers=spec.config.get("layers"),
        training=spec.training,
        batches=batches,
        **info,
    )


# ---------------------------------------------------------------------------- sweep plot


def sweep_png(results: list[SparsityResult], title: str) -> bytes:
    """Sparsity (forward, backward) and loss against tau_fwd, as PNG bytes."""
    import matplotlib  # imported on first use: it is slow to import

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    taus = [r.config.tau_fwd for r in results]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.6))
    ax1.plot(taus, [100 * (r.forward or 0) for r in results], "o-", label="forward")
    if any(r.backward is not None for r in results):
        ax1.plot(taus, [100 * (r.backward or 0) for r in results], "s--", label="backward")
    ax1.set_xlabel("tau_fwd")
    ax1.set_ylabel("sparsity (%)")
    ax1.set_ylim(0, 100)
    ax1.grid(alpha=0.3)
    ax1.legend()
    losses = [r.loss_pruned for r in results]
    if all(v is not None and math.isfinite(v) for v in losses):
        ax2.plot(taus, losses, "o-", color="C3", label="pruned")
        dense = results[0].loss_dense
        if dense is not None:
            ax2.axhline(dense, color="gray", ls=":", label="dense")
        ax2.set_ylabel("loss")
        ax2.legend()
    ax2.set_xlabel("tau_fwd")
    ax2.grid(alpha=0.3)
    fig.suptitle(title)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120)
    plt.close(fig)
    return buf.getvalue()
