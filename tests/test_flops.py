"""FLOP accounting: our matmul + attention FLOPs equal PyTorch's FlopCounterMode exactly, and
match the analytic GEMM count of REFERENCE.md (24bsh^2 + 4bs^2h per layer, 2bshv logits)."""

from __future__ import annotations

import json

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode, sdpa_backward_flop_count, sdpa_flop_count

from backends.flops import count_module, count_op
from frontends.importer import import_module
from frontends.user_model import resolve_model
from ir.io import parse_text
from ir.work import GemmShape

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")
aten = torch.ops.aten


# FlopCounterMode has formulas for the CUDA attention kernels but none for the CPU flash kernel
# (`_scaled_dot_product_flash_attention_for_cpu` and its backward), which is what runs here, so
# it would count no attention at all. We register FlopCounterMode's own SDPA formulas for those
# two ops. Entries of `custom_mapping` are wrapped by torch's `shape_wrapper`: they receive the
# shapes of the tensor arguments (plus `out_shape=`), in the ATen op's argument order:
#   forward:  (query, key, value, dropout_p, is_causal, *, attn_mask, scale)
#   backward: (grad_out, query, key, value, out, logsumexp, dropout_p, is_causal, ...)
def _cpu_sdpa(query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_flop_count(query, key, value)


def _cpu_sdpa_backward(grad_out, query, key, value, *args, out_shape=None, **kwargs) -> int:
    return sdpa_backward_flop_count(grad_out, query, key, value)


CPU_ATTENTION = {
    aten._scaled_dot_product_flash_attention_for_cpu: _cpu_sdpa,
    aten._scaled_dot_product_flash_attention_for_cpu_backward: _cpu_sdpa_backward,
}


def torch_flops(spec) -> int:
    with FlopCounterMode(display=False, custom_mapping=CPU_ATTENTION) as counter:
        out = spec.module(*spec.example_inputs)
        if spec.training:
            out.backward()
    return counter.get_total_flops()


@pytest.mark.parametrize("training", [False, True], ids=["forward", "forward+backward"])
@pytest.mark.parametrize("name", TINY)
def test_mm_flops_equal_flop_counter(models, name: str, training: bool) -> None:
    spec, imported = models.get(name, training=training)
    ours = count_module(imported.ir).mm_flops
    theirs = torch_flops(spec)
    assert ours == theirs
    attention = sum(
        count_op(op).mm_flops for op in imported.ir.walk() if op.name.startswith("tfm.attention")
    )
    assert attention > 0  # the attention formulas were applied on both sides


def test_flop_counter_without_cpu_attention_formulas_misses_attention(models) -> None:
    """Why the mapping above is needed (if torch learns the CPU kernels, drop it)."""
    spec, imported = models.get("gpt2-tiny")
    with FlopCounterMode(display=False) as counter:
        spec.module(*spec.example_inputs)
    attention = sum(
        count_op(op).mm_flops for op in imported.ir.walk() if op.name == "tfm.attention"
    )
    assert counter.get_total_flops() == count_module(imported.ir).mm_flops - attention


def _gpt2_analytic(b: int, s: int, h: int, v: int, layers: int) -> tuple[int, int]:
    """(dense GEMM FLOPs, attention FLOPs) of one forward pass (REFERENCE.md)."""
    return layers * 24 * b * s * h * h + 2 * b * s * h * v, layers * 4 * b * s * s * h


def test_gpt2_gemm_flops_match_the_analytic_count(gpt2_meta) -> None:
    spec, ir, _ = gpt2_meta
    c = spec.config
    assert (c["batch"], c["seq"], c["hidden"], c["vocab"], c["layers"]) == (1, 1024, 768, 50257, 12)
    dense, attention = _gpt2_analytic(1, 1024, 768, 50257, 12)
    totals = count_module(ir)
    assert totals.mm_flops == dense + attention
    assert totals.by_kind["matmul"]["flops"] == dense
    assert totals.by_kind["attention"]["flops"] > attention  # plus the softmax estimate


def test_gpt2_training_gemm_flops() -> None:
    """Backward: two GEMMs per forward GEMM; fused attention recomputes the scores (5 vs 2)."""
    spec = resolve_model("gpt2", device="meta", training=True)
    ir = import_module(spec.module, spec.example_inputs, training=True)
    dense, attention = _gpt2_analytic(1, 1024, 768, 50257, 12)
    assert count_module(ir).mm_flops == 3 * dense + attention * 7 // 2


def _one_op(text: str):
    module = parse_text(text)
    return next(op for op in module.walk() if op.name.startswith("tfm."))


def test_matmul_gemm_with_transposes_and_batch() -> None:
    op = _one_op("""func.func @f(%a: tensor<3x1x8x5xf16>, %b: tensor<4x6x8xf16>) {
      %0 = tfm.matmul %a, %b {transpose_lhs, transpose_rhs} : (tensor<3x1x8x5xf16>, tensor<4x6x8xf16>) -> tensor<3x4x5x6xf16>
      func.return
    }""")
    assert op.gemm() == GemmShape(12, 5, 6, 8)
    counts = count_op(op)
    assert counts.kind == "matmul"
    assert counts.flops == counts.mm_flops == 2 * 12 * 5 * 6 * 8
    assert counts.bytes_read == 2 * (3 * 8 * 5 + 4 * 6 * 8)
    assert counts.bytes_written == 2 * 12 * 5 * 6


def test_attention_gemms_gqa() -> None:
    fwd = _one_op("""func.func @f(%q: tensor<2x8x16x32xf32>, %kv: tensor<2x2x24x32xf32>) {
      %0 = tfm.attention %q, %kv, %kv {scale = 0.25 : f64} : (tensor<2x8x16x32xf32>, tensor<2x2x24x32xf32>, tensor<2x2x24x32xf32>) -> tensor<2x8x16x32xf32>
      func.return
    }""")
    assert fwd.work().gemms == (GemmShape(16, 16, 24, 32), GemmShape(16, 16, 32, 24))
    assert count_op(fwd).mm_flops == sdpa_flop_count((2, 8, 16, 32), (2, 2, 24, 32), (2, 2, 24, 32))


def test_views_are_free() -> None:
    module = parse_text("""func.func @f(%x: tensor<2x3x4xf32>) {
      %0 = tfm.reshape %x : (tensor<2x3x4xf32>) -> tensor<6x4xf32>
      %1 = tfm.permute %x {perm = array<i64: 2, 0, 1>} : (tensor<2x3x4xf32>) -> tensor<4x2x3xf32>
      %2 = tfm.slice %x {dim = 0 : i64, start = 0 : i64, end = 1 : i64, step = 1 : i64} : (tensor<2x3x4xf32>) -> tensor<1x3x4xf32>
      %3 = tfm.broadcast %x : (tensor<2x3x4xf32>) -> tensor<5x2x3x4xf32>
      %4 = tfm.constant {value = 1.0 : f64} : tensor<1024x1024xf32>
      %5 = tfm.exp %x : (tensor<2x3x4xf32>) -> tensor<2x3x4xf32>
      func.return
    }""")
    counts = [count_op(op) for op in module.walk() if op.name.startswith("tfm.")]
    assert all(c.kind == "view" and c.flops == 0 and c.bytes == 0 for c in counts[:5])
    assert (
        counts[5].kind == "elementwise" and counts[5].flops == 24 and counts[5].bytes == 2 * 24 * 4
    )


@pytest.mark.parametrize(
    "argv", [["gpt2-tiny", "--training"], ["llama-tiny"], ["gpt2", "--layers", "2"]]
)
def test_cli_compare_torch_agrees(capsys, argv) -> None:
    """`tandem flops --compare-torch` runs FlopCounterMode on fake tensors (any size) and agrees."""
    from tandem.cli import main

    assert main(["flops", *argv, "--compare-torch", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["torch_flop_counter_flops"] == data["flop_counter_flops"] > 0
