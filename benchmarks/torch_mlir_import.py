"""The two frontends side by side (issue 5): torch.export capture vs torch-mlir's fx importer.

    python benchmarks/torch_mlir_import.py

For each model (built on the meta device: shapes only, weights as data-less resources) it
prints the import time of each route, the tfm op counts and both FLOP totals, which must be
equal. Each case runs in a fresh process so one model's imports do not warm the other's.
"""

from __future__ import annotations

import json
import subprocess
import sys

CASES = ["gpt2-tiny", "bert-tiny", "llama-tiny", "gpt2", "bert-base", "llama-7b"]

CHILD = r"""
import json, sys, time, warnings
warnings.filterwarnings("ignore")
from backends.flops import count_module
from frontends.importer import import_model
from frontends.torch_mlir.export import export_torch_mlir
from frontends.torch_mlir_import import import_torch_mlir
from frontends.zoo import build_model
spec = build_model(sys.argv[1], device="meta")
t0 = time.time()
a = import_model(spec)
t1 = time.time()
exported = export_torch_mlir(spec.module, spec.example_inputs)
t2 = time.time()
b = import_torch_mlir(exported.text, "<torch-mlir>", names=exported.names, buffers=exported.buffers).ir
t3 = time.time()
ca, cb = count_module(a), count_module(b)
print(json.dumps({"export_s": t1 - t0, "torch_mlir_s": t2 - t1, "translate_s": t3 - t2,
                  "ops": [ca.ops, cb.ops], "flops": [ca.flops, cb.flops], "mm": [ca.mm_flops, cb.mm_flops],
                  "text_bytes": len(exported.text)}))
"""


def main() -> int:
    print(
        f"{'model':<11} {'torch.export':>12} {'torch-mlir':>10} {'translate':>9} {'tfm ops':>11} "
        f"{'FLOPs (both)':>14} {'equal':>5}"
    )
    ok = True
    for name in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, name], capture_output=True, text=True)
        if out.returncode != 0:
            print(f"{name}: failed\n{out.stderr[-2000:]}")
            return 1
        r = json.loads(out.stdout.strip().splitlines()[-1])
        equal = r["flops"][0] == r["flops"][1] and r["mm"][0] == r["mm"][1]
        ok &= equal
        print(
            f"{name:<11} {r['export_s']:>11.2f}s {r['torch_mlir_s']:>9.2f}s {r['translate_s']:>8.2f}s "
            f"{r['ops'][0]:>5}/{r['ops'][1]:<5} {r['flops'][0]:>14.4g} {'yes' if equal else 'NO':>5}"
        )
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
