"""A small schema language for TOML files: each spec checks one value and converts it.

    spec = Table({"name": Str(), "clock_hz": Num(), "tiles": List(Num(integer=True))})
    spec.check({"name": "x", "clock_hz": 1e9, "tiles": [64]}, "x.toml: [compute]", top=True)

Errors are one-line :class:`TandemError` messages naming the file, the table and the key:
``x.toml: [compute] clock_hz must be a positive number, got 0``.
"""

from __future__ import annotations

import math
from typing import Any

from ir.errors import TandemError

# Bounds of every non-zero number: far outside any device, and far from float under/overflow
# (a bandwidth of 1e-310 B/s would make every latency infinite).
SMALLEST, LARGEST = 1e-15, 1e21


class Spec:
    """One value of a file; ``optional`` keys take ``default`` when absent."""

    optional = False
    default: Any = None

    def check(self, value: Any, where: str) -> Any:  # pragma: no cover - interface
        raise NotImplementedError


class Num(Spec):
    """A number; positive unless ``allow_zero``; ``le`` an upper bound; ``integer``; ``pow2``."""

    def __init__(
        self,
        *,
        integer: bool = False,
        allow_zero: bool = False,
        le: float | None = None,
        optional: bool = False,
        default: Any = None,
        pow2: bool = False,
    ) -> None:
        self.integer, self.allow_zero, self.le = integer, allow_zero, le
        self.optional, self.default, self.pow2 = optional, default, pow2

    def check(self, value: Any, where: str) -> Any:
        what = "a positive" if not self.allow_zero else "a non-negative"
        what += " integer" if self.integer else " number"
        if self.le is not None:
            what += f" <= {self.le:g}"
        if self.pow2:
            what += " (a power of two)"
        ok = isinstance(value, int | float) and not isinstance(value, bool)
        if ok and self.integer and isinstance(value, float):
            ok = value.is_integer()
        if ok:
            ok = math.isfinite(value) and (value > 0 or (self.allow_zero and value == 0))
        if ok and self.le is not None:
            ok = value <= self.le
        if ok and self.pow2:
            ok = int(value) & (int(value) - 1) == 0
        if not ok:
            raise TandemError(f"{where} must be {what}, got {value!r}")
        if value != 0 and not SMALLEST <= value <= LARGEST:
            raise TandemError(
                f"{where} must be between {SMALLEST:g} and {LARGEST:g} (seconds, bytes, hertz, "
                f"FLOP/s: a physical value), got {value!r}"
            )
        return int(value) if self.integer else float(value)


class Str(Spec):
    """A string, one of ``choices`` when given."""

    def __init__(
        self, choices: tuple[str, ...] | None = None, *, optional: bool = False, default: Any = None
    ) -> None:
        self.choices, self.optional, self.default = choices, optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, str) or (self.choices and value not in self.choices):
            want = f"one of {list(self.choices)}" if self.choices else "a string"
            raise TandemError(f"{where} must be {want}, got {value!r}")
        return value


class Bool(Spec):
    def __init__(self, *, optional: bool = False, default: Any = None) -> None:
        self.optional, self.default = optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, bool):
            raise TandemError(f"{where} must be true or false, got {value!r}")
        return value


class List(Spec):
    """A list of ``item`` values (a tuple after checking): ``length`` exactly or ``min_len``."""

    def __init__(
        self,
        item: Spec,
        *,
        min_len: int = 1,
        length: int | None = None,
        optional: bool = False,
        default: Any = None,
    ) -> None:
        self.item, self.min_len, self.length = item, min_len, length
        self.optional, self.default = optional, default

    def check(self, value: Any, where: str) -> Any:
        if not isinstance(value, list):
            raise TandemError(f"{where} must be a list, got {value!r}")
        if self.length is not None and len(value) != self.length:
            raise TandemError(f"{where} must have {self.length} entries, got {len(value)}")
        if len(value) < self.min_len:
            raise TandemError(
                f"{where} must have at least {self.min_len} entries, got {len(value)}"
            )
        return tuple(self.item.check(v, f"{where}[{i}]") for i, v in enumerate(value))


class Table(Spec):
    """A TOML table with a fixed set of keys; ``open_values`` accepts any key with that spec."""

    def __init__(
        self,
        fields: dict[str, Spec] | None = None,
        *,
        optional: bool = False,
        open_values: Spec | None = None,
    ) -> None:
        self.fields = fields or {}
        self.optional, self.open_values = optional, open_values
        self.default = None

    def check(self, value: Any, where: str, top: bool = False) -> Any:
        """Validate; ``top`` means ``where`` is "file: [table]" and keys follow a space."""

        def join(key: str) -> str:
            return f"{where} {key}" if top else f"{where}.{key}"

        if not isinstance(value, dict):
            raise TandemError(f"{where} must be a table, got {value!r}")
        out: dict[str, Any] = {}
        for key in value:
            if key not in self.fields and self.open_values is None:
                known = ", ".join(sorted(self.fields))
                raise TandemError(f"{join(key)} is not a known key (expected one of: {known})")
        for key, spec in self.fields.items():
            if key in value:
                out[key] = spec.check(value[key], join(key))
            elif spec.optional:
                out[key] = spec.default
            else:
                raise TandemError(f"{join(key)} is missing")
        if self.open_values is not None:
            for key in value:
                if key not in self.fields:
                    out[key] = self.open_values.check(value[key], join(key))
        return out


def check_file(spec: Table, data: dict[str, Any], fname: str) -> dict[str, Any]:
    """Validate a whole file; keys of top-level tables are reported as "file: [table] key"."""
    out: dict[str, Any] = {}
    for key in data:
        if key not in spec.fields:
            known = ", ".join(sorted(spec.fields))
            raise TandemError(f"{fname}: {key} is not a known key (expected one of: {known})")
    for key, sub in spec.fields.items():
        if key not in data:
            if sub.optional:
                out[key] = sub.default
                continue
            what = f"[{key}]" if isinstance(sub, Table) else key
            raise TandemError(f"{fname}: {what} is missing")
        if isinstance(sub, Table):
            out[key] = sub.check(data[key], f"{fname}: [{key}]", top=True)
        else:
            out[key] = sub.check(data[key], f"{fname}: {key}")
    return out
