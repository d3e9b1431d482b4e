"""DynaProp in PyTorch: prune activations and gradients by magnitude while a model runs
(Tuli and Jha, TransCODE, 2023). Works on any model whose blocks call `F.linear`,
`torch.addmm` or `matmul` with their weights and `F.scaled_dot_product_attention`: the zoo's
Hugging Face models and users' own modules alike.

    dp = DynaProp(model, DynaPropConfig(tau_fwd=0.06, tau_bwd=1e-4))
    with dp:                      # forward sites are pruned while the context is active
        loss = model(ids, labels)
    loss.backward()               # gradient sites are pruned by autograd
    dp.stats.overall("forward")   # zeros / elements over every pruned tensor

`DynaPropModule(model, config)` does the same as a module, for training loops.

How sites are found (the `dynaprop` pass uses the same rules on the IR, so `tandem verify
-p dynaprop{...}` can compare the two): a torch-function mode sees every call. A projection
is a `linear` / `addmm` / `matmul` whose weight is a parameter named inside a numbered block
(`...h.3.mlp.c_fc.weight`: layer 3). Attention is `scaled_dot_product_attention`; its
operands are the q, k, v sites and its result the context. Tensors carry a tag through the
calls: `ctx` (the attention output, through views) and `act` (an activation function's
output, through views and elementwise arithmetic). A projection that reads `ctx` is the
out_proj, one that reads `act` is the ffn_out, one after the out_proj of its layer that reads
neither is an ffn_in, and the others feed attention (qkv_proj). When scores or probs are
sites, attention runs as matmul, mask, softmax, matmul so they can be pruned.

Forward pruning passes gradients straight through (the straight-through estimator: a pruned
value can grow back); the gradient arriving at a site is pruned with tau_bwd (`act_grads`),
and so is each projection's weight gradient (`weight_grads`).
"""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils.weak import WeakIdKeyDictionary

from ir.attrs import layer_of_name
from ir.errors import TandemError
from ir.sparsity import INSIDE_ATTENTION, DynaPropConfig, weight_site

__all__ = ["DynaProp", "DynaPropConfig", "DynaPropModule", "SiteCount", "SparsityStats"]

_VIEWS = {
    "view", "reshape", "transpose", "permute", "contiguous", "flatten", "unflatten", "squeeze",
    "unsqueeze", "expand", "t", "split", "chunk", "__getitem__", "narrow", "select", "to",
    "type_as", "float", "half", "bfloat16", "clone", "view_as", "reshape_as", "expand_as",
    "movedim", "swapaxes", "unbind", "__get__",
}  # fmt: skip
_ACTIVATIONS = {
    "gelu", "silu", "relu", "tanh", "sigmoid", "mish", "leaky_relu", "elu", "selu", "softplus",
    "hardswish", "relu6", "gelu_", "silu_", "relu_", "tanh_", "sigmoid_",
}  # fmt: skip
_ELEMENTWISE = {
    "add", "sub", "mul", "div", "pow", "neg", "exp", "erf", "square", "sqrt", "abs",
    "add_", "sub_", "mul_", "div_", "pow_", "neg_", "__add__", "__radd__", "__iadd__",
    "__sub__", "__rsub__", "__isub__", "__mul__", "__rmul__", "__imul__", "__truediv__",
    "__rtruediv__", "__itruediv__", "__pow__", "__rpow__", "__neg__", "true_divide", "multiply",
}  # fmt: skip
_MATMULS = {"matmul", "mm", "bmm", "__matmul__", "__rmatmul__"}


@dataclass
class SiteCount:
    """Zeros and elements seen at one site of one layer in one phase."""

    site: str
    layer: int | None
    phase: str
    zeros: int = 0
    elements: int = 0

    @property
    def sparsity(self) -> float:
        return self.zeros / self.elements if self.elements else 0.0

    def to_json(self) -> dict[str, Any]:
        return {
            "site": self.site,
            "layer": self.layer,
            "phase": self.phase,
            "sparsity": self.sparsity,
            "elements": self.elements,
        }


@dataclass
class SparsityStats:
    """Zero counts per (site, layer, phase), summed over every pruned tensor since `reset()`."""

    counts: dict[tuple[str, int | None, str], SiteCount] = field(default_factory=dict)

    def add(self, site: str, layer: int | None, phase: str, t: torch.Tensor) -> None:
        key = (site, layer, phase)
        c = self.counts.get(key)
        if c is None:
            c = self.counts[key] = SiteCount(site, layer, phase)
        c.elements += t.numel()
        c.zeros += t.numel() - int(torch.count_nonzero(t))

    def reset(self) -> None:
        self.counts.clear()

    def rows(self) -> list[SiteCount]:
        """Forward before backward, then by layer and site order."""
        order = {"forward": 0, "backward": 1}
        return sorted(
            self.counts.values(),
            key=lambda c: (order.get(c.phase, 2), -1 if c.layer is None else c.layer, c.site),
        )

    def overall(self, phase: str, *, sites: Sequence[str] | None = None) -> float | None:
        """Zeros / elements over the phase's pruned tensors (optionally only `sites`)."""
        cs = [
            c
            for c in self.counts.values()
            if c.phase == phase and (sites is None or c.site in sites)
        ]
        elements = sum(c.elements for c in cs)
        return sum(c.zeros for c in cs) / elements if elements else None

    def by_site(self, phase: str) -> dict[str, float]:
        """Sparsity of each site over all layers."""
        out: dict[str, list[int]] = {}
        for c in self.counts.values():
            if c.phase == phase:
                z = out.setdefault(c.site, [0, 0])
                z[0] += c.zeros
                z[1] += c.elements
        return {s: z / n for s, (z, n) in out.items() if n}


def _prune(x: torch.Tensor, tau: float) -> torch.Tensor:
    """Zero |x| <= tau: one fused kernel (`hardshrink` is exactly DynaProp's rule)."""
    return torch.nn.functional.hardshrink(x, tau)


class _PruneSite(torch.autograd.Function):
    """Forward: prune |x| <= tau_fwd. Backward: straight through, pruning |g| <= tau_bwd."""

    @staticmethod
    def forward(ctx, x, rt: DynaProp, site: str, layer: int | None):
        ctx.rt, ctx.site, ctx.layer = rt, site, layer
        y = _prune(x, rt.config.tau_fwd)
        rt.stats.add(site, layer, "forward", y)
        return y

    @staticmethod
    def backward(ctx, g):
        rt = ctx.rt
        if rt.config.act_grads:
            g = _prune(g, rt.config.tau_bwd)
            rt.stats.add(ctx.site, ctx.layer, "backward", g)
        return g, None, None, None


class _PruneGrad(torch.autograd.Function):
    """Identity forward; backward prunes the gradient (a weight's, for this use)."""

    @staticmethod
    def forward(ctx, w, rt: DynaProp, site: str, layer: int | None):
        ctx.rt, ctx.site, ctx.layer = rt, site, layer
        return w.view_as(w)

    @staticmethod
    def backward(ctx, g):
        g = _prune(g, ctx.rt.config.tau_bwd)
        ctx.rt.stats.add(ctx.site, ctx.layer, "backward", g)
        return g, None, None, None


def _name(func: Any) -> str:
    return getattr(func, "__name__", "")


def _tensors(x: Any) -> Iterator[torch.Tensor]:
    if isinstance(x, torch.Tensor):
        yield x
    elif isinstance(x, list | tuple):
        for item in x:
            yield from _tensors(item)


class _Mode(TorchFunctionMode):
    def __init__(self, rt: DynaProp) -> None:
        super().__init__()
        self.rt = rt

    def __torch_function__(self, func, types, args=(), kwargs=None):
        return self.rt.call(func, tuple(args), dict(kwargs or {}))


class DynaProp:
    """Context manager running `model` with DynaProp (see the module docstring)."""

    def __init__(self, model: nn.Module, config: DynaPropConfig | None = None) -> None:
        self.model = model
        self.config = config or DynaPropConfig()
        self.stats = SparsityStats()
        self.params: dict[int, str] = {id(p): n for n, p in model.named_parameters()}
        self.tags: WeakIdKeyDictionary = WeakIdKeyDictionary()
        self.seen_out: set[int | None] = set()
        self.layer: int | None = None
        self._mode: _Mode | None = None
        self._hook: Any = None

    # -- context ------------------------------------------------------------------------
    def reset_pass(self, *_: Any) -> None:
        """Start of a forward pass: forget what the previous one classified."""
        self.tags = WeakIdKeyDictionary()
        self.seen_out = set()
        self.layer = None

    def __enter__(self) -> DynaProp:
        self.reset_pass()
        self._hook = self.model.register_forward_pre_hook(self.reset_pass)
        self._mode = _Mode(self)
        self._mode.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._mode is not None:
            self._mode.__exit__(*exc)
            self._mode = None
        if self._hook is not None:
            self._hook.remove()
            self._hook = None

    # -- dispatch -----------------------------------------------------------------------
    def call(self, func: Any, args: tuple, kwargs: dict) -> Any:
        name = _name(func)
        if name == "scaled_dot_product_attention":
            return self.attention(func, args, kwargs)
        weight = self.weight_of(name, args)
        if weight is not None:
            return self.projection(func, args, kwargs, *weight)
        out = func(*args, **kwargs)
        self.propagate(name, args, kwargs, out)
        return out

    def tag(self, t: Any) -> Any:
        """ "ctx", "act", ("param", name) or None."""
        if not isinstance(t, torch.Tensor):
            return None
        name = self.params.get(id(t))
        return ("param", name) if name is not None else self.tags.get(t)

    def propagate(self, name: str, args: tuple, kwargs: dict, out: Any) -> None:
        """Carry `ctx`/param tags through views and `act` through elementwise arithmetic."""
        if name in _ACTIVATIONS:
            tag: Any = "act"
        elif name in _VIEWS:
            tag = self.tag(args[0]) if args else None
        elif name in _ELEMENTWISE:
            tags = [self.tag(t) for t in _tensors((args, list(kwargs.values())))]
            tag = "act" if "act" in tags else None
        else:
            return
        if tag is None:
            return
        for t in _tensors(out):
            self.tags[t] = tag

    def param_name(self, t: Any) -> str | None:
        tag = self.tag(t)
        return tag[1] if isinstance(tag, tuple) else None

    def weight_of(self, name: str, args: tuple) -> tuple[int, str] | None:
        """(argument index, parameter name) of a projection's weight, if `name` is one."""
        if name == "linear" and len(args) >= 2:
            idx = [1]
        elif name == "addmm" and len(args) >= 3:
            idx = [2]
        elif name in _MATMULS and len(args) >= 2:
            idx = [1, 0]
        else:
            return None
        for i in idx:
            pname = self.param_name(args[i])
            if pname is not None:
                return i, pname
        return None

    def role(self, x: Any, layer: int) -> str:
        tag = self.tag(x)
        if tag == "ctx":
            self.seen_out.add(layer)
            return "out_proj"
        if tag == "act":
            return "ffn_out"
        return "ffn_in" if layer in self.seen_out else "qkv_proj"

    def prune(self, x: torch.Tensor, site: str, layer: int | None) -> torch.Tensor:
        if site not in self.config.sites or not x.is_floating_point():
            return x
        return _PruneSite.apply(x, self, site, layer)

    def projection(self, func: Any, args: tuple, kwargs: dict, w_index: int, pname: str) -> Any:
        layer = layer_of_name(pname)
        if layer is None:  # embeddings, heads: not in a block
            return func(*args, **kwargs)
        self.layer = layer
        x = args[1 - w_index] if w_index <= 1 else args[1]
        role = self.role(x, layer)
        if self.config.weight_grads and torch.is_grad_enabled():
            args = list(args)  # type: ignore[assignment]
            args[w_index] = _PruneGrad.apply(args[w_index], self, weight_site(role), layer)  # type: ignore[index]
        out = func(*args, **kwargs)
        return out if role == "qkv_proj" else self.prune(out, role, layer)

    def attention(self, func: Any, args: tuple, kwargs: dict) -> torch.Tensor:
        names = ("query", "key", "value", "attn_mask", "dropout_p", "is_causal", "scale")
        given = dict(zip(names, args, strict=False)) | kwargs
        layer = self.layer
        q = self.prune(given.pop("query"), "q", layer)
        k = self.prune(given.pop("key"), "k", layer)
        v = self.prune(given.pop("value"), "v", layer)
        if any(s in self.config.sites for s in INSIDE_ATTENTION):
            out = self.unfused_attention(q, k, v, layer, **given)
        else:
            out = func(q, k, v, **given)
        out = self.prune(out, "context", layer)
        self.tags[out] = "ctx"
        return out

    def unfused_attention(
        self,
        q: torch.Tensor,
        k: torch.Tensor,
        v: torch.Tensor,
        layer: int | None,
        attn_mask: torch.Tensor | None = None,
        dropout_p: float = 0.0,
        is_causal: bool = False,
        scale: float | None = None,
        enable_gqa: bool = False,
    ) -> torch.Tensor:
        """softmax(prune(Q K^T * scale) + mask) pruned, times V: the scores and probs sites."""
        if dropout_p:
            raise TandemError(
                "DynaProp prunes attention scores and probs only without attention dropout; "
                "set the dropout probability to 0 or leave scores and probs out of the sites"
            )
        if enable_gqa and k.shape[-3] != q.shape[-3]:
            group = q.shape[-3] // k.shape[-3]
            k = k.repeat_interleave(group, dim=-3)
            v = v.repeat_interleave(group, dim=-3)
        if scale is None:
            scale = 1.0 / math.sqrt(q.shape[-1])
        s = self.prune(torch.matmul(q, k.transpose(-2, -1)) * scale, "scores", layer)
        sq, sk = s.shape[-2], s.shape[-1]
        if is_causal:
            keep = torch.ones(sq, sk, dtype=torch.bool, device=s.device).tril()
            s = s.masked_fill(~keep, float("-inf"))
        if attn_mask is not None:
            if attn_mask.dtype == torch.bool:
                s = s.masked_fill(~attn_mask, float("-inf"))
            else:
                s = s + attn_mask
        p = self.prune(torch.softmax(s, dim=-1), "probs", layer)
        return torch.matmul(p, v)


class DynaPropModule(nn.Module):
    """`module` run under DynaProp: `DynaPropModule(model, config)(ids, labels)`.

    The wrapped model is `.module` (save `.module.state_dict()`); `.dynaprop.stats` counts.
    """

    def __init__(self, module: nn.Module, config: DynaPropConfig | None = None) -> None:
        super().__init__()
        self.module = module
        self.dynaprop = DynaProp(module, config)

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        with self.dynaprop:
            return self.module(*args, **kwargs)
