"""Simulator speed and sanity at scale: gpt3-175b-shaped training and llama-7b inference.

    python benchmarks/simulate_large.py [--target a100-sxm4-80gb] [--dtype bf16]

For each case: time to import (meta device), to fuse (`fuse{kernels=flash}`, the default
kernels; `--kernels` for another preset) and to simulate, op, kernel and distinct-op counts,
the simulated latency, achieved TFLOP/s and utilisation on one device. For the GPT-3 training
step it also prints the FLOP/s in Megatron's accounting (Narayanan et al., SC'21:
72 B s L h^2 (1 + s/(6h) + v/(16 L h)) FLOPs per step without recomputation, which is what
the imported graph does) next to their measured 135-148 TFLOP/s per A100, for context only:
their runs recompute activations (96 instead of 72) and add tensor/pipeline/data-parallel
communication and pipeline bubbles that one simulated device does not have.
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings

CASES = [
    ("gpt3-175b", True, {}),
    ("llama-7b", False, {"seq": 2048}),
]
MEGATRON_TFLOPS = (135, 148)


def megatron_flops(cfg: dict, factor: int) -> float:
    b, s, n, h, v = cfg["batch"], cfg["seq"], cfg["layers"], cfg["hidden"], cfg["vocab"]
    return factor * b * s * n * h * h * (1 + s / (6 * h) + v / (16 * n * h))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--target", default="a100-sxm4-80gb")
    ap.add_argument("--dtype", default="bf16", choices=["f32", "f16", "bf16"])
    ap.add_argument("--kernels", default="flash", choices=["eager", "fused", "flash", "inductor"])
    args = ap.parse_args()
    warnings.filterwarnings("ignore")

    from backends.sim import simulate
    from backends.targets import load_target
    from frontends.importer import import_model
    from frontends.zoo import Overrides, build_model
    from tandem.pipeline import run_pipeline

    target = load_target(args.target)
    print(f"target {target.name}, dtype {args.dtype}, kernels {args.kernels}")
    for name, training, over in CASES:
        t0 = time.perf_counter()
        spec = build_model(
            name, Overrides(dtype=args.dtype, **over), training=training, device="meta"
        )
        module = import_model(spec)
        t1 = time.perf_counter()
        run_pipeline(module, f"fuse{{kernels={args.kernels}}}")
        tf = time.perf_counter()
        rep = simulate(module, target, name=name)
        t2 = time.perf_counter()
        cfg = spec.config
        mode = "training step" if training else "inference"
        print(
            f"\n{name} {mode}: b={cfg['batch']} s={cfg['seq']} L={cfg['layers']} "
            f"h={cfg['hidden']} ({cfg['params'] / 1e9:.1f} B params)"
        )
        print(f"  import            {t1 - t0:7.2f} s")
        print(f"  fuse              {tf - t1:7.2f} s  ({rep.model['kernels']} kernels)")
        print(
            f"  simulate          {t2 - tf:7.2f} s  ({len(rep.rows)} ops, "
            f"{len(rep.signatures)} distinct, {1e6 * (t2 - tf) / len(rep.rows):.0f} us/op)"
        )
        print(f"  latency           {rep.latency_s:10.4f} s")
        print(
            f"  achieved          {rep.achieved_flops / 1e12:7.1f} TFLOP/s "
            f"({100 * rep.utilisation():.1f}% of {args.dtype} peak "
            f"{target.peak_flops(args.dtype) / 1e12:.0f} TFLOP/s)"
        )
        tps = rep.throughput()["tokens_per_s"]
        if tps:
            print(f"  throughput        {tps:10.1f} tokens/s")
        mem = rep.memory
        print(
            f"  peak memory       {mem['peak_bytes'] / 1e9:7.1f} GB "
            f"({'fits' if mem['fits'] else 'exceeds'} {mem['capacity_bytes'] / 1e9:.0f} GB)"
        )
        if training and cfg["family"] == "gpt3":
            f = megatron_flops(cfg, 72)
            sim = f / rep.latency_s / 1e12
            lo, hi = MEGATRON_TFLOPS
            print(
                f"  Megatron FLOPs    {f / 1e12:7.0f} TFLOP per step (72 B s L h^2 (...), "
                f"no recompute, as simulated) -> {sim:.1f} TFLOP/s"
            )
            print(
                f"  published         {lo}-{hi} TFLOP/s per A100 (Megatron-LM: full recompute, "
                f"3D parallelism); simulated / published = {sim / hi:.2f}-{sim / lo:.2f}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
