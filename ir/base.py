"""Common pieces of tfm ops: property helpers and the verification base class."""

from __future__ import annotations

from collections.abc import Sequence

from xdsl.dialects.builtin import (
    DenseArrayBase,
    FloatAttr,
    IntegerAttr,
    IntegerType,
    StringAttr,
    UnitAttr,
    f64,
    i64,
)
from xdsl.ir import Attribute
from xdsl.irdl import IRDLOperation, ParsePropInAttrDict
from xdsl.utils.exceptions import VerifyException


def int_attr(v: int) -> IntegerAttr:
    return IntegerAttr(int(v), i64)


def ints_attr(vs: Sequence[int]) -> DenseArrayBase:
    return DenseArrayBase.from_list(i64, [int(v) for v in vs])


def float_attr(v: float) -> FloatAttr:
    return FloatAttr(float(v), f64)


def str_attr(v: str) -> StringAttr:
    return StringAttr(v)


def flag(v: bool) -> UnitAttr | None:
    return UnitAttr() if v else None


def get_int(a: Attribute | None, default: int = 0) -> int:
    return default if a is None else int(a.value.data)  # type: ignore[union-attr]


def get_ints(a: Attribute | None) -> tuple[int, ...]:
    return () if a is None else tuple(a.get_values())  # type: ignore[union-attr]


def get_float(a: Attribute | None, default: float = 0.0) -> float:
    return default if a is None else float(a.value.data)  # type: ignore[union-attr]


def get_str(a: Attribute | None, default: str = "") -> str:
    return default if a is None else a.data  # type: ignore[union-attr]


I64Array = DenseArrayBase[IntegerType]


class TfmOp(IRDLOperation):
    """Base of every tfm op: properties print inside the attribute dictionary.

    Subclasses implement `check()` with `self.expect(cond, message)` guards.
    """

    irdl_options = (ParsePropInAttrDict(),)

    def expect(self, cond: bool, message: str) -> None:
        if not cond:
            raise VerifyException(f"{self.name}: {message}")

    def check(self) -> None:
        """Shape and dtype invariants; overridden by each op."""

    def verify_(self) -> None:
        self.check()
