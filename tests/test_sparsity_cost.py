"""What measured sparsity buys on each target: AccelTran pays for non-zero pairs and compressed
operands (plus masks), GPUs' dense kernels gain nothing unless 2:4 structured sparsity is
declared, and the simulator prints dense and sparse side by side. Also the exact count of
zero pairs that annotates the IR."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from backends.cost import acceltran_matmul_cost, gemm_cost
from backends.op_cost import op_cost
from backends.sim import entry_function, simulate
from backends.sparsity import annotate_sparsity, measure_sparsity
from backends.targets import load_target
from ir import attrs
from ir.errors import TandemError
from ir.io import parse_text
from ir.linalg_ops import MatmulOp

MATMUL = """
func.func @f(%x: tensor<256x512xf16> {tfm.input = "in0"}, %w: tensor<512x768xf16> {tfm.param = "h.0.w"}) -> tensor<256x768xf16> {
  %y = tfm.matmul %x, %w {ATTRS} : (tensor<256x512xf16>, tensor<512x768xf16>) -> tensor<256x768xf16>
  func.return %y : tensor<256x768xf16>
}
"""


def _matmul(attributes: str = ""):
    module = parse_text(MATMUL.replace("{ATTRS}", "{" + attributes + "}" if attributes else ""))
    return module, next(iter(entry_function(module).body.block.ops))


def test_acceltran_pays_for_nonzero_pairs_and_compressed_operands() -> None:
    t = load_target("acceltran-edge")
    sa, sw, pairs = 0.4, 0.2, 0.55
    dense = acceltran_matmul_cost(t, 1, 256, 768, 512)
    sparse = acceltran_matmul_cost(
        t, 1, 256, 768, 512, pairs, "f16", operand_sparsity=(sa, sw, 0.0)
    )
    assert sparse.detail["cycles"] == pytest.approx((1 - pairs) * dense.detail["dense_cycles"])
    a, w, c = 256 * 512, 512 * 768, 256 * 768
    want = a * (1 - sa) * 2 + a / 8 + w * (1 - sw) * 2 + w / 8 + c * 2
    assert sparse.bytes == pytest.approx(want)
    assert sparse.flops == pytest.approx((1 - pairs) * dense.flops)
    assert sparse.energy_j < dense.energy_j
    # the op attributes reach the same model
    _, op = _matmul("sparsity = 0.55 : f64, sparsity.lhs = 0.4 : f64, sparsity.rhs = 0.2 : f64")
    via_ir = op_cost(op, t)
    assert via_ir.seconds == pytest.approx(sparse.seconds)
    assert via_ir.bytes == pytest.approx(sparse.bytes)
    # the pair fraction defaults to independent zeros: 1 - (1 - 0.4)(1 - 0.2) = 0.52
    _, op = _matmul("sparsity.lhs = 0.4 : f64, sparsity.rhs = 0.2 : f64")
    assert op_cost(op, t).flops == pytest.approx(0.48 * dense.flops)


@pytest.mark.parametrize("target", ["a100-sxm4-40gb", "v100-sxm2", "h100-sxm", "tpuv4-like"])
def test_dense_hardware_gains_nothing_from_unstructured_zeros(target: str) -> None:
    t = load_target(target)
    _, dense = _matmul()
    _, sparse = _matmul("sparsity = 0.9 : f64, sparsity.lhs = 0.9 : f64, sparsity.rhs = 0.0 : f64")
    assert op_cost(sparse, t).seconds == op_cost(dense, t).seconds
    assert op_cost(sparse, t).flops == op_cost(dense, t).flops


def test_structured_sparsity_needs_a_declaring_gpu() -> None:
    a100, v100 = load_target("a100-sxm4-40gb"), load_target("v100-sxm2")
    assert a100.structured_sparsity is not None and v100.structured_sparsity is None
    big = MATMUL.replace("256x512", "8192x8192").replace("512x768", "8192x8192")
    big = big.replace("256x768", "8192x8192")
    dense = entry_function(parse_text(big.replace(" {ATTRS}", ""))).body.block.first_op
    marked = entry_function(
        parse_text(big.replace("{ATTRS}", '{sparsity.pattern = "2:4"}'))
    ).body.block.first_op
    assert dense is not None and marked is not None
    d, s = op_cost(dense, a100), op_cost(marked, a100)
    assert d.bound == "compute"
    assert s.compute_seconds == pytest.approx(d.compute_seconds / a100.structured_sparsity.speedup)
    assert s.seconds < d.seconds and s.flops == pytest.approx(d.flops / 2)
    assert op_cost(marked, v100).seconds == op_cost(dense, v100).seconds
    _, bad = _matmul('sparsity.pattern = "1:8"')
    with pytest.raises(TandemError, match="sparsity.pattern"):
        op_cost(bad, a100)


def test_low_level_gemm_keeps_its_what_if_sparsity() -> None:
    """`gemm_cost(..., sparsity)` stays an explicit what-if (a kernel that skips work)."""
    a100 = load_target("a100-sxm4-40gb")
    assert gemm_cost(a100, 1, 4096, 4096, 4096, sparsity=0.5).flops == pytest.approx(
        0.5 * gemm_cost(a100, 1, 4096, 4096, 4096).flops
    )


def test_bad_sparsity_table_in_a_target_file(tmp_path) -> None:
    src = load_target("a100-sxm4-40gb").source
    text = open(src).read()
    for bad, message in (
        ("speedup = 0.5", "speedup must be >= 1"),
        ("speedup = 3.0", "speedup must be a positive number <= 2"),
        ('pattern = "4:8"', "pattern must be one of"),
    ):
        key = bad.split(" =")[0]
        lines = [bad if line.startswith(key + " =") else line for line in text.splitlines()]
        path = tmp_path / "gpu.toml"
        path.write_text("\n".join(lines))
        with pytest.raises(TandemError, match=message):
            load_target(str(path))


# ---- the simulator: dense and sparse side by side --------------------------------------------


def test_simulator_reports_dense_and_sparse() -> None:
    attrs_ = "sparsity = 0.6 : f64, sparsity.lhs = 0.6 : f64, sparsity.rhs = 0.0 : f64"
    for target in ("acceltran-edge", "acceltran-server"):
        sparse = simulate(_matmul(attrs_)[0], target)
        dense = simulate(_matmul()[0], target)
        assert dense.sparsity is None
        sp = sparse.sparsity
        assert sp is not None and sp["annotated_ops"] == 1 and sp["skips_zeros"]
        assert sp["dense_latency_s"] == pytest.approx(dense.latency_s)
        assert sp["sparse_latency_s"] == sparse.latency_s < dense.latency_s
        assert sp["dense_energy_j"] == pytest.approx(dense.energy["total_j"])
        assert sp["energy_ratio"] > 1
        assert sparse.to_json()["sparsity"] == sp
    gpu = simulate(_matmul(attrs_)[0], "a100-sxm4-40gb").sparsity
    assert gpu is not None and gpu["speedup"] == 1.0 and "skip no zeros" in gpu["note"]


# ---- counting zero pairs exactly ------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 1000),
    ta=st.booleans(),
    tb=st.booleans(),
    batch=st.sampled_from([(), (3,), (2, 3)]),
    density=st.floats(0.05, 1.0),
)
def test_zero_pairs_are_counted_exactly(seed, ta, tb, batch, density) -> None:
    """The pair count equals a brute-force count over every multiply-accumulate."""
    gen = torch.Generator().manual_seed(seed)
    m, k, n = 5, 7, 4

    def sparse(*shape):
        x = torch.randn(*shape, generator=gen)
        return torch.where(torch.rand(*shape, generator=gen) < density, x, 0.0)

    a = sparse(*batch, *((k, m) if ta else (m, k)))
    b = sparse(*((n, k) if tb else (k, n)))  # a shared 2-D right operand broadcasts
    t = "x".join(str(d) for d in (*batch, m, n))
    sa, sb = ("x".join(map(str, x.shape)) for x in (a, b))
    flags = ", ".join(f for f, on in (("transpose_lhs", ta), ("transpose_rhs", tb)) if on)
    text = (
        f'func.func @f(%a: tensor<{sa}xf32> {{tfm.input = "in0"}}, %b: tensor<{sb}xf32> '
        f'{{tfm.input = "in1"}}) -> tensor<{t}xf32> {{\n'
        f"  %c = tfm.matmul %a, %b {{{flags}}} : (tensor<{sa}xf32>, tensor<{sb}xf32>) -> tensor<{t}xf32>\n"
        f"  func.return %c : tensor<{t}xf32>\n}}"
    )
    fn = entry_function(parse_text(text))
    measured = measure_sparsity(fn, [[a, b]])
    op = next(iter(fn.body.block.ops))
    assert isinstance(op, MatmulOp)
    count = measured.matmuls[op]
    A = a.transpose(-1, -2) if ta else a
    B = b.transpose(-1, -2) if tb else b
    nonzero = ((A != 0).unsqueeze(-1) & (B != 0).unsqueeze(-3)).sum()  # [..., M, K, N]
    assert count.pairs == math.prod(batch) * m * n * k
    assert count.pairs - count.zero_pairs == int(nonzero)
    assert count.lhs_zeros == int((a == 0).sum()) and count.rhs_zeros == int((b == 0).sum())
    annotate_sparsity(fn, measured)
    if count.zero_pairs:
        assert attrs.read_float(op, attrs.SPARSITY) == pytest.approx(count.zero_pairs / count.pairs)


def test_tiling_prices_each_operand_compressed() -> None:
    """The AccelTran mapper and tile model move each operand at its own zero fraction (values
    plus a 1-bit mask; a dense operand without one), and the tile pass records what the cost
    model then prices."""
    from backends.tiling import acceltran
    from backends.tiling.blocking import Blocking, dram_elements
    from ir.work import GemmShape
    from tandem.pipeline import run_pipeline

    t = load_target("acceltran-edge")
    g, pe, blk = GemmShape(1, 256, 768, 512), (1, 16), Blocking(128, 256, 512, "mnk")
    same = acceltran.evaluate(t, g, pe, blk, 2, 0.3, (0.3, 0.3, 0.3))
    assert same == acceltran.evaluate(t, g, pe, blk, 2, 0.3)
    cost = acceltran.evaluate(t, g, pe, blk, 2, 0.4, (0.4, 0.0, 0.0))
    a, w, c = dram_elements(g, blk.clamp(g))
    assert cost.dram_bytes == pytest.approx(a * (0.6 * 2 + 1 / 8) + w * 2 + c * 2)
    assert cost.dram_bytes < acceltran.evaluate(t, g, pe, blk, 2, 0.0).dram_bytes
    assert cost.dram_bytes > same.dram_bytes  # only A is compressed
    module, _ = _matmul("sparsity.lhs = 0.4 : f64, sparsity.rhs = 0.0 : f64")
    run_pipeline(module, 'tile{target="acceltran-edge"}')
    op = next(iter(entry_function(module).body.block.ops))
    recorded = op.attributes[attrs.TILE].data["seconds"].value.data
    assert op_cost(op, t).seconds == pytest.approx(recorded, rel=1e-9)
    # the pair fraction 0.4 skips cycles: cheaper than the same tile dense
    assert op_cost(op, t).seconds < op_cost(op, t, sparse=False).seconds
