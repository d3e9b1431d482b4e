"""DynaProp's vocabulary, shared by the PyTorch runtime (`frontends.dynaprop`) and the
`dynaprop` pass: the site names and the validated settings.

Forward sites (pruned with |x| <= tau_fwd), in the order a Transformer block computes them:

    q, k, v      the query, key and value operands of attention
    scores       Q K^T * scale, before the mask and the softmax
    probs        the softmax probabilities
    context      the attention output (probs @ V)
    out_proj     the output of the projection that reads the context (bias included)
    ffn_in       the FFN's first projection(s), before the activation (GLU: gate and up)
    ffn_out      the FFN's last projection (the one that reads the activation)

Backward sites: the gradient of each selected forward site (|g| <= tau_bwd, straight through
the forward pruning) when `act_grads`, and the weight gradient of every projection inside a
block (`<role>.weight`, role one of qkv_proj, out_proj, ffn_in, ffn_out) when `weight_grads`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ir.errors import TandemError

SITES: tuple[str, ...] = (
    "q",
    "k",
    "v",
    "scores",
    "probs",
    "context",
    "out_proj",
    "ffn_in",
    "ffn_out",
)
ATTENTION_SITES = ("q", "k", "v", "scores", "probs", "context")
INSIDE_ATTENTION = ("scores", "probs")
# the projections of a block, by what they read or feed (qkv_proj feeds attention: no site)
ROLES = ("qkv_proj", "out_proj", "ffn_in", "ffn_out")


def weight_site(role: str) -> str:
    """The site name of a projection's weight gradient: `ffn_in.weight`."""
    return f"{role}.weight"


def parse_sites(sites: str | tuple[str, ...] | list[str]) -> tuple[str, ...]:
    """Site names from `"q,k,v"`, a list (of names or of such strings: a pass option
    `sites="q,k"`), `"all"` or `"none"`; an unknown name is a TandemError."""
    parts = [sites] if isinstance(sites, str) else list(sites)
    names = [n.strip() for part in parts for n in str(part).split(",") if n.strip()]
    if names == ["all"]:
        return SITES
    if names == ["none"]:
        return ()
    for n in names:
        if n not in SITES:
            raise TandemError(f"unknown DynaProp site {n!r}; known: {', '.join(SITES)}, or all")
    return tuple(s for s in SITES if s in names)


def check_tau(value: float | str, name: str) -> float:
    """A threshold: a finite number >= 0 (strings such as "1e-4" are parsed)."""
    try:
        tau = float(value)
    except (TypeError, ValueError):
        raise TandemError(f"{name} must be a number >= 0, got {value!r}") from None
    if not math.isfinite(tau) or tau < 0:
        raise TandemError(f"{name} must be a finite number >= 0, got {value!r}")
    return tau


@dataclass(frozen=True)
class DynaPropConfig:
    """Validated DynaProp settings (thresholds >= 0, known sites)."""

    tau_fwd: float = 0.06
    tau_bwd: float = 1e-4
    sites: tuple[str, ...] = SITES
    act_grads: bool = True
    weight_grads: bool = True

    def __post_init__(self) -> None:
        object.__setattr__(self, "tau_fwd", check_tau(self.tau_fwd, "tau-fwd"))
        object.__setattr__(self, "tau_bwd", check_tau(self.tau_bwd, "tau-bwd"))
        object.__setattr__(self, "sites", parse_sites(self.sites))

    def pipeline(self) -> str:
        """The same settings as a `dynaprop{...}` pass spec."""
        return (
            f"dynaprop{{tau-fwd={self.tau_fwd!r} tau-bwd={self.tau_bwd!r} "
            f"sites={','.join(self.sites) or 'none'} act-grads={str(self.act_grads).lower()} "
            f"weight-grads={str(self.weight_grads).lower()}}}"
        )
