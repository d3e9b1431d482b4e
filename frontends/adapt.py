"""Fit a user's module to what Tandem traces: tensors out, and a scalar loss for training.

    adapt_outputs(module)                                   # inference: a tensor or a tuple
    inputs, loss = attach_loss(module, inputs, labels, loss_fn)   # training: the scalar loss

Both replace `module.forward` on the instance, so parameter names stay the user's own.
Inference: objects such as Hugging Face's `CausalLMOutputWithPast` become the tuple of their
tensors (`.logits` first); Hugging Face models run with `use_cache=False`. Training: when the
forward does not return a 0-dim loss, Tandem attaches the standard one (`loss` says which):

- a Hugging Face model (its forward takes `labels=`): it gets `labels=` (the factory's, else
  the input ids) and its own `.loss` is used (causal LMs shift the labels themselves);
- the factory's `loss_fn`: `loss_fn(output, labels)` (`loss_fn(output)` without labels);
- the factory's labels: cross-entropy of the logits against integer labels of their leading
  shape, or mean squared error against float labels of the output's shape;
- logits `[batch, seq, vocab]` of token ids `[batch, seq]` (the first input): next-token
  cross-entropy, labels = the input ids shifted by one.
"""

from __future__ import annotations

import inspect
import types
from collections.abc import Callable

import torch
import torch.nn.functional as F
import torch.utils._pytree as pytree
from torch import nn
from torch._subclasses.fake_tensor import FakeTensorMode

from ir.errors import TandemError

__all__ = ["adapt_outputs", "attach_loss", "probe"]


def _takes(forward: Callable, name: str) -> bool:
    try:
        return name in inspect.signature(forward).parameters
    except (TypeError, ValueError):
        return False


def _call(forward: Callable, args: tuple, **kwargs: object) -> object:
    """`forward(*args, **kwargs)`, without a KV cache where the model has one."""
    if _takes(forward, "use_cache"):
        kwargs["use_cache"] = False
    return forward(*args, **kwargs)


def _tensors(out: object) -> tuple[torch.Tensor, ...]:
    """The tensors of a model output, `.logits` first when it has one."""
    leaves = [x for x in pytree.tree_leaves(out) if isinstance(x, torch.Tensor)]
    logits = getattr(out, "logits", None)
    if isinstance(logits, torch.Tensor):
        leaves = [logits] + [x for x in leaves if x is not logits]
    return tuple(leaves)


def _logits(out: object) -> torch.Tensor | None:
    if isinstance(out, torch.Tensor):
        return out
    found = _tensors(out)
    return found[0] if found else None


def adapt_outputs(module: nn.Module) -> None:
    """Make `module(*inputs)` return a tensor or a flat tuple of tensors."""
    forward = module.forward

    def flat(self: nn.Module, *args: object) -> object:
        out = _call(forward, args)
        if isinstance(out, torch.Tensor):
            return out
        if isinstance(out, tuple | list) and all(isinstance(x, torch.Tensor) for x in out):
            return tuple(out)
        return _tensors(out)

    module.forward = types.MethodType(flat, module)


def probe(module: nn.Module, inputs: tuple) -> object:
    """The model's output computed on fake CPU tensors of the weights' and inputs' shapes
    (no memory, no arithmetic, the module untouched); raises what its forward raises."""
    mode = FakeTensorMode(allow_non_fake_inputs=True)
    with mode:
        state = {
            name: torch.empty(t.shape, dtype=t.dtype, device="cpu")
            for name, t in [
                *module.named_parameters(),
                *module.named_buffers(),
            ]
        }
        args = tuple(
            torch.zeros(x.shape, dtype=x.dtype, device="cpu") if isinstance(x, torch.Tensor) else x
            for x in inputs
        )
    with torch.no_grad(), mode:
        return torch.func.functional_call(module, state, args)


def _describe(out: object) -> str:
    if isinstance(out, torch.Tensor):
        return f"a {str(out.dtype).removeprefix('torch.')} tensor of shape {list(out.shape)}"
    return f"a {type(out).__name__}"


def attach_loss(
    module: nn.Module,
    inputs: tuple,
    labels: torch.Tensor | None = None,
    loss_fn: Callable | None = None,
    *,
    where: str = "the model",
) -> tuple[tuple, str]:
    """Make `module(*new_inputs)` return the scalar training loss; (new_inputs, which loss)."""
    try:
        out = probe(module, inputs)
    except Exception:  # noqa: BLE001 - tracing reports the model's own error with its line
        return inputs, "the model's own loss (its forward did not run on shapes alone)"
    if isinstance(out, torch.Tensor) and out.dim() == 0 and loss_fn is None:
        return inputs, "the model's own loss (its forward returns a scalar)"
    forward = module.forward
    n = len(inputs)
    if loss_fn is not None:
        if not callable(loss_fn):
            raise TandemError(f"{where}: loss_fn is {_describe(loss_fn)}, not a callable")

        def custom(self: nn.Module, *args: torch.Tensor) -> torch.Tensor:
            y = _logits(_call(forward, args[:n]))
            return loss_fn(y) if len(args) == n else loss_fn(y, args[n])

        _install(module, custom)
        extra = () if labels is None else (labels,)
        return inputs + extra, "the factory's loss_fn"
    if _takes(forward, "labels"):
        tokens = labels if labels is not None else inputs[0]

        def own(self: nn.Module, *args: torch.Tensor) -> torch.Tensor:
            result = _call(forward, args[:n], labels=args[n])
            loss = getattr(result, "loss", None)
            if loss is None and isinstance(result, tuple | list) and result:
                loss = result[0]
            if not isinstance(loss, torch.Tensor) or loss.dim() != 0:
                raise TandemError(f"{where} was given labels= but returned no scalar .loss")
            return loss

        _install(module, own)
        source = "the factory's labels" if labels is not None else "labels = the input ids"
        return inputs + (tokens,), f"the model's own loss with labels= ({source})"
    logits = _logits(out)
    if logits is None:
        raise _no_loss(where, out)
    if labels is not None:
        return inputs + (labels,), _labelled(module, forward, n, logits, labels, where)
    ids = inputs[0] if inputs else None
    if (
        isinstance(ids, torch.Tensor)
        and not ids.is_floating_point()
        and logits.is_floating_point()
        and logits.dim() == 3
        and ids.dim() == 2
        and tuple(logits.shape[:2]) == tuple(ids.shape)
        and ids.shape[1] > 1
    ):

        def next_token(self: nn.Module, *args: torch.Tensor) -> torch.Tensor:
            y = _logits(_call(forward, args))
            assert isinstance(y, torch.Tensor)
            targets = args[0][:, 1:].reshape(-1)
            return F.cross_entropy(y[:, :-1].reshape(-1, y.shape[-1]).float(), targets)

        _install(module, next_token)
        return inputs, "next-token cross-entropy (labels = the input ids shifted by one)"
    raise _no_loss(where, out)


def _labelled(
    module: nn.Module,
    forward: Callable,
    n: int,
    logits: torch.Tensor,
    labels: torch.Tensor,
    where: str,
) -> str:
    if not labels.is_floating_point() and tuple(labels.shape) == tuple(logits.shape[:-1]):

        def ce(self: nn.Module, *args: torch.Tensor) -> torch.Tensor:
            y = _logits(_call(forward, args[:n]))
            assert isinstance(y, torch.Tensor)
            return F.cross_entropy(y.reshape(-1, y.shape[-1]).float(), args[n].reshape(-1))

        _install(module, ce)
        return "cross-entropy against the factory's labels"
    if labels.is_floating_point() and tuple(labels.shape) == tuple(logits.shape):

        def mse(self: nn.Module, *args: torch.Tensor) -> torch.Tensor:
            y = _logits(_call(forward, args[:n]))
            assert isinstance(y, torch.Tensor)
            return F.mse_loss(y.float(), args[n].float())

        _install(module, mse)
        return "mean squared error against the factory's labels"
    raise TandemError(
        f"{where}: labels of shape {list(labels.shape)} ({labels.dtype}) fit no standard loss "
        f"for an output of shape {list(logits.shape)}: give integer class labels of shape "
        f"{list(logits.shape[:-1])}, float targets of shape {list(logits.shape)}, or a loss_fn"
    )


def _install(module: nn.Module, forward: Callable) -> None:
    module.forward = types.MethodType(forward, module)


def _no_loss(where: str, out: object) -> TandemError:
    return TandemError(
        f"training {where}: its forward returns {_describe(out)}, not a scalar loss, and no "
        f"standard loss fits it; return the loss from forward, or return "
        f"(module, inputs, labels) or (module, inputs, labels, loss_fn) from the factory"
    )
