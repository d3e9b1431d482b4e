"""`tandem sparsity MODEL [--training] --tau-fwd X --tau-bwd Y [--inputs FILE] [--json]
[-o annotated.mlir] [--table OUT.json] [--checkpoint FILE] [--sweep TAUS --plot OUT.png]`.

Runs the model on real inputs under the DynaProp runtime and reports the measured sparsity of
every site (per site, per layer, forward and backward) and the loss change; `-o` writes the
IR after the `dynaprop` pass with every matmul annotated with the sparsity of its operands
(measured on the reference interpreter), ready for `tandem simulate`; `--table` writes that
measurement per site and matmul as JSON, which `dynaprop{tau-fwd=X measured="OUT.json"}`
applies to any import of the model (meta device, fewer layers). `--sweep` repeats the
measurement for several forward thresholds (a table, `--plot` a PNG).
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from ir.errors import TandemError
from tandem.commands.common import (
    _positive,
    add_checkpoint_argument,
    add_model_arguments,
    apply_checkpoint,
    overrides_from,
    plan_outputs,
    quiet,
)
from tandem.files import json_text

if TYPE_CHECKING:
    from frontends.zoo import ModelSpec
    from ir.sparsity import DynaPropConfig
    from tandem.sparsity import SparsityResult

HELP = "measure DynaProp's run-time sparsity per site on real inputs (and annotate the IR)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_model_arguments(p)
    p.add_argument(
        "--tau-fwd", type=float, default=0.06, metavar="X", help="forward threshold (0.06)"
    )
    p.add_argument(
        "--tau-bwd", type=float, default=1e-4, metavar="Y", help="gradient threshold (1e-4)"
    )
    p.add_argument(
        "--sites", default="all", help="comma-separated sites (q,k,v,scores,probs,context,"
        "out_proj,ffn_in,ffn_out), all or none",
    )  # fmt: skip
    p.add_argument("--no-act-grads", action="store_true", help="keep activation gradients")
    p.add_argument("--no-weight-grads", action="store_true", help="keep weight gradients")
    p.add_argument(
        "--inputs",
        metavar="FILE",
        help="token ids (.pt) or a text file (bytes as tokens); default: random example ids",
    )
    p.add_argument(
        "--batches", type=_positive, default=8, metavar="N", help="at most N batches (8)"
    )
    add_checkpoint_argument(p)
    p.add_argument("--json", action="store_true", help="print the result as JSON")
    p.add_argument("--per-layer", action="store_true", help="print every site of every layer")
    p.add_argument("-o", "--output", metavar="OUT.mlir", help="write the annotated IR")
    p.add_argument(
        "--table",
        metavar="OUT.json",
        help="write the IR measurement per site and matmul (for dynaprop{measured=OUT.json})",
    )
    p.add_argument(
        "--sweep", metavar="TAUS", help="comma-separated forward thresholds to measure in turn"
    )
    p.add_argument("--plot", metavar="OUT.png", help="with --sweep: sparsity and loss vs tau")


def _taus(text: str) -> list[float]:
    from ir.sparsity import check_tau

    taus = [check_tau(t, "--sweep value") for t in text.split(",") if t.strip()]
    if not taus:
        raise TandemError("--sweep needs at least one threshold, e.g. --sweep 0,0.02,0.06,0.1")
    return taus


def _spec(args: argparse.Namespace, training: bool) -> ModelSpec:
    from frontends.user_model import resolve_model

    spec = resolve_model(args.model, overrides_from(args), training=training, device="cpu")
    apply_checkpoint(args, spec)
    return spec


def _loss_spec(args: argparse.Namespace) -> ModelSpec:
    """The model in its training form (forward returns the loss), else as it is."""
    try:
        return _spec(args, True)
    except TandemError:
        if args.training:
            raise
        return _spec(args, False)


def _pct(x: float | None) -> str:
    return "-" if x is None else f"{100 * x:.1f}%"


def _num(x: float | None) -> str:
    return "-" if x is None else f"{x:.4g}"


def report_text(name: str, r: SparsityResult, per_layer: bool) -> str:
    from ir.sparsity import ROLES, SITES, weight_site
    from ir.text import table

    cfg = r.config
    lines = [
        f"{name}: DynaProp tau_fwd={cfg.tau_fwd:g} tau_bwd={cfg.tau_bwd:g} on {r.batches} "
        f"batch{'es' if r.batches != 1 else ''} ({'training' if r.training else 'inference'})"
    ]
    fwd, bwd, wg = (r.by_site.get(k, {}) for k in ("forward", "backward", "weight_grads"))
    rows = [
        [s, _pct(fwd.get(s)), _pct(bwd.get(s)) if r.training else "-"] for s in SITES if s in fwd
    ]
    rows.append(["all", _pct(r.forward), _pct(r.backward) if r.training else "-"])
    lines.append(table(["site", "forward", "backward"], rows))
    if r.training and wg:
        parts = ", ".join(
            f"{role} {_pct(wg[weight_site(role)])}" for role in ROLES if weight_site(role) in wg
        )
        lines.append(f"weight gradients: {parts}")
    layers = sorted({c.layer for c in r.sites if c.layer is not None})
    if layers and not per_layer:
        rows = []
        for layer in layers:
            cells = [str(layer)]
            for phase in ("forward", "backward"):
                cs = [c for c in r.sites if c.layer == layer and c.phase == phase]
                n = sum(c.elements for c in cs)
                cells.append(_pct(sum(c.zeros for c in cs) / n) if n else "-")
            rows.append(cells)
        lines.append(table(["layer", "forward", "backward"], rows))
    if per_layer:
        rows = [[c.site, str(c.layer), c.phase, _pct(c.sparsity), str(c.elements)] for c in r.sites]
        lines.append(table(["site", "layer", "phase", "sparsity", "elements"], rows))
    change = r.loss_change
    lines.append(
        f"loss: dense {_num(r.loss_dense)}, pruned {_num(r.loss_pruned)}"
        + (f" ({100 * change:+.2f}%)" if change is not None else "")
    )
    return "\n".join(lines)


def sweep_text(name: str, results: list[SparsityResult]) -> str:
    from ir.text import table

    rows = [
        [
            f"{r.config.tau_fwd:g}",
            _pct(r.forward),
            _pct(r.backward),
            _num(r.loss_pruned),
            "-" if r.loss_change is None else f"{100 * r.loss_change:+.2f}%",
        ]
        for r in results
    ]
    head = f"{name}: DynaProp sweep (tau_bwd={results[0].config.tau_bwd:g}, dense loss {_num(results[0].loss_dense)})"
    return head + "\n" + table(["tau_fwd", "forward", "backward", "loss", "change"], rows)


def run(args: argparse.Namespace) -> int:
    from frontends.trace import user_code
    from ir.sparsity import DynaPropConfig

    quiet()
    config = DynaPropConfig(
        args.tau_fwd, args.tau_bwd, args.sites, not args.no_act_grads, not args.no_weight_grads
    )
    taus = _taus(args.sweep) if args.sweep else None
    if args.plot and not taus:
        raise TandemError("--plot draws a sweep; give --sweep TAUS too")
    if (args.output or args.table) and taus:
        raise TandemError("-o and --table write one measurement; leave out --sweep")
    outputs = plan_outputs(
        args, [("-o", args.output), ("--table", args.table), ("--plot", args.plot)]
    )
    with user_code():  # the model's own prints go to stderr
        text, files = _measure(args, config, taus)
    outputs.write(files)
    print(text, end="")
    return 0


def _measure(
    args: argparse.Namespace, config: DynaPropConfig, taus: list[float] | None
) -> tuple[str, dict[str | None, str | bytes]]:
    """The printed text and the files to write (rendered before anything is written)."""
    from tandem.sparsity import annotated_ir, input_batches, measure, sweep, sweep_png, table_of

    spec = _loss_spec(args)
    batches = input_batches(spec, args.inputs, args.batches)
    name = spec.name
    files: dict[str | None, str | bytes] = {}
    if taus:
        results = sweep(spec, config, taus, batches, training=args.training)
        if args.plot:
            files[args.plot] = sweep_png(results, f"{name}: DynaProp sparsity and loss")
        if args.json:
            return json_text({"model": name, "sweep": [r.to_json() for r in results]}) + "\n", files
        return sweep_text(name, results) + "\n", files
    result = measure(spec, config, batches, training=args.training)
    if args.output not in (None, "-") or args.table not in (None, "-"):
        from ir.io import print_module

        ir_spec = spec if spec.training == args.training else _spec(args, args.training)
        ir, measured = annotated_ir(ir_spec, config, batches)
        if args.output not in (None, "-"):
            files[args.output] = print_module(ir)
        if args.table not in (None, "-"):
            weights = f"weights of {args.checkpoint}" if args.checkpoint else "random weights"
            table = table_of(ir_spec, config, ir, measured, len(batches), weights=weights)
            files[args.table] = json_text(table) + "\n"
    if args.json:
        return json_text({"model": name, **result.to_json()}) + "\n", files
    return report_text(name, result, args.per_layer) + "\n", files
