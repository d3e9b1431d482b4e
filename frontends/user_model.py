"""Load a user's own model from `path/to/file.py:factory`, and dispatch zoo names vs. user files.

The factory is called with no arguments (plus `training=...` when it accepts that keyword) and
returns `(module, example_inputs)`, `(module, example_inputs, labels)` or
`(module, example_inputs, labels, loss_fn)`, or a dict with those keys (`module`, `inputs`,
`labels`, `loss_fn`); `example_inputs` is a tuple of tensors or a single tensor. Outputs such
as Hugging Face's `CausalLMOutputWithPast` become tensors; for training, a forward that does
not return the scalar loss gets the standard one (`frontends/adapt.py`, named in
`config["loss"]`). Anything the user's code prints goes to stderr, never into the IR.
"""

from __future__ import annotations

import contextlib
import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from frontends.adapt import adapt_outputs, attach_loss
from frontends.zoo import (
    ModelSpec,
    Overrides,
    build_model,
    count_params,
    dtype_name,
    parse_dtype,
)
from ir.errors import TandemError

__all__ = ["is_user_spec", "load_user_model", "resolve_model"]

_FORM = "expected path/to/file.py:factory"


def _one_line(e: BaseException) -> str:
    """`ExcType: message` with all whitespace runs collapsed, so it fits on one line."""
    msg = " ".join(str(e).split())
    return f"{type(e).__name__}: {msg}" if msg else type(e).__name__


def _split_spec(spec: str) -> tuple[Path, str]:
    if not isinstance(spec, str) or ":" not in spec:
        raise TandemError(f"invalid model spec {spec!r}: no ':factory' given; {_FORM}")
    file, _, factory = spec.rpartition(":")
    if not file or not factory.isidentifier():
        raise TandemError(f"invalid model spec {spec!r}: {_FORM} (factory a Python name)")
    path = Path(file).expanduser()
    if path.suffix != ".py":
        raise TandemError(f"invalid model spec {spec!r}: '{file}' is not a .py file; {_FORM}")
    if not path.is_file():
        raise TandemError(f"model file '{file}' not found (from spec {spec!r})")
    return path.resolve(), factory


@contextmanager
def _importable_from(directory: Path, seed: int) -> Iterator[None]:
    """Let the file import its sibling modules; seed torch without disturbing the global RNG;
    send what the user's code prints to stderr."""
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        with torch.random.fork_rng(devices=[]), contextlib.redirect_stdout(sys.stderr):
            torch.manual_seed(seed)
            yield
    finally:
        if entry in sys.path:
            sys.path.remove(entry)


def _import_file(path: Path) -> ModuleType:
    stem = re.sub(r"\W", "_", path.stem)
    name = f"tandem_user_model_{stem}_{abs(hash(str(path))):x}"
    loader_spec = importlib.util.spec_from_file_location(name, path)
    if loader_spec is None or loader_spec.loader is None:
        raise TandemError(f"cannot import model file '{path}': not a Python source file")
    module = importlib.util.module_from_spec(loader_spec)
    sys.modules[name] = module
    try:
        loader_spec.loader.exec_module(module)
    except (Exception, SystemExit) as e:
        sys.modules.pop(name, None)
        raise TandemError(f"cannot import model file '{path}': {_one_line(e)}") from None
    return module


def _callables(module: ModuleType) -> list[str]:
    """Public callables defined in the user's file itself (not imported ones)."""
    return sorted(
        n
        for n, v in vars(module).items()
        if callable(v)
        and not n.startswith("_")
        and getattr(v, "__module__", None) == module.__name__
    )


def _get_factory(module: ModuleType, path: Path, name: str) -> Callable:
    factory = getattr(module, name, None)
    if factory is None or not callable(factory):
        found = ", ".join(_callables(module)) or "none"
        what = "is not callable" if factory is not None else "not found"
        raise TandemError(f"factory '{name}' {what} in '{path}'; callables found: {found}")
    return factory


def _accepts_training(factory: Callable) -> bool:
    try:
        params = inspect.signature(factory).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        (p.name == "training" and p.kind is not p.POSITIONAL_ONLY) or p.kind is p.VAR_KEYWORD
        for p in params
    )


def _call_factory(factory: Callable, path: Path, name: str, training: bool) -> object:
    kwargs = {"training": training} if _accepts_training(factory) else {}
    try:
        return factory(**kwargs)
    except (Exception, SystemExit) as e:
        raise TandemError(f"factory '{name}' in '{path}' raised {_one_line(e)}") from None


@dataclass
class _Result:
    module: nn.Module
    inputs: tuple
    labels: torch.Tensor | None = None
    loss_fn: Callable | None = None


_KEYS = ("module", "inputs", "labels", "loss_fn")


def _check_result(result: object, where: str) -> _Result:
    """Validate the factory's result; a single tensor of inputs becomes a 1-tuple."""
    if isinstance(result, dict):
        unknown = sorted(set(map(str, result)) - set(_KEYS))
        if unknown or "module" not in result or "inputs" not in result:
            raise TandemError(
                f"{where} returned a dict with keys {sorted(map(str, result))}; expected "
                f"'module' and 'inputs', optionally 'labels' and 'loss_fn'"
            )
        parts = [result.get(k) for k in _KEYS]
    elif isinstance(result, tuple | list) and 2 <= len(result) <= 4:
        parts = [*result, None, None][:4]
    else:
        raise TandemError(
            f"{where} must return (module, example_inputs), (module, example_inputs, labels) or "
            f"(module, example_inputs, labels, loss_fn), got {_describe(result)}"
        )
    module, inputs, labels, loss_fn = parts
    if not isinstance(module, nn.Module):
        raise TandemError(
            f"{where} returned {_describe(module)} as module; expected a torch.nn.Module"
        )
    if isinstance(inputs, torch.Tensor):
        inputs = (inputs,)
    if not isinstance(inputs, tuple | list):
        raise TandemError(
            f"{where} returned {_describe(inputs)} as example_inputs; expected a tensor or a tuple of tensors"
        )
    for i, x in enumerate(inputs):
        if not isinstance(x, torch.Tensor):
            raise TandemError(
                f"{where} returned {_describe(x)} as example_inputs[{i}]; expected a tensor"
            )
    if labels is not None and not isinstance(labels, torch.Tensor):
        raise TandemError(f"{where} returned {_describe(labels)} as labels; expected a tensor")
    if loss_fn is not None and not callable(loss_fn):
        raise TandemError(f"{where} returned {_describe(loss_fn)} as loss_fn; expected a callable")
    return _Result(module, tuple(inputs), labels, loss_fn)


def _describe(x: object) -> str:
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a value of type {type(x).__module__}.{type(x).__qualname__}".replace("builtins.", "")


def _to_device(r: _Result, device: str, dtype: str | None, where: str) -> None:
    """Move (and with `dtype`, cast the floating tensors of) the module, inputs and labels."""
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise TandemError(f"invalid device {device!r}: {e}; valid: cpu, meta, cuda[:N]") from None
    cast = parse_dtype(dtype) if dtype is not None else None

    def move(x: torch.Tensor) -> torch.Tensor:
        x = x.to(dev)
        return x.to(cast) if cast is not None and x.is_floating_point() else x

    try:
        _move_module(r.module, move)
        r.inputs = tuple(move(x) for x in r.inputs)
        r.labels = None if r.labels is None else move(r.labels)
    except (RuntimeError, NotImplementedError) as e:
        raise TandemError(f"{where}: cannot move the model to {device}: {_one_line(e)}") from None


def _move_module(module: nn.Module, move: Callable[[torch.Tensor], torch.Tensor]) -> None:
    """Apply `move` to every parameter and buffer in place; tied tensors stay tied (unlike
    `module.to("meta")`, which gives each name its own parameter)."""
    memo: dict[int, torch.Tensor] = {}
    for sub in module.modules():
        for table in (sub._parameters, sub._buffers):
            for name, t in list(table.items()):
                if t is None:
                    continue
                if id(t) not in memo:
                    moved = move(t.detach())
                    memo[id(t)] = (
                        nn.Parameter(moved, requires_grad=t.requires_grad)
                        if isinstance(t, nn.Parameter)
                        else moved
                    )
                table[name] = memo[id(t)]  # type: ignore[assignment]


def load_user_model(
    spec: str,
    *,
    training: bool = False,
    device: str = "cpu",
    seed: int = 0,
    dtype: str | None = None,
) -> ModelSpec:
    """Load `path/to/file.py:factory` into a ModelSpec (family "user").

    The factory gets `training=` only if it accepts that keyword. `dtype` ("f32", "f16",
    "bf16") casts the floating weights and inputs. Training uses the model's own scalar loss,
    else the standard loss `frontends.adapt.attach_loss` picks (`config["loss"]`).
    """
    path, name = _split_spec(spec)
    where = f"factory '{name}' in '{path}'"
    with _importable_from(path.parent, seed):
        factory = _get_factory(_import_file(path), path, name)
        result = _call_factory(factory, path, name, training)
    r = _check_result(result, where)
    _to_device(r, device, dtype, where)
    module, inputs = r.module, r.inputs
    module.train(training)
    config = {"family": "user", "params": count_params(module), "file": str(path), "factory": name}
    floats = [p.dtype for p in module.parameters() if p.is_floating_point()]
    if dtype is not None or floats:
        config["dtype"] = dtype or dtype_name(floats[0])
    if training:
        with contextlib.redirect_stdout(sys.stderr):
            inputs, config["loss"] = attach_loss(
                module, inputs, r.labels, r.loss_fn, where=f"{path.name}:{name}"
            )
    else:
        adapt_outputs(module)
    return ModelSpec(
        name=f"{path.stem}:{name}",
        module=module,
        example_inputs=inputs,
        config=config,
        training=training,
    )


def is_user_spec(name_or_spec: str) -> bool:
    """True when the string names a user file (`file.py:factory`, or a bare `file.py`)."""
    s = name_or_spec.strip()
    return ".py:" in s or s.endswith(".py")


def resolve_model(
    name_or_spec: str,
    overrides: Overrides = Overrides(),  # noqa: B008 - frozen dataclass, safe default
    *,
    training: bool = False,
    device: str = "cpu",
    seed: int = 0,
) -> ModelSpec:
    """Build a zoo model by name, or load a user model from `file.py:factory`."""
    if not isinstance(name_or_spec, str):
        raise TandemError(
            f"model must be a zoo name or path/to/file.py:factory, got {name_or_spec!r}"
        )
    if not is_user_spec(name_or_spec):
        return build_model(name_or_spec, overrides, training=training, device=device, seed=seed)
    shapes = {k: v for k, v in overrides.set_fields().items() if k != "dtype"}
    if shapes:
        given = ", ".join(f"{k}={v}" for k, v in shapes.items())
        raise TandemError(
            f"overrides ({given}) apply only to zoo models, not to user model '{name_or_spec}'; "
            f"change the shapes in its factory instead (--dtype applies to both)"
        )
    return load_user_model(
        name_or_spec.strip(), training=training, device=device, seed=seed, dtype=overrides.dtype
    )
