"""`tandem compile MODEL --target T [-p PIPELINE] [--training] [-o out.mlir] [--json] ...`.

The main job: import a model (shapes only, on the meta device), run a pass pipeline
(``DEFAULT_PIPELINE`` unless ``-p`` is given), simulate it on the target and print the report
(model summary, totals, top ops, per-layer and per-kind tables).

    tandem compile gpt2 --target a100-sxm4-40gb

Models are compiled in bf16 (f16 where the target lacks bf16) unless --dtype says otherwise.
    tandem compile llama-7b --training --seq 4096 --target h100-sxm --trace step.json

With a cluster, the training step is planned (`tandem plan`), placed (the `place` pass joins
the pipeline) and one iteration is simulated on the cluster (`tandem/cluster_compile.py`):
    tandem compile gpt3-175b --training --cluster dgx-a100-80gb --gpus 1024 --global-batch 1536
"""

from __future__ import annotations

import argparse
import time

from ir.errors import TandemError
from ir.text import si
from tandem.commands.common import add_model_arguments, is_mlir, load_spec, loss_note
from tandem.commands.simulate import add_sim_arguments, emit, prepare

HELP = "import a model, run a pass pipeline and simulate it on a target (the main job)"

# Passes every compile runs unless -p says otherwise; `{target}` and `{kernels}` become the
# --target and --kernels values (PIPELINE.md: fuse after pad-shapes, tile before schedule).
DEFAULT_PIPELINE = 'fold-transposes,pad-shapes{{target="{target}"}},fuse{{kernels={kernels}}}'
# On accelerators compile also tiles each GEMM and schedules each layer on the chip's units.
ACCEL_PASSES = ',tile{{target="{target}"}},schedule{{target="{target}"}}'

_SUMMARY_KEYS = (
    "arch",
    "loss",
    "layers",
    "hidden",
    "heads",
    "kv_heads",
    "ffn",
    "vocab",
    "seq",
    "batch",
    "dtype",
)


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p, mlir=True)
    p.add_argument(
        "-p",
        "--pipeline",
        default=None,
        metavar="PIPELINE",
        help="pass pipeline (default: fold-transposes,pad-shapes{target=TARGET},"
        "fuse{kernels=KERNELS}, then tile{target=TARGET},schedule{target=TARGET} on "
        "accelerators; '' for none). With --kernels, a pipeline without fuse is followed by "
        "fuse{kernels=KERNELS}",
    )
    p.add_argument("-o", "--output", metavar="OUT.mlir", help="also write the compiled IR")
    add_sim_arguments(p, target_required=False)
    from tandem.cluster_compile import add_cluster_arguments

    add_cluster_arguments(p)


def model_summary(name: str, config: dict | None, training: bool) -> str:
    """One line: the model's architecture and shape."""
    what = "training step" if training else "inference"
    if not config:
        return f"{name} ({what})"
    parts = [f"{k} {config[k]}" for k in _SUMMARY_KEYS if config.get(k) is not None]
    if config.get("params"):
        parts.append(f"{si(config['params'])} params")
    return f"{name} ({what}): " + ", ".join(parts)


def default_dtype(target) -> str:
    """Mixed precision, as models are trained and served: bf16 where the target has it, else f16."""
    try:
        target.peak_flops("bf16")
    except Exception:  # noqa: BLE001 - a target without bf16 (V100) raises
        return "f16"
    return "bf16"


def run(args: argparse.Namespace) -> int:
    from backends.sim import simulate
    from ir.io import print_module, read_module
    from tandem.pipeline import DEFAULT_KERNELS, build_pipeline, fuse_kernels, run_pipeline

    if args.cluster:
        from tandem.cluster_compile import run_cluster

        return run_cluster(args)
    if not args.target:
        raise TandemError("compile needs --target (one device) or --cluster (a training cluster)")
    target = prepare(args, (("-o", args.output),))
    if args.pipeline is None:
        kernels = args.kernels or DEFAULT_KERNELS
        args.pipeline = DEFAULT_PIPELINE.format(target=args.target, kernels=kernels)
        if target.kind != "gpu":
            args.pipeline += ACCEL_PASSES.format(target=args.target)
    if args.pipeline.strip():
        build_pipeline(args.pipeline)  # a bad pipeline fails before the slow import
    t0 = time.perf_counter()
    config = None
    if is_mlir(args.model):
        module = read_module(args.model)
    else:
        from frontends.importer import import_model

        if args.dtype is None:
            args.dtype = default_dtype(target)
        spec = load_spec(args)
        config = dict(spec.config)
        if loss_note(spec):
            config["loss"] = loss_note(spec)
        module = import_model(spec)
    t1 = time.perf_counter()
    run_pipeline(module, args.pipeline)
    if args.kernels is not None and fuse_kernels(module, args.kernels):  # -p without fuse
        fuse = f"fuse{{kernels={args.kernels or DEFAULT_KERNELS}}}"
        args.pipeline = f"{args.pipeline},{fuse}" if args.pipeline.strip() else fuse
    t2 = time.perf_counter()
    report = simulate(module, target, name=args.model)
    files: list[tuple[str, str | bytes]] = []
    if args.output is not None and args.output != "-":
        files.append((args.output, print_module(module)))
    timings = {"import_s": t1 - t0, "passes_s": t2 - t1, "simulate_s": report.sim_seconds}
    header = (
        f"{model_summary(args.model, config, report.model['training'])}\n"
        f"pipeline: {args.pipeline or '(none)'}\n\n"
    )
    footer = (
        f"\n(import {timings['import_s']:.2f} s, passes {timings['passes_s']:.2f} s, "
        f"simulate {timings['simulate_s']:.2f} s)\n"
    )
    extra = {
        "compile": {
            "model": args.model,
            "config": config,
            "pipeline": args.pipeline,
            "timings": timings,
        }
    }
    emit(report, args, extra=extra, header=header, footer=footer, files=files)
    return 0
