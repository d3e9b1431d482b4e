"""Plan a model's training on a cluster: import one template, search, report.

    report = plan("gpt3-175b", cluster="dgx-a100-80gb", gpus=1024, global_batch=1536)
    report.best.plan, report.to_json()

The model is imported once, with 3 layers (the first stage's, a middle one, the last
stage's; `backends.placement.template`; also for a model of fewer layers, whose layers are
alike) at the largest microbatch the search may pick, and every plan is costed from it. A zoo model's vocabulary is padded to a multiple of 1024 as
Megatron-LM pads it (to 128 x t, for every t up to 8): 50257 -> 51200.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from backends.placement.plan import Fixed
from backends.placement.report import plan_json
from backends.placement.search import MICROBATCHES, Request, SearchResult, check_request, search
from backends.placement.template import ModelFacts, Template
from backends.targets import load_cluster
from frontends.zoo import Overrides
from ir.errors import TandemError

TEMPLATE_LAYERS = 3
VOCAB_MULTIPLE = 1024


@dataclass
class PlanReport:
    model: str
    request: Request
    facts: ModelFacts
    result: SearchResult
    peak: float
    notes: list[str] = field(default_factory=list)
    import_s: float = 0.0
    template: Template | None = None

    @property
    def flops(self):
        return self.template.flops if self.template is not None else None

    @property
    def best(self):
        return self.result.plans[0]

    def to_json(self) -> dict[str, Any]:
        f = self.facts
        return {
            "model": {
                "name": self.model,
                "layers": f.layers,
                "hidden": f.hidden,
                "heads": f.heads,
                "seq": f.seq,
                "vocab": f.vocab,
                "dtype": f.dtype,
            },
            "cluster": self.request.cluster
            if isinstance(self.request.cluster, str)
            else self.request.cluster.name,
            "gpus": self.request.gpus,
            "global_batch": self.request.global_batch,
            "kernels": self.request.kernels,
            "plans": [
                plan_json(
                    ev, f, self.request.global_batch, self.request.gpus, self.peak, self.flops
                )
                for ev in self.result.plans
            ],
            "search_s": self.result.search_s,
            "import_s": self.import_s,
            "evaluated": self.result.evaluated,
            "rejected_over_memory": self.result.rejected_memory,
            "notes": self.notes,
        }


def _zoo_shape(name: str, overrides: Overrides) -> dict[str, Any] | None:
    """The zoo configuration with overrides applied (None: not a zoo model)."""
    from frontends import zoo

    try:
        key, base = zoo._lookup(name)  # noqa: SLF001 - the zoo's own table
    except TandemError:
        return None
    return vars(zoo._apply(key, base, overrides))  # noqa: SLF001


def import_template(
    model: str, overrides: Overrides, batch: int, dtype: str, pad_vocab: bool = True
) -> tuple[Template, list[str]]:
    """The planning template of `model` (see the module docstring) and notes about it;
    `pad_vocab=False` keeps the vocabulary as given (the co-design search pads it itself)."""
    import time

    from backends.interpreter import entry
    from frontends.importer import import_model
    from frontends.user_model import resolve_model

    notes: list[str] = []
    shape = _zoo_shape(model, overrides)
    total = None
    changes: dict[str, Any] = {"batch": batch, "dtype": overrides.dtype or dtype}
    if shape is not None:
        total = shape["layers"]
        changes["layers"] = TEMPLATE_LAYERS  # a 1- or 2-layer model too: its layers are alike
        vocab = shape["vocab"]
        if pad_vocab and vocab % VOCAB_MULTIPLE:
            padded = -(-vocab // VOCAB_MULTIPLE) * VOCAB_MULTIPLE
            changes["vocab"] = padded
            notes.append(f"vocabulary {vocab} padded to {padded} (Megatron-LM pads to 128 x t)")
    fields = {**overrides.set_fields(), **changes}
    t0 = time.perf_counter()
    spec = resolve_model(
        model,
        Overrides(**fields) if shape is not None else Overrides(),
        training=True,
        device="meta",
    )
    fn = entry(import_model(spec, verify=False))  # the planner only reads shapes
    del t0
    template = Template(fn, batch if shape is not None else _batch(fn), total)
    return template, notes


def _batch(fn) -> int:
    from passes.place import _batch_of

    return _batch_of(fn)


def plan(
    model: str,
    overrides: Overrides = Overrides(),
    *,
    cluster: str = "dgx-a100-80gb",
    gpus: int,
    global_batch: int,
    fixed: Fixed | None = None,
    top: int = 5,
    kernels: str = "fused",
    progress: Callable[[int, int], None] | None = None,
    pad_vocab: bool = True,
) -> PlanReport:
    """The `top` fastest plans that fit, best first (see the module docstring)."""
    import time

    fixed = fixed or Fixed()
    cl = load_cluster(cluster)
    device = cl.device_target
    try:
        device.peak_flops("bf16")
        dtype = "bf16"
    except TandemError:
        dtype = "f16"
    dtype = overrides.dtype or dtype
    batch = fixed.microbatch or max(MICROBATCHES)
    if fixed.microbatch is None and global_batch < batch:
        batch = max(m for m in MICROBATCHES if m <= global_batch)
    request = Request(cluster, gpus, global_batch, fixed, kernels)
    check_request(request, cl)  # bad input fails before the slow import
    t0 = time.perf_counter()
    template, notes = import_template(model, overrides, batch, dtype, pad_vocab)
    import_s = time.perf_counter() - t0
    result = search(template, request, top=top, progress=progress)
    peak = device.peak_flops(template.facts.dtype if template.facts.dtype != "f32" else "f32")
    return PlanReport(model, request, template.facts, result, peak, notes, import_s, template)
