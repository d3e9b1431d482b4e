"""`tandem compile MODEL --training --cluster C --gpus N --global-batch B [--fix ...]`.

Plans the training step (`tandem.planning.plan`: the fastest plan that fits, or the `--fix`ed
keys), imports the whole model at the plan's microbatch, runs the pipeline with the `place`
pass (default `fold-transposes,place{...}`), and simulates one iteration on the cluster from
the placed IR's own ops (`backends.placement.stage_costs`, `backends.sim.cluster`). Prints
the plan, the iteration time (and the planner's estimate from its one-layer template, which
it should match), where the time goes, memory per GPU and each stage's times.
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace

from ir.errors import TandemError
from ir.text import seconds, si, table


def add_cluster_arguments(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("training on a cluster (with --training)")
    g.add_argument("--cluster", metavar="C", help="cluster name or .toml: plan, place and simulate")
    g.add_argument("--gpus", type=int, metavar="N", help="GPUs of the cluster to use")
    g.add_argument("--global-batch", type=int, metavar="B", help="sequences per iteration")
    g.add_argument("--fix", default="", metavar="KEYS", help="plan keys to fix (see tandem plan)")
    try:
        g.add_argument(
            "--kernels",
            choices=["eager", "fused", "flash", "inductor"],
            default=None,
            help="fusion preset",
        )
    except argparse.ArgumentError:
        pass  # the command's own --kernels (the fusion preset) serves


def _preset(args: argparse.Namespace) -> str:
    """The fusion preset the plan is costed with: Megatron-LM's fused kernels by default."""
    return getattr(args, "kernels", None) or "fused"


def _place_options(plan, cluster: str, gpus: int, batch: int, kernels: str) -> str:
    on = {True: "on", False: "off"}
    return (
        f'place{{cluster="{cluster}" gpus={gpus} global-batch={batch} t={plan.t} p={plan.p} '
        f"d={plan.d} microbatch={plan.microbatch} recompute={plan.recompute} sp={on[plan.sp]} "
        f"vp={plan.vp} zero={on[plan.zero]} overlap={on[plan.overlap]} "
        f"tp_overlap={on[plan.tp_overlap]} kernels={kernels}}}"
    )


def run_cluster(args: argparse.Namespace) -> int:
    from backends.interpreter import entry
    from backends.placement.plan import Plan, parse_fix, read_plan
    from backends.placement.report import plan_json
    from backends.placement.stage_costs import stage_times
    from backends.sim.cluster import chrome_trace, simulate_plan
    from backends.targets import load_cluster
    from frontends.importer import import_model
    from frontends.user_model import resolve_model
    from frontends.zoo import Overrides
    from ir.io import print_module
    from tandem.commands.common import is_mlir, overrides_from, plan_outputs, quiet
    from tandem.files import write_text
    from tandem.pipeline import build_pipeline, run_pipeline
    from tandem.planning import plan as make_plan

    if not args.training:
        raise TandemError("--cluster plans a training step: add --training")
    if not args.gpus or not args.global_batch:
        raise TandemError("--cluster needs --gpus N and --global-batch B")
    if is_mlir(args.model):
        raise TandemError("--cluster plans a model (zoo name or file.py:factory), not a .mlir file")
    plan_outputs(args, [("-o", args.output), ("--trace", args.trace)])  # before any work
    cluster = load_cluster(args.cluster)
    quiet()
    t0 = time.perf_counter()
    overrides = overrides_from(args)
    report = make_plan(
        args.model,
        overrides,
        cluster=args.cluster,
        gpus=args.gpus,
        global_batch=args.global_batch,
        fixed=parse_fix(args.fix),
        top=1,
        kernels=_preset(args),
    )
    best = report.best
    t1 = time.perf_counter()
    fields = {**overrides.set_fields(), "batch": best.plan.microbatch}
    fields["dtype"] = overrides.dtype or report.facts.dtype
    if report.facts.vocab and report.notes:
        fields["vocab"] = report.facts.vocab  # the planner's padded vocabulary
    spec = resolve_model(args.model, Overrides(**fields), training=True, device="meta")
    module = import_model(spec)
    t2 = time.perf_counter()
    pipeline = args.pipeline
    place = _place_options(best.plan, args.cluster, args.gpus, args.global_batch, _preset(args))
    if pipeline is None:
        pipeline = f"fold-transposes,{place}"
    elif "place" not in pipeline:
        pipeline = f"{pipeline},{place}" if pipeline.strip() else place
    build_pipeline(pipeline)
    run_pipeline(module, pipeline)
    t3 = time.perf_counter()
    recorded = read_plan(module)
    assert recorded is not None
    placed = Plan(
        recorded["t"],
        recorded["p"],
        recorded["d"],
        recorded["microbatch"],
        recorded["recompute"],
        recorded["sequence_parallel"],
        recorded["vp"],
        recorded["zero"],
        recorded["overlap"],
        tuple(recorded["stage_layers"]),
        bool(recorded.get("tp_overlap", False)),
    )
    chunks = stage_times(entry(module), placed, cluster, _preset(args))
    if (placed.sp or placed.tp_overlap) and report.template is not None:
        chunks = _template_terms(chunks, placed, report, cluster)
    p = placed.p
    chunks = _accumulation(chunks, placed, best.stages, cluster, report.facts.dtype)
    stages = []
    for i, st in enumerate(best.stages):
        mine = [chunks[c * p + i] for c in range(placed.vp)]
        fwd = sum(c[0] for c in mine)
        bwd = sum(c[1] for c in mine)
        comm = sum(c[2] for c in mine)
        stages.append(replace(st, fwd=fwd, bwd=bwd, compute=fwd + bwd - comm, tp_comm=comm))
    ir_eval = replace(best, plan=placed, chunks=[(f, b) for f, b, _c in chunks], stages=stages)
    from backends.placement.search import Request, _Setup

    setup = _Setup(
        cluster, _FactsOnly(report.facts), Request(cluster, args.gpus, args.global_batch)
    )
    simulated = simulate_plan(setup, ir_eval, _FactsOnly(report.facts), trace=bool(args.trace))
    t4 = time.perf_counter()
    timings = {"plan_s": t1 - t0, "import_s": t2 - t1, "passes_s": t3 - t2, "simulate_s": t4 - t3}
    files: list[tuple[str, str]] = []
    if args.output:
        files.append((args.output, print_module(module)))
    if args.trace:
        files.append(
            (args.trace, json.dumps(chrome_trace(simulated.trace), separators=(",", ":")) + "\n")
        )
    for path, data in files:
        write_text(path, data)
    entry_json = plan_json(
        simulated, report.facts, args.global_batch, args.gpus, report.peak, report.flops
    )
    if args.json:
        print(
            json.dumps(
                {
                    "compile": {"model": args.model, "pipeline": pipeline, "timings": timings},
                    "plan": entry_json,
                    "planner_iteration_s": best.iteration_s,
                    "stages": [
                        {"layers": n, "forward_s": f, "backward_s": b, "tp_comm_s": c}
                        for n, (f, b, c) in zip(placed.stage_layers, chunks, strict=True)
                    ],
                    "notes": report.notes,
                },
                indent=1,
            )
        )
        return 0
    print(_text(args, report, simulated, best, entry_json, pipeline, placed, chunks, timings))
    return 0


def _accumulation(chunks, placed, stages, cluster, dtype):
    """Each microbatch's backward adds its weight gradients into the accumulated ones (the
    planner's `costs.accumulate_seconds`), a device's parameters spread over its chunks."""
    from backends.placement.costs import accumulate_seconds

    p = placed.p
    out = []
    for k, (f, b, c) in enumerate(chunks):
        extra = accumulate_seconds(cluster, dtype, stages[k % p].params / placed.vp)
        out.append((f, b + extra, c))
    return out


def _template_terms(chunks, placed, report, cluster):
    """What the placed IR does not show, per layer from the planner's template: with sp its
    layers' ops on tensor-replicated values (norms, residual adds, dropout) run on 1/t of the
    sequence and the backward gathers each column-parallel input again; with tp_overlap the
    backward's collectives partly hide behind its GEMMs."""
    from backends.placement.costs import backward_comm_seconds, comm_seconds

    v = report.template.variant(
        placed.t,
        placed.microbatch,
        cluster.device_target,
        report.request.kernels,
        report.request.dropout,
        cluster.sustained_compute,
    )
    cut = 1.0 - 1.0 / placed.t if placed.sp else 0.0

    def terms(seg, layer: bool) -> tuple[float, float, float]:
        f_cut, b_cut = seg.repl_fwd_s * cut, seg.repl_bwd_s * cut
        if layer and placed.recompute == "full":
            b_cut += f_cut
        comm = backward_comm_seconds(cluster, seg, placed.t, placed.sp, placed.tp_overlap)
        return f_cut, b_cut, comm - comm_seconds(cluster, seg.comm_bwd, placed.t)

    lay = terms(v.layer, True)
    out = []
    last = len(chunks) - 1
    for k, (n, (f, b, c)) in enumerate(zip(placed.stage_layers, chunks, strict=True)):
        f_cut, b_cut, comm = (n * x for x in lay)
        for seg, here in ((v.embed, k == 0), (v.head, k == last)):
            if here:
                ef, eb, ec = terms(seg, False)
                f_cut, b_cut, comm = f_cut + ef, b_cut + eb, comm + ec
        out.append((f - f_cut, b - b_cut + comm, c + comm))
    return out


class _FactsOnly:
    """What the cluster simulator reads of a template: the model facts."""

    def __init__(self, facts) -> None:
        self.facts = facts
        self.layers_total = facts.layers


def _text(args, report, simulated, best, e, pipeline, placed, chunks, timings) -> str:
    f = report.facts
    total = e["iteration_s"]
    lines = [
        f"{args.model} (training step): {f.layers} layers, hidden {f.hidden}, {f.heads} heads, "
        f"seq {f.seq}, vocab {f.vocab}, {f.dtype}",
        f"{args.cluster}: {args.gpus} GPUs, global batch {args.global_batch}; plan {placed.key()}",
        f"pipeline: {pipeline}",
        "",
        f"iteration {seconds(total)} (planner estimate {seconds(best.iteration_s)}), "
        f"{si(e['tokens_per_s'], 'tokens/s')}, {e['tflops_per_gpu']:.0f} TFLOP/s per GPU, "
        f"MFU {e['mfu']:.1%}",
        f"memory per GPU {si(e['memory_bytes_per_gpu'], 'B')} "
        f"({'fits' if e['fits'] else 'does NOT fit'})",
        "time: "
        + ", ".join(f"{k.removesuffix('_s')} {seconds(v)}" for k, v in e["breakdown"].items()),
        "",
    ]
    rows = [
        [str(s), str(n), seconds(fw), seconds(bw), seconds(c)]
        for s, (n, (fw, bw, c)) in enumerate(zip(placed.stage_layers, chunks, strict=True))
    ]
    if len(rows) > 12:
        rows = rows[:6] + [["...", "", "", "", ""]] + rows[-3:]
    lines.append(table(["stage", "layers", "forward", "backward", "tp comm"], rows))
    lines.append(
        "\n(" + ", ".join(f"{k.removesuffix('_s')} {v:.2f} s" for k, v in timings.items()) + ")"
    )
    lines += [f"note: {n}" for n in report.notes]
    del simulated
    return "\n".join(lines)
