"""Import speed and memory at scale (issue 2): llama-7b-shaped (seq 2048) inference and
gpt3-175b-shaped training, built on the meta device, imported to tfm and verified.

    python benchmarks/import_scale.py

Each case runs in a fresh process so peak memory (max RSS) is its own.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

CASES = [
    ("llama-7b", False, {"seq": 2048}, "under 15 s and 2 GB"),
    ("gpt3-175b", True, {}, "under 60 s"),
    ("gpt2", True, {}, ""),
]

CHILD = r"""
import json, resource, sys, time, warnings
warnings.filterwarnings("ignore")
t0 = time.time()
from frontends.zoo import Overrides, build_model
from frontends.importer import import_model
name, training, over = sys.argv[1], sys.argv[2] == "1", json.loads(sys.argv[3])
spec = build_model(name, Overrides(**over), training=training, device="meta")
t1 = time.time()
ir = import_model(spec, verify=False)
t2 = time.time()
ir.verify()
t3 = time.time()
ops = sum(1 for op in ir.walk() if op.name.startswith("tfm."))
rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
print(json.dumps({"build_s": t1 - t0, "import_s": t2 - t1, "verify_s": t3 - t2, "total_s": t3 - t0,
                  "ops": ops, "params": spec.config["params"], "max_rss_bytes": rss}))
"""


def main() -> int:
    print(
        f"{'model':<12} {'mode':<9} {'params':>9} {'tfm ops':>8} {'build':>7} {'import':>7} {'verify':>7} {'total':>7} {'peak RSS':>9}  target"
    )
    for name, training, over, target in CASES:
        start = time.time()
        out = subprocess.run(
            [sys.executable, "-c", CHILD, name, "1" if training else "0", json.dumps(over)],
            capture_output=True,
            text=True,
        )
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        mode = "training" if training else "inference"
        print(
            f"{name:<12} {mode:<9} {r['params'] / 1e9:>8.1f}B {r['ops']:>8} {r['build_s']:>6.1f}s {r['import_s']:>6.1f}s "
            f"{r['verify_s']:>6.2f}s {r['total_s']:>6.1f}s {r['max_rss_bytes'] / 2**30:>7.2f}GB  {target}"
            f"  (wall incl. interpreter start {time.time() - start:.1f}s)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
