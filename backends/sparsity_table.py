"""Measured DynaProp sparsity as a table, and an IR annotated from it without running it.

    table = load_table("bert-base-tau0.06.json")    # `tandem sparsity --table` (or `--json`)
    table.check(tau_fwd=0.06, tau_bwd=1e-4, backward=False)
    annotate_from_table(fn, table)                  # a shape-only (meta) IR, pruned

The table (JSON) holds, per DynaProp site, layer and phase, the measured fraction of zeros
(`sites`: what `tandem sparsity --json` prints) and, when measured on the IR with the
reference interpreter, per matmul the zero fractions of both operands and of the
multiply-accumulate pairs (`matmuls`):

    {"tau_fwd": 0.06, "tau_bwd": 0.0001, "pruned_sites": ["q", ...],
     "sites": [{"site": "q", "layer": 0, "phase": "forward", "sparsity": 0.085, "elements": 32768}],
     "matmuls": [{"key": "q@k#0", "layer": 0, "phase": "forward", "lhs": 0.085, "rhs": 0.085,
                  "pairs": 0.163, "macs": 8388608}]}

A matmul is found again in another import of the model (meta device, fewer layers, after
pad-shapes) by its key: the sources of its operands and its rank among the matmuls of its
layer and phase with the same sources. A source is the DynaProp site an operand reads
(through views, conversions, padding and zero-preserving ops such as gelu), `w` for a
weight, `x` for anything else: `q@k#0` is QK^T, `probs@v#0` the context, `context@w#0` the
out-projection, `x@w#1` the second dense projection of the layer.

Each matmul of the IR gets its record of the same layer, else the mean over the measured
layers (weighted by MACs; always with `mean_layers`). A matmul no record describes (a table
of sites only) gets its operands' site sparsity, same layer else mean over layers, and the
pair sparsity 1 - (1 - s_lhs)(1 - s_rhs): zeros of the two operands taken as independent
(measured on BERT's QK^T: 0.163 measured, 0.163 predicted). Padded zeros added by
pad-shapes are not counted (the padded matmul gets the unpadded fractions: conservative).
"""

from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from xdsl.dialects import func
from xdsl.dialects.builtin import DictionaryAttr, StringAttr
from xdsl.ir import BlockArgument, Operation, SSAValue

from ir import attrs
from ir import binary_ops as bi
from ir import unary_ops as un
from ir.base import TfmOp
from ir.elementwise_ops import ConstantOp, ConvertOp
from ir.errors import TandemError
from ir.linalg_ops import MatmulOp
from ir.shape_ops import PadOp
from ir.sparse_ops import PruneOp
from ir.types import numel

# f(0) = 0 and f(x) != 0 elsewhere: an operand read through these has its source's zeros
ZERO_PRESERVING = (un.GeluOp, un.SiluOp, un.ReluOp, un.TanhOp, un.NegOp, un.AbsOp, un.ErfOp)
MAX_SPARSITY = 1.0 - 1e-9  # annotations stay in [0, 1): an all-zero operand is this
TAU_RTOL = 1e-9

Key = tuple[str, int | None, str]  # (matmul key or site, layer, phase)


# ---------------------------------------------------------------------------- keys


def _params(fn: func.FuncOp) -> set[SSAValue]:
    out: set[SSAValue] = set()
    entries = fn.arg_attrs.data if fn.arg_attrs is not None else []
    for arg, d in zip(fn.body.block.args, entries, strict=False):
        if isinstance(d, DictionaryAttr) and isinstance(d.data.get(attrs.PARAM), StringAttr):
            out.add(arg)
    return out


def _scalar(v: SSAValue) -> bool:
    return isinstance(v.owner, ConstantOp) and numel(v) == 1


def source(v: SSAValue, params: set[SSAValue]) -> str:
    """The DynaProp site `v` reads (see the module doc), `w` (a weight) or `x`."""
    while True:
        if isinstance(v, BlockArgument):
            return "w" if v in params else "x"
        op = v.owner
        assert isinstance(op, Operation)
        if isinstance(op, PruneOp):
            return attrs.read_str(op, attrs.DYNAPROP_SITE) or "prune"
        one_input = isinstance(op, TfmOp) and op.IS_VIEW and len(op.operands) == 1
        if one_input or isinstance(op, (ConvertOp, PadOp, *ZERO_PRESERVING)):
            v = op.operands[0]
        elif isinstance(op, bi.MulOp | bi.DivOp) and _scalar(op.operands[1]):
            v = op.operands[0]
        elif isinstance(op, bi.MulOp) and _scalar(op.operands[0]):
            v = op.operands[1]
        else:
            return "x"


def matmul_keys(fn: func.FuncOp) -> dict[MatmulOp, tuple[Key, tuple[str, str]]]:
    """Every matmul of `fn`: ((key, layer, phase), (lhs source, rhs source))."""
    params = _params(fn)
    seen: dict[tuple, int] = {}
    out: dict[MatmulOp, tuple[Key, tuple[str, str]]] = {}
    for op in fn.body.block.ops:
        if not isinstance(op, MatmulOp):
            continue
        src = (source(op.lhs, params), source(op.rhs, params))
        layer, phase = attrs.layer_of(op), attrs.phase_of(op)
        rank = seen.get((*src, layer, phase), 0)
        seen[(*src, layer, phase)] = rank + 1
        out[op] = ((f"{src[0]}@{src[1]}#{rank}", layer, phase), src)
    return out


# ---------------------------------------------------------------------------- the table


@dataclass(frozen=True)
class Record:
    """One matmul's measured fractions (lhs, rhs, pairs) and its MAC count."""

    lhs: float
    rhs: float
    pairs: float
    macs: int


@dataclass
class SparsityTable:
    """A measurement (see the module doc); `source` names it in errors."""

    source: str
    tau_fwd: float
    tau_bwd: float | None
    pruned_sites: tuple[str, ...] | None
    sites: dict[Key, tuple[float, int]] = field(default_factory=dict)  # sparsity, elements
    matmuls: dict[Key, Record] = field(default_factory=dict)

    def check(self, tau_fwd: float, tau_bwd: float, sites: tuple[str, ...], backward: bool) -> None:
        """An error (one line) unless measured with these settings."""

        def differ(a: float, b: float) -> bool:
            return not math.isclose(a, b, rel_tol=TAU_RTOL, abs_tol=0.0)

        where = f"measured={self.source}"
        if differ(self.tau_fwd, tau_fwd):
            raise TandemError(
                f"{where} was measured at tau-fwd={self.tau_fwd:g}, the pass has {tau_fwd:g}"
            )
        if backward and self.tau_bwd is not None and differ(self.tau_bwd, tau_bwd):
            raise TandemError(
                f"{where} was measured at tau-bwd={self.tau_bwd:g}, the pass has {tau_bwd:g}"
            )
        if self.pruned_sites is not None and set(self.pruned_sites) != set(sites):
            raise TandemError(
                f"{where} was measured with sites={','.join(self.pruned_sites) or 'none'}, "
                f"the pass has sites={','.join(sites) or 'none'}"
            )

    def record(self, key: Key, mean: bool = False) -> Record | None:
        """The matmul's record of its layer, else the MAC-weighted mean over the measured
        layers (a matmul outside the blocks: its own record only)."""
        if (not mean or key[1] is None) and key in self.matmuls:
            return self.matmuls[key]
        if key[1] is None:  # outside the blocks: only its own record
            return None
        rows = [
            r
            for k, r in self.matmuls.items()
            if k[0] == key[0] and k[2] == key[2] and k[1] is not None
        ]
        macs = sum(r.macs for r in rows)
        if not rows or macs <= 0:
            return None

        def avg(name: str) -> float:
            return sum(getattr(r, name) * r.macs for r in rows) / macs

        return Record(avg("lhs"), avg("rhs"), avg("pairs"), macs // len(rows))

    def site(self, key: Key, mean: bool = False) -> float | None:
        """A site's sparsity in its layer, else the element-weighted mean over layers."""
        if (not mean or key[1] is None) and key in self.sites:
            return self.sites[key][0]
        rows = [
            v
            for k, v in self.sites.items()
            if k[0] == key[0] and k[2] == key[2] and (k[1] is not None or key[1] is None)
        ]
        n = sum(e for _, e in rows)
        return sum(s * e for s, e in rows) / n if rows and n > 0 else None

    def summary(self) -> dict[str, float]:
        """Overall fractions: `forward` (zeros over the forward sites' elements) and
        `macs` (zero pairs over the MACs of the blocks' matmuls, forward and backward)."""
        out: dict[str, float] = {}
        fwd = [v for k, v in self.sites.items() if k[2] == attrs.FORWARD]
        n = sum(e for _, e in fwd)
        if n:
            out["forward"] = sum(s * e for s, e in fwd) / n
        rows = [r for k, r in self.matmuls.items() if k[1] is not None]
        macs = sum(r.macs for r in rows)
        if macs:
            out["macs"] = sum(r.pairs * r.macs for r in rows) / macs
        return out


def _number(d: dict, name: str, where: str, *, optional: bool = False) -> float | None:
    v = d.get(name)
    if v is None and optional:
        return None
    if isinstance(v, bool) or not isinstance(v, int | float) or not math.isfinite(v):
        raise TandemError(f"{where}: {name!r} must be a number, got {v!r}")
    return float(v)


def _layer(row: dict, where: str) -> int | None:
    layer = row.get("layer")
    if layer is not None and (isinstance(layer, bool) or not isinstance(layer, int)):
        raise TandemError(f"{where}: 'layer' must be an integer or null, got {layer!r}")
    return layer


def table_from_json(data: Any, source: str) -> SparsityTable:
    """A table from the JSON `tandem sparsity --table` (or `--json`) writes."""
    if not isinstance(data, dict):
        raise TandemError(f"{source}: expected a JSON object (tandem sparsity --table)")
    if "sweep" in data:
        raise TandemError(f"{source}: holds a sweep; measure one tau-fwd (without --sweep)")
    if not isinstance(data.get("sites"), list):
        raise TandemError(f"{source}: no 'sites' list (write it with tandem sparsity --table)")
    pruned = data.get("pruned_sites")
    tau_bwd = _number(data, "tau_bwd", source, optional=True)
    table = SparsityTable(
        source,
        _number(data, "tau_fwd", source) or 0.0,
        tau_bwd,
        tuple(str(s) for s in pruned) if isinstance(pruned, list) else None,
    )
    for i, row in enumerate(data["sites"]):
        where = f"{source}: sites[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("site"), str):
            raise TandemError(f"{where}: expected an object with 'site', 'layer', 'phase'")
        s = _number(row, "sparsity", where) or 0.0
        key = (row["site"], _layer(row, where), str(row.get("phase", attrs.FORWARD)))
        table.sites[key] = (s, int(_number(row, "elements", where) or 0))
    for i, row in enumerate(data.get("matmuls") or []):
        where = f"{source}: matmuls[{i}]"
        if not isinstance(row, dict) or not isinstance(row.get("key"), str):
            raise TandemError(f"{where}: expected an object with 'key', 'layer', 'phase'")
        key = (row["key"], _layer(row, where), str(row.get("phase", attrs.FORWARD)))
        lhs, rhs, pairs = (_number(row, n, where) or 0.0 for n in ("lhs", "rhs", "pairs"))
        if not all(0.0 <= f <= 1.0 for f in (lhs, rhs, pairs)):
            raise TandemError(f"{where}: fractions must be in [0, 1], got {[lhs, rhs, pairs]}")
        table.matmuls[key] = Record(lhs, rhs, pairs, int(_number(row, "macs", where) or 0))
    return table


@functools.lru_cache(maxsize=32)
def _load(path: str, stamp: tuple[int, int]) -> SparsityTable:
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise TandemError(f"{path}: not a readable JSON file ({type(e).__name__})") from None
    return table_from_json(data, path)


def load_table(path: str | Path) -> SparsityTable:
    """The table in `path` (read once per file version)."""
    p = Path(path)
    if not p.is_file():
        raise TandemError(f"{p}: no such file (a measurement from tandem sparsity --table)")
    st = p.stat()
    return _load(str(p), (st.st_mtime_ns, st.st_size))


# ---------------------------------------------------------------------------- annotation


@dataclass
class Annotated:
    """How `annotate_from_table` found each matmul's sparsity."""

    records: int = 0  # from the matmul's own record (or its mean over layers)
    independent: int = 0  # from its operands' sites, pairs taken as independent
    sparse: int = 0  # matmuls annotated (a zero fraction > 0)


def annotate_from_table(
    fn: func.FuncOp, table: SparsityTable, *, mean_layers: bool = False
) -> Annotated:
    """Write `sparsity`, `sparsity.lhs`, `sparsity.rhs` on each matmul of `fn` from `table`
    (see the module doc); a matmul with no zeros to skip has none of them."""
    done = Annotated()
    for op, (key, (lhs_src, rhs_src)) in matmul_keys(fn).items():
        rec = table.record(key, mean_layers)
        if rec is not None:
            lhs, rhs, pairs = rec.lhs, rec.rhs, rec.pairs
            done.records += 1
        else:
            lhs, rhs = (_site(table, op, s, key, mean_layers) for s in (lhs_src, rhs_src))
            pairs = 1.0 - (1.0 - lhs) * (1.0 - rhs)
            done.independent += 1
        for name in (attrs.SPARSITY, attrs.SPARSITY_LHS, attrs.SPARSITY_RHS):
            op.attributes.pop(name, None)
        if pairs <= 0:
            continue
        op.attributes[attrs.SPARSITY] = attrs.f64_attr(min(pairs, MAX_SPARSITY))
        op.attributes[attrs.SPARSITY_LHS] = attrs.f64_attr(min(lhs, MAX_SPARSITY))
        op.attributes[attrs.SPARSITY_RHS] = attrs.f64_attr(min(rhs, MAX_SPARSITY))
        done.sparse += 1
    return done


def _site(table: SparsityTable, op: Operation, src: str, key: Key, mean: bool) -> float:
    if src in ("w", "x"):
        return 0.0
    s = table.site((src, key[1], key[2]), mean)
    if s is None:
        raise TandemError(
            f"{attrs.where(op)}: measured={table.source} has no sparsity for site {src!r} "
            f"({key[2]})"
        )
    return s
