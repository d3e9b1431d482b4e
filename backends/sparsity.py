"""Measured sparsity on the IR: run the reference interpreter and count zeros.

    measured = measure_sparsity(fn, [args_batch0, args_batch1])
    measured.sites[("ffn_in", 0, "forward")]       # [zeros, elements] of that tfm.prune
    annotate_sparsity(fn, measured)                 # every matmul gets its operands' sparsity

`annotate_sparsity` writes, on each `tfm.matmul` that saw a zero, the fraction of zeros in
each operand (`sparsity.lhs`, `sparsity.rhs`) and the exact fraction of multiply-accumulate
pairs with a zero operand (`sparsity`), counted as

    pairs = sum over batch and k of nnz(A[..., :, k]) * nnz(B[..., k, :])

which is what a pre-sparsity unit feeds its MAC lanes (backends/op_cost.py prices it).
`sparsity_table` writes the same measurement as a table (`backends.sparsity_table`) that
annotates another import of the model (meta device, fewer layers) without running it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from xdsl.dialects import func
from xdsl.ir import Operation

from backends.interpreter import run_function
from backends.sparsity_table import MAX_SPARSITY, matmul_keys
from ir import attrs
from ir.linalg_ops import MatmulOp
from ir.sparse_ops import PruneOp
from ir.sparsity import DynaPropConfig


@dataclass
class MatmulCount:
    """Zeros of one matmul's operands and zero pairs, summed over runs."""

    lhs_zeros: int = 0
    lhs: int = 0
    rhs_zeros: int = 0
    rhs: int = 0
    zero_pairs: int = 0
    pairs: int = 0

    def fractions(self) -> tuple[float, float, float]:
        """(s_lhs, s_rhs, zero-pair fraction)."""

        def frac(z: int, n: int) -> float:
            return min(z / n, MAX_SPARSITY) if n else 0.0

        return (
            frac(self.lhs_zeros, self.lhs),
            frac(self.rhs_zeros, self.rhs),
            frac(self.zero_pairs, self.pairs),
        )


@dataclass
class Measured:
    """Zero counts per DynaProp site (`tfm.prune` results) and per matmul."""

    sites: dict[tuple[str, int | None, str], list[int]] = field(default_factory=dict)
    matmuls: dict[Operation, MatmulCount] = field(default_factory=dict)

    def observe(
        self, op: Operation, args: Sequence[torch.Tensor], outs: Sequence[torch.Tensor]
    ) -> None:
        if isinstance(op, PruneOp):
            site = attrs.read_str(op, attrs.DYNAPROP_SITE) or "prune"
            key = (site, attrs.layer_of(op), attrs.phase_of(op))
            count = self.sites.setdefault(key, [0, 0])
            count[0] += outs[0].numel() - int(torch.count_nonzero(outs[0]))
            count[1] += outs[0].numel()
        elif isinstance(op, MatmulOp):
            self.matmuls.setdefault(op, MatmulCount())
            _count_matmul(self.matmuls[op], op, args[0], args[1])

    def site_sparsity(self) -> dict[tuple[str, int | None, str], float]:
        return {k: z / n for k, (z, n) in self.sites.items() if n}


def _count_matmul(c: MatmulCount, op: MatmulOp, a: torch.Tensor, b: torch.Tensor) -> None:
    ta, tb = op.transposed
    a = a.transpose(-1, -2) if ta else a  # [..., M, K]
    b = b.transpose(-1, -2) if tb else b  # [..., K, N]
    nz_a, nz_b = a != 0, b != 0
    c.lhs_zeros += a.numel() - int(nz_a.sum())
    c.lhs += a.numel()
    c.rhs_zeros += b.numel() - int(nz_b.sum())
    c.rhs += b.numel()
    per_k_a = nz_a.sum(-2, dtype=torch.int64)  # [..., K]: non-zeros of each column of A
    per_k_b = nz_b.sum(-1, dtype=torch.int64)  # [..., K]: non-zeros of each row of B
    nonzero = int((per_k_a * per_k_b).sum())
    g = op.gemm()
    total = g.batch * g.m * g.n * g.k
    c.zero_pairs += total - nonzero
    c.pairs += total


def measure_sparsity(fn: func.FuncOp, batches: Iterable[Sequence[torch.Tensor]]) -> Measured:
    """Run `fn` on each argument list in `batches` and count zeros (see the module doc)."""
    measured = Measured()
    for args in batches:
        run_function(fn, args, measured.observe)
    return measured


def annotate_sparsity(fn: func.FuncOp, measured: Measured) -> int:
    """Write the measured operand and pair sparsity on each matmul that saw a zero; how many."""
    n = 0
    for op, count in measured.matmuls.items():
        if op.parent_op() is not fn:
            continue
        lhs, rhs, pairs = count.fractions()
        for name in (attrs.SPARSITY, attrs.SPARSITY_LHS, attrs.SPARSITY_RHS):
            op.attributes.pop(name, None)
        if pairs <= 0:
            continue
        op.attributes[attrs.SPARSITY] = attrs.f64_attr(pairs)
        op.attributes[attrs.SPARSITY_LHS] = attrs.f64_attr(lhs)
        op.attributes[attrs.SPARSITY_RHS] = attrs.f64_attr(rhs)
        n += 1
    return n


def sparsity_table(
    fn: func.FuncOp, measured: Measured, config: DynaPropConfig, **info: Any
) -> dict[str, Any]:
    """The measurement on `fn` as the JSON table `dynaprop{measured=...}` reads (the format
    in `backends.sparsity_table`); `info` (model, layers, weights, ...) is stored with it."""
    sites = [
        {"site": s, "layer": layer, "phase": phase, "sparsity": z / n, "elements": n}
        for (s, layer, phase), (z, n) in measured.sites.items()
        if n
    ]
    matmuls = []
    for op, ((key, layer, phase), _) in matmul_keys(fn).items():
        count = measured.matmuls.get(op)
        if count is None:
            continue
        lhs, rhs, pairs = count.fractions()
        matmuls.append(
            {
                "key": key,
                "layer": layer,
                "phase": phase,
                "lhs": lhs,
                "rhs": rhs,
                "pairs": pairs,
                "macs": count.pairs,
            }
        )
    return {
        **info,
        "tau_fwd": config.tau_fwd,
        "tau_bwd": config.tau_bwd,
        "pruned_sites": list(config.sites),
        "act_grads": config.act_grads,
        "weight_grads": config.weight_grads,
        "measured_on": "ir",
        "sites": sites,
        "matmuls": matmuls,
    }
