"""Tandem's public Python API.

import tandem.api as tandem
ir = tandem.import_model("gpt2-tiny", training=True)
tandem.run_pipeline(ir, "fold-transposes")
report = tandem.verify(tandem.model("gpt2-tiny"), pipeline="fold-transposes")
sim = tandem.simulate(ir, "a100-sxm4-40gb", kernels="flash")
print(sim.latency_s)

spec = tandem.model("bert-tiny", training=True)
tandem.load_checkpoint(spec, "bert.pt")
result = tandem.measure_sparsity(spec, tandem.DynaPropConfig(tau_fwd=0.06), inputs="text.txt")
ir = tandem.annotate_sparsity(spec, tandem.DynaPropConfig(tau_fwd=0.06), inputs="text.txt")
"""

from __future__ import annotations

import torch
from xdsl.dialects.builtin import ModuleOp

from backends.sim import SimReport
from backends.sim import simulate as _simulate
from backends.sim.engine import kernels_of
from backends.targets import Target, load_target
from backends.verify import VerifyReport, compare_with_pytorch
from frontends.zoo import ModelSpec, Overrides
from ir.errors import TandemError
from ir.sparsity import DynaPropConfig
from passes.fuse import PRESETS as KERNEL_PRESETS
from tandem.pipeline import DEFAULT_KERNELS, build_pipeline, fuse_kernels, run_pipeline

__all__ = [
    "Overrides",
    "ModelSpec",
    "model",
    "import_model",
    "import_torch",
    "run_pipeline",
    "verify",
    "simulate",
    "load_target",
    "DEFAULT_KERNELS",
    "KERNEL_PRESETS",
    "codesign",
    "load_checkpoint",
    "DynaPropConfig",
    "dynaprop_runtime",
    "measure_sparsity",
    "annotate_sparsity",
]


def model(
    name: str, overrides: Overrides = Overrides(), *, training: bool = False, device: str = "cpu"
) -> ModelSpec:
    """A zoo model or a user's `file.py:factory`, with its example inputs."""
    from frontends.user_model import resolve_model

    return resolve_model(name, overrides, training=training, device=device)


def import_model(
    name_or_spec: str | ModelSpec,
    overrides: Overrides = Overrides(),
    *,
    training: bool = False,
    device: str = "meta",
) -> ModuleOp:
    """tfm IR of a model (by default built on the meta device: shapes only)."""
    from frontends.importer import import_model as _import

    spec = (
        name_or_spec
        if isinstance(name_or_spec, ModelSpec)
        else model(name_or_spec, overrides, training=training, device=device)
    )
    return _import(spec)


def import_torch(
    module: torch.nn.Module, example_inputs: tuple, *, training: bool = False
) -> ModuleOp:
    """tfm IR of any nn.Module (training: its forward must return the scalar loss)."""
    from frontends.importer import import_module

    return import_module(module, example_inputs, training=training)


def verify(
    spec: ModelSpec, *, pipeline: str = "", rtol: float | None = None, via: str = "torch-export"
) -> VerifyReport:
    """Import `spec`, apply `pipeline`, run the reference interpreter, compare with PyTorch eager.

    `via="torch-mlir"` imports through torch-mlir's fx importer (forward graphs only) and runs
    the interpreter on the weights that route names.
    """
    from frontends.importer import trace_and_import
    from frontends.torch_mlir_import import TRAINING_UNSUPPORTED, import_via_torch_mlir

    if rtol is None:
        rtol = 1e-4 if spec.config.get("dtype", "f32") in ("f32", torch.float32) else 2e-2
    if via == "torch-mlir":
        if spec.training:
            raise TandemError(TRAINING_UNSUPPORTED)
        imported = import_via_torch_mlir(spec.module, spec.example_inputs)
    elif via == "torch-export":
        imported = trace_and_import(spec.module, spec.example_inputs, training=spec.training)
    else:
        raise TandemError(f"unknown import route {via!r}; expected torch-export or torch-mlir")
    runtime = dynaprop_runtime(spec.module, pipeline)
    run_pipeline(imported.ir, pipeline)
    return compare_with_pytorch(
        imported.ir,
        spec.module,
        spec.example_inputs,
        training=spec.training,
        constants=imported.constants,
        rtol=rtol,
        context=runtime,
    )


def dynaprop_runtime(module: torch.nn.Module, pipeline: str):
    """The PyTorch DynaProp runtime with the settings of the pipeline's `dynaprop{...}` pass
    (None without one): what `verify` compares a pruned IR against."""
    from passes.dynaprop import DynaPropPass

    if not pipeline.strip():
        return None
    found = [p for p in build_pipeline(pipeline).passes if isinstance(p, DynaPropPass)]
    if not found:
        return None
    if len(found) > 1:
        raise TandemError("the pipeline runs dynaprop twice; an IR is pruned once")
    from frontends.dynaprop import DynaProp

    return DynaProp(module, found[0].config())


def load_checkpoint(spec: ModelSpec, path: str) -> None:
    """Load a state dict into the model (keys and shapes must match)."""
    from frontends.checkpoint import load_checkpoint as _load

    _load(spec.module, path)


def measure_sparsity(
    spec: ModelSpec,
    config: DynaPropConfig | None = None,
    *,
    inputs: str | None = None,
    max_batches: int = 8,
):
    """DynaProp's measured sparsity per site and the loss change (`tandem.sparsity`): a
    `SparsityResult`. Backward sites are measured when `spec.training`."""
    from tandem.sparsity import input_batches, measure

    batches = input_batches(spec, inputs, max_batches)
    return measure(spec, config or DynaPropConfig(), batches, training=spec.training)


def annotate_sparsity(
    spec: ModelSpec,
    config: DynaPropConfig | None = None,
    *,
    inputs: str | None = None,
    max_batches: int = 8,
) -> ModuleOp:
    """The model's IR after `dynaprop`, each matmul annotated with its measured sparsity."""
    from tandem.sparsity import annotated_ir, input_batches

    batches = input_batches(spec, inputs, max_batches)
    return annotated_ir(spec, config or DynaPropConfig(), batches)[0]


def simulate(
    module: ModuleOp,
    target: Target | str,
    *,
    kernels: str | None = None,
    name: str | None = None,
) -> SimReport:
    """Run `module` on `target` (a name, a TOML path or a loaded target): a SimReport.

    `kernels`: the fusion preset, "eager", "fused" (Megatron-LM's kernels, attention scores
    materialised), "flash" (the default: fused + FlashAttention) or "inductor". A module the
    `fuse` pass has not seen is fused on a copy first; one already fused runs as it is (an
    explicit `kernels` must then match its preset).
    """
    if kernels_of(module) == "none":
        module = module.clone()
    fuse_kernels(module, kernels)
    return _simulate(module, target, name=name)


def codesign(
    model: str,
    space: str,
    *,
    objectives: list[str] | None = None,
    trials: int | None = None,
    workers: int = 1,
    seed: int = 0,
    ray_address: str | None = None,
    training: bool | None = None,
    overrides: Overrides = Overrides(),
    output: str | None = None,
    cluster: str | None = None,
    gpus: int | None = None,
    global_batch: int | None = None,
    fix: str | None = None,
):
    """Search `space` (a built-in name or a .toml path) for `model`: an `Outcome` with every
    trial and the references; with `output`, the files `tandem codesign -o` writes.
    `cluster`, `gpus`, `global_batch`, `fix` override a cluster space's (cluster-shape)."""
    from pathlib import Path

    from backends.codesign import SearchSettings, load_space, run_search
    from tandem.codesign import toolchain_for
    from tandem.codesign_files import write_results

    placement = {"cluster": cluster, "gpus": gpus, "global_batch": global_batch, "fix": fix}
    sp = load_space(space, objectives, placement)
    tc = toolchain_for(model, sp.model, training=training, overrides=overrides.set_fields())
    settings = SearchSettings(
        trials=trials, seed=seed, workers=workers, ray_address=ray_address, progress=False
    )
    outcome = run_search(sp, tc, settings)
    if output is not None:
        Path(output).mkdir(parents=True, exist_ok=True)
        write_results(Path(output), outcome, tc)
    return outcome
