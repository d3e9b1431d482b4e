"""DynaProp's prunes and kernel fusion: a prune is an elementwise mask, applied by the kernel
that writes its input (a GEMM epilogue, the softmax kernel, bias+GELU ...), so on GPUs it adds
no kernel and no traffic; on AccelTran it stays free (the post-sparsity unit prunes as the
producer writes). Fusion keeps the model's meaning (verify against the PyTorch runtime)."""

from __future__ import annotations

import pytest

import tandem.api as tandem
from backends.interpreter import entry
from backends.op_cost import op_cost
from backends.placement.kernels import Kernels
from backends.sim import entry_function, simulate
from backends.targets import load_target
from frontends.zoo import Overrides
from ir.base import TfmOp
from ir.fused_ops import FusedOp
from ir.sparse_ops import PruneOp
from tandem.pipeline import run_pipeline

TINY = Overrides(layers=2)
A100 = load_target("a100-sxm4-80gb")


def _prunes(module) -> tuple[list[PruneOp], list[PruneOp]]:
    """(top-level prunes, prunes inside kernels)."""
    ops = list(entry_function(module).body.block.ops)
    top = [o for o in ops if isinstance(o, PruneOp)]
    inside = [
        p for o in ops if isinstance(o, FusedOp) for p in o.body_ops if isinstance(p, PruneOp)
    ]
    return top, inside


@pytest.fixture(scope="module")
def pruned_training() -> dict[str, object]:
    out = {}
    for model in ("gpt2-tiny", "llama-tiny"):
        ir = tandem.import_model(model, TINY, training=True)
        run_pipeline(ir, 'fold-transposes,pad-shapes{target="a100-sxm4-40gb"},dynaprop')
        out[model] = ir
    return out


@pytest.mark.parametrize("kernels", ["fused", "flash", "inductor"])
@pytest.mark.parametrize("model", ["gpt2-tiny", "llama-tiny"])
def test_every_prune_joins_a_kernel(pruned_training, model: str, kernels: str) -> None:
    ir = pruned_training[model].clone()
    before = len(_prunes(ir)[0])
    run_pipeline(ir, f"fuse{{kernels={kernels}}}")
    top, inside = _prunes(ir)
    assert before > 20 and not top and len(inside) == before
    names = {o.kernel_name for o in entry_function(ir).body.block.ops if isinstance(o, FusedOp)}
    if kernels != "inductor":
        assert "gemm_prune" in names  # the context and weight-gradient GEMMs' epilogues


def test_eager_keeps_prunes_as_kernels(pruned_training) -> None:
    ir = pruned_training["gpt2-tiny"].clone()
    before = len(_prunes(ir)[0])
    run_pipeline(ir, "fuse{kernels=eager}")
    assert len(_prunes(ir)[0]) == before


@pytest.mark.parametrize("target", ["a100-sxm4-40gb", "acceltran-edge"])
def test_a_fused_prune_costs_nothing(target: str) -> None:
    """Inference with the projection sites pruned: the same kernels and the same time as the
    model without DynaProp (no sparsity is annotated, so only the prunes differ)."""
    sites = "dynaprop{sites=ffn_in,ffn_out,out_proj}"
    plain = tandem.import_model("gpt2-tiny", TINY)
    pruned = plain.clone()
    run_pipeline(plain, "fold-transposes,fuse{kernels=fused}")
    run_pipeline(pruned, f"fold-transposes,{sites},fuse{{kernels=fused}}")
    assert len(_prunes(pruned)[1]) == 2 * 3
    a, b = simulate(plain, target), simulate(pruned, target)
    assert b.model["kernels"] == a.model["kernels"]
    assert b.latency_s == pytest.approx(a.latency_s, rel=1e-9)


def test_fused_prunes_verify_against_the_runtime() -> None:
    spec = tandem.model("gpt2-tiny", TINY, training=True)
    pipeline = "fold-transposes,dynaprop{tau-fwd=0.06},fuse{kernels=fused}"
    report = tandem.verify(spec, pipeline=pipeline)
    assert report.ok, report.worst


@pytest.mark.parametrize("preset", ["eager", "fused", "inductor"])
def test_planner_costs_the_pass_kernels_with_prunes(pruned_training, preset: str) -> None:
    """The kernel plan (`backends.fusion`, a prune grows the kernel writing its input) is what
    the fuse pass writes, and the planner's kernel time is what `op_cost` gives the fused IR."""
    ir = pruned_training["llama-tiny"].clone()
    kernels = Kernels(entry(ir).body.block, preset)
    times = kernels.seconds(A100, dropout=False)
    run_pipeline(ir, f"fuse{{kernels={preset}}}")
    top = [op for op in entry(ir).body.block.ops if isinstance(op, TfmOp)]
    got = sorted(op.kernel_name for op in top if isinstance(op, FusedOp))
    assert sorted(k.name for k in kernels.plan.kernels) == got
    pruned = sum(isinstance(o, PruneOp) for k in kernels.plan.kernels for o in k.ops)
    assert pruned > 20 if preset != "eager" else pruned == 0
    simulated = sum(op_cost(op, A100).seconds for op in top)
    assert sum(times.of.values()) == pytest.approx(simulated, rel=1e-9)
