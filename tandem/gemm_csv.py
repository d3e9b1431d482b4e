"""Cost a CSV of GEMM shapes: ``tandem cost gemm --target T --csv in.csv [-o out.csv]``.

Input: a header row naming at least ``batch,m,n,k`` (optional ``dtype`` and ``sparsity``;
other columns are kept as they are). Output: the same rows with ``predicted_seconds`` and
``predicted_tflops`` appended (replaced if already present).
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from backends.cost import gemm_cost
from backends.targets import load_target
from ir.dtypes import parse_dtype
from ir.errors import TandemError
from ir.source import read_text
from tandem.files import write_text

REQUIRED = ("batch", "m", "n", "k")
OUTPUT = ("predicted_seconds", "predicted_tflops")


# Largest GEMM dimension: BLAS libraries index with 32-bit integers.
MAX_DIM = 2**31 - 1


def _int(value: str, col: str, where: str) -> int:
    try:
        v = int(value.strip())
    except ValueError:
        v = 0
    if v < 1:
        raise TandemError(f"{where}: column {col!r} must be a positive integer, got {value!r}")
    if v > MAX_DIM:
        raise TandemError(f"{where}: column {col!r} must be at most {MAX_DIM:,}, got {value!r}")
    return v


def cost_gemm_csv(
    target_name_or_path: str, in_csv: str | Path, out_csv: str | Path | None = None
) -> str:
    """Predict every GEMM of ``in_csv``; write ``out_csv`` atomically; return the CSV text."""
    target = load_target(target_name_or_path)
    path = Path(in_csv)
    name = path.name
    text = read_text(path, "CSV")
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise TandemError(
            f"{name}: line 1: empty file; expected a header with {', '.join(REQUIRED)}"
        )
    cols = [h.strip() for h in header]
    missing = [c for c in REQUIRED if c not in cols]
    if missing:
        raise TandemError(
            f"{name}: line 1: header must name columns {', '.join(REQUIRED)} "
            f"(missing {', '.join(missing)}; got {', '.join(cols)})"
        )
    idx = {c: cols.index(c) for c in cols}
    keep = [i for i, c in enumerate(cols) if c not in OUTPUT]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([cols[i] for i in keep] + list(OUTPUT))
    for row in reader:
        where = f"{name}: line {reader.line_num}"
        if not any(cell.strip() for cell in row):
            continue
        if len(row) != len(cols):
            raise TandemError(f"{where}: expected {len(cols)} columns, got {len(row)}")
        b, m, n, k = (_int(row[idx[c]], c, where) for c in REQUIRED)
        dtype = row[idx["dtype"]].strip() if "dtype" in idx else ""
        dtype = dtype or "f16"
        try:
            dtype = parse_dtype(dtype)
            target.peak_flops(dtype)
        except TandemError as e:
            raise TandemError(f"{where}: column 'dtype': {e}") from None
        sparsity = 0.0
        if "sparsity" in idx and row[idx["sparsity"]].strip():
            raw = row[idx["sparsity"]]
            try:
                sparsity = float(raw)
            except ValueError:
                sparsity = -1.0
            if not 0.0 <= sparsity < 1.0:
                raise TandemError(
                    f"{where}: column 'sparsity' must be a number in [0, 1), got {raw!r}"
                )
        c = gemm_cost(target, b, m, n, k, dtype, sparsity)
        writer.writerow([row[i] for i in keep] + [f"{c.seconds:.6e}", f"{c.tflops:.3f}"])
    result = out.getvalue()
    if out_csv is not None:
        write_text(out_csv, result)
    return result
