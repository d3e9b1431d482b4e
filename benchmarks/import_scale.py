"""Import speed and memory at scale (issues 2 and 9): llama-7b-shaped inference (seq 2048) and
gpt3-175b-shaped training, built on the meta device and imported to tfm IR. Identical blocks
past the fourth are stamped, not traced (frontends/stamp.py); `--full` traces every block.

    python benchmarks/import_scale.py          # targets: llama-7b < 3 s, gpt3-175b < 5 s, < 1 GB
    python benchmarks/import_scale.py --full   # the same with every block traced

Each case runs in a fresh process so its peak memory (max RSS) is its own. "libraries" is
importing torch, transformers and Tandem; "import" is building the model on meta, tracing
and stamping (the figure the targets are about); CPU seconds are printed next to wall
seconds because the machine may be shared.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

CASES = [
    ("llama-7b", False, {"seq": 2048}, 3.0),
    ("gpt3-175b", True, {}, 5.0),
]
MEMORY_TARGET = 2**30

CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
t0, c0 = time.perf_counter(), time.process_time()
from frontends.zoo import Overrides, build_model
from frontends.importer import trace_and_import
import transformers.models.gpt2.modeling_gpt2, transformers.models.llama.modeling_llama
t1, c1 = time.perf_counter(), time.process_time()
name, training, over, stamp = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3]), sys.argv[4] == "1"
spec = build_model(name, Overrides(**over), training=training, device="meta")
t2, c2 = time.perf_counter(), time.process_time()
imported = trace_and_import(spec.module, spec.example_inputs, training=training, stamp_blocks=stamp)
t3, c3 = time.perf_counter(), time.process_time()
ops = sum(1 for op in imported.ir.walk() if op.name.startswith("tfm."))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"libraries_s": t1 - t0, "build_s": t2 - t1, "trace_s": t3 - t2,
                  "import_s": t3 - t1, "import_cpu_s": c3 - c1, "ops": ops, "how": imported.how,
                  "params": spec.config["params"], "max_rss_bytes": rss}))
"""


def main() -> int:
    stamp = "--full" not in sys.argv[1:]
    print(
        f"{'model':<10} {'mode':<9} {'params':>7} {'tfm ops':>8} {'libraries':>9} {'build':>6} "
        f"{'trace':>6} {'import':>7} {'(cpu)':>7} {'peak RSS':>9}  target"
    )
    ok = True
    for name, training, over, target in CASES:
        start = time.time()
        out = subprocess.run(
            [
                sys.executable,
                "-c",
                CHILD,
                name,
                str(int(training)),
                json.dumps(over),
                str(int(stamp)),
            ],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        mode = "training" if training else "inference"
        met = r["import_s"] < target and r["max_rss_bytes"] < MEMORY_TARGET
        ok = ok and met
        print(
            f"{name:<10} {mode:<9} {r['params'] / 1e9:>6.1f}B {r['ops']:>8} "
            f"{r['libraries_s']:>8.1f}s {r['build_s']:>5.2f}s {r['trace_s']:>5.2f}s "
            f"{r['import_s']:>6.2f}s {r['import_cpu_s']:>6.2f}s {r['max_rss_bytes'] / 2**30:>7.2f}GB  "
            f"< {target:g} s, < 1 GB: {'met' if met else 'MISSED'}  "
            f"(process {time.time() - start:.1f} s; {r['how']})"
        )
    return 0 if ok or not stamp else 1


if __name__ == "__main__":
    sys.exit(main())
