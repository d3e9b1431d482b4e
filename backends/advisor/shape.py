"""The model shape the advisor reasons about, the GEMMs it runs, and its parameter count.

    ModelShape(layers=12, hidden=768, heads=12, kv_heads=12, ffn=3072, vocab=50257,
               seq=1024, batch=8)          # GPT-2, from `shape_from_config(spec.config)`

runs per layer and GPU (t-way tensor parallel, tokens = b*s = 8192; `layer_gemms`)

    qkv 8192 x 2304 x 768, proj 8192 x 768 x 768, mlp_up 8192 x 3072 x 768, mlp_down 8192 x 768 x 3072

plus the attention GEMMs (`attention_gemms`: scores and values, b*a/t batches) and once per
model the logits GEMM 8192 x 50257 x 768 (`logits_gemm`). `shape_from_ir` reads the same
knobs off a model's tfm IR.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from xdsl.dialects.builtin import ModuleOp

from ir import attrs
from ir.errors import TandemError
from ir.linalg_ops import AttentionOp, MatmulOp
from ir.types import shape as shape_of

GemmDims = tuple[int, int, int, int]  # batch, M, N, K


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
        for what, value in (
            ("hidden", self.hidden),
            ("heads", self.heads),
            ("kv_heads", self.kv_heads),
            ("ffn", self.ffn),
        ):
            if value % t:
                raise TandemError(f"tensor-parallel degree {t} does not divide {what}={value}")
        if self.hidden % self.heads:
            raise TandemError(f"hidden={self.hidden} is not divisible by heads={self.heads}")
        if self.heads % self.kv_heads:
            raise TandemError(f"heads={self.heads} is not a multiple of kv_heads={self.kv_heads}")


def layer_gemms(s: ModelShape) -> dict[str, GemmDims]:
    """The weight GEMMs of one layer on one GPU, by name (Megatron's split across t GPUs)."""
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


def attention_gemms(s: ModelShape) -> list[GemmDims]:
    """Attention's scores (s x s x h/a) and values (s x h/a x s) GEMMs in b*a/t batches."""
    bh = s.batch * s.heads // s.tp
    return [(bh, s.seq, s.seq, s.head_dim), (bh, s.seq, s.head_dim, s.seq)]


def logits_gemm(s: ModelShape) -> GemmDims:
    """The logits GEMM, b*s x v/t x h (v/t rounded up)."""
    return (1, s.batch * s.seq, -(-s.vocab // s.tp), s.hidden)


def backward_gemms(g: GemmDims) -> list[GemmDims]:
    """C = A B (M, N, K): dA = dC B^T is (M, K, N) and dB = A^T dC is (K, N, M)."""
    b, m, n, k = g
    return [(b, m, k, n), (b, k, n, m)]


def analytic_params(s: ModelShape) -> int:
    """Parameter count from the shape: the layer GEMMs' weights, embeddings, norms, biases."""
    h, d = s.hidden, s.head_dim
    weights = sum(n * k for _, _, n, k in layer_gemms(s.replace(tp=1)).values())
    bias = (h + 2 * s.kv_heads * d) + h + s.ffn + h if s.biases else 0
    norms = 4 * h if s.biases else 2 * h
    embed = s.vocab * h * (1 if s.tied else 2)
    return embed + s.layers * (weights + bias + norms)


def param_count(s: ModelShape, base: ModelShape) -> int:
    """Params of `s`, anchored on the real count of `base` when known."""
    if base.params is None:
        return analytic_params(s)
    return base.params + analytic_params(s) - analytic_params(base)


def shape_from_config(
    config: dict, *, tp: int = 1, batch: int | None = None, seq: int | None = None
) -> ModelShape:
    """A ModelShape from a zoo ModelSpec.config."""
    family = str(config.get("family", ""))
    try:
        shape = ModelShape(
            layers=int(config["layers"]),
            hidden=int(config["hidden"]),
            heads=int(config["heads"]),
            kv_heads=int(config.get("kv_heads", config["heads"])),
            ffn=int(config["ffn"]),
            vocab=int(config["vocab"]),
            seq=int(seq or config["seq"]),
            batch=int(batch or config["batch"]),
            tp=tp,
            gated=family == "llama",
            tied=family != "llama",
            biases=family != "llama",
            family=family,
            params=config.get("params"),
        )
    except KeyError as e:
        raise TandemError(
            f"model config has no {e.args[0]!r}; give a zoo model or a .mlir file"
        ) from None
    shape.check()
    return shape


def shape_from_ir(module: ModuleOp, *, tp: int = 1, params: int | None = None) -> ModelShape:
    """Infer the shape of a user model from its tfm IR.

    Heads, sequence and batch come from the first forward `tfm.attention`; in the first layer,
    the first GEMM reading the hidden state is the Q (or fused QKV) projection, the next two
    (when Q is separate) are K and V, and the GEMMs reading it after attention other than the
    output projection are the FFN's up (and gate) GEMMs; the last forward GEMM is the logits.
    """
    ops = list(module.walk())
    attn = [op for op in ops if isinstance(op, AttentionOp)]
    if not attn:
        raise TandemError("cannot infer the model shape: the IR has no tfm.attention op")
    b, a, s, d = shape_of(attn[0].q)
    h = a * d
    forward = [op for op in ops if isinstance(op, MatmulOp) and attrs.PHASE not in op.attributes]
    if len(forward) < 3:
        raise TandemError(
            "cannot infer the model shape: the IR has fewer than three forward matmuls"
        )
    vocab = forward[-1].dims()[2]  # the last forward GEMM computes the logits
    first = attrs.layer_of(attn[0])
    same_layer = [op for op in forward[:-1] if first is None or attrs.layer_of(op) == first]
    at = ops.index(attn[0])
    reads_h = [op for op in same_layer if op.dims()[3] == h]
    before = [op.dims()[2] for op in reads_h if ops.index(op) < at]
    after = [op.dims()[2] for op in reads_h if ops.index(op) > at and op.dims()[2] != h]
    if not before or not after:
        raise TandemError(
            "cannot infer the model shape: no QKV or FFN matmul reads the hidden state"
        )
    if before[0] > h and (before[0] - h) % (2 * d) == 0:
        kvh = (before[0] - h) // (2 * d)  # fused QKV
    elif len(before) >= 3 and before[1] == before[2] and before[1] % d == 0:
        kvh = before[1] // d
    else:
        kvh = a
    shape = ModelShape(
        layers=len(attn),
        hidden=h,
        heads=a,
        kv_heads=kvh,
        ffn=after[0],
        vocab=vocab,
        seq=s,
        batch=b,
        tp=tp,
        gated=len(after) >= 2,
        tied=True,
        family="user",
        params=params,
    )
    shape.check()
    return shape
