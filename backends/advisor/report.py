"""What the advisor returns: per guideline the current value, the recommended one, the changes.

    report = advise(gpt2_shape, a100)
    vocab = report.find("vocabulary")
    vocab.current.value, vocab.recommended.value      # "50257", "50304"
    vocab.to_json()["model_throughput_change"]       # +0.254 (forward, b=8)

`relative_changes` gives the four predicted changes of one Estimate against another.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from backends.advisor.estimate import Estimate
from backends.advisor.shape import ModelShape


def relative_changes(base: Estimate, new: Estimate) -> dict[str, float]:
    """Relative change of layer and model throughput, time per token and parameters."""
    return {
        "layer_throughput_change": new.layer_tflops / base.layer_tflops - 1.0,
        "model_throughput_change": new.model_tflops / base.model_tflops - 1.0,
        "time_per_token_change": new.seconds_per_token / base.seconds_per_token - 1.0,
        "params_change": new.params / base.params - 1.0,
    }


@dataclass
class Candidate:
    """One value of a guideline's knob, the shape it gives and its estimate."""

    value: str
    shape: ModelShape
    estimate: Estimate
    fits: bool = True

    def to_json(self, base: Estimate) -> dict:
        return {
            "value": self.value,
            "fits_memory": self.fits,
            **relative_changes(base, self.estimate),
            "layer_tflops": self.estimate.layer_tflops,
            "model_tflops": self.estimate.model_tflops,
            "model_seconds": self.estimate.model_seconds,
            "params": self.estimate.params,
        }


@dataclass
class Advice:
    """One guideline: the current value, the recommended one and the predicted changes."""

    guideline: str
    rule: str
    current: Candidate
    recommended: Candidate
    note: str = ""
    candidates: list[Candidate] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.recommended.value != self.current.value

    def to_json(self) -> dict:
        base = self.current.estimate
        return {
            "guideline": self.guideline,
            "rule": self.rule,
            "current": self.current.value,
            "recommended": self.recommended.value,
            "changed": self.changed,
            **relative_changes(base, self.recommended.estimate),
            "note": self.note,
            "candidates": [c.to_json(base) for c in self.candidates],
        }


@dataclass
class Report:
    """The advice for one model on one target, with the settings and the baseline estimate."""

    model: str
    target: str
    shape: ModelShape
    settings: dict[str, Any]
    baseline: Estimate
    advice: list[Advice]

    def find(self, guideline: str) -> Advice:
        for a in self.advice:
            if a.guideline == guideline:
                return a
        raise KeyError(guideline)

    def to_json(self) -> dict:
        return {
            "model": self.model,
            "target": self.target,
            "shape": dict(dataclasses.asdict(self.shape)),
            "settings": self.settings,
            "baseline": self.baseline.to_json(),
            "advice": [a.to_json() for a in self.advice],
        }
