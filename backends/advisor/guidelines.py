"""The Advisor: per sizing guideline of Anthony et al. (arXiv 2401.14489), nearby candidate
shapes, each estimated, and the one recommended.

    adv = Advisor(gpt2_shape, Estimator(a100), budget=0.05, max_head_dim=128)
    adv.vocabulary()    # Advice: 50257 -> 50304 (a multiple of 64*t), model throughput +25.4%
    adv.heads()         # head dim h/a a multiple of 64, up to max_head_dim
    adv.hidden(), adv.ffn(), adv.microbatch(), adv.tensor_parallel()

The paper's "multiple of 64" is the A100's tensor-core alignment (128 bytes of fp16); on a GPU
target the step is the target's own (`GpuTarget.align_elements`: 64 fp16 on A100/H100, 8 on
V100), and 64 on accelerator templates.

Shape changes stay within `budget` (relative parameter count); a candidate must beat the
current value by more than KEEP_WITHIN (2%, the cost model's error) to be recommended.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from backends.advisor.estimate import Estimate, Estimator
from backends.advisor.report import Advice, Candidate
from backends.advisor.shape import ModelShape, param_count
from backends.targets import GpuTarget, Target
from ir.errors import TandemError

MICROBATCHES = (1, 2, 4, 8, 16, 32, 64)
TENSOR_PARALLEL = (1, 2, 4, 8)
KEEP_WITHIN = (
    0.02  # keep the current value unless a candidate is predicted >2% better (model error)
)


def round_up(x: int, m: int) -> int:
    return -(-x // m) * m


def pow2_divisor(x: int) -> int:
    """Largest power of two dividing x."""
    return x & -x if x > 0 else 0


def alignment_step(target: Target, dtype: str) -> int:
    """Elements a dimension should be a multiple of: the GPU's tensor-core alignment (64 fp16
    on A100/H100, 8 on V100), or the paper's 64 on other targets."""
    return target.align_elements(dtype) if isinstance(target, GpuTarget) else 64


class Advisor:
    """Evaluates candidate shapes per guideline; see `advise`."""

    def __init__(self, shape: ModelShape, est: Estimator, budget: float, max_head_dim: int) -> None:
        self.shape, self.est, self.budget, self.max_head_dim = shape, est, budget, max_head_dim
        self.align = alignment_step(est.target, est.dtype)
        self.base = est.estimate(shape)
        self.capacity = getattr(est.target, "mem_capacity", float("inf"))

    def cand(self, value: str, shape: ModelShape) -> Candidate:
        e = self.est.estimate(shape, self.shape)
        return Candidate(value, shape, e, self._fits(shape, e))

    def _fits(self, shape: ModelShape, e: Estimate) -> bool:
        return e.memory_bytes <= self.capacity

    def within_budget(self, shape: ModelShape) -> bool:
        p = param_count(shape, self.shape)
        return abs(p / self.base.params - 1.0) <= self.budget + 1e-12

    def pick(
        self, current: Candidate, cands: list[Candidate], score: Callable[[Candidate], float]
    ) -> Candidate:
        """The best-scoring candidate (higher is better), unless current is within KEEP_WITHIN."""
        best = max(cands, key=score, default=current)
        if score(current) >= score(best) * (1 - KEEP_WITHIN):
            return current
        return best

    # -- guidelines

    def vocabulary(self) -> Advice:
        s = self.shape
        step = self.align * s.tp
        rule = f"multiple of {self.align}*t = {step}"
        current = self.cand(str(s.vocab), s)
        if s.vocab % step == 0:
            return Advice("vocabulary", rule, current, current, "already a multiple", [current])
        values = sorted({round_up(s.vocab, step * m) for m in (1, 2, 4)})
        cands = [self.cand(str(v), s.replace(vocab=v)) for v in values]
        cands = [c for c in cands if self.within_budget(c.shape)]
        if not cands:
            return Advice(
                "vocabulary", rule, current, current, "padding exceeds the budget", [current]
            )
        best = min(cands, key=lambda c: c.estimate.model_seconds)
        if best.estimate.model_seconds >= current.estimate.model_seconds:
            return Advice(
                "vocabulary",
                rule,
                current,
                current,
                "padding predicted no faster",
                [current, *cands],
            )
        note = f"pad {best.shape.vocab - s.vocab} unused tokens"
        return Advice("vocabulary", rule, current, best, note, [current, *cands])

    def heads(self) -> Advice:
        s = self.shape
        rule = f"h/a a multiple of {self.align}, up to {self.max_head_dim}"
        current = self.cand(f"{s.head_dim} (a={s.heads})", s)
        cands = [current]
        for a in range(1, s.hidden + 1):
            if s.hidden % a or a % s.tp or a == s.heads:
                continue
            d = s.hidden // a
            if d % self.align or not 64 <= d <= self.max_head_dim:
                continue
            ratio = s.heads // s.kv_heads
            kv = a // ratio if a % ratio == 0 and (a // ratio) % s.tp == 0 else a
            cands.append(self.cand(f"{d} (a={a})", s.replace(heads=a, kv_heads=kv)))
        best = self.pick(current, cands, lambda c: -c.estimate.model_seconds)
        note = "attention GEMMs run faster" if best is not current else "already the fastest"
        return Advice("head dim", rule, current, best, note, cands)

    def hidden(self) -> Advice:
        s = self.shape
        step = self.align * s.tp
        rule = "h/t divisible by a high power of 2"
        current = self.cand(str(s.hidden), s)
        cands = [current]
        span = int(s.hidden * (self.budget + 0.01)) + step
        for h in range(round_up(max(step, s.hidden - span), step), s.hidden + span + 1, step):
            if h == s.hidden:
                continue
            new = self._with_hidden(h)
            if new is not None and self.within_budget(new):
                cands.append(self.cand(str(h), new))
        best = self.pick(
            current,
            cands,
            lambda c: (
                c.estimate.model_tflops
                * (1 + 1e-4 * math.log2(pow2_divisor(c.shape.hidden // c.shape.tp)))
            ),
        )
        note = f"h/t = {pow2_divisor(best.shape.hidden // s.tp)} x odd"
        return Advice("hidden size", rule, current, best, note, cands)

    def _with_hidden(self, h: int) -> ModelShape | None:
        s = self.shape
        d = s.head_dim
        a = h // d if h % d == 0 else (s.heads if h % s.heads == 0 else 0)
        if a == 0 or a % s.tp:
            return None
        ratio = s.heads // s.kv_heads
        kv = a // ratio if a % ratio == 0 else a
        if s.ffn == 4 * s.hidden:
            ffn = 4 * h
        else:
            ffn = round_up(round(s.ffn * h / s.hidden), self.align * s.tp)
        return s.replace(hidden=h, heads=a, kv_heads=kv, ffn=ffn)

    def ffn(self) -> Advice:
        s = self.shape
        step = (max(256, self.align) if s.gated else self.align) * s.tp
        ideal = 8 * s.hidden / 3 if s.gated else 4 * s.hidden
        rule = (
            f"multiple of {step} near 8h/3 = {ideal:.0f}"
            if s.gated
            else f"multiple of {step} near 4h = {ideal:.0f}"
        )
        current = self.cand(str(s.ffn), s)
        cands = [current]
        span = int(s.ffn * 0.25) + step
        for f in range(round_up(max(step, s.ffn - span), step), s.ffn + span + 1, step):
            new = s.replace(ffn=f)
            if f != s.ffn and self.within_budget(new):
                cands.append(self.cand(str(f), new))
        best = self.pick(current, cands, lambda c: c.estimate.model_tflops)
        note = "MLP GEMMs run faster" if best is not current else "already the fastest nearby"
        return Advice("FFN width", rule, current, best, note, cands)

    def microbatch(self) -> Advice:
        s = self.shape
        rule = "b as large as memory allows; b*s a power of 2"
        current = self.cand(f"{s.batch} (b*s={s.batch * s.seq})", s)
        cands = [current] + [
            self.cand(f"{b} (b*s={b * s.seq})", s.replace(batch=b))
            for b in MICROBATCHES
            if b != s.batch
        ]
        cands.sort(key=lambda c: c.shape.batch)
        fitting = [c for c in cands if c.fits]
        note = ""
        if not fitting:
            fitting = [c for c in cands if self.est.activation_bytes(c.shape) <= self.capacity]
            note = "model states do not fit one GPU (shard them); "
        best = self.pick(current, fitting or [current], lambda c: c.estimate.model_tflops)
        bs = best.shape.batch * s.seq
        note += f"b*s = {bs} = {pow2_divisor(bs)} x {bs // pow2_divisor(bs)}"
        return Advice("microbatch", rule, current, best, note, cands)

    def tensor_parallel(self) -> Advice:
        s = self.shape
        rule = "t as small as memory allows; h/t, a/t, b*a/t integers"
        current = self.cand(str(s.tp), s)
        cands = []
        for t in TENSOR_PARALLEL:
            new = s.replace(tp=t)
            try:
                new.check()
            except TandemError:
                continue
            cands.append(current if t == s.tp else self.cand(str(t), new))
        fitting = [c for c in cands if c.fits]
        if fitting:
            best = min(fitting, key=lambda c: c.shape.tp)
            note = f"smallest t that fits {self.capacity / 1e9:.0f} GB"
        else:
            best = current
            note = f"no t <= {TENSOR_PARALLEL[-1]} fits {self.capacity / 1e9:.0f} GB (use pipeline/ZeRO)"
        return Advice("tensor parallel", rule, current, best, note, cands)
