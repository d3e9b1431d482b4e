"""Measured A100 kernel and layer times, and the fused-kernel model's error on them (for
tools/calibrate_fusion.py and benchmarks/fusion_fidelity.py; nothing here runs in `tandem`).

Data, from the TransformerSizing logs of Anthony et al. (arXiv 2401.14489), A100-SXM4-40GB,
fp16, b=4, s=2048, `torch.no_grad()`, wall-clock medians over 100 calls:

* ``ops_a100.csv``: standalone kernels of the harness (transformer_flops.py):
  ``mlp_fused_gelu`` (Megatron's TorchScript bias-GELU: read x and the bias, write y),
  ``transformer_add_bias_dropout`` (bias_dropout_add_fused_train with a full-size bias: read
  x, bias, residual, write y), ``transformer_layer_norm`` (read x, write y; mean-of-100
  timing), ``attention_softmax`` (``FusedScaleMaskSoftmax`` built with ``SoftmaxFusionTypes.none``
  and softmax_in_fp32: PyTorch's eager chain .float(), * scale, masked_fill, softmax, .half(),
  five kernels, 36 bytes per score) and ``attention_dropout`` (native dropout).
* ``layers_a100.csv``: whole GPT-NeoX layers (and their attention and MLP blocks) with the
  fused scale-mask-softmax kernel over materialised scores (the kernel the standalone data
  does not time), h = 9728 ... 25216, 64 or 128 heads.

A measured wall-clock time is modelled as kernel time + ``wall_overhead_s`` (the target's
``[calibration]`` table, fitted on the GEMM data): one launch + synchronise per timed call.

Layers are simulated from the IR a user gets: ``gpt2`` with one layer of the measured shape
(ffn 4h), ``fold-transposes,fuse{kernels=fused}``, no padding (the measured runs were not
padded); the layer time is the busy time of the ops in layer 0.
"""

from __future__ import annotations

import csv
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from backends.targets import FusionParams, GpuTarget
from ir.errors import TandemError

DATA_ROOT = Path(__file__).resolve().parents[2] / "shared" / "data"
OPS_CSV = DATA_ROOT / "gemm_a100" / "ops_a100.csv"
LAYERS_CSV = DATA_ROOT / "layers_a100" / "layers_a100.csv"
TARGET = "a100-sxm4-40gb"
MIN_SECONDS = 1e-3  # ops_a100 seconds are logged with 4 decimals
LAYER_PIPELINE = "fold-transposes,fuse{kernels=fused}"

# op in ops_a100.csv -> (kernel class, bytes per element at fp16, kernels per call)
OPS = {
    "mlp_fused_gelu": ("stream", 4.0, 1),
    "transformer_add_bias_dropout": ("residual", 8.0, 1),
    "transformer_layer_norm": ("norm", 4.0, 1),
}
# checks of the physics, not fitted: PyTorch's eager softmax chain (5 streaming kernels,
# 2+4, 4+4, 4+4, 4+4, 4+2 bytes per score) and native dropout (read, write, 1-byte mask)
CHECKS = {
    "attention_softmax": ("stream", 36.0, 5),
    "attention_dropout": ("stream", 5.0, 1),
}


@dataclass
class OpRows:
    op: list[str] = field(default_factory=list)
    numel: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    hidden: list[int] = field(default_factory=list)

    def take(self, keep: np.ndarray) -> OpRows:
        idx = np.flatnonzero(keep)
        return OpRows(*([getattr(self, f)[i] for i in idx] for f in self.__dataclass_fields__))


def load_ops(path: Path) -> OpRows:
    """Standalone kernel rows long enough for the 4-decimal timings (flag == '')."""
    if not Path(path).is_file():
        raise TandemError(f"{path}: calibration data not found")
    rows = OpRows()
    with open(path, newline="") as f:
        for r in csv.DictReader(f):
            if r["flag"] or r["op"] not in {**OPS, **CHECKS} or float(r["seconds"]) < MIN_SECONDS:
                continue
            rows.op.append(r["op"])
            rows.numel.append(float(r["numel"]))
            rows.seconds.append(float(r["seconds"]))
            rows.hidden.append(int(r["hidden"]))
    return rows


def wall_overhead(target: GpuTarget) -> float:
    return float(target.calibration.get("wall_overhead_s", 20e-6))


def op_predicted(target: GpuTarget, fusion: FusionParams, op: str, numel: float) -> float:
    """Predicted wall-clock seconds of one standalone kernel row."""
    cls, per_elem, kernels = {**OPS, **CHECKS}[op]
    memory = per_elem * numel / (target.hbm_bandwidth * fusion.efficiency(cls))
    return memory + kernels * target.launch_overhead_s + wall_overhead(target)


def fit_ops(target: GpuTarget, rows: OpRows) -> dict[str, float]:
    """Per class: the median achieved fraction of HBM bandwidth (time is linear in 1/eff)."""
    out: dict[str, float] = {}
    for op, (cls, per_elem, kernels) in OPS.items():
        eff = [
            per_elem
            * n
            / (s - wall_overhead(target) - kernels * target.launch_overhead_s)
            / target.hbm_bandwidth
            for o, n, s in zip(rows.op, rows.numel, rows.seconds, strict=True)
            if o == op
        ]
        if not eff:
            raise TandemError(f"no rows of {op} to fit the {cls} kernel class on")
        out[cls] = round(min(1.0, float(np.median(eff))), 4)
    return out


def op_errors(target: GpuTarget, fusion: FusionParams, rows: OpRows) -> dict[str, dict]:
    """Median and p90 |relative error| per op (fitted ops and the physics checks)."""
    out = {}
    for op in {**OPS, **CHECKS}:
        err = [
            abs(op_predicted(target, fusion, o, n) / s - 1)
            for o, n, s in zip(rows.op, rows.numel, rows.seconds, strict=True)
            if o == op
        ]
        if err:
            out[op] = {
                "rows": len(err),
                "median": float(np.median(err)),
                "p90": float(np.percentile(err, 90)),
            }
    return out


# ---- layers -----------------------------------------------------------------------------


@dataclass
class Layer:
    """One measured layer and its simulated decomposition (see `decompose`)."""

    hidden: int
    heads: int
    measured: dict[str, float]  # layer_s, attention_s, mlp_s
    fixed: dict[str, float]  # block -> seconds that no fusion efficiency changes
    traffic: dict[str, dict[str, float]]  # block -> kernel class -> bytes

    def predicted(self, target: GpuTarget, fusion: FusionParams, block: str = "layer") -> float:
        bw = target.hbm_bandwidth
        t = self.fixed[block] + wall_overhead(target)
        return t + sum(b / (bw * fusion.efficiency(c)) for c, b in self.traffic[block].items())


def load_layers(path: Path) -> list[dict]:
    if not Path(path).is_file():
        raise TandemError(f"{path}: calibration data not found")
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f) if not r["flag"] and r["flash"] == "False"]


def layer_ir(hidden: int, heads: int, batch: int = 4, seq: int = 2048, kernels: str = "fused"):
    """The tfm IR of one GPT layer of this shape, fused with `kernels` (no padding)."""
    from frontends.importer import import_model
    from frontends.zoo import Overrides, build_model
    from tandem.pipeline import run_pipeline

    warnings.filterwarnings("ignore")
    over = Overrides(
        layers=1, hidden=hidden, heads=heads, ffn=4 * hidden, batch=batch, seq=seq, dtype="f16"
    )
    module = import_model(build_model("gpt2", over, training=False, device="meta"))
    run_pipeline(module, f"fold-transposes,fuse{{kernels={kernels}}}")
    return module


BLOCKS = ("attention", "mlp", "layer")


def decompose(report, target: GpuTarget) -> tuple[dict[str, float], dict[str, dict[str, float]]]:
    """Split layer 0 of a simulated `fused` GPT layer into fixed seconds and memory traffic per
    kernel class, per block: attention (QKV GEMM, attention, output projection: what the
    harness times as the attention block), mlp (h->4h GEMM, bias-GELU, 4h->h GEMM), layer."""
    fixed = dict.fromkeys(BLOCKS, 0.0)
    traffic: dict[str, dict[str, float]] = {b: {} for b in BLOCKS}
    sigs = {s.id: s for s in report.signatures}
    layer_norms = 0
    for row in (r for r in report.rows if r.layer == 0 and r.unit):
        sig = sigs[row.signature]
        label = sig.op
        if label.endswith(":layer_norm"):
            layer_norms += 1
        block = None
        if not label.endswith((":layer_norm", ":bias_dropout_add")):
            block = "attention" if layer_norms == 1 else "mlp"
        detail = sig.cost.detail
        cls = detail.get("kernel_class")
        parts = detail.get("parts", {})
        for b in ("layer", block):
            if b is None:
                continue
            if cls is not None and sig.cost.memory_seconds >= sig.cost.compute_seconds:
                fixed[b] += target.launch_overhead_s
                traffic[b][cls] = traffic[b].get(cls, 0.0) + sig.cost.bytes
            elif "softmax" in parts and detail.get("fused") is False:
                sm = _softmax_bytes(label, sig)
                fixed[b] += row.seconds - parts["softmax"] + target.launch_overhead_s
                traffic[b]["softmax"] = traffic[b].get("softmax", 0.0) + sm
            else:
                fixed[b] += row.seconds
    return fixed, traffic


def _softmax_bytes(label: str, sig) -> float:
    """Scores read and probabilities written by the fused softmax of materialised attention."""
    # "b=4 h=32/32 s=2048x2048 d=80"
    fields = dict(p.split("=") for p in sig.shape.split())
    b, h = int(fields["b"]), int(fields["h"].split("/")[0])
    sq, sk = (int(x) for x in fields["s"].split("x"))
    return 2.0 * 2.0 * b * h * sq * sk  # fp16 scores in, fp16 probabilities out


def build_layers(rows: list[dict], target: GpuTarget, stride: int = 1, log=None) -> list[Layer]:
    """Simulate every `stride`-th measured layer once and keep its decomposition."""
    from backends.sim import simulate

    out = []
    for i, r in enumerate(rows[::stride]):
        h, a = int(r["hidden"]), int(r["heads"])
        rep = simulate(layer_ir(h, a), target)
        fixed, traffic = decompose(rep, target)
        meas = {
            "layer": float(r["layer_s"]),
            "attention": float(r["attention_s"]),
            "mlp": float(r["mlp_s"]),
        }
        out.append(Layer(h, a, meas, fixed, traffic))
        if log is not None and (i + 1) % 25 == 0:
            log(f"  {i + 1} layers simulated")
    return out


def fit_softmax(
    target: GpuTarget, fusion: FusionParams, layers: list[Layer], block: str = "attention"
) -> float:
    """The softmax efficiency minimising the median |log(predicted / measured)| of `block`."""
    grid = np.arange(0.05, 1.0005, 0.001)
    best, best_e = np.inf, 1.0
    for e in grid:
        f = FusionParams(fusion.stream, fusion.residual, fusion.norm, float(e))
        err = np.median(
            [abs(np.log(x.predicted(target, f, block) / x.measured[block])) for x in layers]
        )
        if err < best:
            best, best_e = err, float(e)
    return round(best_e, 4)


def layer_errors(
    target: GpuTarget, fusion: FusionParams, layers: list[Layer], block: str = "layer"
) -> np.ndarray:
    """Signed relative errors (predicted / measured - 1)."""
    return np.array([x.predicted(target, fusion, block) / x.measured[block] - 1 for x in layers])


def hidden_ranges(hiddens: list[int], parts: int = 4) -> list[tuple[int, int]]:
    """`parts` contiguous hidden-size ranges with about as many sizes each."""
    hs = sorted(set(hiddens))
    cuts = np.array_split(np.array(hs), parts)
    return [(int(c[0]), int(c[-1])) for c in cuts if len(c)]


def fit_all(target: GpuTarget, ops: OpRows, layers: list[Layer]) -> FusionParams:
    """Kernels on the standalone data, then the softmax on the layers' attention blocks."""
    k = fit_ops(target, ops)
    partial = FusionParams(k["stream"], k["residual"], k["norm"], target.fusion.softmax)
    return FusionParams(k["stream"], k["residual"], k["norm"], fit_softmax(target, partial, layers))


def cross_validate(
    target: GpuTarget, ops: OpRows, layers: list[Layer], parts: int = 4
) -> tuple[np.ndarray, list[tuple[tuple[int, int], FusionParams, float]]]:
    """Leave one hidden-size range out: refit everything on the others, predict it.

    Returns the held-out layers' signed errors and, per range, (range, params, median |err|).
    """
    errs: list[float] = []
    per: list[tuple[tuple[int, int], FusionParams, float]] = []
    for lo, hi in hidden_ranges([x.hidden for x in layers], parts):
        inside = [lo <= x.hidden <= hi for x in layers]
        train_ops = ops.take(np.array([not (lo <= h <= hi) for h in ops.hidden]))
        train = [x for x, i in zip(layers, inside, strict=True) if not i]
        test = [x for x, i in zip(layers, inside, strict=True) if i]
        params = fit_all(target, train_ops, train)
        e = layer_errors(target, params, test)
        errs += list(e)
        per.append(((lo, hi), params, float(np.median(np.abs(e)))))
    return np.array(errs), per
