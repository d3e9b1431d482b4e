"""DynaProp: the PyTorch runtime and the `dynaprop` pass are two implementations of one rule
set; the reference interpreter running the pruned IR must agree with PyTorch running the
runtime (outputs, loss, every gradient), tau = 0 must change nothing, and a mismatch in
sites or thresholds must be caught."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

import tandem.api as api
from backends.interpreter import entry, run_function
from backends.sparsity import measure_sparsity
from backends.verify import arguments, compare_with_pytorch
from frontends.dynaprop import DynaProp, DynaPropModule
from ir.attrs import layer_of_name
from ir.errors import TandemError
from ir.sparse_ops import PruneOp, prune_tensor
from ir.sparsity import SITES, DynaPropConfig
from tandem.pipeline import run_pipeline

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")
TAUS = (0.0, 0.02, 0.06, 0.1)


def _pruned(models, name: str, training: bool, cfg: DynaPropConfig):
    ir = models.ir_copy(name, training=training)
    run_pipeline(ir, cfg.pipeline())
    return ir


def _check(models, name: str, training: bool, cfg: DynaPropConfig, runtime_cfg=None):
    spec, imported = models.get(name, training=training)
    ir = _pruned(models, name, training, cfg)
    runtime = DynaProp(spec.module, runtime_cfg or cfg)
    return compare_with_pytorch(
        ir,
        spec.module,
        spec.example_inputs,
        training=training,
        constants=imported.constants,
        context=runtime,
    )


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", TINY)
def test_pruned_ir_matches_runtime(models, name: str, training: bool) -> None:
    """Every site forward and backward, for each tau_fwd: outputs, loss and all gradients."""
    for tau in TAUS:
        report = _check(models, name, training, DynaPropConfig(tau, 1e-4))
        assert report.ok, (tau, report.worst)
        if training:
            assert report.comparisons[0].name == "loss" and len(report.comparisons) > 10


def _interpret(models, name: str, training: bool, ir) -> list[torch.Tensor]:
    spec, imported = models.get(name, training=training)
    fn = entry(ir)
    return run_function(fn, arguments(fn, spec.module, spec.example_inputs, imported.constants))


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
@pytest.mark.parametrize("name", ["gpt2-tiny", "llama-tiny"])
def test_tau_zero_is_exactly_dense(models, name: str, training: bool) -> None:
    """With both thresholds 0 the pruned IR computes bit for bit what the plain IR computes (a
    prune at 0 only turns -0.0 into 0.0). One exception: with the scores or probs sites, the
    spelled-out attention backward rounds differently from the fused op's (within 1e-6)."""
    plain = _interpret(models, name, training, models.ir_copy(name, training=training))
    fused = DynaPropConfig(0.0, 0.0, ("q", "k", "v", "context", "out_proj", "ffn_in", "ffn_out"))
    for cfg in (fused, DynaPropConfig(0.0, 0.0)):
        ir = _pruned(models, name, training, cfg)
        assert any(isinstance(op, PruneOp) for op in entry(ir).body.block.ops)
        pruned = _interpret(models, name, training, ir)
        exact = cfg is fused or not training
        for i, (a, b) in enumerate(zip(plain, pruned, strict=True)):
            if exact or i == 0:  # outputs and the loss always
                assert torch.equal(a, b), (cfg.sites, i)
            else:
                assert (a - b).abs().max() <= 1e-6 * a.abs().max(), (cfg.sites, i)


def test_mismatched_sites_or_thresholds_fail(models) -> None:
    """The comparison is sensitive: the runtime missing one site, or another tau, is caught."""
    cfg = DynaPropConfig(0.06, 1e-4)
    fewer = DynaPropConfig(0.06, 1e-4, tuple(s for s in SITES if s != "ffn_in"))
    assert not _check(models, "bert-tiny", False, cfg, fewer).ok
    assert not _check(models, "bert-tiny", False, cfg, DynaPropConfig(0.05, 1e-4)).ok
    no_grads = DynaPropConfig(0.06, 1e-4, act_grads=False)
    assert not _check(models, "bert-tiny", True, cfg, no_grads).ok
    assert _check(models, "bert-tiny", True, no_grads, no_grads).ok


def test_api_verify_runs_the_runtime(models) -> None:
    spec, _ = models.get("opt-tiny", training=True)
    report = api.verify(spec, pipeline="dynaprop{tau-fwd=0.06 tau-bwd=1e-4 sites=q,k,v,ffn_in}")
    assert report.ok, report.worst
    with pytest.raises(TandemError, match="twice"):
        api.verify(spec, pipeline="dynaprop,dynaprop")


def test_runtime_counts_equal_interpreter_counts(models) -> None:
    """Sparsity per site, layer and phase: the runtime's counts are the interpreter's."""
    cfg = DynaPropConfig(0.06, 1e-4)
    spec, imported = models.get("llama-tiny", training=True)
    ir = _pruned(models, "llama-tiny", True, cfg)
    fn = entry(ir)
    measured = measure_sparsity(
        fn, [arguments(fn, spec.module, spec.example_inputs, imported.constants)]
    )
    runtime = DynaProp(spec.module, cfg)
    with runtime:
        loss = spec.module(*spec.example_inputs)
    loss.backward()
    spec.module.zero_grad(set_to_none=True)
    eager = {(c.site, c.layer, c.phase): (c.zeros, c.elements) for c in runtime.stats.rows()}
    assert set(eager) == set(measured.sites)
    assert {k for k in eager if k[2] == "backward"}
    for key, (zeros, elements) in eager.items():
        z, n = measured.sites[key]
        assert n == elements, key
        assert abs(z - zeros) <= max(2, elements // 1000), key  # round-off at the threshold


# ---- an independent count: forward hooks on the Hugging Face modules ---------------------

HOOKED = {  # family: module name suffix -> site
    "gpt2-tiny": {"mlp.c_fc": "ffn_in", "mlp.c_proj": "ffn_out", "attn.c_proj": "out_proj"},
    "bert-tiny": {
        "intermediate.dense": "ffn_in",
        "output.dense": "ffn_out",
        "attention.output.dense": "out_proj",
    },
    "opt-tiny": {"fc1": "ffn_in", "fc2": "ffn_out", "self_attn.out_proj": "out_proj"},
    "llama-tiny": {
        "mlp.gate_proj": "ffn_in",
        "mlp.up_proj": "ffn_in",
        "mlp.down_proj": "ffn_out",
        "self_attn.o_proj": "out_proj",
    },
}


@pytest.mark.parametrize("name", TINY)
def test_sparsity_equals_a_hook_count(models, name: str) -> None:
    """Projection sites found structurally are the ones named by the model's modules: pruning
    with hooks on those modules gives the same loss and the same zero counts."""
    tau = 0.05
    spec = models.spec_copy(name, training=True)
    cfg = DynaPropConfig(tau, 1e-4, ("out_proj", "ffn_in", "ffn_out"))
    runtime = DynaProp(spec.module, cfg)
    with torch.no_grad(), runtime:
        loss_rt = spec.module(*spec.example_inputs)
    counts: dict[str, list[int]] = {}
    hooks = []
    suffixes = sorted(HOOKED[name], key=len, reverse=True)
    for module_name, module in spec.module.named_modules():
        suffix = next((x for x in suffixes if module_name.endswith("." + x)), None)
        if suffix is None or layer_of_name(module_name + ".") is None:
            continue

        def hook(_m, _i, out, site=HOOKED[name][suffix]):
            pruned = torch.where(out.abs() > tau, out, 0.0)
            c = counts.setdefault(site, [0, 0])
            c[0] += int((pruned == 0).sum())
            c[1] += pruned.numel()
            return pruned

        hooks.append(module.register_forward_hook(hook))
    with torch.no_grad():
        loss_hooks = spec.module(*spec.example_inputs)
    for h in hooks:
        h.remove()
    assert torch.equal(loss_rt, loss_hooks)
    assert counts == {site: [zeros, n] for site, (zeros, n) in _by_site(runtime).items()}


def _by_site(runtime: DynaProp) -> dict[str, tuple[int, int]]:
    out: dict[str, list[int]] = {}
    for c in runtime.stats.rows():
        z = out.setdefault(c.site, [0, 0])
        z[0] += c.zeros
        z[1] += c.elements
    return {k: (v[0], v[1]) for k, v in out.items()}


# ---- monotone in tau ----------------------------------------------------------------------


@settings(max_examples=50, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    taus=st.lists(st.floats(0.0, 1.0), min_size=2, max_size=5),
)
def test_prune_sparsity_is_monotone(seed: int, taus: list[float]) -> None:
    x = torch.randn(64, 32, generator=torch.Generator().manual_seed(seed))
    zeros = [int((prune_tensor(x, t) == 0).sum()) for t in sorted(taus)]
    assert zeros == sorted(zeros)
    assert torch.equal(prune_tensor(x, 0.0), x)


@pytest.mark.parametrize("name", ["gpt2-tiny", "bert-tiny"])
def test_model_sparsity_is_monotone_in_tau(models, name: str) -> None:
    spec = models.spec_copy(name, training=True)
    overall = []
    for tau in (0.0, 0.01, 0.02, 0.04, 0.06, 0.1, 0.2):
        runtime = DynaProp(spec.module, DynaPropConfig(tau, 1e-4))
        with torch.no_grad(), runtime:
            spec.module(*spec.example_inputs)
        overall.append(runtime.stats.overall("forward"))
    assert overall == sorted(overall) and overall[-1] > overall[0]


# ---- the runtime as a training tool; bad settings ---------------------------------------------


def test_module_wrapper_trains(models) -> None:
    spec = models.spec_copy("gpt2-tiny", training=True)
    model = DynaPropModule(spec.module, DynaPropConfig(0.06, 1e-4))
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in spec.module.parameters()]
    loss = model(*spec.example_inputs)
    loss.backward()
    opt.step()
    assert any(not torch.equal(a, b) for a, b in zip(before, spec.module.parameters(), strict=True))
    stats = model.dynaprop.stats
    assert stats.overall("forward") and stats.overall("backward")
    assert {"ffn_in.weight", "qkv_proj.weight"} <= {c.site for c in stats.rows()}


@pytest.mark.parametrize(
    "kwargs,message",
    [
        ({"tau_fwd": -0.1}, "tau-fwd must be a finite number >= 0"),
        ({"tau_bwd": float("nan")}, "tau-bwd must be a finite number >= 0"),
        ({"sites": "q,keys"}, "unknown DynaProp site 'keys'"),
    ],
)
def test_bad_settings(kwargs: dict, message: str) -> None:
    with pytest.raises(TandemError, match=message):
        DynaPropConfig(**kwargs)


@pytest.mark.parametrize(
    "spec,message",
    [
        ("dynaprop{tau-fwd=-0.06}", "dynaprop: tau-fwd must be a finite number >= 0"),
        ("dynaprop{sites=q,attn}", "dynaprop: unknown DynaProp site 'attn'"),
        ('dynaprop{sites="q,attn"}', "dynaprop: unknown DynaProp site 'attn'"),
        ("dynaprop{tau-bwd=abc}", "dynaprop: tau-bwd must be a number"),
    ],
)
def test_bad_pass_options(models, spec: str, message: str) -> None:
    ir = models.ir_copy("gpt2-tiny")
    with pytest.raises(TandemError, match=message):
        run_pipeline(ir, spec)


def test_pass_refuses_pruned_ir(models) -> None:
    ir = _pruned(models, "gpt2-tiny", False, DynaPropConfig())
    with pytest.raises(TandemError, match="already pruned"):
        run_pipeline(ir, "dynaprop")


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_after_pad_shapes(models, training: bool) -> None:
    """The pipeline order pad-shapes -> dynaprop: padded GEMMs and heads keep their sites."""
    spec, _ = models.get("gpt2-tiny", training=training)
    report = api.verify(spec, pipeline="pad-shapes{multiple=64},dynaprop{tau-fwd=0.06}")
    assert report.ok, report.worst
