"""tile: the mappers find the optimum of their own cost, never lose to the default tile, and the
cost model uses the recorded tile."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from xdsl.dialects.builtin import DictionaryAttr

from backends.op_cost import op_cost
from backends.targets import load_target
from backends.tiling import acceltran, phaze
from backends.tiling.blocking import Blocking, dram_elements
from backends.tiling.gpu import gpu_tile
from backends.tiling.mapper import choose
from backends.tiling.record import read_tiles
from frontends.importer import import_model
from frontends.zoo import Overrides, build_model
from ir import attrs
from ir.errors import PassError, TandemError
from ir.io import parse_text
from ir.linalg_ops import AttentionBackwardOp, AttentionOp, MatmulOp
from ir.work import GemmShape
from tandem.pipeline import run_pipeline

ACCELERATORS = ["acceltran-server", "acceltran-edge", "tpuv4-like"]
# Small on-chip buffers, so that blocking and loop order matter on small shapes.
SMALL_EDGE = replace(
    load_target("acceltran-edge"),
    activation_buffer_mb=0.05,
    weight_buffer_mb=0.03,
    mask_buffer_mb=0.01,
)
SMALL_TPU = replace(load_target("tpuv4-like"), global_buffer_bytes=600_000)
BRUTE = {"acceltran": acceltran, "phaze": phaze}


def _brute_force(t, g: GemmShape, sparsity: float):
    mod = BRUTE[t.kind]
    costs = (mod.evaluate(t, g, pe, b, 2, sparsity) for pe, b in mod.all_tiles(t, g))
    return min(costs, key=lambda c: c.rank())


@settings(max_examples=12, deadline=None)
@given(
    st.sampled_from([SMALL_EDGE, SMALL_TPU]),
    st.integers(1, 4),
    st.integers(8, 700),
    st.integers(8, 700),
    st.integers(8, 700),
    st.sampled_from([0.0, 0.5]),
)
def test_mapper_finds_the_optimum_of_its_cost(t, b, m, n, k, sparsity) -> None:
    """The mapper searches PE tiles and blockings separately and only the largest blockings
    that fit; a brute force over every tile, blocking and loop order agrees."""
    g = GemmShape(b, m, n, k)
    c = choose(t, g, 2, sparsity)
    assert c.cost.rank() == _brute_force(t, g, sparsity).rank()
    assert c.cost.seconds <= c.default.seconds


def test_blocking_matters_on_small_buffers() -> None:
    """The mapper beats the fixed default dataflow where the default blocks spill (a known case)."""
    c = choose(SMALL_EDGE, GemmShape(4, 96, 640, 64))
    assert c.cost.fits and c.gain > 0.15
    assert c.cost.dram_bytes < c.default.dram_bytes
    # loop order: with n innermost the A block stays on chip across the whole n loop
    g = GemmShape(1, 1024, 1024, 64)
    a_in, w_in, c_in = dram_elements(g, Blocking(128, 128, 64, "mkn"))
    assert a_in == 1024 * 64 and w_in == 64 * 1024 * 8 and c_in == 1024 * 1024


def _ops(module):
    return [o for o in module.walk() if isinstance(o, MatmulOp | AttentionOp | AttentionBackwardOp)]


@pytest.fixture(scope="module")
def bert_train():
    spec = build_model("bert-base", Overrides(layers=1, seq=128), training=True, device="meta")
    return import_model(spec)


@pytest.mark.parametrize("name", ACCELERATORS)
def test_chosen_tiles_never_slower_and_the_cost_model_uses_them(bert_train, name) -> None:
    target = load_target(name)
    before = {o: op_cost(o, target).seconds for o in _ops(bert_train)}
    module = bert_train.clone()
    run_pipeline(module, f"tile{{target={name}}}")
    assert 0.0 <= module.attributes[attrs.TILE_GAIN].value.data < 1.0
    for o in _ops(module):
        rec = o.attributes[attrs.TILE]
        assert isinstance(rec, DictionaryAttr)
        entries = [rec] if "pe" in rec.data else list(rec.data.values())
        for e in entries:
            seconds = e.data["seconds"].value.data
            assert seconds <= e.data["default_seconds"].value.data * (1 + 1e-5)
            assert e.data["dram_bytes"].value.data > 0 and e.data["buffer_bytes"].value.data > 0
        after = op_cost(o, target).seconds
        if isinstance(o, MatmulOp):  # the recorded prediction is the cost model's
            assert after == pytest.approx(rec.data["seconds"].value.data, rel=1e-5)
    # never slower than the default tile, op by op
    for o_before, o_after in zip(before, _ops(module), strict=True):
        assert op_cost(o_after, target).seconds <= before[o_before] * (1 + 1e-9)


MATMUL = """
func.func @f(%x: tensor<96x64xf16>, %w: tensor<64x640xf16>) -> tensor<96x640xf16> {
  %y = tfm.matmul %x, %w {TILE} : (tensor<96x64xf16>, tensor<64x640xf16>) -> tensor<96x640xf16>
  func.return %y : tensor<96x640xf16>
}
"""


def _matmul(tile: str):
    module = parse_text(MATMUL.replace("TILE", tile))
    return module, next(o for o in module.walk() if isinstance(o, MatmulOp))


def test_a_hand_written_tile_is_what_the_cost_model_prices() -> None:
    t = load_target("acceltran-edge")
    rec = 'tile = {pe = array<i64: 1, 32>, block = array<i64: 96, 640, 64>, order = "mnk"}'
    _, op = _matmul(rec)
    tiles = read_tiles(op)
    assert tiles is not None and tiles[""].pe == (1, 32)
    want = acceltran.evaluate(t, GemmShape(1, 96, 640, 64), (1, 32), Blocking(96, 640, 64), 2)
    assert op_cost(op, t).seconds == pytest.approx(want.seconds)
    assert op_cost(op, t).detail["tile"] == (1, 32)
    _, plain = _matmul("")
    assert op_cost(plain, t).detail["tile"] == (t.tile_b, t.tile_x)


@pytest.mark.parametrize(
    "rec,match",
    [
        ('tile = {pe = array<i64: 1, 0>, block = array<i64: 1, 1, 1>, order = "mnk"}', "pe must"),
        ('tile = {pe = array<i64: 1, -1>, block = array<i64: 1, 1, 1>, order = "mnk"}', "pe must"),
        ('tile = {pe = array<i64: 1, 8>, block = array<i64: 1, 1>, order = "mnk"}', "block must"),
        ('tile = {pe = array<i64: 1, 8>, block = array<i64: 8, 8, 8>, order = "mmk"}', "order"),
        ('tile = "big"', "must be a dictionary"),
    ],
)
def test_malformed_tile_is_one_line_error(rec: str, match: str) -> None:
    _, op = _matmul(rec)
    with pytest.raises(TandemError, match=match) as err:
        op_cost(op, load_target("acceltran-edge"))
    assert "tfm.matmul" in str(err.value) and "\n" not in str(err.value)


def test_gpu_record_explains_tile_and_wave_quantization() -> None:
    a100 = load_target("a100-sxm4-40gb")
    info = gpu_tile(a100, GemmShape(1, 2048, 4096, 1024))
    tm, tn = info["cta"]
    assert info["ctas"] == -(-2048 // tm) * -(-4096 // tn) * info["split_k"]
    assert info["waves"] == -(-info["ctas"] // a100.sm_count)
    assert info["wave_efficiency"] == pytest.approx(info["ctas"] / (info["waves"] * 108))
    assert info["tile_efficiency"] == 1.0  # multiples of every tile
    odd = gpu_tile(a100, GemmShape(1, 2000, 4000, 1024))
    assert odd["tile_efficiency"] < 1.0
    # on a GPU the record changes no prediction
    module, op = _matmul("")
    before = op_cost(op, a100).seconds
    run_pipeline(module, "tile{target=a100-sxm4-40gb}")
    assert "cta" in op.attributes[attrs.TILE].data and read_tiles(op) is None
    assert op_cost(op, a100).seconds == before


def test_bad_target_is_pass_error() -> None:
    module, _ = _matmul("")
    with pytest.raises(PassError, match="tile: unknown target"):
        run_pipeline(module, "tile{target=nope}")
