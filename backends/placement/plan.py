"""A parallel plan: how one training iteration is spread over a cluster's GPUs.

    Plan(t=8, p=8, d=24, microbatch=2, recompute="full", sp=False, vp=2,
         stage_layers=(5,) * 16)         # 80 layers, 8 devices x 2 virtual stages

`t` tensor-parallel ranks (consecutive GPUs), `p` pipeline stages, `d` data-parallel
replicas (t * p * d GPUs), `microbatch` sequences per microbatch, `recompute` none |
selective | full, `sp` sequence parallelism, `vp` virtual stages per device (interleaved
1F1B), `zero` optimizer state sharded over data parallelism (ZeRO-1 / Megatron's distributed
optimizer), `overlap` the data-parallel gradient all-reduce overlapped with the backward,
`tp_overlap` the backward's tensor-parallel collectives overlapped with its GEMMs (Megatron-LM's
asynchronous tensor-parallel communication, since late 2021).
`stage_layers` is the number of transformer layers on each virtual stage, in order (the
embedding is on the first, the head on the last).

`Fixed` holds the keys a user fixed (`--fix t=8,p=8,mb=2` or pass options); the search
fills in the rest. `Request` is what to plan for: cluster, GPUs, global batch, fixed keys.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from xdsl.dialects.builtin import (
    ArrayAttr,
    DictionaryAttr,
    IntegerAttr,
    ModuleOp,
    StringAttr,
    i1,
    i64,
)
from xdsl.ir import Attribute

from backends.targets import Cluster
from ir import attrs
from ir.errors import TandemError

RECOMPUTE = ("none", "selective", "full")
# --fix / pass option spellings -> field names
ALIASES = {"mb": "microbatch", "microbatch": "microbatch", "sequence_parallel": "sp"}


@dataclass(frozen=True)
class Plan:
    t: int
    p: int
    d: int
    microbatch: int
    recompute: str = "full"
    sp: bool = False
    vp: int = 1
    zero: bool = False
    overlap: bool = False
    stage_layers: tuple[int, ...] = ()
    tp_overlap: bool = False

    @property
    def gpus(self) -> int:
        return self.t * self.p * self.d

    def microbatches(self, global_batch: int) -> int:
        return global_batch // (self.d * self.microbatch)

    def key(self) -> str:
        """`t8 p8 d24 mb2 full vp2` (sp / zero / overlap when on)."""
        parts = [f"t{self.t}", f"p{self.p}", f"d{self.d}", f"mb{self.microbatch}", self.recompute]
        parts += [f"vp{self.vp}"] if self.vp > 1 else []
        parts += ["sp"] if self.sp else []
        parts += ["zero"] if self.zero else []
        parts += ["overlap"] if self.overlap else []
        parts += ["tp_overlap"] if self.tp_overlap else []
        return " ".join(parts)

    def to_json(self) -> dict[str, Any]:
        out = asdict(self)
        out["sequence_parallel"] = out.pop("sp")
        out["stage_layers"] = list(self.stage_layers)
        return out

    def with_stages(self, stage_layers: tuple[int, ...]) -> Plan:
        return replace(self, stage_layers=stage_layers)


@dataclass(frozen=True)
class Fixed:
    """The plan keys given by the user; None = search it."""

    t: int | None = None
    p: int | None = None
    d: int | None = None
    microbatch: int | None = None
    recompute: str | None = None
    sp: bool | None = None
    vp: int | None = None
    zero: bool | None = None
    overlap: bool | None = None
    tp_overlap: bool | None = None

    def given(self) -> dict[str, Any]:
        return {
            f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None
        }


@dataclass(frozen=True)
class Request:
    """What to plan for: a cluster (name or path), GPUs, global batch, fixed keys, kernels."""

    cluster: str | Cluster
    gpus: int
    global_batch: int
    fixed: Fixed = Fixed()
    kernels: str = "fused"
    dropout: bool = True


_BOOL = {
    "on": True,
    "true": True,
    "yes": True,
    "1": True,
    "off": False,
    "false": False,
    "no": False,
    "0": False,
}


def parse_value(key: str, value: Any) -> Any:
    """One plan value from text or a number, checked; a TandemError names the key."""
    if key == "recompute":
        text = str(value).strip().lower()
        if text not in RECOMPUTE:
            raise TandemError(f"recompute={value!r}: expected one of {', '.join(RECOMPUTE)}")
        return text
    if key in ("sp", "zero", "overlap", "tp_overlap"):
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text not in _BOOL:
            raise TandemError(f"{key}={value!r}: expected on or off")
        return _BOOL[text]
    try:
        number = int(str(value).strip())
    except ValueError:
        raise TandemError(f"{key}={value!r}: expected a positive integer") from None
    if number < 1:
        raise TandemError(f"{key}={value!r}: expected a positive integer")
    return number


def parse_fix(text: str) -> Fixed:
    """`t=8,p=8,d=24,mb=2,recompute=full,sp=off,vp=1` -> Fixed."""
    names = {f.name for f in fields(Fixed)}
    values: dict[str, Any] = {}
    for item in [x for x in text.replace(" ", ",").split(",") if x]:
        if "=" not in item:
            raise TandemError(f"--fix {item!r}: expected key=value (e.g. t=8,p=8,mb=2)")
        key, value = item.split("=", 1)
        key = ALIASES.get(key.strip().lower(), key.strip().lower())
        if key not in names:
            raise TandemError(
                f"--fix {item!r}: unknown key {key!r}; known: t, p, d, mb, recompute, sp, vp, zero, overlap, tp_overlap"
            )
        values[key] = parse_value(key, value)
    return Fixed(**values)


def _attr(x: Any) -> Attribute:
    if isinstance(x, bool):
        return IntegerAttr(int(x), i1)
    if isinstance(x, int):
        return IntegerAttr(x, i64)
    if isinstance(x, str):
        return StringAttr(x)
    return ArrayAttr([IntegerAttr(int(v), i64) for v in x])


def plan_attr(plan: Plan, global_batch: int, sends: int) -> DictionaryAttr:
    """The module attribute `tfm.plan` recording a placement."""
    data = {k: _attr(v) for k, v in plan.to_json().items()}
    data["global_batch"] = _attr(global_batch)
    data["microbatches"] = _attr(plan.microbatches(global_batch))
    data["sends"] = _attr(sends)
    return DictionaryAttr(data)


def read_plan(module: ModuleOp) -> dict[str, Any] | None:
    """The `tfm.plan` a `place` pass recorded on `module` as Python values (None: not placed)."""
    a = module.attributes.get(attrs.PLAN)
    if not isinstance(a, DictionaryAttr):
        return None
    out: dict[str, Any] = {}
    for k, v in a.data.items():
        if isinstance(v, IntegerAttr):
            width = getattr(v.type, "width", None)
            out[k] = bool(v.value.data) if getattr(width, "data", 64) == 1 else v.value.data
        elif isinstance(v, StringAttr):
            out[k] = v.data
        elif isinstance(v, ArrayAttr):
            out[k] = [x.value.data for x in v.data if isinstance(x, IntegerAttr)]
    return out


def even_stages(layers: int, stages: int) -> tuple[int, ...]:
    """`layers` spread over `stages` as evenly as possible (the earlier stages get the extra)."""
    base, extra = divmod(layers, stages)
    return tuple(base + (1 if i < extra else 0) for i in range(stages))
