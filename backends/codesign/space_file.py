"""The space file's format: the objectives a space may name, the model-shape knobs, and the
schema every space file is checked against (``backends.targets.schema``'s language).

    [parameters]
    "compute.pes" = { choices = [64, 128] }          # _PARAM: choices, or low/high/step/log
    [references]
    "AccelTran-Server" = { target = "acceltran-server" }
"""

from __future__ import annotations

import math
from typing import Any

from backends.targets.schema import Bool, List, Num, Spec, Str, Table
from ir.errors import TandemError

# objective name -> (column in the results, "min" or "max", unit)
OBJECTIVES: dict[str, tuple[str, str, str]] = {
    "latency": ("latency_s", "min", "s"),
    "throughput": ("tokens_per_s", "max", "tokens/s"),
    "energy": ("energy_j", "min", "J"),
    "area": ("area_mm2", "min", "mm^2"),
    "power": ("power_w", "min", "W"),
    "edp": ("edp_js", "min", "J s"),
    "params": ("params", "min", ""),
    "memory": ("memory_bytes", "min", "B"),
    "mfu": ("mfu", "max", ""),
}
ENERGY_OBJECTIVES = ("energy", "power", "edp")
CLUSTER_OBJECTIVES = ("mfu",)  # modelled only where a space trains on a cluster
MODEL_KNOBS = ("layers", "hidden", "heads", "head_dim", "ffn", "vocab_multiple", "batch", "seq")
GROUPS = ("model", "plan")  # parameter name prefixes; anything else is a hardware key


class Scalar(Spec):
    """A number, a string or a boolean (one choice of a parameter)."""

    def __init__(self, *, optional: bool = False, default: Any = None) -> None:
        self.optional, self.default = optional, default

    def check(self, value: Any, where: str) -> Any:
        if isinstance(value, bool | str):
            return value
        if isinstance(value, int | float) and math.isfinite(value):
            return value
        raise TandemError(f"{where} must be a number, a string or a boolean, got {value!r}")


_PARAM = Table(
    {
        "choices": List(Scalar(), min_len=0, optional=True),
        "low": Num(allow_zero=True, optional=True),
        "high": Num(allow_zero=True, optional=True),
        "step": Num(optional=True),
        "log": Bool(optional=True, default=False),
        "default": Scalar(optional=True),
    }
)
_REFERENCE = Table(
    {"target": Str(optional=True), "params": Table(open_values=Scalar(), optional=True)}
)
SPACE_SCHEMA = Table(
    {
        "name": Str(),
        "description": Str(optional=True, default=""),
        "template": Str(optional=True),
        "pipeline": Str(optional=True, default=""),
        "objectives": List(Str(tuple(OBJECTIVES))),
        "best": Str(optional=True, default="product"),
        "trials": Num(integer=True, optional=True, default=100),
        "population": Num(integer=True, optional=True, default=20),
        "cluster": Str(optional=True),
        "model": Table(
            {
                "training": Bool(optional=True),
                "dtype": Str(("f32", "f16", "bf16"), optional=True),
                "batch": Num(integer=True, optional=True),
                "seq": Num(integer=True, optional=True),
                "param_budget": Num(allow_zero=True, le=1.0, optional=True),
                "scale_layers": Bool(optional=True, default=True),
            },
            optional=True,
        ),
        "constraints": Table(
            {
                "area_mm2": Scalar(optional=True),
                "power_w": Num(optional=True),
                "memory": Bool(optional=True, default=False),
            },
            optional=True,
        ),
        "placement": Table(
            {
                "gpus": Num(integer=True, optional=True),
                "global_batch": Num(integer=True, optional=True),
                "fix": Str(optional=True, default=""),
                "kernels": Str(("eager", "fused", "flash"), optional=True, default="fused"),
            },
            optional=True,
        ),
        "parameters": Table(open_values=_PARAM, optional=True),
        "references": Table(open_values=_REFERENCE, optional=True),
    }
)
