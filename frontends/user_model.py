"""Load a user's own model from `path/to/file.py:factory`, and dispatch zoo names vs. user files.

The factory is called with no arguments (plus `training=...` when it accepts that keyword) and
returns `(module, example_inputs)`; `example_inputs` is a tuple of tensors or a single tensor.
In training mode the module's forward must return the scalar loss.
"""

from __future__ import annotations

import importlib.util
import inspect
import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType

import torch
from torch import nn

from frontends.zoo import ModelSpec, Overrides, build_model, count_params
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
    """Let the file import its sibling modules; seed torch without disturbing the global RNG."""
    entry = str(directory)
    sys.path.insert(0, entry)
    try:
        with torch.random.fork_rng(devices=[]):
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


def _check_result(result: object, where: str) -> tuple[nn.Module, tuple]:
    """Validate `(module, example_inputs)`; a single tensor becomes a 1-tuple."""
    if not isinstance(result, tuple | list) or len(result) != 2:
        raise TandemError(f"{where} must return (module, example_inputs), got {_describe(result)}")
    module, inputs = result
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
    return module, tuple(inputs)


def _describe(x: object) -> str:
    if isinstance(x, tuple | list):
        return f"a {type(x).__name__} of length {len(x)}"
    return f"a value of type {type(x).__module__}.{type(x).__qualname__}".replace("builtins.", "")


def _to_device(module: nn.Module, inputs: tuple, device: str) -> tuple[nn.Module, tuple]:
    try:
        dev = torch.device(device)
    except (RuntimeError, TypeError) as e:
        raise TandemError(f"invalid device {device!r}: {e}; valid: cpu, meta, cuda[:N]") from None
    return module.to(dev), tuple(x.to(dev) for x in inputs)


def load_user_model(
    spec: str, *, training: bool = False, device: str = "cpu", seed: int = 0
) -> ModelSpec:
    """Load `path/to/file.py:factory` into a ModelSpec (family "user").

    The factory gets `training=` only if it accepts that keyword; when it does not, the module
    is used as returned (in training mode its forward must already return the scalar loss).
    """
    path, name = _split_spec(spec)
    with _importable_from(path.parent, seed):
        factory = _get_factory(_import_file(path), path, name)
        result = _call_factory(factory, path, name, training)
    module, inputs = _check_result(result, f"factory '{name}' in '{path}'")
    module, inputs = _to_device(module, inputs, device)
    module.train(training)
    config = {"family": "user", "params": count_params(module), "file": str(path), "factory": name}
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
    if overrides.set_fields():
        given = ", ".join(f"{k}={v}" for k, v in overrides.set_fields().items())
        raise TandemError(
            f"overrides ({given}) apply only to zoo models, not to user model '{name_or_spec}'; "
            f"change the shapes in its factory instead"
        )
    return load_user_model(name_or_spec.strip(), training=training, device=device, seed=seed)
