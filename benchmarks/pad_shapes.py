"""Benchmark of pad-shapes and the shape advisor (predictions of the A100 cost model).

    .venv/bin/python benchmarks/pad_shapes.py [--target a100-sxm4-40gb] [--skip-175b]

Prints
1. the predicted speed-up from pad-shapes on real training IR (GPT-2 at b=8, GPT-3 2.7B at
   b=4; f16), over the time of all GEMMs and attention ops, with the per-group table;
2. the advisor's headline numbers (GPT-2 vocabulary, GPT-3 2.7B head dim, forward layer at
   b=4, s=2048 as in the paper: measured +18%);
3. the wall-clock time of the pass on GPT-3 175B training IR (import not included).
"""

from __future__ import annotations

import argparse
import io
import sys
import time
from contextlib import redirect_stderr


def pass_speedup(name: str, batch: int, target: str) -> None:
    import tandem.api as api
    from tandem.pipeline import run_pipeline

    ir = api.import_model(name, api.Overrides(batch=batch, dtype="f16"), training=True)
    table = io.StringIO()
    with redirect_stderr(table):
        run_pipeline(ir, f"pad-shapes{{target={target} verbose=true}}")
    gain = ir.attributes["pad.gain"].value.data if "pad.gain" in ir.attributes else 0.0
    print(
        f"\n{name} training, b={batch}, f16: predicted GEMM+attention time "
        f"-{100 * gain:.1f}% (speed-up {1 / (1 - gain):.3f}x)"
    )
    print(table.getvalue().rstrip())


def advisor_headlines(target_name: str) -> None:
    from backends.advisor import Estimator, advise, shape_from_config
    from backends.targets import load_target
    from frontends.zoo import Overrides, build_model

    target = load_target(target_name)
    for training in (False, True):
        gpt2 = shape_from_config(build_model("gpt2", Overrides(batch=8), device="meta").config)
        vocab = advise(gpt2, target, training=training).find("vocabulary").to_json()
        mode = "training" if training else "forward"
        print(
            f"advisor, gpt2 b=8 {mode}: vocabulary {vocab['current']} -> {vocab['recommended']}: "
            f"model throughput {100 * vocab['model_throughput_change']:+.1f}%, time per token "
            f"{100 * vocab['time_per_token_change']:+.1f}% (nanoGPT: about 25% faster end to end)"
        )
    shape = shape_from_config(build_model("gpt3-2.7b", Overrides(batch=4), device="meta").config)
    for kernels in ("fused", "eager", "flash"):  # Megatron (materialised), SDPA, FlashAttention
        est = Estimator(target, training=False, kernels=kernels)
        a32, a20 = est.estimate(shape), est.estimate(shape.replace(heads=20, kv_heads=20))
        print(
            f"advisor, gpt3-2.7b b=4 s=2048 one layer forward, {kernels} kernels: "
            f"h/a=80 {a32.layer_tflops:.0f} TFLOP/s, h/a=128 {a20.layer_tflops:.0f} TFLOP/s, "
            f"{100 * (a20.layer_tflops / a32.layer_tflops - 1):+.1f}% "
            f"(paper, non-flash: 119 -> 141, +18%)"
        )
    heads = advise(shape, target).find("head dim")
    print(f"advisor, gpt3-2.7b: recommends head dim {heads.recommended.value}")


def pass_time_175b(target: str) -> None:
    import tandem.api as api
    from tandem.pipeline import run_pipeline

    t0 = time.perf_counter()
    ir = api.import_model("gpt3-175b", api.Overrides(dtype="f16"), training=True)
    t1 = time.perf_counter()
    ops = sum(1 for _ in ir.walk())
    run_pipeline(ir, f"pad-shapes{{target={target}}}")
    t2 = time.perf_counter()
    print(
        f"\npad-shapes on gpt3-175b training IR ({ops} ops): {t2 - t1:.2f} s "
        f"(import {t1 - t0:.1f} s, not counted)"
    )


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--target", default="a100-sxm4-40gb")
    p.add_argument("--skip-175b", action="store_true", help="skip the GPT-3 175B timing")
    args = p.parse_args()
    from tandem.commands.common import quiet

    quiet()
    pass_speedup("gpt2", 8, args.target)
    pass_speedup("gpt3-2.7b", 4, args.target)
    print()
    advisor_headlines(args.target)
    if not args.skip_175b:
        pass_time_175b(args.target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
