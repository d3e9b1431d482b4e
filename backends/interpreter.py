"""Reference interpreter: runs tfm IR on the CPU with PyTorch tensors, to prove semantics.

    outputs = run_module(module, [input_ids, *params])

Each op has a small implementation written from its definition (attention is spelled out
as matmul, mask and softmax; backward ops take vector-Jacobian products of those
definitions), so comparing against PyTorch eager checks the IR, not a second copy of it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from xdsl.dialects import func
from xdsl.dialects.builtin import IntegerAttr, ModuleOp
from xdsl.ir import Operation, SSAValue

from ir import elementwise_ops as ew
from ir import linalg_ops as la
from ir import misc_ops as misc
from ir import norm_ops as nm
from ir import shape_ops as sh
from ir.base import get_float, get_int, get_ints, get_str
from ir.dtypes import torch_dtype as ir_torch_dtype
from ir.errors import TandemError
from ir.types import dtype, shape

Runner = Callable[[Operation, list[torch.Tensor]], Sequence[torch.Tensor]]
RUNNERS: dict[type[Operation], Runner] = {}


def runs(*classes: type[Operation]):
    def register(fn: Runner) -> Runner:
        for c in classes:
            RUNNERS[c] = fn
        return fn

    return register


def torch_dtype(value: SSAValue) -> torch.dtype:
    return ir_torch_dtype(dtype(value))


# ---- linear algebra --------------------------------------------------------------------------

@runs(la.MatmulOp)
def _matmul(op, args):
    a, b = args
    if op.transpose_lhs is not None:
        a = a.transpose(-1, -2)
    if op.transpose_rhs is not None:
        b = b.transpose(-1, -2)
    return [torch.matmul(a, b)]


def attention_reference(q, k, v, mask, scale: float, causal: bool):
    """softmax(q k^T * scale + mask) v, with k/v heads repeated for grouped-query attention."""
    group = q.shape[1] // k.shape[1]
    k = k.repeat_interleave(group, dim=1)
    v = v.repeat_interleave(group, dim=1)
    acc = torch.promote_types(q.dtype, torch.float32)  # low precision accumulates in f32, f64 stays f64
    scores = torch.matmul(q, k.transpose(-1, -2)).to(acc) * scale
    sq, sk = scores.shape[-2], scores.shape[-1]
    if causal:
        keep = torch.ones(sq, sk, dtype=torch.bool).tril()
        scores = scores.masked_fill(~keep, float("-inf"))
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf")) if mask.dtype == torch.bool else scores + mask.float()
    probs = torch.softmax(scores, dim=-1)
    probs = torch.nan_to_num(probs, nan=0.0)  # fully masked rows give zeros, as the fused kernels do
    return torch.matmul(probs.to(v.dtype), v)


def _attn_args(op, args, first: int):
    q, k, v = args[first:first + 3]
    mask = args[first + 4] if first == 1 and len(args) > 5 else (args[3] if first == 0 and len(args) > 3 else None)
    return q, k, v, mask, get_float(op.scale), op.causal is not None


@runs(la.AttentionOp)
def _attention(op, args):
    q, k, v, mask, scale, causal = _attn_args(op, args, 0)
    return [attention_reference(q, k, v, mask, scale, causal)]


def vjp(fn: Callable, inputs: Sequence[torch.Tensor], grad: torch.Tensor) -> list[torch.Tensor]:
    """Gradients of `fn(*inputs)` against `grad`, computed by autograd of the reference definition."""
    leaves = [x.detach().requires_grad_(x.is_floating_point()) for x in inputs]
    with torch.enable_grad():
        out = fn(*leaves)
        wrt = [x for x in leaves if x.requires_grad]
        grads = torch.autograd.grad(out, wrt, grad, allow_unused=True)
    it = iter(grads)
    return [next(it) if x.requires_grad else None for x in leaves]


@runs(la.AttentionBackwardOp)
def _attention_backward(op, args):
    g = args[0]
    q, k, v, mask, scale, causal = _attn_args(op, args, 1)
    dq, dk, dv = vjp(lambda a, b, c: attention_reference(a, b, c, mask, scale, causal), [q, k, v], g)[:3]
    return [dq, dk, dv]


# ---- elementwise -----------------------------------------------------------------------------

_UNARY = {
    ew.SiluOp: F.silu, ew.ReluOp: torch.relu, ew.TanhOp: torch.tanh, ew.SigmoidOp: torch.sigmoid,
    ew.ExpOp: torch.exp, ew.LogOp: torch.log, ew.SqrtOp: torch.sqrt, ew.RsqrtOp: torch.rsqrt,
    ew.NegOp: torch.neg, ew.AbsOp: torch.abs, ew.ErfOp: torch.erf, ew.ReciprocalOp: torch.reciprocal,
    ew.SinOp: torch.sin, ew.CosOp: torch.cos, ew.NotOp: torch.bitwise_not,
}
for _cls, _fn in _UNARY.items():
    RUNNERS[_cls] = lambda op, args, _fn=_fn: [_fn(args[0])]


@runs(ew.GeluOp)
def _gelu(op, args):
    return [F.gelu(args[0], approximate=get_str(op.approximate, "none"))]


_BINARY = {
    ew.AddOp: torch.add, ew.SubOp: torch.sub, ew.MulOp: torch.mul, ew.DivOp: torch.div,
    ew.PowOp: torch.pow, ew.MaxOp: torch.maximum, ew.MinOp: torch.minimum,
    ew.AndOp: torch.bitwise_and, ew.OrOp: torch.bitwise_or, ew.EqOp: torch.eq, ew.NeOp: torch.ne,
    ew.LtOp: torch.lt, ew.LeOp: torch.le, ew.GtOp: torch.gt, ew.GeOp: torch.ge,
}
for _cls, _fn in _BINARY.items():
    RUNNERS[_cls] = lambda op, args, _fn=_fn: [_fn(args[0], args[1])]


@runs(ew.WhereOp)
def _where(op, args):
    return [torch.where(*args)]


@runs(ew.ConvertOp)
def _convert(op, args):
    return [args[0].to(torch_dtype(op.result))]


@runs(ew.ConstantOp)
def _constant(op, args):
    v = op.value.value.data
    return [torch.full(shape(op.result), v, dtype=torch_dtype(op.result))]


@runs(ew.ArangeOp)
def _arange(op, args):
    start, step = op.start.value.data, op.step.value.data
    n = shape(op.result)[0]
    return [torch.arange(n, dtype=torch.float64).mul(step).add(start).to(torch_dtype(op.result))]


# ---- softmax and norms -----------------------------------------------------------------------

@runs(nm.SoftmaxOp)
def _softmax(op, args):
    return [torch.softmax(args[0], dim=get_int(op.dim))]


@runs(nm.LogSoftmaxOp)
def _log_softmax(op, args):
    return [torch.log_softmax(args[0], dim=get_int(op.dim))]


@runs(nm.SoftmaxBackwardOp)
def _softmax_backward(op, args):
    g, y = args
    d = get_int(op.dim)
    return [y * (g - (g * y).sum(dim=d, keepdim=True))]


@runs(nm.LogSoftmaxBackwardOp)
def _log_softmax_backward(op, args):
    g, y = args
    d = get_int(op.dim)
    return [g - torch.exp(y) * g.sum(dim=d, keepdim=True)]


def layer_norm_reference(x, w, b, ndim: int, eps: float):
    dims = tuple(range(-ndim, 0))
    xf = x.float()
    mean = xf.mean(dim=dims, keepdim=True)
    var = ((xf - mean) ** 2).mean(dim=dims, keepdim=True)
    y = (xf - mean) * torch.rsqrt(var + eps)
    return (y * w.float() + b.float()).to(x.dtype)


@runs(nm.LayerNormOp)
def _layer_norm(op, args):
    return [layer_norm_reference(*args, get_int(op.ndim), get_float(op.eps))]


@runs(nm.LayerNormBackwardOp)
def _layer_norm_backward(op, args):
    g, x, w, b = args
    n, eps = get_int(op.ndim), get_float(op.eps)
    return vjp(lambda x_, w_, b_: layer_norm_reference(x_, w_, b_, n, eps), [x, w, b], g)


@runs(nm.RmsNormOp)
def _rms_norm(op, args):
    x = args[0]
    dims = tuple(range(-get_int(op.ndim), 0))
    xf = x.float()
    y = xf * torch.rsqrt(xf.pow(2).mean(dim=dims, keepdim=True) + get_float(op.eps))
    if len(args) > 1:
        y = y * args[1].float()
    return [y.to(x.dtype)]


@runs(nm.GeluBackwardOp)
def _gelu_backward(op, args):
    approx = get_str(op.approximate, "none")
    return [vjp(lambda x: F.gelu(x, approximate=approx), [args[1]], args[0])[0]]


@runs(nm.SiluBackwardOp)
def _silu_backward(op, args):
    g, x = args
    s = torch.sigmoid(x)
    return [g * s * (1 + x * (1 - s))]


# ---- shapes ----------------------------------------------------------------------------------

@runs(sh.ReshapeOp)
def _reshape(op, args):
    return [args[0].reshape(shape(op.result))]


@runs(sh.PermuteOp)
def _permute(op, args):
    return [args[0].permute(*get_ints(op.perm))]


@runs(sh.BroadcastOp)
def _broadcast(op, args):
    return [args[0].expand(shape(op.result))]


@runs(sh.SliceOp)
def _slice(op, args):
    idx = [slice(None)] * args[0].dim()
    idx[get_int(op.dim)] = slice(get_int(op.start), get_int(op.end), get_int(op.step))
    return [args[0][tuple(idx)]]


@runs(sh.ConcatOp)
def _concat(op, args):
    return [torch.cat(args, dim=get_int(op.dim))]


@runs(sh.PadOp)
def _pad(op, args):
    low, high = get_ints(op.low), get_ints(op.high)
    spec = []
    for lo, hi in zip(reversed(low), reversed(high), strict=True):
        spec += [lo, hi]
    return [F.pad(args[0], spec, value=get_float(op.value))]


# ---- misc ------------------------------------------------------------------------------------

@runs(misc.EmbeddingOp)
def _embedding(op, args):
    return [F.embedding(args[1], args[0])]


@runs(misc.EmbeddingBackwardOp)
def _embedding_backward(op, args):
    g, ids = args
    rows, dim = shape(op.result)
    out = torch.zeros(rows, dim, dtype=g.dtype)
    flat_ids, flat_g = ids.reshape(-1), g.reshape(-1, dim)
    pad = get_int(op.padding_idx)
    if pad >= 0:
        flat_g = flat_g * (flat_ids != pad).unsqueeze(1).to(g.dtype)
    return [out.index_add_(0, flat_ids, flat_g)]


_REDUCE = {"sum": torch.sum, "mean": torch.mean, "prod": None}


@runs(misc.ReduceOp)
def _reduce(op, args):
    x = args[0]
    kind, dims, keep = get_str(op.kind), list(get_ints(op.dims)), op.keepdim is not None
    if not dims:
        dims = list(range(x.dim()))
    if kind in ("sum", "mean"):
        y = getattr(torch, kind)(x, dim=dims, keepdim=keep) if x.dim() else x
    elif kind in ("max", "min"):
        y = getattr(torch, "amax" if kind == "max" else "amin")(x, dim=dims, keepdim=keep)
    else:
        y = x
        for d in sorted((d % max(x.dim(), 1) for d in dims), reverse=True):
            fn = {"prod": torch.prod, "any": torch.any, "all": torch.all}[kind]
            y = fn(y, dim=d, keepdim=keep)
    return [y.to(torch_dtype(op.result))]


def _loss_reduction(op) -> str:
    return get_str(op.reduction, "mean")


@runs(misc.CrossEntropyOp)
def _cross_entropy(op, args):
    return [F.cross_entropy(args[0], args[1], ignore_index=get_int(op.ignore_index),
                            reduction=_loss_reduction(op))]


@runs(misc.NllLossOp)
def _nll_loss(op, args):
    return [F.nll_loss(args[0], args[1], ignore_index=get_int(op.ignore_index), reduction=_loss_reduction(op))]


@runs(misc.NllLossBackwardOp)
def _nll_loss_backward(op, args):
    g, x, t = args
    fn = lambda x_: F.nll_loss(x_, t, ignore_index=get_int(op.ignore_index), reduction=_loss_reduction(op))  # noqa: E731
    return [vjp(fn, [x], g)[0]]


@runs(misc.DropoutOp)
def _dropout(op, args):
    p = get_float(op.p)
    if p == 0.0:
        return [args[0]]
    raise TandemError(f"tfm.dropout with p={p} is random; the reference interpreter needs p=0")


_OPERAND = re.compile(r"%(\d+)")


@runs(misc.GenericOp)
def _generic(op, args):
    target = get_str(op.target)
    parts = target.split(".")
    try:
        overload = getattr(getattr(torch.ops.aten, parts[1]), parts[2] if len(parts) > 2 else "default")
    except AttributeError as exc:
        raise TandemError(f"tfm.generic: unknown ATen op {target}") from exc
    text = _OPERAND.sub(lambda m: f"__t[{m.group(1)}]", get_str(op.args))
    call_args, call_kwargs = eval(text, {"torch": torch, "__t": args, "__builtins__": {"float": float}})  # noqa: S307
    out = overload(*call_args, **call_kwargs)
    return list(out) if isinstance(out, tuple | list) else [out]


# ---- driver ----------------------------------------------------------------------------------

def entry(module: ModuleOp, name: str | None = None) -> func.FuncOp:
    funcs = [op for op in module.ops if isinstance(op, func.FuncOp)]
    if name is not None:
        funcs = [f for f in funcs if f.sym_name.data == name]
    if not funcs:
        raise TandemError(f"no function {'@' + name if name else ''} in the module")
    return funcs[0]


def run_function(fn: func.FuncOp, inputs: Sequence[torch.Tensor]) -> list[torch.Tensor]:
    """Run `fn` on `inputs` (one tensor per argument); values die after their last use."""
    block = fn.body.block
    if len(inputs) != len(block.args):
        raise TandemError(f"@{fn.sym_name.data} takes {len(block.args)} arguments, got {len(inputs)}")
    env: dict[SSAValue, torch.Tensor] = {}
    for a, t in zip(block.args, inputs, strict=True):
        if tuple(t.shape) != shape(a):
            raise TandemError(f"argument {a.name_hint or a.index}: expected shape {shape(a)}, got {tuple(t.shape)}")
        env[a] = t.to(torch_dtype(a))
    last_use = {}
    for i, op in enumerate(block.ops):
        for v in op.operands:
            last_use[v] = i
    for i, op in enumerate(block.ops):
        args = [env[v] for v in op.operands]
        if isinstance(op, func.ReturnOp):
            return args
        runner = RUNNERS.get(type(op))
        if runner is None:
            raise TandemError(f"the reference interpreter cannot run {op.name}")
        with torch.no_grad():
            outs = runner(op, args)
        for r, t in zip(op.results, outs, strict=True):
            env[r] = _check(op, r, t)
        for v in op.operands:
            if last_use.get(v) == i and v not in block.args:
                env.pop(v, None)
    raise TandemError(f"@{fn.sym_name.data} has no func.return")


def _check(op: Operation, r: SSAValue, t: torch.Tensor) -> torch.Tensor:
    if tuple(t.shape) != shape(r):
        layer = op.attributes.get("layer")
        where = f" (layer {layer.value.data})" if isinstance(layer, IntegerAttr) else ""
        raise TandemError(f"{op.name}{where}: computed shape {tuple(t.shape)} but the IR says {shape(r)}")
    return t.to(torch_dtype(r))


def run_module(module: ModuleOp, inputs: Sequence[torch.Tensor], name: str | None = None) -> list[torch.Tensor]:
    return run_function(entry(module, name), inputs)


