"""Load a user's weights (a PyTorch state dict) into a model before it runs.

    load_checkpoint(spec.module, "out/dynaprop/bert.pt")

The file is `torch.save(model.state_dict())` of the same architecture. Keys may carry the
zoo wrapper's `model.` prefix or not (a Hugging Face model's own state dict works for a zoo
model). Missing or unexpected keys and shape mismatches are one TandemError each, naming the
first few keys.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ir.errors import TandemError

PREFIX = "model."


def _few(keys: list[str]) -> str:
    return ", ".join(keys[:3]) + (f" (and {len(keys) - 3} more)" if len(keys) > 3 else "")


def read_state_dict(path: str | Path) -> dict[str, torch.Tensor]:
    """The tensors saved in `path` (a state dict, or {"state_dict": ...} / {"model": ...})."""
    p = Path(path)
    if not p.is_file():
        raise TandemError(f"checkpoint {p}: no such file")
    try:
        data = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises pickle, zip and runtime errors alike
        raise TandemError(
            f"checkpoint {p}: not a PyTorch state dict ({type(exc).__name__})"
        ) from None
    for key in ("state_dict", "model"):
        if isinstance(data, dict) and isinstance(data.get(key), dict):
            data = data[key]
    if not isinstance(data, dict) or not all(isinstance(v, torch.Tensor) for v in data.values()):
        raise TandemError(f"checkpoint {p}: expected a state dict of tensors")
    return data


def _match_prefix(state: dict[str, torch.Tensor], want: set[str]) -> dict[str, torch.Tensor]:
    """Add or drop the zoo wrapper's `model.` prefix when that makes the keys fit."""
    keys = set(state)
    if keys & want:
        return state
    if {PREFIX + k for k in keys} & want:
        return {PREFIX + k: v for k, v in state.items()}
    if {k.removeprefix(PREFIX) for k in keys} & want:
        return {k.removeprefix(PREFIX): v for k, v in state.items()}
    return state


def load_checkpoint(module: nn.Module, path: str | Path) -> None:
    """Copy the checkpoint's tensors into `module` (in place), checking keys and shapes."""
    own = module.state_dict()
    state = _match_prefix(read_state_dict(path), set(own))
    name = Path(path).name
    missing = sorted(k for k in own if k not in state)
    unexpected = sorted(k for k in state if k not in own)
    if missing:
        raise TandemError(f"checkpoint {name}: missing keys for this model: {_few(missing)}")
    if unexpected:
        raise TandemError(f"checkpoint {name}: keys the model does not have: {_few(unexpected)}")
    wrong = [
        f"{k} is {list(state[k].shape)}, the model has {list(v.shape)}"
        for k, v in own.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if wrong:
        raise TandemError(f"checkpoint {name}: shape mismatch: {_few(wrong)}")
    if any(t.device.type == "meta" for t in own.values()):
        raise TandemError(f"checkpoint {name}: the model has no weights (built on 'meta')")
    with torch.no_grad():
        module.load_state_dict(state, strict=True)
