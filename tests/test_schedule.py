"""schedule: valid schedules, never worse than the list schedule or the sequential one, never
better than the lower bounds; identical layers solved once; the simulator reproduces the
makespan and rejects a broken schedule."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tandem.api as api
from backends.schedule.bounds import lower_bounds
from backends.schedule.list_scheduler import best_list_schedule, sequential_schedule
from backends.schedule.problem import Mode, Problem, Schedule, check
from backends.schedule.solve import solve_segment
from backends.sim import chrome_trace, entry_function, simulate
from backends.sim.units import DRAM_SLOTS
from frontends.importer import import_model
from frontends.zoo import Overrides, build_model
from ir import attrs
from ir.errors import PassError, TandemError
from ir.io import parse_text, print_module
from tandem.pipeline import run_pipeline

TC, VC = (0, "tc"), (0, "vc")


@st.composite
def problems(draw) -> Problem:
    """Random DAGs of tasks on a 4-unit and a 1-unit kind sharing DRAM bandwidth."""
    n = draw(st.integers(1, 9))
    modes, preds = [], []
    for i in range(n):
        d = draw(st.integers(1, 40)) * 1e-7
        dram = draw(st.sampled_from([0, 200, 600, DRAM_SLOTS]))
        if draw(st.booleans()):
            slow = d * draw(st.floats(1.0, 5.0))
            modes.append([Mode(TC, 4, d, dram), Mode(TC, 1, slow, dram // 4, True)])
        else:
            modes.append([Mode(VC, 1, d, dram)])
        preds.append(sorted(draw(st.sets(st.integers(0, i - 1), max_size=2))) if i else [])
    return Problem(modes, preds, {TC: 4, VC: 1})


@settings(max_examples=25, deadline=None)
@given(problems())
def test_ilp_le_list_le_sequential_ge_bounds(p: Problem) -> None:
    seq = sequential_schedule(p)
    lst = best_list_schedule(p)
    for s in (seq, lst):
        assert check(p, s) == []
    r = solve_segment(p, time_limit=2.0, workers=1)
    ilp = Schedule(r.starts, [0] * p.n, r.makespan)
    assert r.makespan <= r.list_makespan * (1 + 1e-12)
    assert r.list_makespan <= r.sequential * (1 + 1e-12)
    assert r.makespan >= max(lower_bounds(p).values()) * (1 - 1e-12)
    assert r.makespan >= r.bound * (1 - 1e-12)
    assert len(r.units) == p.n and ilp.makespan == r.makespan


def _import(name: str, training: bool = False, **over):
    spec = build_model(name, Overrides(**over), training=training, device="meta")
    return import_model(spec)


@pytest.fixture(scope="module")
def gpt2_layer():
    """One GPT-2 layer (training), at a short sequence."""
    return _import("gpt2", training=True, layers=1, seq=128)


@pytest.mark.parametrize("target", ["tpuv4-like", "acceltran-server"])
def test_one_gpt2_layer_proven_optimal_and_simulated_exactly(gpt2_layer, target) -> None:
    module = gpt2_layer.clone()
    run_pipeline(module, f"tile{{target={target}}},schedule{{target={target} time-limit=10}}")
    fn = entry_function(module)
    assert fn.attributes[attrs.SCHED_STATUS].data == "optimal"
    makespan = fn.attributes[attrs.SCHED_MAKESPAN].value.data
    report = simulate(module, target)
    assert report.latency_s == pytest.approx(makespan, rel=1e-12)
    assert report.options["scheduled"]
    unscheduled = module.clone()
    for o in entry_function(unscheduled).body.block.ops:
        o.attributes.pop(attrs.SCHED_START, None)
        o.attributes.pop(attrs.SCHED_UNIT, None)
    for k in (attrs.SCHED_MAKESPAN, attrs.SCHED_STATUS, attrs.SCHED_BOUND, attrs.SCHED_TARGET):
        entry_function(unscheduled).attributes.pop(k)
    sequential = sum(r.seconds for r in simulate(unscheduled, target).rows)
    assert makespan <= sequential


@pytest.fixture(scope="module")
def tiny_train():
    return _import("gpt2-tiny", training=True, layers=3)


def test_identical_layers_are_solved_once(tiny_train) -> None:
    from backends.schedule.solve import schedule_function
    from backends.targets import load_target

    fn = entry_function(tiny_train.clone())
    plan = schedule_function(fn, load_target("tpuv4-like"), time_limit=2)
    layer_rows = [r for r in plan.rows if r["segment"].startswith("layers")]
    assert sorted(r["count"] for r in layer_rows) == [3, 3]  # forward and backward
    assert plan.segments > len(plan.rows)
    seg_sum = sum(r["count"] * r["ilp_s"] for r in plan.rows)
    assert plan.makespan == pytest.approx(seg_sum, rel=1e-12)


@pytest.mark.parametrize("limit", ["0.01", "0"])
def test_tiny_time_limit_still_returns_a_valid_schedule(tiny_train, limit: str) -> None:
    module = tiny_train.clone()
    run_pipeline(module, f"schedule{{target=tpuv4-like time-limit={limit}}}")
    fn = entry_function(module)
    assert fn.attributes[attrs.SCHED_STATUS].data in ("optimal", "feasible")
    report = simulate(module, "tpuv4-like")  # checks every start, unit and bandwidth share
    assert report.latency_s == pytest.approx(fn.attributes[attrs.SCHED_MAKESPAN].value.data)


@pytest.mark.parametrize(
    "name,training", [("gpt2-tiny", True), ("bert-tiny", True), ("llama-tiny", False)]
)
def test_tile_and_schedule_change_no_semantics(name: str, training: bool) -> None:
    spec = api.model(name, training=training)
    report = api.verify(
        spec, pipeline="tile{target=acceltran-server},schedule{target=acceltran-server}"
    )
    assert report.ok, (report.worst.name, report.max_rel)


QKV = """
func.func @forward(%x: tensor<128x768xf16> {tfm.input = "in0"}, %wq: tensor<768x768xf16>, %wk: tensor<768x768xf16>, %wv: tensor<768x768xf16>) -> tensor<128x768xf16> {
  %q = tfm.matmul %x, %wq {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %k = tfm.matmul %x, %wk {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %v = tfm.matmul %x, %wv {layer = 0 : i64} : (tensor<128x768xf16>, tensor<768x768xf16>) -> tensor<128x768xf16>
  %s = tfm.add %q, %k {layer = 0 : i64} : (tensor<128x768xf16>, tensor<128x768xf16>) -> tensor<128x768xf16>
  %t = tfm.gelu %s {layer = 0 : i64} : (tensor<128x768xf16>) -> tensor<128x768xf16>
  %u = tfm.add %t, %v {layer = 0 : i64} : (tensor<128x768xf16>, tensor<128x768xf16>) -> tensor<128x768xf16>
  func.return %u : tensor<128x768xf16>
}
"""


def _scheduled(target: str = "tpuv4-like") -> str:
    module = parse_text(QKV)
    run_pipeline(module, f"tile{{target={target}}},schedule{{target={target}}}")
    return print_module(module)


def _edit(text: str, op: str, field: str, value: str) -> str:
    """Replace `field = <value>` in the line defining `op`."""
    lines = text.splitlines()
    for i, line in enumerate(lines):
        if line.strip().startswith(f"{op} = "):
            head, rest = line.split(f"{field} = ", 1)
            tail = (
                rest.split(",", 1)[1]
                if "," in rest.split("}", 1)[0]
                else "}" + rest.split("}", 1)[1]
            )
            sep = ", " if not tail.startswith("}") else ""
            lines[i] = f"{head}{field} = {value}{sep}{tail.lstrip()}"
    return "\n".join(lines)


def test_hand_edited_schedule_errors_name_the_ops() -> None:
    text = _scheduled()
    assert simulate(parse_text(text), "tpuv4-like").latency_s > 0
    broken = _edit(text, "%s", "sched.start", "0.0 : f64")
    with pytest.raises(
        TandemError, match=r"op 3 \(tfm.add in layer 0\).*operand from op 1 \(tfm.matmul"
    ):
        simulate(parse_text(broken), "tpuv4-like")
    double = _edit(text, "%k", "sched.start", "0.0 : f64")
    with pytest.raises(
        TandemError, match=r"op 1 \(tfm.matmul.*op 0 \(tfm.matmul in layer 0\) holds tc"
    ):
        simulate(parse_text(double), "tpuv4-like")
    with pytest.raises(TandemError, match="scheduled for tpuv4-like, not acceltran-server"):
        simulate(parse_text(text), "acceltran-server")


BIG_ADDS = """
func.func @forward(%a: tensor<8192x8192xf32>, %b: tensor<8192x8192xf32>) -> (tensor<8192x8192xf32>, tensor<8192x8192xf32>)
    attributes {sched.makespan = 1.0 : f64, sched.target = "tpuv4-like"} {
  %x = tfm.add %a, %a {sched.unit = "vc0", sched.start = 0.0 : f64} : (tensor<8192x8192xf32>, tensor<8192x8192xf32>) -> tensor<8192x8192xf32>
  %y = tfm.add %b, %b {sched.unit = "vc1", sched.start = 0.0 : f64} : (tensor<8192x8192xf32>, tensor<8192x8192xf32>) -> tensor<8192x8192xf32>
  func.return %x, %y : tensor<8192x8192xf32>, tensor<8192x8192xf32>
}
"""


def test_overlapping_memory_bound_ops_exceed_the_bandwidth() -> None:
    with pytest.raises(TandemError, match=r"op 0 \(tfm.add\), op 1 \(tfm.add\) overlap.*bandwidth"):
        simulate(parse_text(BIG_ADDS), "tpuv4-like")
    # unchecked hints (no sched.makespan) keep their old meaning: both run, each at full speed
    loose = BIG_ADDS.replace(
        'attributes {sched.makespan = 1.0 : f64, sched.target = "tpuv4-like"} ', ""
    )
    a, b = simulate(parse_text(loose), "tpuv4-like").rows
    assert a.start == b.start == 0.0
    # the scheduler never does that: it serialises them
    module = parse_text(loose)
    run_pipeline(module, "schedule{target=tpuv4-like}")
    a, b = simulate(module, "tpuv4-like").rows
    assert b.start >= a.end * (1 - 1e-12) or a.start >= b.end * (1 - 1e-12)


def test_missing_start_in_a_scheduled_function() -> None:
    text = _scheduled()
    lines = [ln for ln in text.splitlines()]
    for i, ln in enumerate(lines):
        if ln.strip().startswith("%t = "):
            lines[i] = ln.replace("sched.start", "other.start")
    with pytest.raises(
        TandemError, match=r"op 4 \(tfm.gelu in layer 0\) runs on vc but has no sched.start"
    ):
        simulate(parse_text("\n".join(lines)), "tpuv4-like")


def test_trace_has_one_track_per_unit_and_all_core_ops_on_each() -> None:
    module = parse_text(_scheduled())
    report = simulate(module, "tpuv4-like")
    trace = chrome_trace(report)
    names = {
        e["tid"]: e["args"]["name"] for e in trace["traceEvents"] if e.get("name") == "thread_name"
    }
    assert set(names.values()) <= {f"tc{i}" for i in range(8)} | {"vc0", "vc1"}
    spans: dict = {}
    for e in trace["traceEvents"]:
        if e["ph"] == "X":
            spans.setdefault(e["tid"], []).append((e["ts"], e["ts"] + e["dur"]))
    assert len(spans) == len(names) == 10  # all-core matmuls occupy every tensor core
    for s in spans.values():
        s.sort()
        assert all(a[1] <= b[0] * (1 + 1e-9) + 1e-9 for a, b in zip(s, s[1:], strict=False))


def test_acceltran_pe_groups_are_units() -> None:
    text = _scheduled("acceltran-server")
    assert 'sched.target = "acceltran-server"' in text
    one = QKV.replace(
        "%q = tfm.matmul %x, %wq {layer = 0 : i64}",
        '%q = tfm.matmul %x, %wq {layer = 0 : i64, sched.unit = "mac2"}',
    )
    rows = simulate(parse_text(one), "acceltran-server").rows
    plain = simulate(parse_text(QKV), "acceltran-server").rows
    assert rows[0].unit == "mac2" and rows[0].seconds >= plain[0].seconds
    with pytest.raises(TandemError, match="mac9"):
        simulate(parse_text(one.replace('"mac2"', '"mac9"')), "acceltran-server")


def test_verbose_table_and_bad_options(capsys) -> None:
    module = parse_text(QKV)
    run_pipeline(module, "schedule{target=tpuv4-like verbose=true}")
    err = capsys.readouterr().err
    assert "sequential" in err and "layer 0 fwd" in err and "optimal" in err
    with pytest.raises(PassError, match="time-limit"):
        run_pipeline(parse_text(QKV), "schedule{time-limit=-1}")
    with pytest.raises(PassError, match="schedule: unknown target"):
        run_pipeline(parse_text(QKV), "schedule{target=nope}")


def test_compile_schedules_on_accelerators(capsys, tmp_path) -> None:
    from tandem.cli import main

    path = tmp_path / "qkv.mlir"
    path.write_text(QKV)
    assert main(["compile", str(path), "--target", "tpuv4-like", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert "tile{" in data["compile"]["pipeline"] and "schedule{" in data["compile"]["pipeline"]
    assert data["options"]["scheduled"]
    assert main(["compile", str(path), "--target", "toy", "--json"]) == 0
    assert "schedule" not in json.loads(capsys.readouterr().out)["compile"]["pipeline"]


def test_links_are_units_of_their_own_on_gpus(monkeypatch) -> None:
    """A communication op (costed on a link, as a placement pass's all-reduce will be) runs
    beside compute on the SM pool: the backward matmul and the all-reduce of an earlier
    gradient overlap."""
    from backends.cost.base import OpCost
    from backends.schedule import graph
    from backends.schedule.solve import schedule_function
    from backends.targets import load_target

    real = graph.op_cost

    def fake(op, target, **kw):
        if "comm" in op.attributes:
            return OpCost(5e-6, 0.0, 1e6, 0.0, 5e-6, "link", bound="memory")
        return real(op, target, **kw)

    monkeypatch.setattr(graph, "op_cost", fake)
    text = """
func.func @f(%g: tensor<1024x1024xf16>, %x: tensor<1024x1024xf16>, %w: tensor<1024x1024xf16>) -> (tensor<1024x1024xf16>, tensor<1024x1024xf16>) {
  %r = tfm.add %g, %g {layer = 0 : i64, phase = "backward", comm} : (tensor<1024x1024xf16>, tensor<1024x1024xf16>) -> tensor<1024x1024xf16>
  %y = tfm.matmul %x, %w {layer = 0 : i64, phase = "backward"} : (tensor<1024x1024xf16>, tensor<1024x1024xf16>) -> tensor<1024x1024xf16>
  func.return %r, %y : tensor<1024x1024xf16>, tensor<1024x1024xf16>
}
"""
    fn = entry_function(parse_text(text))
    plan = schedule_function(fn, load_target("a100-sxm4-40gb"), time_limit=1)
    (op_r, start_r, unit_r), (op_y, start_y, unit_y) = plan.placements
    assert (unit_r, unit_y) == ("link", "sm") and start_r == start_y == 0.0
    assert plan.makespan < plan.rows[0]["sequential_s"]
