"""Model zoo: named Transformer configurations built with random weights.

Every model is a Hugging Face `transformers` model built from a config object (never
downloaded), wrapped so that `module(*example_inputs)` returns the logits (inference) or
the scalar loss (training). Dropout is disabled everywhere so runs are deterministic.
"""

from __future__ import annotations

import dataclasses
import difflib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ir import dtypes
from ir.errors import TandemError

__all__ = [
    "LogitsWrapper",
    "LossWrapper",
    "ModelSpec",
    "Overrides",
    "build_model",
    "count_params",
    "dtype_name",
    "model_names",
    "parse_dtype",
]


@dataclass(frozen=True)
class Overrides:
    """Changes to a named configuration; `None` keeps the named model's value."""

    layers: int | None = None
    hidden: int | None = None
    heads: int | None = None
    kv_heads: int | None = None
    ffn: int | None = None
    vocab: int | None = None
    seq: int | None = None
    batch: int | None = None
    dtype: str | None = None  # "f32" | "f16" | "bf16"

    def set_fields(self) -> dict[str, object]:
        """The overrides that are set (not None), in field order."""
        return {
            f.name: getattr(self, f.name)
            for f in dataclasses.fields(self)
            if getattr(self, f.name) is not None
        }


@dataclass
class ModelSpec:
    """A model ready for the frontend: `module(*example_inputs)` runs it."""

    name: str
    module: nn.Module
    example_inputs: tuple
    config: dict
    training: bool


# ---------------------------------------------------------------------------- dtypes

MODEL_DTYPES = ("f32", "f16", "bf16")


def parse_dtype(s: str) -> torch.dtype:
    """Parse "f32"/"fp32"/"float32", "f16"/"fp16"/"half", "bf16"/"bfloat16"."""
    try:
        name = dtypes.parse_dtype(s.strip()) if isinstance(s, str) else None
    except TandemError:
        name = None
    if name not in MODEL_DTYPES:
        raise TandemError(
            f"unknown dtype {s!r}; valid: f32 (fp32, float32), f16 (fp16, half), bf16 (bfloat16)"
        )
    return dtypes.torch_dtype(name)


def dtype_name(dtype: torch.dtype) -> str:
    """Canonical short name ("f32", "f16", "bf16") of a floating dtype."""
    try:
        return dtypes.from_torch(dtype)
    except TandemError:
        return str(dtype).removeprefix("torch.")


# ---------------------------------------------------------------------------- the zoo


@dataclass(frozen=True)
class _Shape:
    """Shape facts of one named configuration (and, once resolved, of one build)."""

    family: str  # gpt2 | gpt3 | bert | opt | llama
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    ffn: int
    vocab: int
    max_positions: int
    seq: int
    batch: int
    dtype: str = "f32"


def _gpt2(
    layers: int,
    hidden: int,
    heads: int,
    *,
    vocab: int = 50257,
    ctx: int = 1024,
    family: str = "gpt2",
) -> _Shape:
    return _Shape(family, layers, hidden, heads, heads, 4 * hidden, vocab, ctx, ctx, 1)


def _tiny(family: str, kv_heads: int = 4) -> _Shape:
    return _Shape(family, 2, 64, 4, kv_heads, 256 if family != "llama" else 176, 256, 64, 16, 2)


_ZOO: dict[str, _Shape] = {
    "gpt2": _gpt2(12, 768, 12),
    "gpt2-medium": _gpt2(24, 1024, 16),
    "gpt2-large": _gpt2(36, 1280, 20),
    "gpt2-xl": _gpt2(48, 1600, 25),
    "gpt3-2.7b": _gpt2(32, 2560, 32, ctx=2048, family="gpt3"),
    "gpt3-175b": _gpt2(96, 12288, 96, ctx=2048, family="gpt3"),
    "bert-base": _Shape("bert", 12, 768, 12, 12, 3072, 30522, 512, 512, 1),
    "bert-large": _Shape("bert", 24, 1024, 16, 16, 4096, 30522, 512, 512, 1),
    "opt-1.3b": _Shape("opt", 24, 2048, 32, 32, 8192, 50272, 2048, 2048, 1),
    "llama-7b": _Shape("llama", 32, 4096, 32, 32, 11008, 32000, 2048, 2048, 1),
    "llama-13b": _Shape("llama", 40, 5120, 40, 40, 13824, 32000, 2048, 2048, 1),
    "llama-70b": _Shape("llama", 80, 8192, 64, 8, 28672, 32000, 2048, 2048, 1),
    "gpt2-tiny": _tiny("gpt2"),
    "bert-tiny": _tiny("bert"),
    "llama-tiny": _tiny("llama", kv_heads=2),
    "opt-tiny": _tiny("opt"),
}

_GQA_FAMILIES = {"llama"}
_ARCH = {
    "gpt2": "GPT2LMHeadModel",
    "gpt3": "GPT2LMHeadModel",
    "bert": "BertForMaskedLM",
    "opt": "OPTForCausalLM",
    "llama": "LlamaForCausalLM",
}


def model_names() -> list[str]:
    """Names accepted by `build_model`, in zoo order."""
    return list(_ZOO)


def _lookup(name: str) -> tuple[str, _Shape]:
    key = name.strip().lower() if isinstance(name, str) else ""
    if key in _ZOO:
        return key, _ZOO[key]
    close = difflib.get_close_matches(key, _ZOO, n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise TandemError(f"unknown model {name!r}{hint}; known: {', '.join(_ZOO)}")


# ---------------------------------------------------------------------------- overrides


# Largest value of each override: far past any published model, small enough that every
# tensor's size is an int64 and a shape-only import finishes in seconds.
LIMITS = {
    "layers": 1024,
    "hidden": 2**18,
    "heads": 2**14,
    "kv_heads": 2**14,
    "ffn": 2**20,
    "vocab": 2**24,
    "seq": 2**22,
    "batch": 2**20,
}
# Largest single tensor (elements) and model (parameters) a configuration may describe.
MAX_ELEMENTS = 2**48
MAX_PARAMS = 10**15


def _check_positive(ov: Overrides) -> None:
    for key, value in ov.set_fields().items():
        if key == "dtype":
            parse_dtype(value)  # type: ignore[arg-type]
        elif isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            raise TandemError(f"invalid override {key}={value!r}: must be a positive integer")
        elif value > LIMITS[key]:
            raise TandemError(
                f"invalid override {key}={value}: at most {LIMITS[key]:,} (a size limit far "
                f"past any published model)"
            )


def _apply(name: str, base: _Shape, ov: Overrides) -> _Shape:
    """Apply overrides to a named shape and validate the result."""
    _check_positive(ov)
    changes: dict[str, Any] = {k: v for k, v in ov.set_fields().items() if k != "dtype"}
    if ov.dtype is not None:
        changes["dtype"] = dtype_name(parse_dtype(ov.dtype))
    gqa = base.family in _GQA_FAMILIES
    if ov.kv_heads is not None and not gqa and ov.kv_heads != (ov.heads or base.heads):
        raise TandemError(
            f"invalid override kv_heads={ov.kv_heads} for {name}: family '{base.family}' has no "
            f"grouped-query attention, so kv_heads must equal heads; GQA families: "
            f"{', '.join(sorted(_GQA_FAMILIES))}"
        )
    if ov.heads is not None and ov.kv_heads is None and base.kv_heads == base.heads:
        changes["kv_heads"] = ov.heads  # multi-head attention stays multi-head
    shape = dataclasses.replace(base, **changes)
    if shape.seq > shape.max_positions:
        shape = dataclasses.replace(shape, max_positions=shape.seq)
    _check_shape(name, shape)
    return shape


def _check_shape(name: str, s: _Shape) -> None:
    if s.hidden % s.heads:
        raise TandemError(
            f"invalid shape for {name}: hidden={s.hidden} is not divisible by heads={s.heads}"
        )
    if s.heads % s.kv_heads:
        raise TandemError(
            f"invalid shape for {name}: heads={s.heads} is not divisible by kv_heads={s.kv_heads}"
        )
    tensors = {
        "embedding (vocab x hidden)": s.vocab * s.hidden,
        "FFN weight (hidden x ffn)": s.hidden * s.ffn,
        "logits (batch x seq x vocab)": s.batch * s.seq * s.vocab,
        "FFN activation (batch x seq x ffn)": s.batch * s.seq * s.ffn,
        "attention scores (batch x heads x seq x seq)": s.batch * s.heads * s.seq * s.seq,
    }
    for what, n in tensors.items():
        if n > MAX_ELEMENTS:
            raise TandemError(
                f"invalid shape for {name}: its {what} would hold {n:.3g} elements; the limit "
                f"is {MAX_ELEMENTS:.3g} per tensor"
            )
    params = s.layers * (4 * s.hidden * s.hidden + 3 * s.hidden * s.ffn) + s.vocab * s.hidden
    if params > MAX_PARAMS:
        raise TandemError(
            f"invalid shape for {name}: about {params:.3g} parameters; the limit is "
            f"{MAX_PARAMS:.0e}"
        )
    if s.family == "llama" and (s.hidden // s.heads) % 2:
        raise TandemError(
            f"invalid shape for {name}: RoPE needs an even head size, got "
            f"hidden/heads = {s.hidden}/{s.heads} = {s.hidden // s.heads}"
        )


# ---------------------------------------------------------------------------- HF builders


def _gpt2_model(s: _Shape) -> nn.Module:
    from transformers import GPT2Config, GPT2LMHeadModel

    cfg = GPT2Config(
        vocab_size=s.vocab,
        n_positions=s.max_positions,
        n_embd=s.hidden,
        n_layer=s.layers,
        n_head=s.heads,
        n_inner=s.ffn,
        **_common(s, bos=50256, eos=50256),
    )
    model = GPT2LMHeadModel(_finish(cfg))
    # HF derives the loss from the class name; "GPT2LMHeadModel" matches nothing, so it would
    # log "loss_type=None ... unrecognized" on the first loss before falling back.
    model.loss_type = "ForCausalLM"
    return model


def _bert_model(s: _Shape) -> nn.Module:
    from transformers import BertConfig, BertForMaskedLM

    cfg = BertConfig(
        vocab_size=s.vocab,
        hidden_size=s.hidden,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        intermediate_size=s.ffn,
        max_position_embeddings=s.max_positions,
        **_common(s, pad=0),
    )
    return BertForMaskedLM(_finish(cfg))


def _opt_model(s: _Shape) -> nn.Module:
    from transformers import OPTConfig, OPTForCausalLM

    cfg = OPTConfig(
        vocab_size=s.vocab,
        hidden_size=s.hidden,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        ffn_dim=s.ffn,
        max_position_embeddings=s.max_positions,
        word_embed_proj_dim=s.hidden,
        **_common(s, pad=1, bos=2, eos=2),
    )
    return OPTForCausalLM(_finish(cfg))


def _llama_model(s: _Shape) -> nn.Module:
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(
        vocab_size=s.vocab,
        hidden_size=s.hidden,
        num_hidden_layers=s.layers,
        num_attention_heads=s.heads,
        num_key_value_heads=s.kv_heads,
        intermediate_size=s.ffn,
        max_position_embeddings=s.max_positions,
        **_common(s, bos=1, eos=2),
    )
    return LlamaForCausalLM(_finish(cfg))


_BUILDERS: dict[str, Callable[[_Shape], nn.Module]] = {
    "gpt2": _gpt2_model,
    "gpt3": _gpt2_model,
    "bert": _bert_model,
    "opt": _opt_model,
    "llama": _llama_model,
}


def _common(
    s: _Shape, *, pad: int | None = None, bos: int | None = None, eos: int | None = None
) -> dict:
    """Config kwargs shared by every family: no KV cache, SDPA, valid special token ids."""

    def valid(tok: int | None) -> int | None:
        return None if tok is None else min(tok, s.vocab - 1)

    return {
        "use_cache": False,
        "attn_implementation": "sdpa",
        "pad_token_id": valid(pad),
        "bos_token_id": valid(bos),
        "eos_token_id": valid(eos),
    }


def _finish(cfg):
    """Zero every dropout probability in an HF config (whatever the family calls it)."""
    for key, value in list(vars(cfg).items()):
        if ("dropout" in key or "pdrop" in key or key == "layerdrop") and not isinstance(
            value, bool
        ):
            if value is None or isinstance(value, int | float):
                setattr(cfg, key, 0.0)
    return cfg


# ---------------------------------------------------------------------------- wrappers


class LogitsWrapper(nn.Module):
    """Inference: `forward(input_ids)` returns the logits `[batch, seq, vocab]`."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids).logits


class LossWrapper(nn.Module):
    """Training: `forward(input_ids, labels)` returns the scalar (0-dim) loss."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        return self.model(input_ids=input_ids, labels=labels).loss


def count_params(module: nn.Module) -> int:
    """Number of parameters, counting tied (shared) weights once."""
    return sum(p.numel() for p in module.parameters())


# ---------------------------------------------------------------------------- build


def _parse_device(device: str) -> torch.device:
    try:
        return torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise TandemError(f"invalid device {device!r}: {e}; valid: cpu, meta, cuda[:N]") from None


def _example_inputs(s: _Shape, dev: torch.device, seed: int, training: bool) -> tuple:
    """Random int64 token ids `[batch, seq]` (meta tensors on the meta device)."""
    size = (s.batch, s.seq)
    if dev.type == "meta":
        ids = torch.empty(size, dtype=torch.int64, device=dev)
    else:
        gen = torch.Generator().manual_seed(seed)
        ids = torch.randint(0, s.vocab, size, generator=gen, dtype=torch.int64).to(dev)
    return (ids, ids.clone()) if training else (ids,)


def _build_hf(s: _Shape, dev: torch.device, seed: int) -> nn.Module:
    """Build the HF model on `dev` with reproducible weights, leaving the global RNG alone."""
    with torch.random.fork_rng(devices=[]), dev:
        torch.manual_seed(seed)
        model = _BUILDERS[s.family](s)
    return model.to(parse_dtype(s.dtype))


def _config_dict(s: _Shape, module: nn.Module) -> dict:
    facts = dataclasses.asdict(s)
    facts["arch"] = _ARCH[s.family]
    facts["params"] = count_params(module)
    return facts


def build_model(
    name: str,
    overrides: Overrides = Overrides(),  # noqa: B008 - frozen dataclass, safe default
    *,
    training: bool = False,
    device: str = "cpu",
    seed: int = 0,
) -> ModelSpec:
    """Build a named zoo model with random (seeded) weights.

    Inference: `module(input_ids)` returns logits. Training: `module(input_ids, labels)`
    returns the scalar loss. `device="meta"` allocates no weight memory.
    """
    key, base = _lookup(name)
    shape = _apply(key, base, overrides)
    dev = _parse_device(device)
    hf = _build_hf(shape, dev, seed)
    module = LossWrapper(hf) if training else LogitsWrapper(hf)
    module.train(training)
    return ModelSpec(
        name=key,
        module=module,
        example_inputs=_example_inputs(shape, dev, seed, training),
        config=_config_dict(shape, module),
        training=training,
    )
