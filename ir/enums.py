"""Enum attributes of tfm ops: a closed set of spellings, checked when the IR is parsed.

%y = tfm.gelu %x {approximate = #tfm<approximate tanh>} : ...
%s = tfm.reduce %x {kind = #tfm<reduce_kind sum>, dims = array<i64: 0>} : ...
%l = tfm.cross_entropy %x, %t {ignore_index = -100 : i64, reduction = #tfm<reduction mean>} : ...
"""

from __future__ import annotations

from xdsl.dialects.utils import EnumAttribute
from xdsl.ir import Attribute, SpacedOpaqueSyntaxAttribute
from xdsl.irdl import irdl_attr_definition
from xdsl.utils.str_enum import StrEnum


class GeluApproximation(StrEnum):
    NONE = "none"
    TANH = "tanh"


class ReduceKind(StrEnum):
    SUM = "sum"
    MEAN = "mean"
    MAX = "max"
    MIN = "min"
    PROD = "prod"
    ANY = "any"
    ALL = "all"


class LossReduction(StrEnum):
    NONE = "none"
    MEAN = "mean"
    SUM = "sum"


@irdl_attr_definition
class GeluApproximationAttr(EnumAttribute[GeluApproximation], SpacedOpaqueSyntaxAttribute):
    """How GELU is computed: exactly (`none`, with erf) or with the tanh formula."""

    name = "tfm.approximate"


@irdl_attr_definition
class ReduceKindAttr(EnumAttribute[ReduceKind], SpacedOpaqueSyntaxAttribute):
    """What `tfm.reduce` computes over its dims."""

    name = "tfm.reduce_kind"


@irdl_attr_definition
class LossReductionAttr(EnumAttribute[LossReduction], SpacedOpaqueSyntaxAttribute):
    """How a loss combines its per-sample values: kept (`none`), averaged or summed."""

    name = "tfm.reduction"


ENUM_ATTRS: list[type[Attribute]] = [GeluApproximationAttr, ReduceKindAttr, LossReductionAttr]
