"""Attention spelled out so its scores and probabilities can be pruned (the runtime does the
same in PyTorch). Forward, for q [B, Hq, Sq, D] and k, v [B, Hkv, Sk, D]:

    %kr = k repeated to Hq heads (grouped-query attention; reshape, broadcast, reshape)
    %s  = tfm.prune (tfm.matmul %q, %kr {transpose_rhs} * scale)       {dynaprop.site = "scores"}
    %m  = tfm.where %causal, %s, -inf   (and the mask: where for i1, add for floats)
    %p  = tfm.softmax %m {dim = -1}
    %pp = tfm.prune %p                                                   {dynaprop.site = "probs"}
    %o  = tfm.matmul %pp, %vr

Backward, from the output gradient %do (the vector-Jacobian product of the above, with the
gradients of scores and probs pruned when `act_grads`):

    %dp = prune(tfm.matmul %do, %vr {transpose_rhs});  %dvr = tfm.matmul %pp, %do {transpose_lhs}
    %ds = prune(tfm.softmax_backward %dp, %p) * scale   (masked entries have p = 0: no gradient)
    %dq = tfm.matmul %ds, %kr;  %dkr = tfm.matmul %ds, %q {transpose_lhs}
    dk, dv = dkr, dvr summed over each key/value head's query group
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.ir import SSAValue

from ir import binary_ops as bi
from ir.linalg_ops import AttentionBackwardOp, AttentionOp
from ir.sparsity import DynaPropConfig
from ir.types import dtype, shape
from passes.dynaprop.emit import Emitter


@dataclass
class Forward:
    """Values of the spelled-out forward the backward reuses."""

    q: SSAValue
    kr: SSAValue
    vr: SSAValue
    probs: SSAValue  # softmax output (before pruning): softmax_backward needs it
    kept: SSAValue  # pruned probabilities
    out: SSAValue
    group: int
    scale: float


def _repeat(e: Emitter, x: SSAValue, group: int) -> SSAValue:
    if group == 1:
        return x
    b, h, s, d = shape(x)
    x5 = e.reshape(x, (b, h, 1, s, d))
    return e.reshape(e.broadcast(x5, (b, h, group, s, d)), (b, h * group, s, d))


def _fold(e: Emitter, x: SSAValue, group: int) -> SSAValue:
    if group == 1:
        return x
    b, hq, s, d = shape(x)
    return e.sum(e.reshape(x, (b, hq // group, group, s, d)), 2)


def _site(e: Emitter, x: SSAValue, site: str, tau: float, cfg: DynaPropConfig) -> SSAValue:
    return e.prune(x, tau, site) if site in cfg.sites else x


def _mask(e: Emitter, op: AttentionOp, s: SSAValue) -> SSAValue:
    sq, sk = shape(s)[-2:]
    if op.is_causal:
        query = e.arange(sq)
        key = query if sk == sq else e.arange(sk)
        rows, cols = e.reshape(query, (sq, 1)), e.reshape(key, (1, sk))
        keep = e.binary(bi.LeOp, cols, rows)
        s = e.where(keep, s, e.const(float("-inf"), s))
    if op.mask is not None:
        if dtype(op.mask) == "i1":
            s = e.where(op.mask, s, e.const(float("-inf"), s))
        else:
            s = e.binary(bi.AddOp, s, op.mask)
    return s


def unfuse_forward(
    op: AttentionOp, q: SSAValue, k: SSAValue, v: SSAValue, cfg: DynaPropConfig
) -> Forward:
    """Emit the forward before `op` on (possibly pruned) q, k, v; the caller replaces `op`."""
    e = Emitter(op)
    group = shape(q)[1] // shape(k)[1]
    kr, vr = _repeat(e, k, group), _repeat(e, v, group)
    scale = op.scale_value
    s = e.scale(e.matmul(q, kr, transpose_rhs=True), scale)
    s = _site(e, s, "scores", cfg.tau_fwd, cfg)
    p = e.softmax(_mask(e, op, s))
    kept = _site(e, p, "probs", cfg.tau_fwd, cfg)
    out = e.matmul(kept, vr)
    return Forward(q, kr, vr, p, kept, out, group, scale)


def unfuse_backward(
    op: AttentionBackwardOp, grad: SSAValue, fwd: Forward, cfg: DynaPropConfig
) -> tuple[SSAValue, SSAValue, SSAValue]:
    """Emit dQ, dK, dV before `op` from the output gradient `grad`."""
    e = Emitter(op)
    tau = cfg.tau_bwd
    prune_grads = cfg.act_grads
    dp = e.matmul(grad, fwd.vr, transpose_rhs=True)
    if prune_grads:
        dp = _site(e, dp, "probs", tau, cfg)
    dvr = e.matmul(fwd.kept, grad, transpose_lhs=True)
    ds = e.softmax_backward(dp, fwd.probs)
    if prune_grads:
        ds = _site(e, ds, "scores", tau, cfg)
    ds = e.scale(ds, fwd.scale)
    dq = e.matmul(ds, fwd.kr)
    dkr = e.matmul(ds, fwd.q, transpose_lhs=True)
    return dq, _fold(e, dkr, fwd.group), _fold(e, dvr, fwd.group)
