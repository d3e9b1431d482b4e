"""Model-shape knobs of a design: from knob values to the model's shape and parameter count.

    base = {"family": "gpt3", "layers": 32, "hidden": 2560, "heads": 32, "kv_heads": 32,
            "ffn": 10240, "vocab": 50257, "seq": 2048, "batch": 4, "params": 2651307520}
    shape_overrides(base, {"hidden": 2560, "head_dim": 128, "vocab_multiple": 64})
    # {"layers": 32, "hidden": 2560, "heads": 20, "kv_heads": 20, "ffn": 10240,
    #  "vocab": 50304, "seq": 2048, "batch": 4}

Knobs (``model.<knob>`` parameters of a space): ``layers``, ``hidden``, ``heads`` or
``head_dim`` (heads = hidden / head_dim), ``ffn`` (else it keeps the base model's ratio to
hidden), ``vocab_multiple`` (the vocabulary padded up to a multiple), ``batch``, ``seq``.
A knob left out keeps the base model's value (``heads``: the base head dim where it divides
the hidden size). A combination that is no valid model raises :class:`InvalidShape`.
"""

from __future__ import annotations

import math
from typing import Any

from backends.advisor.shape import param_count, shape_from_config
from ir.errors import TandemError

SHAPE_KEYS = ("layers", "hidden", "heads", "kv_heads", "ffn", "vocab", "seq", "batch")


class InvalidShape(TandemError):
    """The knob values give no valid model (a candidate outside the feasible set)."""


def shape_overrides(base: dict[str, Any], knobs: dict[str, Any]) -> dict[str, int]:
    """The full shape (``SHAPE_KEYS``) for ``knobs`` applied to the ``base`` config."""
    hidden = int(knobs.get("hidden", base["hidden"]))
    heads = _heads(base, knobs, hidden)
    if hidden % heads:
        raise InvalidShape(f"hidden={hidden} is not divisible by heads={heads}")
    if base.get("family") == "llama" and (hidden // heads) % 2:
        raise InvalidShape(f"head dim {hidden // heads} is odd (RoPE needs an even one)")
    ratio = base["heads"] // base["kv_heads"]
    kv_heads = heads // ratio if heads % ratio == 0 else heads
    if "ffn" in knobs:
        ffn = int(knobs["ffn"])
    elif base["ffn"] % base["hidden"] == 0:
        ffn = base["ffn"] // base["hidden"] * hidden
    else:
        ffn = 64 * math.ceil(base["ffn"] * hidden / base["hidden"] / 64)
    multiple = int(knobs.get("vocab_multiple", 1))
    vocab = multiple * math.ceil(base["vocab"] / multiple)
    return {
        "layers": int(knobs.get("layers", base["layers"])),
        "hidden": hidden,
        "heads": heads,
        "kv_heads": kv_heads,
        "ffn": ffn,
        "vocab": vocab,
        "seq": int(knobs.get("seq", base["seq"])),
        "batch": int(knobs.get("batch", base["batch"])),
    }


def _heads(base: dict[str, Any], knobs: dict[str, Any], hidden: int) -> int:
    if "head_dim" in knobs:
        d = int(knobs["head_dim"])
        if hidden % d:
            raise InvalidShape(f"hidden={hidden} is not divisible by head_dim={d}")
        return hidden // d
    if "heads" in knobs:
        return int(knobs["heads"])
    d = base["hidden"] // base["heads"]
    return hidden // d if hidden % d == 0 else base["heads"]


def shape_params(base: dict[str, Any], shape: dict[str, int]) -> int:
    """Parameter count of ``shape``, anchored on the base model's real count when known."""
    b = shape_from_config(base)
    new = b.replace(
        layers=shape["layers"],
        hidden=shape["hidden"],
        heads=shape["heads"],
        kv_heads=shape["kv_heads"],
        ffn=shape["ffn"],
        vocab=shape["vocab"],
    )
    return param_count(new, b)
