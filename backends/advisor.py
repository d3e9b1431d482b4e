"""Shape advisor: nearby model shapes that run faster on a target, per sizing guideline.

Anthony et al., "The Case for Co-Designing Model Architectures with Hardware" (arXiv
2401.14489) give guidelines for GPU-friendly transformer shapes: vocabulary a multiple of 64*t,
head dim h/a a multiple of 64 and as large as accuracy allows, h/t divisible by a high power of
two, an FFN width that is a multiple of 64 (near 4h, or 8h/3 for SwiGLU), b*s a power of two
and b as large as memory allows, t as small as possible. For each guideline the advisor
evaluates candidate shapes with the cost model and recommends the best one within a parameter
budget (default +-5%).

Timing model (per GPU, per microbatch): the per-layer GEMMs of the paper's table
(QKV b*s x 3h/t x h, scores s x s x h/a in b*a/t batches, values s x h/a x s, output projection,
MLP up and down; SwiGLU has a gate GEMM too), attention's softmax, the memory-bound ops
(2 layer norms, the activation, 2 bias-dropout-adds) and, once per model, the logits GEMM
b*s x v/t x h with its softmax/cross-entropy. Training adds per GEMM the two backward GEMMs in
which each of M, N and K is the reduction dim once, twice the memory traffic, and the
attention core once more (selective activation recomputation, which is also what the memory
check assumes: 16 bytes per parameter / t plus 34*s*b*h/t bytes per layer). Attention
is costed in one of three ways: "megatron" (default; as the paper measured it: two batched
GEMMs and Megatron's fused scale-mask-softmax kernel at elementwise bandwidth), "unfused"
(two GEMMs and PyTorch's unfused softmax) or "flash" (one fused kernel).

    report = advise(shape_from_config(spec.config), load_target("a100-sxm4-40gb"))
    print(report.table())

Throughput is achieved GEMM FLOP/s per GPU (the FLOPs of the shape being evaluated, as the
paper reports). Communication is not modelled (it only makes larger t slower).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from backends.cost import attention_cost, gemm_cost, memory_op_cost, vector_op_cost
from backends.targets import Target
from ir.dtypes import nbytes_of
from ir.errors import TandemError

ATTENTION_MODES = ("megatron", "unfused", "flash")
MICROBATCHES = (1, 2, 4, 8, 16, 32, 64)
TENSOR_PARALLEL = (1, 2, 4, 8)
KEEP_WITHIN = 0.02  # keep the current value unless a candidate is predicted >2% better (model error)
BYTES_PER_PARAM_TRAINING = 16  # fp16 weights and grads + fp32 master weights and Adam moments


def round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def pow2_divisor(x: int) -> int:
    """Largest power of two dividing x."""
    return x & -x if x > 0 else 0


@dataclass(frozen=True)
class ModelShape:
    """The knobs of a decoder/encoder transformer that the guidelines talk about."""

    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    seq: int
    batch: int
    tp: int = 1
    gated: bool = False  # SwiGLU-style FFN: gate and up GEMMs, then down
    tied: bool = True  # logits weight shared with the embedding
    biases: bool = True
    family: str = ""
    params: int | None = None  # the real count, when known (else analytic)

    @property
    def head_dim(self) -> int:
        return self.hidden // self.heads

    def replace(self, **changes: Any) -> ModelShape:
        return dataclasses.replace(self, **changes)

    def check(self) -> None:
        """Raise TandemError unless the shape divides evenly across t GPUs."""
        t = self.tp
        for what, value in (("hidden", self.hidden), ("heads", self.heads),
                            ("kv_heads", self.kv_heads), ("ffn", self.ffn)):
            if value % t:
                raise TandemError(f"tensor-parallel degree {t} does not divide {what}={value}")
        if self.hidden % self.heads:
            raise TandemError(f"hidden={self.hidden} is not divisible by heads={self.heads}")
        if self.heads % self.kv_heads:
            raise TandemError(f"heads={self.heads} is not a multiple of kv_heads={self.kv_heads}")


def analytic_params(s: ModelShape) -> int:
    """Parameter count from the shape (embeddings, attention, MLP, norms, biases)."""
    h, d = s.hidden, s.head_dim
    qkv = h * (h + 2 * s.kv_heads * d)
    proj = h * h
    mlp = (3 if s.gated else 2) * h * s.ffn
    bias = (h + 2 * s.kv_heads * d) + h + s.ffn + h if s.biases else 0
    norms = 4 * h if s.biases else 2 * h
    embed = s.vocab * h * (1 if s.tied else 2)
    return embed + s.layers * (qkv + proj + mlp + bias + norms)


def param_count(s: ModelShape, base: ModelShape) -> int:
    """Params of `s`, anchored on the real count of `base` when known."""
    if base.params is None:
        return analytic_params(s)
    return base.params + analytic_params(s) - analytic_params(base)


def shape_from_config(config: dict, *, tp: int = 1, batch: int | None = None,
                      seq: int | None = None) -> ModelShape:
    """A ModelShape from a zoo ModelSpec.config."""
    family = str(config.get("family", ""))
    try:
        shape = ModelShape(
            layers=int(config["layers"]), hidden=int(config["hidden"]), heads=int(config["heads"]),
            kv_heads=int(config.get("kv_heads", config["heads"])), ffn=int(config["ffn"]),
            vocab=int(config["vocab"]), seq=int(seq or config["seq"]),
            batch=int(batch or config["batch"]), tp=tp, gated=family == "llama",
            tied=family != "llama", biases=family != "llama", family=family,
            params=config.get("params"))
    except KeyError as e:
        raise TandemError(f"model config has no {e.args[0]!r}; give a zoo model or a .mlir file") from None
    shape.check()
    return shape


def shape_from_ir(module, *, tp: int = 1, params: int | None = None) -> ModelShape:
    """Infer the shape of a user model from its tfm IR.

    Heads, sequence and batch come from the first forward `tfm.attention`; in the first layer,
    the first GEMM reading the hidden state is the Q (or fused QKV) projection, the next two
    (when Q is separate) are K and V, and the GEMMs reading it after attention other than the
    output projection are the FFN's up (and gate) GEMMs; the last forward GEMM is the logits.
    """
    from ir.base import get_int
    from ir.linalg_ops import AttentionOp, MatmulOp
    from ir.types import shape as shp

    ops = list(module.walk())
    attn = [op for op in ops if isinstance(op, AttentionOp)]
    if not attn:
        raise TandemError("cannot infer the model shape: the IR has no tfm.attention op")
    b, a, s, d = shp(attn[0].q)
    h = a * d
    forward = [op for op in ops if isinstance(op, MatmulOp) and "phase" not in op.attributes]
    if len(forward) < 3:
        raise TandemError("cannot infer the model shape: the IR has fewer than three forward matmuls")
    vocab = forward[-1].dims()[2]  # the last forward GEMM computes the logits
    first = attn[0].attributes.get("layer")
    same_layer = [op for op in forward[:-1] if first is None
                  or get_int(op.attributes.get("layer"), -1) == get_int(first)]
    at = ops.index(attn[0])
    reads_h = [op for op in same_layer if op.dims()[3] == h]
    before = [op.dims()[2] for op in reads_h if ops.index(op) < at]
    after = [op.dims()[2] for op in reads_h if ops.index(op) > at and op.dims()[2] != h]
    if not before or not after:
        raise TandemError("cannot infer the model shape: no QKV or FFN matmul reads the hidden state")
    if before[0] > h and (before[0] - h) % (2 * d) == 0:
        kvh = (before[0] - h) // (2 * d)  # fused QKV
    elif len(before) >= 3 and before[1] == before[2] and before[1] % d == 0:
        kvh = before[1] // d
    else:
        kvh = a
    shape = ModelShape(layers=len(attn), hidden=h, heads=a, kv_heads=kvh, ffn=after[0], vocab=vocab,
                       seq=s, batch=b, tp=tp, gated=len(after) >= 2, tied=True, family="user",
                       params=params)
    shape.check()
    return shape


# ----------------------------------------------------------------------------------------
# Estimating one shape


@dataclass(frozen=True)
class Estimate:
    """Predicted per-GPU time and GEMM FLOPs of one layer and of the whole model."""

    layer_seconds: float
    layer_flops: float
    model_seconds: float
    model_flops: float
    params: int
    memory_bytes: float
    tokens: int
    parts: dict[str, float] = field(default_factory=dict, compare=False)

    @property
    def seconds_per_token(self) -> float:
        return self.model_seconds / self.tokens

    @property
    def layer_tflops(self) -> float:
        return self.layer_flops / self.layer_seconds / 1e12

    @property
    def model_tflops(self) -> float:
        return self.model_flops / self.model_seconds / 1e12

    def to_json(self) -> dict:
        return {"layer_seconds": self.layer_seconds, "layer_tflops": self.layer_tflops,
                "model_seconds": self.model_seconds, "model_tflops": self.model_tflops,
                "seconds_per_token": self.seconds_per_token,
                "params": self.params, "memory_bytes": self.memory_bytes,
                "layer_parts_seconds": dict(self.parts)}


Gemm = tuple[int, int, int, int]  # batch, M, N, K


def backward_gemms(g: Gemm) -> list[Gemm]:
    """C = A B (M, N, K): dA = dC B^T is (M, K, N) and dB = A^T dC is (K, N, M)."""
    b, m, n, k = g
    return [(b, m, k, n), (b, k, n, m)]


class Estimator:
    """Per-GPU time of a ModelShape on a target, from the per-op cost models (cached)."""

    def __init__(self, target: Target, *, dtype: str = "f16", training: bool = False,
                 attention: str = "megatron") -> None:
        if attention not in ATTENTION_MODES:
            raise TandemError(f"attention must be one of {list(ATTENTION_MODES)}, got {attention!r}")
        self.target, self.dtype, self.training, self.attention = target, dtype, training, attention
        self.eb = nbytes_of(dtype)
        self._cache: dict[tuple, Estimate] = {}

    def gemm(self, g: Gemm) -> float:
        return gemm_cost(self.target, *g, self.dtype).seconds

    def gemms_time(self, gemms: Iterable[Gemm]) -> tuple[float, float]:
        seconds = flops = 0.0
        for g in gemms:
            passes = [g, *backward_gemms(g)] if self.training else [g]
            for p in passes:
                seconds += self.gemm(p)
                flops += 2.0 * math.prod(p)
        return seconds, flops

    def memory_op(self, kind: str, elements: float) -> float:
        factor = 2.0 if self.training else 1.0
        return factor * vector_op_cost(self.target, kind, int(elements), self.dtype).seconds

    def layer_gemms(self, s: ModelShape) -> dict[str, Gemm]:
        t, tokens, h, d = s.tp, s.batch * s.seq, s.hidden, s.head_dim
        qkv_n = (s.heads + 2 * s.kv_heads) * d // t
        out = {
            "qkv": (1, tokens, qkv_n, h),
            "proj": (1, tokens, h, h // t),
            "mlp_up": (1, tokens, s.ffn // t, h),
            "mlp_down": (1, tokens, h, s.ffn // t),
        }
        if s.gated:
            out["mlp_gate"] = (1, tokens, s.ffn // t, h)
        return out

    def attention_time(self, s: ModelShape) -> tuple[float, float]:
        t, d = s.tp, s.head_dim
        bh = s.batch * s.heads // t
        scores, values = (bh, s.seq, s.seq, d), (bh, s.seq, d, s.seq)
        flops = 2.0 * (math.prod(scores) + math.prod(values)) * (3 if self.training else 1)
        if self.attention == "megatron":
            seconds, _ = self.gemms_time([scores, values])
            elements = bh * s.seq * s.seq
            # fused scale-mask-softmax: read scores, write probabilities (backward: 3 tensors)
            nbytes = (2 + (3 if self.training else 0)) * self.eb * elements
            seconds += memory_op_cost(self.target, nbytes, 5.0 * elements, self.dtype,
                                      "elementwise").seconds
            return seconds, flops
        b, heads, kvh = s.batch, s.heads // t, max(1, s.kv_heads // t)
        fused = self.attention == "flash"
        seconds = attention_cost(self.target, b, heads, kvh, s.seq, s.seq, d, self.dtype,
                                 causal=False, fused=fused).seconds
        if self.training:
            seconds += attention_cost(self.target, b, heads, kvh, s.seq, s.seq, d, self.dtype,
                                      causal=False, fused=fused, backward=True).seconds
        return seconds, flops

    def recompute_time(self, s: ModelShape) -> float:
        """Selective recomputation re-runs the attention core in the backward pass."""
        if not self.training:
            return 0.0
        fwd = Estimator(self.target, dtype=self.dtype, training=False, attention=self.attention)
        return fwd.attention_time(s)[0]

    def estimate(self, s: ModelShape, base: ModelShape | None = None) -> Estimate:
        key = (s, base)
        if key not in self._cache:
            self._cache[key] = self._estimate(s, base or s)
        return self._cache[key]

    def _estimate(self, s: ModelShape, base: ModelShape) -> Estimate:
        s.check()
        tokens = s.batch * s.seq
        parts: dict[str, float] = {}
        for name, g in self.layer_gemms(s).items():
            parts[name], _ = self.gemms_time([g])
        gemm_flops = self.gemms_time(self.layer_gemms(s).values())[1]
        parts["attention"], att_flops = self.attention_time(s)
        parts["attention"] += self.recompute_time(s)
        act_elements = tokens * s.ffn // s.tp * (2 if s.gated else 1)
        parts["memory_ops"] = (2 * self.memory_op("layernorm", tokens * s.hidden)
                               + self.memory_op("gelu", act_elements)
                               + 2 * self.memory_op("bias_dropout_add", tokens * s.hidden))
        layer_seconds = sum(parts.values())
        layer_flops = gemm_flops + att_flops
        logits = (1, tokens, s.vocab // s.tp if s.vocab % s.tp == 0 else -(-s.vocab // s.tp), s.hidden)
        head_seconds, head_flops = self.gemms_time([logits])
        head_seconds += self.memory_op("elementwise", tokens * logits[2])  # fused cross-entropy
        params = param_count(s, base)
        model_seconds = s.layers * layer_seconds + head_seconds
        model_flops = s.layers * layer_flops + head_flops
        return Estimate(layer_seconds, layer_flops, model_seconds, model_flops, params,
                        self.memory(s, params), tokens, parts)

    def memory(self, s: ModelShape, params: int) -> float:
        """Bytes per GPU: model states (training: 16 per parameter) plus activations."""
        if not self.training:
            return self.eb * params / s.tp
        return BYTES_PER_PARAM_TRAINING * params / s.tp + self.activation_bytes(s)

    def activation_bytes(self, s: ModelShape) -> float:
        """Stashed activations, 34*s*b*h/t bytes per layer: selective recomputation with
        sequence parallelism (Korthikanti et al., arXiv 2205.05198)."""
        if not self.training:
            return 0.0
        return s.layers * 34.0 * s.seq * s.batch * s.hidden / s.tp


# ----------------------------------------------------------------------------------------
# Advice


@dataclass
class Candidate:
    value: str
    shape: ModelShape
    estimate: Estimate
    fits: bool = True

    def to_json(self, base: Estimate) -> dict:
        return {"value": self.value, "fits_memory": self.fits, **_changes(base, self.estimate),
                "layer_tflops": self.estimate.layer_tflops, "model_tflops": self.estimate.model_tflops,
                "model_seconds": self.estimate.model_seconds, "params": self.estimate.params}


@dataclass
class Advice:
    """One guideline: the current value, the recommended one and the predicted changes."""

    guideline: str
    rule: str
    current: Candidate
    recommended: Candidate
    note: str = ""
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.recommended.value != self.current.value

    def to_json(self) -> dict:
        base = self.current.estimate
        return {"guideline": self.guideline, "rule": self.rule, "current": self.current.value,
                "recommended": self.recommended.value, "changed": self.changed,
                **_changes(base, self.recommended.estimate), "note": self.note,
                "candidates": [c.to_json(base) for c in self.candidates]}


def _changes(base: Estimate, new: Estimate) -> dict[str, float]:
    return {
        "layer_throughput_change": new.layer_tflops / base.layer_tflops - 1.0,
        "model_throughput_change": new.model_tflops / base.model_tflops - 1.0,
        "time_per_token_change": new.seconds_per_token / base.seconds_per_token - 1.0,
        "params_change": new.params / base.params - 1.0,
    }


@dataclass
class Report:
    model: str
    target: str
    shape: ModelShape
    settings: dict[str, Any]
    baseline: Estimate
    advice: list[Advice]

    def find(self, guideline: str) -> Advice:
        for a in self.advice:
            if a.guideline == guideline:
                return a
        raise KeyError(guideline)

    def to_json(self) -> dict:
        return {"model": self.model, "target": self.target,
                "shape": {k: v for k, v in dataclasses.asdict(self.shape).items()},
                "settings": self.settings, "baseline": self.baseline.to_json(),
                "advice": [a.to_json() for a in self.advice]}

    def table(self) -> str:
        from ir.text import si, table

        s, b = self.shape, self.baseline
        mode = "training step" if self.settings["training"] else "forward"
        head = (f"{self.model} on {self.target} ({self.settings['dtype']}, {mode}, "
                f"{self.settings['attention']} attention, b={s.batch} s={s.seq} t={s.tp}): "
                f"{si(b.params)} params, layer {b.layer_tflops:.1f} TFLOP/s, "
                f"model {b.model_tflops:.1f} TFLOP/s, {b.model_seconds * 1e3:.3g} ms per microbatch")
        rows = []
        for a in self.advice:
            ch = _changes(a.current.estimate, a.recommended.estimate)
            same = not a.changed
            rows.append([a.guideline, a.current.value, "keep" if same else a.recommended.value,
                         _pct(ch["layer_throughput_change"], same),
                         _pct(ch["model_throughput_change"], same),
                         _pct(ch["time_per_token_change"], same), _pct(ch["params_change"], same),
                         a.note])
        headers = ["guideline", "current", "recommended", "layer TFLOP/s", "model TFLOP/s",
                   "time/token", "params", "why"]
        return head + "\n" + table(headers, rows, right=[3, 4, 5, 6])

    def changes_summary(self) -> str:
        return ", ".join(f"{a.guideline}: {a.current.value} -> {a.recommended.value}"
                         for a in self.advice if a.changed) or "no changes"


def _pct(x: float, same: bool) -> str:
    return "" if same else f"{100 * x:+.1f}%"


class Advisor:
    """Evaluates candidate shapes per guideline; see `advise`."""

    def __init__(self, shape: ModelShape, est: Estimator, budget: float, max_head_dim: int) -> None:
        self.shape, self.est, self.budget, self.max_head_dim = shape, est, budget, max_head_dim
        self.base = est.estimate(shape)
        self.capacity = getattr(est.target, "mem_capacity", float("inf"))

    def cand(self, value: str, shape: ModelShape) -> Candidate:
        e = self.est.estimate(shape, self.shape)
        return Candidate(value, shape, e, self._fits(shape, e))

    def _fits(self, shape: ModelShape, e: Estimate) -> bool:
        return e.memory_bytes <= self.capacity

    def within_budget(self, shape: ModelShape) -> bool:
        p = param_count(shape, self.shape)
        return abs(p / self.base.params - 1.0) <= self.budget + 1e-12

    def pick(self, current: Candidate, cands: list[Candidate],
             score: Callable[[Candidate], float]) -> Candidate:
        """The best-scoring candidate (higher is better), unless current is within KEEP_WITHIN."""
        best = max(cands, key=score, default=current)
        if score(current) >= score(best) * (1 - KEEP_WITHIN):
            return current
        return best

    # -- guidelines

    def vocabulary(self) -> Advice:
        s = self.shape
        step = 64 * s.tp
        rule = f"multiple of 64*t = {step}"
        current = self.cand(str(s.vocab), s)
        if s.vocab % step == 0:
            return Advice("vocabulary", rule, current, current, "already a multiple", [current])
        values = sorted({round_up(s.vocab, step * m) for m in (1, 2, 4)})
        cands = [self.cand(str(v), s.replace(vocab=v)) for v in values]
        cands = [c for c in cands if self.within_budget(c.shape)]
        if not cands:
            return Advice("vocabulary", rule, current, current, "padding exceeds the budget", [current])
        best = min(cands, key=lambda c: c.estimate.model_seconds)
        if best.estimate.model_seconds >= current.estimate.model_seconds:
            return Advice("vocabulary", rule, current, current, "padding predicted no faster",
                          [current, *cands])
        note = f"pad {best.shape.vocab - s.vocab} unused tokens"
        return Advice("vocabulary", rule, current, best, note, [current, *cands])

    def heads(self) -> Advice:
        s = self.shape
        rule = f"h/a a multiple of 64, up to {self.max_head_dim}"
        current = self.cand(f"{s.head_dim} (a={s.heads})", s)
        cands = [current]
        for a in range(1, s.hidden + 1):
            if s.hidden % a or a % s.tp or a == s.heads:
                continue
            d = s.hidden // a
            if d % 64 or not 64 <= d <= self.max_head_dim:
                continue
            ratio = s.heads // s.kv_heads
            kv = a // ratio if a % ratio == 0 and (a // ratio) % s.tp == 0 else a
            cands.append(self.cand(f"{d} (a={a})", s.replace(heads=a, kv_heads=kv)))
        best = self.pick(current, cands, lambda c: -c.estimate.model_seconds)
        note = "attention GEMMs run faster" if best is not current else "already the fastest"
        return Advice("head dim", rule, current, best, note, cands)

    def hidden(self) -> Advice:
        s = self.shape
        step = 64 * s.tp
        rule = "h/t divisible by a high power of 2"
        current = self.cand(str(s.hidden), s)
        cands = [current]
        span = int(s.hidden * (self.budget + 0.01)) + step
        for h in range(round_up(max(step, s.hidden - span), step), s.hidden + span + 1, step):
            if h == s.hidden:
                continue
            new = self._with_hidden(h)
            if new is not None and self.within_budget(new):
                cands.append(self.cand(str(h), new))
        best = self.pick(current, cands,
                         lambda c: c.estimate.model_tflops * (1 + 1e-4 * math.log2(
                             pow2_divisor(c.shape.hidden // c.shape.tp))))
        note = f"h/t = {pow2_divisor(best.shape.hidden // s.tp)} x odd"
        return Advice("hidden size", rule, current, best, note, cands)

    def _with_hidden(self, h: int) -> ModelShape | None:
        s = self.shape
        d = s.head_dim
        a = h // d if h % d == 0 else (s.heads if h % s.heads == 0 else 0)
        if a == 0 or a % s.tp:
            return None
        ratio = s.heads // s.kv_heads
        kv = a // ratio if a % ratio == 0 else a
        if s.ffn == 4 * s.hidden:
            ffn = 4 * h
        else:
            ffn = round_up(round(s.ffn * h / s.hidden), 64 * s.tp)
        return s.replace(hidden=h, heads=a, kv_heads=kv, ffn=ffn)

    def ffn(self) -> Advice:
        s = self.shape
        step = (256 if s.gated else 64) * s.tp
        ideal = 8 * s.hidden / 3 if s.gated else 4 * s.hidden
        rule = (f"multiple of {step} near 8h/3 = {ideal:.0f}" if s.gated
                else f"multiple of {step} near 4h = {ideal:.0f}")
        current = self.cand(str(s.ffn), s)
        cands = [current]
        span = int(s.ffn * 0.25) + step
        for f in range(round_up(max(step, s.ffn - span), step), s.ffn + span + 1, step):
            new = s.replace(ffn=f)
            if f != s.ffn and self.within_budget(new):
                cands.append(self.cand(str(f), new))
        best = self.pick(current, cands, lambda c: c.estimate.model_tflops)
        note = "MLP GEMMs run faster" if best is not current else "already the fastest nearby"
        return Advice("FFN width", rule, current, best, note, cands)

    def microbatch(self) -> Advice:
        s = self.shape
        rule = "b as large as memory allows; b*s a power of 2"
        current = self.cand(f"{s.batch} (b*s={s.batch * s.seq})", s)
        cands = [current] + [self.cand(f"{b} (b*s={b * s.seq})", s.replace(batch=b))
                             for b in MICROBATCHES if b != s.batch]
        cands.sort(key=lambda c: c.shape.batch)
        fitting = [c for c in cands if c.fits]
        note = ""
        if not fitting:
            fitting = [c for c in cands if self.est.activation_bytes(c.shape) <= self.capacity]
            note = "model states do not fit one GPU (shard them); "
        best = self.pick(current, fitting or [current], lambda c: c.estimate.model_tflops)
        bs = best.shape.batch * s.seq
        note += f"b*s = {bs} = {pow2_divisor(bs)} x {bs // pow2_divisor(bs)}"
        return Advice("microbatch", rule, current, best, note, cands)

    def tensor_parallel(self) -> Advice:
        s = self.shape
        rule = "t as small as memory allows; h/t, a/t, b*a/t integers"
        current = self.cand(str(s.tp), s)
        cands = []
        for t in TENSOR_PARALLEL:
            new = s.replace(tp=t)
            try:
                new.check()
            except TandemError:
                continue
            cands.append(current if t == s.tp else self.cand(str(t), new))
        fitting = [c for c in cands if c.fits]
        if fitting:
            best = min(fitting, key=lambda c: c.shape.tp)
            note = f"smallest t that fits {self.capacity / 1e9:.0f} GB"
        else:
            best = current
            note = f"no t <= {TENSOR_PARALLEL[-1]} fits {self.capacity / 1e9:.0f} GB (use pipeline/ZeRO)"
        return Advice("tensor parallel", rule, current, best, note, cands)


def advise(shape: ModelShape, target: Target, *, model: str = "", budget: float = 0.05,
           dtype: str = "f16", training: bool = False, attention: str = "megatron",
           max_head_dim: int = 128) -> Report:
    """Recommendations for every guideline of the paper (see the module docstring)."""
    if not 0 <= budget < 1:
        raise TandemError(f"budget must be in [0, 1), got {budget}")
    est = Estimator(target, dtype=dtype, training=training, attention=attention)
    adv = Advisor(shape, est, budget, max_head_dim)
    advice = [adv.vocabulary(), adv.heads(), adv.hidden(), adv.ffn(), adv.microbatch(),
              adv.tensor_parallel()]
    settings = {"dtype": dtype, "training": training, "attention": attention, "budget": budget,
                "max_head_dim": max_head_dim}
    return Report(model, getattr(target, "name", str(target)), shape, settings, adv.base, advice)
