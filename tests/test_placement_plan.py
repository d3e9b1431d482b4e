"""The placement search: memory from the IR against the published formulas, plans that do
not fit are never returned, the chain partition, the schedule, bad input, the cluster links."""

from __future__ import annotations

import dataclasses
import random

import pytest

from backends.cost.comm import collective_seconds, group_link
from backends.placement.partition import partition, partition_dp
from backends.placement.plan import Fixed, Plan, parse_fix
from backends.placement.report import megatron_flops
from backends.placement.search import Request, search
from backends.sim.cluster import schedule
from backends.targets import load_cluster
from ir.errors import TandemError

H, A, S, B = 256, 8, 128, 4  # a small GPT layer; the formulas hold at any size


@pytest.fixture(scope="module")
def template():
    import tandem.api as tandem
    from backends.interpreter import entry
    from backends.placement.template import Template
    from frontends.zoo import Overrides

    ov = Overrides(layers=3, hidden=H, heads=A, ffn=4 * H, seq=S, batch=B, vocab=1024, dtype="bf16")
    module = tandem.import_model("gpt3-2.7b", ov, training=True)
    return Template(entry(module), B, layers_total=8)


@pytest.mark.parametrize("t", [1, 2, 4])
def test_activation_memory_matches_the_published_formulas(template, t: int) -> None:
    """Korthikanti et al. 2022: s b h (34 + 5as/h) per layer, with tensor parallelism
    s b h (10 + 24/t + 5as/(ht)), selective 34sbh/t with sequence parallelism, full 2sbh."""
    gpu = load_cluster("dgx-a100-80gb").device_target
    for b in (1, 2, 4):
        layer = template.variant(t, b, gpu, "fused", dropout=True).layer
        sbh = S * b * H
        want = {
            ("none", 1): sbh * (10 + 24 / t + 5 * A * S / (H * t)),
            ("selective", 1): sbh * (10 + 24 / t),
            ("selective", t): 34 * sbh / t,
            ("none", t): sbh / t * (34 + 5 * A * S / H),
            ("full", 1): 2 * sbh,
        }
        for (mode, sp), bytes_ in want.items():
            got = layer.saved(mode, sp)
            assert got == pytest.approx(bytes_, rel=0.05), (t, b, mode, sp)


def test_flash_attention_keeps_no_score_sized_activations(template) -> None:
    gpu = load_cluster("dgx-a100-80gb").device_target
    layer = template.variant(1, 4, gpu, "flash", dropout=True).layer
    assert layer.saved_attn == 0
    assert layer.saved("none", 1) == pytest.approx(layer.saved("selective", 1), rel=0.01)


def _small_gpu_cluster(gb: float):
    cl = load_cluster("dgx-a100-80gb")
    gpu = dataclasses.replace(cl.device_target, hbm_capacity=gb * 1e9)
    return dataclasses.replace(cl, device_target=gpu)


def test_a_plan_over_memory_is_never_returned(template) -> None:
    cluster = _small_gpu_cluster(0.04)  # 40 MB GPUs: only some plans fit
    result = search(template, Request(cluster, 8, 32), top=50)
    assert result.rejected_memory > 0
    assert result.plans and all(ev.fits and ev.memory_bytes <= 0.04e9 for ev in result.plans)
    with pytest.raises(
        TandemError, match=r"fits nowhere: the smallest plan needs [\d.]+ GB per GPU"
    ):
        search(template, Request(_small_gpu_cluster(0.001), 8, 32))
    # the same fixed plan: fits on 80 GB, rejected on 1 MB GPUs
    fixed = Fixed(t=1, p=1, d=8, microbatch=4, recompute="none")
    assert search(template, Request("dgx-a100-80gb", 8, 32, fixed)).plans[0].fits
    with pytest.raises(TandemError, match="fits nowhere"):
        search(template, Request(_small_gpu_cluster(0.001), 8, 32, fixed))


@pytest.mark.parametrize(
    "request_,message",
    [
        (Request("dgx-a100-80gb", 12, 32, Fixed(t=8)), "12 GPUs are not divisible by t=8"),
        (
            Request("dgx-a100-80gb", 8, 30, Fixed(d=4, microbatch=4)),
            "not divisible by d x microbatch",
        ),
        (Request("dgx-a100-80gb", 16, 32, Fixed(p=16)), "p=16 pipeline stages for 8 layers"),
        (Request("no-such-cluster", 8, 32), "unknown cluster 'no-such-cluster'"),
    ],
)
def test_bad_input_is_one_clear_error(template, request_, message: str) -> None:
    with pytest.raises(TandemError, match=message):
        search(template, request_)


def test_fix_parsing() -> None:
    fx = parse_fix("t=8,p=8,d=24,mb=2,recompute=full,sp=off,vp=2")
    assert (fx.t, fx.p, fx.d, fx.microbatch, fx.recompute, fx.sp, fx.vp) == (
        8,
        8,
        24,
        2,
        "full",
        False,
        2,
    )
    for bad, message in (
        ("t=0", "positive integer"),
        ("q=1", "unknown key 'q'"),
        ("recompute=some", "expected one of"),
    ):
        with pytest.raises(TandemError, match=message):
            parse_fix(bad)


def test_partition_is_the_dynamic_programme() -> None:
    rng = random.Random(0)
    for _ in range(60):
        layers, p = rng.randint(2, 14), rng.randint(1, 4)
        if p > layers:
            continue
        lt = rng.uniform(0.5, 2.0)
        extra = [rng.uniform(0, 3) for _ in range(p)]
        cap = [rng.randint(1, layers) for _ in range(p)]
        got = partition(layers, lt, extra, cap)

        def cost(i: int, a: int, b: int, lt=lt, extra=extra, cap=cap) -> float:
            return (b - a) * lt + extra[i] if b - a <= cap[i] else float("inf")

        want = partition_dp(cost, layers, p)
        if not want:
            assert got is None
            continue
        assert got is not None and sum(got) == layers
        slowest = max(n * lt + e for n, e in zip(got, extra, strict=True))
        best = max(n * lt + e for n, e in zip(want, extra, strict=True))
        assert slowest == pytest.approx(best)


def test_uneven_stages_carry_the_head(template) -> None:
    ev = search(
        template, Request("dgx-a100-80gb", 4, 32, Fixed(t=1, p=4, d=1, microbatch=1, vp=1)), top=1
    ).plans[0]
    counts = ev.plan.stage_layers
    assert sum(counts) == 8 and len(counts) == 4
    assert counts[-1] <= counts[1]  # the head's stage holds no more layers than a middle one


def test_1f1b_schedule_has_the_textbook_bubble() -> None:
    """Uniform stages, no sends: iteration = (m + p - 1) (F + B); each device runs m F and m B."""
    for p, m, vp in ((4, 8, 1), (2, 4, 1), (4, 8, 2)):
        ops = schedule(p, vp, m)
        for dev in ops:
            assert sorted(k for k, _j, _c in dev).count("F") == m * vp
    from backends.placement.search import Evaluation, Stage, _Setup
    from backends.sim.cluster import simulate_plan

    class _T:
        class facts:  # noqa: N801 - a stand-in
            hidden, seq, dtype, vocab = 64, 16, "bf16", 128

    p, m = 4, 8
    stages = [Stage(2, 1.0, 2.0, 3.0, 0.0, 0.0, 0) for _ in range(p)]
    plan = Plan(1, p, 1, 1, "none", stage_layers=(2,) * p)
    ev = Evaluation(plan, 0.0, 0.0, True, {}, stages, {}, [(1.0, 2.0)] * p)
    setup = _Setup(load_cluster("dgx-a100-80gb"), _T, Request("dgx-a100-80gb", 4, 8))
    import backends.sim.cluster as cluster_sim

    saved = cluster_sim.p2p_seconds
    cluster_sim.p2p_seconds = lambda *a, **k: 0.0
    try:
        got = simulate_plan(setup, ev, _T, trace=False)
    finally:
        cluster_sim.p2p_seconds = saved
    pipe = got.iteration_s - got.breakdown["dp_comm_s"] - got.breakdown["optimizer_s"]
    assert pipe == pytest.approx((m + p - 1) * 3.0)
    assert got.breakdown["bubble_s"] == pytest.approx((p - 1) * 3.0)


def test_closed_form_matches_the_event_simulation(template) -> None:
    for fixed in (Fixed(t=2, p=2, d=2, microbatch=2), Fixed(t=1, p=4, d=2, microbatch=1, vp=2)):
        req = Request("dgx-a100-80gb", 8, 64, fixed)
        estimate = search(template, req, top=1, simulate=False).plans[0]
        timed = search(template, req, top=1).plans[0]
        assert timed.plan == estimate.plan
        assert timed.iteration_s == pytest.approx(estimate.iteration_s, rel=0.03)
        assert timed.trace  # the best plan comes with its Chrome trace


def test_megatron_flop_count() -> None:
    from backends.placement.template import ModelFacts

    f = ModelFacts(layers=80, hidden=12288, seq=2048, vocab=51200, heads=96, batch=2, dtype="f16")
    L, h, s, v, b = 80, 12288, 2048, 51200, 2304
    eq3 = 96 * b * s * L * h * h * (1 + s / (6 * h) + v / (16 * L * h))
    assert megatron_flops(f, b, "full") == pytest.approx(eq3)
    assert (
        megatron_flops(f, b, "none")
        < megatron_flops(f, b, "selective")
        < megatron_flops(f, b, "full")
    )


def test_two_level_links() -> None:
    dgx = load_cluster("dgx-a100-80gb")
    nvlink = dgx.intra_node.effective_bandwidth
    nic = dgx.inter_node.effective_bandwidth
    assert group_link(dgx, 8, 1)[0] == nvlink  # tensor parallel inside a node
    assert group_link(dgx, 24, 8)[0] == pytest.approx(nic)  # one member per node
    assert group_link(dgx, 16, 2)[0] == pytest.approx(4 * nic)  # 4 members per node, 4 NICs
    assert group_link(dgx, 32, 1)[0] == pytest.approx(min(nvlink, 8 * nic))
    # tensor parallelism across the node boundary is slower
    inside = collective_seconds(dgx, "all_reduce", 1e8, 8, 1)
    across = collective_seconds(dgx, "all_reduce", 1e8, 16, 1)
    assert across > inside


def test_flops_from_the_ir_are_megatrons_for_gpt(template) -> None:
    from backends.placement.report import ir_flops

    for mode in ("none", "selective", "full"):
        want = megatron_flops(template.facts, 64, mode)
        assert ir_flops(template.flops, template.layers_total, 64, mode) == pytest.approx(
            want, rel=0.01
        )


def test_interleaving_needs_more_than_two_stages(template) -> None:
    with pytest.raises(TandemError, match="interleaved schedule needs more than 2"):
        search(template, Request("dgx-a100-80gb", 8, 32, Fixed(p=2, vp=2)))
    plans = search(template, Request("dgx-a100-80gb", 8, 64, Fixed(p=2)), top=50).plans
    assert plans and all(ev.plan.vp == 1 for ev in plans)
    assert parse_fix("tp_overlap=on").tp_overlap is True


def test_tensor_parallel_communication_in_the_backward(template) -> None:
    """Sequence parallelism gathers each column-parallel input again in the backward;
    asynchronous communication (tp_overlap) hides the backward's collectives behind its GEMMs
    as far as they last, never below zero, and with sp never the output-gradient gathers."""
    from backends.placement.costs import backward_comm_seconds, comm_seconds, regather_seconds

    cl = load_cluster("dgx-a100-80gb")
    layer = template.variant(4, 4, cl.device_target, "fused", dropout=True).layer
    ring = comm_seconds(cl, layer.comm_bwd, 4)
    again = regather_seconds(cl, layer, 4)
    gathers = [("all_gather", b) for kind, b in layer.comm_bwd if kind == "all_reduce"]
    assert ring > 0 and again == pytest.approx(comm_seconds(cl, gathers, 4)) and again > 0
    assert backward_comm_seconds(cl, layer, 4, sp=False) == pytest.approx(ring)
    assert backward_comm_seconds(cl, layer, 4, sp=True) == pytest.approx(ring + again)
    for sp in (False, True):
        hidden = backward_comm_seconds(cl, layer, 4, sp, tp_overlap=True)
        assert 0 <= hidden < backward_comm_seconds(cl, layer, 4, sp)
    long_gemms = dataclasses.replace(layer, gemm_fwd_s=1.0)
    assert backward_comm_seconds(cl, long_gemms, 4, False, True) == 0
    assert backward_comm_seconds(cl, long_gemms, 4, True, True) == pytest.approx(ring / 2)


def test_every_microbatch_accumulates_its_weight_gradients(template) -> None:
    """The same plan at half the microbatch runs twice as many accumulation passes over the
    rank's weights: read the gradient, read and write the accumulator."""
    from backends.placement.costs import accumulate_seconds

    cl = load_cluster("dgx-a100-80gb")
    gpu = cl.device_target
    bw = gpu.hbm_bandwidth * gpu.memory_op_efficiency["elementwise"]
    assert accumulate_seconds(cl, "f16", 1e9) == pytest.approx(1e9 * 6 / bw)
    assert accumulate_seconds(cl, "bf16", 1e9) == pytest.approx(1e9 * 10 / bw)
    from backends.placement.costs import layer_costs
    from backends.placement.search import _segment_costs, _Setup

    variant = template.variant(1, 2, gpu, "fused", dropout=True)
    setup = _Setup(cl, template, Request(cl, 8, 64))
    lay, _emb, head = _segment_costs(setup, variant, "none", False, False)
    for got, seg, is_layer in ((lay, variant.layer, True), (head, variant.head, False)):
        plain = layer_costs(seg, cl, 1, "none", False, is_layer)
        step = accumulate_seconds(cl, template.facts.dtype, seg.params)
        assert step > 0 and got.compute_bwd == pytest.approx(plain.compute_bwd + step)
