"""The simulator: per-op costs, bounds, schedules, memory lifetimes, energy, outputs."""

from __future__ import annotations

import json
import time

import pytest
from xdsl.dialects.builtin import IntegerAttr

from backends.cost import acceltran_area
from backends.op_cost import op_cost
from backends.sim import chrome_trace, entry_function, roofline_png, simulate
from backends.targets import load_target
from frontends.importer import import_model
from frontends.zoo import Overrides, build_model
from ir.errors import TandemError
from ir.io import parse_text
from tandem.report_text import render

TARGETS = ["toy", "a100-sxm4-40gb", "acceltran-edge", "tpuv4-like"]


def _import(name: str, training: bool = False, **over):
    return import_model(build_model(name, Overrides(**over), training=training, device="meta"))


@pytest.fixture(scope="module")
def tiny():
    return _import("gpt2-tiny")


@pytest.fixture(scope="module")
def tiny_train():
    return _import("gpt2-tiny", training=True)


def _ops(module):
    """The entry function's ops without its func.return."""
    return list(entry_function(module).body.block.ops)[:-1]


def _max_peak(target) -> float:
    peaks = getattr(target, "peak_flops_by_dtype", None)
    return max(peaks.values()) if peaks else target.peak_flops("f16")


# ---------------------------------------------------------------------------------------
# Bounds


@pytest.mark.parametrize("name", TARGETS)
def test_no_op_beats_peak_compute_or_bandwidth(tiny_train, name):
    target = load_target(name)
    report = simulate(tiny_train, target)
    peak, bw = _max_peak(target), target.mem_bandwidth
    for s in report.signatures:
        c = s.cost
        assert c.seconds >= 0
        assert c.seconds >= c.bytes / bw * (1 - 1e-9), s
        # accelerators' vector units count nominal FLOPs per element: check their GEMMs
        if target.kind == "gpu" or s.kind in ("matmul", "attention"):
            assert c.seconds >= c.flops / peak * (1 - 1e-9), s


@pytest.mark.parametrize("name", TARGETS)
def test_latency_at_least_flops_over_peak(tiny_train, name):
    target = load_target(name)
    report = simulate(tiny_train, target)
    mm = sum(r.flops for r in report.rows if r.kind in ("matmul", "attention"))
    assert report.latency_s >= mm / _max_peak(target)
    assert report.latency_s >= sum(
        r.flops / target.peak_flops(r.dtype)
        for r in report.rows
        if r.kind in ("matmul", "attention")
    ) * (1 - 1e-9)
    assert 0 < report.utilisation() <= 1


def test_gpu_runs_one_stream_in_program_order(tiny):
    report = simulate(tiny, "toy")
    costed = [r for r in report.rows if r.unit]
    assert {r.unit for r in costed} == {"sm"}
    assert report.latency_s == pytest.approx(sum(r.seconds for r in costed))
    for a, b in zip(costed, costed[1:], strict=False):
        assert b.start == pytest.approx(a.end)


def test_tiny_gpt2_matches_hand_computation_on_toy(tiny):
    """toy: 10 SMs, f32 peak 10 TFLOP/s, 1 TB/s, tiles 128x128 (eff 1) and 64x64 (eff 0.5),
    k tile 32, split-K <= 2, launch 5 us, memory-op efficiency 1."""
    report = simulate(tiny, "toy")
    ops = _ops(tiny)
    rows = {(r.op, r.layer): r for r in reversed(report.rows)}  # first op of each name/layer

    # layer_norm [2,16,64] f32 with weight and bias: reads 8192 + 2*256 B, writes 8192 B;
    # 8 FLOPs per element at the f32 peak
    ln = rows[("tfm.layer_norm", 0)]
    assert ln.bytes == 16896 and ln.flops == 8 * 2048
    assert ln.seconds == pytest.approx(max(16896 / 1e12, 16384 / 10e12) + 5e-6, rel=1e-12)

    # QKV projection m=32 n=192 k=64 f32 (all dims 128-byte aligned): the best config is the
    # 64x64 tile (eff 0.5) with split-K 2: 6 CTAs in one wave of 2*64*64*32 FLOPs at
    # 10e12/10 * 0.5 FLOP/s per SM, plus the split-K round trip of 2 * 4 B * 32*192 * 2
    mm = rows[("tfm.matmul", 0)]
    assert [str(v.type) for v in ops[mm.index].operands] == [
        "tensor<32x64xf32>",
        "tensor<64x192xf32>",
    ]
    compute = 2 * 64 * 64 * 32 / (10e12 / 10 * 0.5)
    split_k = 2 * 4 * 32 * 192 * 2 / 1e12
    assert mm.seconds == pytest.approx(compute + split_k + 5e-6, rel=1e-12)
    assert mm.flops == 2 * 32 * 192 * 64

    # its bias add: reads 32*192*4 + 192*4 B, writes 32*192*4 B
    add = report.rows[report.rows.index(mm) + 1]
    assert add.op == "tfm.add"
    assert add.seconds == pytest.approx(49920 / 1e12 + 5e-6, rel=1e-12)
    assert add.start == pytest.approx(mm.end)


def test_views_are_free_and_alias(tiny):
    report = simulate(tiny, "toy")
    views = [r for r in report.rows if r.kind == "view"]
    assert views and all(r.seconds == 0 and r.unit == "" and r.bytes == 0 for r in views)


def test_tokens_and_throughput(tiny):
    report = simulate(tiny, "toy")
    assert report.model["tokens"] == 2 * 16
    assert report.throughput()["tokens_per_s"] == pytest.approx(32 / report.latency_s)


# ---------------------------------------------------------------------------------------
# Schedules and placement

TWO_MATMULS = """
builtin.module {
  func.func @forward(%x: tensor<256x256xf16>, %w1: tensor<256x256xf16>,
                     %w2: tensor<256x256xf16>) -> (tensor<256x256xf16>, tensor<256x256xf16>) {
    %a = tfm.matmul %x, %w1 {ATTR_A} : (tensor<256x256xf16>, tensor<256x256xf16>) -> tensor<256x256xf16>
    %b = tfm.matmul %x, %w2 {ATTR_B} : (tensor<256x256xf16>, tensor<256x256xf16>) -> tensor<256x256xf16>
    func.return %a, %b : tensor<256x256xf16>, tensor<256x256xf16>
  }
}
"""


def _two(a: str, b: str):
    return parse_text(TWO_MATMULS.replace("ATTR_A", a).replace("ATTR_B", b))


def test_schedule_two_units_overlap_one_unit_serialises():
    par = simulate(_two('sched.unit = "tc0"', 'sched.unit = "tc1"'), "tpuv4-like")
    a, b = par.rows
    assert a.unit == "tc0" and b.unit == "tc1"
    assert a.start == b.start == 0.0
    assert par.latency_s == pytest.approx(a.seconds)
    assert par.options["scheduled"]

    ser = simulate(_two('sched.unit = "tc0"', 'sched.unit = "tc0"'), "tpuv4-like")
    a, b = ser.rows
    assert b.start == pytest.approx(a.end)
    assert ser.latency_s == pytest.approx(a.seconds + b.seconds)

    # a single core is slower than all cores (the default, unscheduled)
    default = simulate(_two("", ""), "tpuv4-like")
    assert {r.unit for r in default.rows} == {"tc"}
    assert default.rows[0].seconds < par.rows[0].seconds


def test_schedule_start_times_are_honoured_and_order_issue():
    rep = simulate(
        _two(
            'sched.unit = "tc0", sched.start = 1.0e-03 : f64',
            'sched.unit = "tc0", sched.start = 0.0 : f64',
        ),
        "tpuv4-like",
    )
    a, b = sorted(rep.rows, key=lambda r: r.index)
    assert b.start == 0.0  # issued first although later in program order
    assert a.start == pytest.approx(1e-3)
    assert [r.index for r in rep.rows] == [1, 0]


def test_all_cores_op_waits_for_every_core():
    rep = simulate(_two('sched.unit = "tc3"', 'sched.unit = "tc"'), "tpuv4-like")
    a, b = rep.rows
    assert b.start == pytest.approx(a.end)


def test_dependencies_beat_schedule_start():
    text = """
builtin.module {
  func.func @forward(%x: tensor<64x64xf16>, %w: tensor<64x64xf16>) -> tensor<64x64xf16> {
    %a = tfm.matmul %x, %w {sched.unit = "mac", sched.start = 0.0 : f64} : (tensor<64x64xf16>, tensor<64x64xf16>) -> tensor<64x64xf16>
    %b = tfm.softmax %a {dim = 1 : i64, sched.unit = "softmax", sched.start = 0.0 : f64} : (tensor<64x64xf16>) -> tensor<64x64xf16>
    func.return %b : tensor<64x64xf16>
  }
}
"""
    a, b = simulate(parse_text(text), "acceltran-edge").rows
    assert b.start == pytest.approx(a.end) and b.unit == "softmax"


def test_unscheduled_accelerator_overlaps_units_gpu_does_not():
    text = """
builtin.module {
  func.func @forward(%x: tensor<64x64xf16>, %w: tensor<64x64xf16>, %s: tensor<64x64xf16>)
      -> (tensor<64x64xf16>, tensor<64x64xf16>) {
    %a = tfm.matmul %x, %w : (tensor<64x64xf16>, tensor<64x64xf16>) -> tensor<64x64xf16>
    %b = tfm.softmax %s {dim = 1 : i64} : (tensor<64x64xf16>) -> tensor<64x64xf16>
    func.return %a, %b : tensor<64x64xf16>, tensor<64x64xf16>
  }
}
"""
    acc = simulate(parse_text(text), "acceltran-edge")
    a, b = acc.rows
    assert (a.unit, b.unit) == ("mac", "softmax") and a.start == b.start == 0.0
    gpu = simulate(parse_text(text), "toy")
    a, b = gpu.rows
    assert b.start == pytest.approx(a.end)


def test_bad_schedule_unit_is_one_line_error():
    with pytest.raises(TandemError, match="cannot run this op"):
        simulate(_two('sched.unit = "vc0"', ""), "tpuv4-like")
    with pytest.raises(TandemError, match="tc9"):
        simulate(_two('sched.unit = "tc9"', ""), "tpuv4-like")
    with pytest.raises(TandemError, match="sched.start"):
        simulate(_two('sched.start = "soon"', ""), "tpuv4-like")


def test_placement_reports_per_device():
    rep = simulate(_two("placement = 0 : i64", "placement = 1 : i64"), "toy")
    a, b = rep.rows
    assert (a.device, b.device) == (0, 1) and a.start == b.start == 0.0
    devices = rep.devices()
    assert [d["device"] for d in devices] == [0, 1]
    assert all(d["peak_memory_bytes"] > 0 for d in devices)
    trace = chrome_trace(rep)
    assert {e["pid"] for e in trace["traceEvents"] if e["ph"] == "X"} == {0, 1}


# ---------------------------------------------------------------------------------------
# Sparsity, attention, memory, energy, scale


def test_sparsity_attribute_scales_cost():
    dense = simulate(_two("", ""), "acceltran-edge").rows[0]
    sparse = simulate(_two("sparsity = 0.5 : f64", ""), "acceltran-edge").rows[0]
    assert sparse.flops == pytest.approx(dense.flops / 2)
    assert sparse.seconds < dense.seconds
    with pytest.raises(TandemError, match="sparsity"):
        simulate(_two("sparsity = 1.5 : f64", ""), "toy")


def test_unfused_attention_costs_more_on_gpu(tiny):
    from tandem.pipeline import run_pipeline

    fused = simulate(tiny, "a100-sxm4-40gb")
    materialised = tiny.clone()
    run_pipeline(materialised, "fuse{kernels=fused}")  # attention scores materialised
    unfused = simulate(materialised, "a100-sxm4-40gb")
    t = {r.kind: 0.0 for r in fused.rows}
    for r in fused.rows:
        t[r.kind] += r.seconds
    u = sum(r.seconds for r in unfused.rows if r.kind == "attention")
    assert u > t["attention"]
    assert unfused.options["kernels"] == "fused"


def test_peak_memory_from_lifetimes():
    text = """
builtin.module {
  func.func @forward(%x: tensor<1000xf32> {tfm.input = "x"}) -> tensor<1000xf32> {
    %a = tfm.exp %x : (tensor<1000xf32>) -> tensor<1000xf32>
    %v = tfm.reshape %a : (tensor<1000xf32>) -> tensor<10x100xf32>
    %c = tfm.exp %v : (tensor<10x100xf32>) -> tensor<10x100xf32>
    %d = tfm.reshape %c : (tensor<10x100xf32>) -> tensor<1000xf32>
    %e = tfm.exp %d : (tensor<1000xf32>) -> tensor<1000xf32>
    func.return %e : tensor<1000xf32>
  }
}
"""
    rep = simulate(parse_text(text), "toy")
    mem = rep.memory
    # argument 4000 B throughout; at most two 4000 B results live at once (%a dies when %c,
    # through the view %v, has been computed; views cost nothing)
    assert mem["argument_bytes"] == 4000
    assert mem["peak_bytes"] == 4000 + 8000
    assert mem["activation_peak_bytes"] == 8000
    assert mem["fits"]


def test_acceltran_energy_and_area(tiny_train):
    target = load_target("acceltran-edge")
    rep = simulate(tiny_train, target)
    e = rep.energy
    assert e is not None and e["dynamic_j"] > 0 and e["leakage_j"] > 0
    assert e["total_j"] == pytest.approx(e["dynamic_j"] + e["leakage_j"])
    assert rep.area_mm2 == acceltran_area(target)
    assert {r.unit for r in rep.rows if r.unit} <= {"mac", "softmax", "layernorm", "dma"}
    assert {r.unit for r in rep.rows if r.kind == "matmul"} == {"mac"}
    assert {r.unit for r in rep.rows if r.kind == "norm"} == {"layernorm"}
    assert simulate(tiny_train, "toy").energy is None


def test_identical_layers_are_costed_once():
    small = simulate(_import("gpt2-tiny", layers=2), "toy")
    big = simulate(_import("gpt2-tiny", layers=6), "toy")
    assert len(big.signatures) == len(small.signatures)
    layers = [g for g in big.group("layer") if isinstance(g["layer"], int)]
    assert len(layers) == 6
    assert len({round(g["seconds"], 15) for g in layers[1:-1]}) == 1


def _chain(layers: int) -> str:
    """A synthetic model of ``layers`` identical blocks of 8 ops (matmuls, norm, GELU, views)."""
    t = "tensor<512x1024xf16>"
    lines = [
        "builtin.module {",
        f"  func.func @forward(%x: {t}, %w: tensor<1024x1024xf16>, "
        f"%g: tensor<1024xf16>, %b: tensor<1024xf16>) -> {t} {{",
    ]
    v = "%x"
    for i in range(layers):
        a = f"{{layer = {i} : i64}}"
        lines += [
            f"    %m{i} = tfm.matmul {v}, %w {a} : ({t}, tensor<1024x1024xf16>) -> {t}",
            f"    %r{i} = tfm.reshape %m{i} {a} : ({t}) -> tensor<2x256x1024xf16>",
            f"    %p{i} = tfm.permute %r{i} {{layer = {i} : i64, perm = array<i64: 1, 0, 2>}}"
            f" : (tensor<2x256x1024xf16>) -> tensor<256x2x1024xf16>",
            f"    %q{i} = tfm.reshape %p{i} {a} : (tensor<256x2x1024xf16>) -> {t}",
            f"    %n{i} = tfm.layer_norm %q{i}, %g, %b {{layer = {i} : i64, eps = 1.0e-05 : f64,"
            f" ndim = 1 : i64}} : ({t}, tensor<1024xf16>, tensor<1024xf16>) -> {t}",
            f"    %e{i} = tfm.gelu %n{i} {a} : ({t}) -> {t}",
            f"    %k{i} = tfm.matmul %e{i}, %w {{layer = {i} : i64, transpose_rhs}}"
            f" : ({t}, tensor<1024x1024xf16>) -> {t}",
            f"    %s{i} = tfm.add %k{i}, {v} {a} : ({t}, {t}) -> {t}",
        ]
        v = f"%s{i}"
    lines += [f"    func.return {v} : {t}", "  }", "}"]
    return "\n".join(lines)


def _replicate(layers: int):
    """``_chain(1)`` with its block cloned ``layers`` times (cloning is faster than parsing)."""
    module = parse_text(_chain(1))
    block = entry_function(module).body.block
    body = list(block.ops)
    template, ret = body[:-1], body[-1]
    prev = template[-1].results[0]
    for i in range(1, layers):
        mapping = {block.args[0]: prev}
        for op in template:
            new = op.clone(value_mapper=mapping)
            new.attributes["layer"] = IntegerAttr(i, 64)
            block.insert_op_before(new, ret)
        prev = mapping[template[-1].results[0]]
    ret.operands = [prev]
    return module


def test_simulation_scales():
    """8k ops (a GPT-3-sized op count) simulate in about a second."""
    module = _replicate(1000)
    t0 = time.perf_counter()
    rep = simulate(module, "a100-sxm4-80gb")
    elapsed = time.perf_counter() - t0
    assert len(rep.rows) == 8000
    assert len(rep.signatures) <= 8
    assert len(rep.group("layer")) == 1000
    assert elapsed < 4.0, f"8000 ops took {elapsed:.2f} s"


def test_op_cost_direct(tiny):
    target = load_target("toy")
    for op in _ops(tiny):
        if op.name == "tfm.reshape":
            assert op_cost(op, target).seconds == 0
            break


def test_outputs_render(tiny_train):
    rep = simulate(tiny_train, "acceltran-edge", name="gpt2-tiny")
    text = render(rep, top=5)
    for word in ("latency", "energy", "area", "By layer", "By kind", "Top 5"):
        assert word in text
    data = json.loads(json.dumps(rep.to_json()))
    assert data["schema_version"] == 1 and data["model"]["name"] == "gpt2-tiny"
    assert roofline_png(rep).startswith(b"\x89PNG\r\n\x1a\n")
