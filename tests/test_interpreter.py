"""The reference interpreter, op by op, against values computed by hand or by torch autograd."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from backends.interpreter import run_module
from ir.errors import TandemError
from ir.io import parse_text


def ty(t: torch.Tensor) -> str:
    names = {torch.float32: "f32", torch.int64: "i64", torch.bool: "i1", torch.float16: "f16"}
    dims = "x".join(str(d) for d in t.shape)
    return f"tensor<{dims}x{names[t.dtype]}>" if dims else f"tensor<{names[t.dtype]}>"


def run(op_line: str, *args: torch.Tensor, results: str) -> list[torch.Tensor]:
    """Run one op on `args` (bound to %a0, %a1, ...) and return its results."""
    params = ", ".join(f"%a{i}: {ty(t)}" for i, t in enumerate(args))
    result_types = [r.strip() for r in results.split(";")]
    names = (
        ", ".join(f"%r#{i}" for i in range(len(result_types))) if len(result_types) > 1 else "%r"
    )
    lhs = f"%r:{len(result_types)}" if len(result_types) > 1 else "%r"
    text = (
        f"func.func @f({params}) -> ({', '.join(result_types)}) {{\n"
        f"  {lhs} = {op_line}\n  func.return {names} : {', '.join(result_types)}\n}}\n"
    )
    return run_module(parse_text(text), list(args))


def close(got: torch.Tensor, want: torch.Tensor, tol: float = 1e-5) -> None:
    assert got.shape == want.shape, (got.shape, want.shape)
    assert got.dtype == want.dtype, (got.dtype, want.dtype)
    assert torch.allclose(got, want, atol=tol, rtol=tol), (got - want).abs().max()


@pytest.fixture(autouse=True)
def _seed() -> None:
    torch.manual_seed(0)


# ---- attention ---------------------------------------------------------------------------------


def attention_by_hand(q, k, v, scale, keep=None):
    """Loops over batch, head, query: softmax over allowed keys of q.k * scale, then sum of v."""
    b, hq, sq, _ = q.shape
    hkv, sk = k.shape[1], k.shape[2]
    out = torch.zeros(b, hq, sq, v.shape[-1], dtype=torch.float64)
    for n in range(b):
        for h in range(hq):
            g = h // (hq // hkv)  # query head h reads key/value head h // group
            for i in range(sq):
                allowed = [j for j in range(sk) if keep is None or keep(n, h, i, j)]
                scores = [float(q[n, h, i] @ k[n, g, j]) * scale for j in allowed]
                top = max(scores)
                weights = [math.exp(s - top) for s in scores]
                total = sum(weights)
                for w, j in zip(weights, allowed, strict=True):
                    out[n, h, i] += (w / total) * v[n, g, j].double()
    return out.float()


def test_attention_grouped_query() -> None:
    q, k, v = torch.randn(2, 4, 5, 8), torch.randn(2, 2, 5, 8), torch.randn(2, 2, 5, 8)
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 {{scale = 0.3 : f64}} : ({ty(q)}, {ty(k)}, {ty(v)}) -> {ty(q)}",
        q,
        k,
        v,
        results=ty(q),
    )
    close(out, attention_by_hand(q, k, v, 0.3))
    # heads 0 and 1 share kv head 0: swapping kv heads must change heads 0..1 only
    (swapped,) = run(
        f"tfm.attention %a0, %a1, %a2 {{scale = 0.3 : f64}} : ({ty(q)}, {ty(k)}, {ty(v)}) -> {ty(q)}",
        q,
        k.flip(1),
        v.flip(1),
        results=ty(q),
    )
    close(swapped, attention_by_hand(q, k.flip(1), v.flip(1), 0.3))
    assert not torch.allclose(swapped[:, 0], out[:, 0])


def test_attention_causal() -> None:
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8), torch.randn(1, 2, 4, 8)
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 {{causal, scale = 0.5 : f64}} : ({ty(q)}, {ty(k)}, {ty(v)}) -> {ty(q)}",
        q,
        k,
        v,
        results=ty(q),
    )
    close(out, attention_by_hand(q, k, v, 0.5, keep=lambda n, h, i, j: j <= i))
    close(out[:, :, 0], v[:, :, 0])  # the first query sees only the first key


def test_attention_causal_is_top_left_aligned() -> None:
    q, k, v = torch.randn(1, 1, 2, 4), torch.randn(1, 1, 5, 4), torch.randn(1, 1, 5, 4)
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 {{causal, scale = 0.5 : f64}} : ({ty(q)}, {ty(k)}, {ty(v)}) -> {ty(q)}",
        q,
        k,
        v,
        results=ty(q),
    )
    close(out[0, 0, 0], v[0, 0, 0])
    close(out, attention_by_hand(q, k, v, 0.5, keep=lambda n, h, i, j: j <= i))
    close(out, F.scaled_dot_product_attention(q, k, v, is_causal=True, scale=0.5))


def test_attention_boolean_mask() -> None:
    q, k, v = torch.randn(2, 2, 3, 4), torch.randn(2, 2, 3, 4), torch.randn(2, 2, 3, 4)
    # query i keeps only key (i + 1) % 3 (per batch: the mask broadcasts over heads)
    mask = torch.zeros(2, 1, 3, 3, dtype=torch.bool)
    for i in range(3):
        mask[:, 0, i, (i + 1) % 3] = True
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 mask %a3 {{scale = 1.0 : f64}} "
        f": ({ty(q)}, {ty(k)}, {ty(v)}, {ty(mask)}) -> {ty(q)}",
        q,
        k,
        v,
        mask,
        results=ty(q),
    )
    for i in range(3):
        close(out[:, :, i], v[:, :, (i + 1) % 3])


def test_attention_additive_mask_and_fully_masked_row() -> None:
    q, k, v = torch.randn(1, 1, 3, 4), torch.randn(1, 1, 3, 4), torch.randn(1, 1, 3, 4)
    bias = torch.tensor([[0.0, 1.0, -2.0], [0.5, 0.0, 0.0], [0.0, 0.0, 0.0]]).reshape(1, 1, 3, 3)
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 mask %a3 {{scale = 0.5 : f64}} "
        f": ({ty(q)}, {ty(k)}, {ty(v)}, {ty(bias)}) -> {ty(q)}",
        q,
        k,
        v,
        bias,
        results=ty(q),
    )
    close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=0.5))
    keep = torch.tensor([[True, True, False], [False, False, False], [True, True, True]]).reshape(
        1, 1, 3, 3
    )
    (out,) = run(
        f"tfm.attention %a0, %a1, %a2 mask %a3 {{scale = 0.5 : f64}} "
        f": ({ty(q)}, {ty(k)}, {ty(v)}, {ty(keep)}) -> {ty(q)}",
        q,
        k,
        v,
        keep,
        results=ty(q),
    )
    close(out[0, 0, 1], torch.zeros(4))  # no key allowed: zeros, as fused kernels give
    close(out[0, 0, 0], attention_by_hand(q, k, v, 0.5, keep=lambda n, h, i, j: j < 2)[0, 0, 0])


def test_attention_backward_matches_autograd() -> None:
    q = torch.randn(1, 4, 6, 8, requires_grad=True)
    k = torch.randn(1, 2, 6, 8, requires_grad=True)
    v = torch.randn(1, 2, 6, 8, requires_grad=True)
    keep = torch.rand(1, 1, 6, 6) > 0.3
    keep[..., 0] = True
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=keep, scale=0.4, enable_gqa=True)
    grad = torch.randn_like(out)
    dq, dk, dv = torch.autograd.grad(out, (q, k, v), grad)
    res = "; ".join([ty(q), ty(k), ty(v)])
    got = run(
        f"tfm.attention_backward %a0, %a1, %a2, %a3, %a4 mask %a5 {{scale = 0.4 : f64}} "
        f": ({ty(out)}, {ty(q)}, {ty(k)}, {ty(v)}, {ty(out)}, {ty(keep)}) -> ({', '.join([ty(q), ty(k), ty(v)])})",
        grad,
        q.detach(),
        k.detach(),
        v.detach(),
        out.detach(),
        keep,
        results=res,
    )
    for g, want in zip(got, (dq, dk, dv), strict=True):
        close(g, want, 1e-4)


# ---- norms, softmax, losses --------------------------------------------------------------------


def test_layer_norm_backward_matches_autograd() -> None:
    x = torch.randn(3, 4, 6, requires_grad=True)
    w = torch.randn(4, 6, requires_grad=True)
    b = torch.randn(4, 6, requires_grad=True)
    y = F.layer_norm(x, (4, 6), w, b, eps=1e-3)
    g = torch.randn_like(y)
    want = torch.autograd.grad(y, (x, w, b), g)
    got = run(
        f"tfm.layer_norm_backward %a0, %a1, %a2, %a3 {{eps = 1.0e-03 : f64, ndim = 2 : i64}} "
        f": ({ty(g)}, {ty(x)}, {ty(w)}, {ty(b)}) -> ({ty(x)}, {ty(w)}, {ty(b)})",
        g,
        x.detach(),
        w.detach(),
        b.detach(),
        results=f"{ty(x)}; {ty(w)}; {ty(b)}",
    )
    for gv, wv in zip(got, want, strict=True):
        close(gv, wv, 1e-4)
    close(got[2], g.sum(0))  # the bias gradient by hand


def test_layer_norm_forward_by_hand() -> None:
    x = torch.tensor([[1.0, 2.0, 3.0, 6.0]])
    w, b = torch.tensor([1.0, 2.0, 1.0, 1.0]), torch.tensor([0.0, 0.0, 1.0, 0.0])
    (y,) = run(
        f"tfm.layer_norm %a0, %a1, %a2 {{eps = 0.0 : f64, ndim = 1 : i64}} "
        f": ({ty(x)}, {ty(w)}, {ty(b)}) -> {ty(x)}",
        x,
        w,
        b,
        results=ty(x),
    )
    # mean 3, variance (4 + 1 + 0 + 9) / 4 = 3.5
    s = math.sqrt(3.5)
    close(y, torch.tensor([[-2 / s, -2 / s, 1.0, 3 / s]]))


def test_softmax_backward_matches_autograd() -> None:
    x = torch.randn(3, 7, requires_grad=True)
    for dim in (0, 1, -1):
        y = torch.softmax(x, dim=dim)
        g = torch.randn_like(y)
        (want,) = torch.autograd.grad(y, x, g)
        (got,) = run(
            f"tfm.softmax_backward %a0, %a1 {{dim = {dim} : i64}} : ({ty(g)}, {ty(y)}) -> {ty(g)}",
            g,
            y.detach(),
            results=ty(g),
        )
        close(got, want)


def test_log_softmax_backward_matches_autograd() -> None:
    x = torch.randn(4, 5, requires_grad=True)
    y = torch.log_softmax(x, dim=1)
    g = torch.randn_like(y)
    (want,) = torch.autograd.grad(y, x, g)
    (got,) = run(
        f"tfm.log_softmax_backward %a0, %a1 {{dim = 1 : i64}} : ({ty(g)}, {ty(y)}) -> {ty(g)}",
        g,
        y.detach(),
        results=ty(g),
    )
    close(got, want)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_nll_loss_backward(reduction: str) -> None:
    logp = torch.log_softmax(torch.randn(4, 3), dim=1).requires_grad_()
    labels = torch.tensor([2, -100, 0, 2])
    loss = F.nll_loss(logp, labels, ignore_index=-100, reduction=reduction)
    g = torch.tensor(2.5) if reduction != "none" else torch.tensor([1.0, 2.0, 3.0, 4.0])
    (want,) = torch.autograd.grad(loss, logp, g)
    (got,) = run(
        f"tfm.nll_loss_backward %a0, %a1, %a2 {{ignore_index = -100 : i64, reduction = #tfm<reduction {reduction}>}} "
        f": ({ty(g)}, {ty(logp)}, {ty(labels)}) -> {ty(logp)}",
        g,
        logp.detach(),
        labels,
        results=ty(logp),
    )
    close(got, want)
    by_hand = torch.zeros(4, 3)
    scale = {"mean": 2.5 / 3, "sum": 2.5}.get(reduction)
    for i, t in enumerate(labels.tolist()):
        if t != -100:
            by_hand[i, t] = -(scale if scale is not None else g[i])
    close(got, by_hand)


def test_cross_entropy_ignores_labels() -> None:
    logits, labels = torch.randn(5, 4), torch.tensor([1, 3, -100, 0, 3])
    (loss,) = run(
        f"tfm.cross_entropy %a0, %a1 {{ignore_index = -100 : i64, reduction = #tfm<reduction mean>}} "
        f": ({ty(logits)}, {ty(labels)}) -> tensor<f32>",
        logits,
        labels,
        results="tensor<f32>",
    )
    keep = labels != -100
    close(loss, -torch.log_softmax(logits[keep], 1).gather(1, labels[keep, None]).mean())


def test_embedding_backward_with_padding_idx() -> None:
    ids = torch.tensor([[0, 2, 2], [1, 0, 3]])
    g = torch.arange(24, dtype=torch.float32).reshape(2, 3, 4)
    (got,) = run(
        f"tfm.embedding_backward %a0, %a1 {{padding_idx = 0 : i64}} : ({ty(g)}, {ty(ids)}) -> tensor<5x4xf32>",
        g,
        ids,
        results="tensor<5x4xf32>",
    )
    by_hand = torch.zeros(5, 4)
    by_hand[2] = g[0, 1] + g[0, 2]  # id 2 twice: its rows add up
    by_hand[1] = g[1, 0]
    by_hand[3] = g[1, 2]  # id 0 is padding: no gradient; id 4 unused
    close(got, by_hand)
    table = torch.randn(5, 4, requires_grad=True)
    (want,) = torch.autograd.grad(F.embedding(ids, table, padding_idx=0), table, g)
    close(got, want)
    (no_pad,) = run(
        f"tfm.embedding_backward %a0, %a1 {{padding_idx = -1 : i64}} : ({ty(g)}, {ty(ids)}) -> tensor<5x4xf32>",
        g,
        ids,
        results="tensor<5x4xf32>",
    )
    close(no_pad[0], g[0, 0] + g[1, 1])


def test_activation_backwards_match_autograd() -> None:
    x = torch.randn(10, requires_grad=True)
    g = torch.randn(10)
    for line, fn in [
        (
            "tfm.gelu_backward %a0, %a1 {approximate = #tfm<approximate tanh>}",
            lambda t: F.gelu(t, approximate="tanh"),
        ),
        ("tfm.gelu_backward %a0, %a1", F.gelu),
        ("tfm.silu_backward %a0, %a1", F.silu),
    ]:
        (want,) = torch.autograd.grad(fn(x), x, g)
        (got,) = run(f"{line} : ({ty(g)}, {ty(x)}) -> {ty(x)}", g, x.detach(), results=ty(x))
        close(got, want)


def test_rms_norm_by_hand() -> None:
    x, w = torch.tensor([[3.0, 4.0]]), torch.tensor([1.0, 2.0])
    (y,) = run(
        f"tfm.rms_norm %a0 weight %a1 {{eps = 0.0 : f64, ndim = 1 : i64}} : ({ty(x)}, {ty(w)}) -> {ty(x)}",
        x,
        w,
        results=ty(x),
    )
    rms = math.sqrt((9 + 16) / 2)
    close(y, torch.tensor([[3 / rms, 8 / rms]]))


# ---- shapes, reductions, elementwise -----------------------------------------------------------


def test_matmul_transposes_and_broadcast() -> None:
    a, b = torch.randn(3, 1, 5, 4), torch.randn(2, 6, 5)
    (got,) = run(
        f"tfm.matmul %a0, %a1 {{transpose_lhs, transpose_rhs}} : ({ty(a)}, {ty(b)}) -> tensor<3x2x4x6xf32>",
        a,
        b,
        results="tensor<3x2x4x6xf32>",
    )
    close(got, a.transpose(-1, -2) @ b.transpose(-1, -2), 1e-4)


def test_reduce_kinds() -> None:
    x = torch.tensor([[[1.0, -2.0], [3.0, 4.0]], [[0.5, 2.0], [-1.0, 1.0]]])
    cases = [
        ("sum", "0, 2", "tensor<2xf32>", torch.tensor([1.5, 7.0])),
        ("prod", "0, 1", "tensor<2xf32>", torch.tensor([-1.5, -16.0])),
        ("max", "-1", "tensor<2x2xf32>", torch.tensor([[1.0, 4.0], [2.0, 1.0]])),
        ("mean", "1", "tensor<2x2xf32>", torch.tensor([[2.0, 1.0], [-0.25, 1.5]])),
    ]
    for kind, dims, res, want in cases:
        (got,) = run(
            f"tfm.reduce %a0 {{kind = #tfm<reduce_kind {kind}>, dims = array<i64: {dims}>}} : ({ty(x)}) -> {res}",
            x,
            results=res,
        )
        close(got, want)
    b = x > 0
    (anyv,) = run(
        f"tfm.reduce %a0 {{kind = #tfm<reduce_kind all>, dims = array<i64: 1, 2>, keepdim}} : ({ty(b)}) -> tensor<2x1x1xi1>",
        b,
        results="tensor<2x1x1xi1>",
    )
    assert anyv.flatten().tolist() == [False, False]


def test_slice_pad_concat_permute() -> None:
    x = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    (s,) = run(
        f"tfm.slice %a0 {{dim = 1 : i64, start = 1 : i64, end = 4 : i64, step = 2 : i64}} : ({ty(x)}) -> tensor<3x2xf32>",
        x,
        results="tensor<3x2xf32>",
    )
    close(s, x[:, 1:4:2])
    (p,) = run(
        f"tfm.pad %a0 {{low = array<i64: 1, 0>, high = array<i64: 0, 2>, value = -1.0 : f64}} : ({ty(x)}) -> tensor<4x6xf32>",
        x,
        results="tensor<4x6xf32>",
    )
    assert p[0].tolist() == [-1.0] * 6 and p[1].tolist() == [0.0, 1.0, 2.0, 3.0, -1.0, -1.0]
    (c,) = run(
        f"tfm.concat %a0, %a0 {{dim = -1 : i64}} : ({ty(x)}, {ty(x)}) -> tensor<3x8xf32>",
        x,
        results="tensor<3x8xf32>",
    )
    close(c, torch.cat([x, x], dim=1))
    y = torch.randn(2, 3, 4)
    (t,) = run(
        f"tfm.permute %a0 {{perm = array<i64: 2, 0, 1>}} : ({ty(y)}) -> tensor<4x2x3xf32>",
        y,
        results="tensor<4x2x3xf32>",
    )
    close(t, y.permute(2, 0, 1))


def test_constants_arange_where_convert() -> None:
    (c,) = run("tfm.constant {value = -3 : i64} : tensor<2xi64>", results="tensor<2xi64>")
    assert c.tolist() == [-3, -3] and c.dtype == torch.int64
    (a,) = run(
        "tfm.arange {start = 0.5 : f64, step = 2.0 : f64} : tensor<3xf32>", results="tensor<3xf32>"
    )
    assert a.tolist() == [0.5, 2.5, 4.5]
    cond, x = torch.tensor([True, False, True]), torch.tensor([1.0, 2.0, 3.0])
    s = torch.tensor(9.0)
    (w,) = run(
        f"tfm.where %a0, %a1, %a2 : ({ty(cond)}, {ty(x)}, {ty(s)}) -> {ty(x)}",
        cond,
        x,
        s,
        results=ty(x),
    )
    assert w.tolist() == [1.0, 9.0, 3.0]
    (h,) = run(f"tfm.convert %a0 : ({ty(x)}) -> tensor<3xf16>", x, results="tensor<3xf16>")
    assert h.dtype == torch.float16
    (lt,) = run(
        f"tfm.lt %a0, %a1 : ({ty(x)}, {ty(s)}) -> tensor<3xi1>",
        x,
        torch.tensor(2.5),
        results="tensor<3xi1>",
    )
    assert lt.tolist() == [True, True, False]


# ---- generic ops -------------------------------------------------------------------------------


def test_generic_op_runs_the_aten_op() -> None:
    x = torch.tensor([[1, 0, 2], [3, 1, 1]])
    (cs,) = run(
        f'tfm.generic %a0 {{target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {{}}}} : ({ty(x)}) -> {ty(x)}',
        x,
        results=ty(x),
    )
    assert cs.tolist() == [[1, 1, 3], [3, 4, 5]]
    y = torch.tensor([3.0, 1.0, 2.0])
    vals, idx = run(
        f'tfm.generic %a0 {{target = "aten.sort.default", args = [#tfm.operand<0>, -1 : i64, true], kwargs = {{}}}} '
        f": ({ty(y)}) -> ({ty(y)}, tensor<3xi64>)",
        y,
        results=f"{ty(y)}; tensor<3xi64>",
    )
    assert vals.tolist() == [3.0, 2.0, 1.0] and idx.tolist() == [0, 2, 1]
    rows = torch.tensor([1, 0])
    (picked,) = run(
        f'tfm.generic %a0, %a1 {{target = "aten.index.Tensor", args = [#tfm.operand<0>, [#tfm.operand<1>]], kwargs = {{}}}} '
        f": ({ty(x)}, {ty(rows)}) -> tensor<2x3xi64>",
        x,
        rows,
        results="tensor<2x3xi64>",
    )
    assert picked.tolist() == [[3, 1, 1], [1, 0, 2]]
    (filled,) = run(
        f'tfm.generic %a0 {{target = "aten.clamp.default", args = [#tfm.operand<0>, 0xFFF0000000000000 : f64, 2.0 : f64], kwargs = {{}}}} '
        f": ({ty(y)}) -> {ty(y)}",
        y,
        results=ty(y),
    )
    assert filled.tolist() == [2.0, 1.0, 2.0]


def test_unknown_generic_op_is_an_error() -> None:
    x = torch.zeros(2)
    with pytest.raises(TandemError, match="aten.no_such_op"):
        run(
            f'tfm.generic %a0 {{target = "aten.no_such_op.default", args = [#tfm.operand<0>], kwargs = {{}}}} : ({ty(x)}) -> {ty(x)}',
            x,
            results=ty(x),
        )


# ---- errors ------------------------------------------------------------------------------------


def test_wrong_argument_shape_is_an_error() -> None:
    ir = parse_text(
        "func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {\n"
        "  %y = tfm.exp %x : (tensor<2x4xf32>) -> tensor<2x4xf32>\n"
        "  func.return %y : tensor<2x4xf32>\n}\n"
    )
    with pytest.raises(TandemError, match=r"expected shape \(2, 4\), got \(4, 2\)"):
        run_module(ir, [torch.zeros(4, 2)])
    with pytest.raises(TandemError, match="takes 1 arguments, got 2"):
        run_module(ir, [torch.zeros(2, 4), torch.zeros(2, 4)])


def test_random_dropout_is_refused() -> None:
    x = torch.zeros(2, 4)
    with pytest.raises(TandemError, match="p=0.1"):
        run(f"tfm.dropout %a0 {{p = 0.1 : f64}} : ({ty(x)}) -> {ty(x)}", x, results=ty(x))
    (same,) = run(f"tfm.dropout %a0 {{p = 0.0 : f64}} : ({ty(x)}) -> {ty(x)}", x + 1, results=ty(x))
    assert same.eq(1).all()
