"""The frontend: weights become arguments, tied weights one argument with one summed gradient,
block ops carry their layer, and the meta device imports full-size models without weights."""

from __future__ import annotations

import ast
import difflib
from collections import defaultdict
from pathlib import Path

import pytest
import torch
from torch import nn
from torch._subclasses.fake_tensor import FakeTensor
from xdsl.dialects import func
from xdsl.dialects.builtin import (
    DenseIntOrFPElementsAttr,
    DenseResourceAttr,
    DictionaryAttr,
    StringAttr,
)
from xdsl.ir import Attribute, Operation, SSAValue

from backends.verify import compare_with_pytorch
from frontends.importer import import_module, trace_and_import
from frontends.trace import swap_to_fake_cpu
from frontends.user_model import resolve_model
from frontends.zoo import Overrides
from ir import attrs
from ir.errors import TandemError
from ir.io import parse_text, print_module
from ir.types import shape

TINY = ("gpt2-tiny", "bert-tiny", "llama-tiny", "opt-tiny")
MODES = [False, True]
MODE_IDS = ["inference", "training"]


# ---- helpers -----------------------------------------------------------------------------------


def entry(ir) -> func.FuncOp:
    return next(op for op in ir.ops if isinstance(op, func.FuncOp))


def arg_labels(fn: func.FuncOp, kind: str) -> list[tuple[str, SSAValue]]:
    """(label, block argument) for every argument carrying attribute `kind`."""
    out = []
    for entry, arg in zip(fn.arg_attrs.data, fn.body.block.args, strict=True):
        assert isinstance(entry, DictionaryAttr)
        if kind in entry.data:
            out.append((entry.data[kind].data, arg))
    return out


def result_labels(fn: func.FuncOp, kind: str) -> list[tuple[str, SSAValue]]:
    ret = fn.body.block.last_op
    out = []
    for entry, value in zip(fn.res_attrs.data, ret.operands, strict=True):
        if kind in entry.data:
            out.append((entry.data[kind].data, value))
    return out


def layer_of(op: Operation) -> int | None:
    attr = op.attributes.get(attrs.LAYER)
    return None if attr is None else attr.value.data


def phase_of(op: Operation) -> str:
    attr = op.attributes.get(attrs.PHASE)
    return "forward" if attr is None else attr.data


def tfm_ops(ir) -> list[Operation]:
    return [op for op in ir.walk() if op.name.startswith("tfm.")]


def ancestors(value: SSAValue) -> set[Operation]:
    seen: set[Operation] = set()
    todo = [value]
    while todo:
        owner = todo.pop().owner
        if isinstance(owner, Operation) and owner not in seen:
            seen.add(owner)
            todo.extend(owner.operands)
    return seen


def attributes_of(op: Operation) -> list[Attribute]:
    return [*op.properties.values(), *op.attributes.values()]


# ---- weights are arguments ---------------------------------------------------------------------


@pytest.mark.parametrize("training", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("name", TINY)
def test_parameters_are_arguments(models, name: str, training: bool) -> None:
    spec, imported = models.get(name, training=training)
    fn = entry(imported.ir)
    params = dict(spec.module.named_parameters())  # one name per tensor (tied weights once)
    labels = arg_labels(fn, attrs.PARAM)
    names = [label for label, _ in labels]
    assert sorted(names) == sorted(params) and len(names) == len(set(names))  # each tensor once
    for label, arg in labels:
        assert shape(arg) == tuple(params[label].shape), label
    buffers = dict(spec.module.named_buffers()) | imported.constants
    assert {label for label, _ in arg_labels(fn, attrs.BUFFER)} <= set(buffers)
    inputs = [label for label, _ in arg_labels(fn, attrs.INPUT)]
    assert inputs == [f"in{i}" for i in range(len(spec.example_inputs))]


@pytest.mark.parametrize("training", MODES, ids=MODE_IDS)
@pytest.mark.parametrize("name", TINY)
def test_no_weight_literals(models, name: str, training: bool) -> None:
    """No dense payload anywhere: constants are splats of one scalar."""
    _, imported = models.get(name, training=training)
    for op in imported.ir.walk():
        for attr in attributes_of(op):
            assert not isinstance(attr, DenseIntOrFPElementsAttr | DenseResourceAttr), op.name
    for op in tfm_ops(imported.ir):
        if op.name == "tfm.constant":
            assert set(op.properties) == {"value"}
    assert "dense<" not in print_module(imported.ir)


def test_weights_used_by_their_ops(models) -> None:
    """The c_attn weight of block 1 feeds a matmul of block 1 (arguments are wired, not copied)."""
    _, imported = models.get("gpt2-tiny")
    fn = entry(imported.ir)
    args = dict(arg_labels(fn, attrs.PARAM))
    w = args["model.transformer.h.1.attn.c_attn.weight"]
    users = [use.operation for use in w.uses]
    assert [op.name for op in users] == ["tfm.matmul"]
    assert layer_of(users[0]) == 1


# ---- tied weights ------------------------------------------------------------------------------


def test_tied_weights_share_one_argument(models) -> None:
    for training in MODES:
        _, imported = models.get("gpt2-tiny", training=training)
        labels = [label for label, _ in arg_labels(entry(imported.ir), attrs.PARAM)]
        assert labels.count("model.transformer.wte.weight") == 1
        assert not any("lm_head" in label for label in labels)


def test_tied_gradient_is_one_summed_result(models) -> None:
    spec, imported = models.get("gpt2-tiny", training=True)
    fn = entry(imported.ir)
    grads = result_labels(fn, attrs.GRAD_OF)
    names = [label for label, _ in grads]
    assert names.count("model.transformer.wte.weight") == 1
    assert len(names) == len(set(names)) == len(dict(spec.module.named_parameters()))
    wte = dict(grads)["model.transformer.wte.weight"]
    upstream = {op.name for op in ancestors(wte)}
    # both uses contribute: the embedding lookup and the logits matmul
    assert "tfm.embedding_backward" in upstream
    mm = [
        op
        for op in ancestors(wte)
        if op.name == "tfm.matmul"
        and phase_of(op) == "backward"
        and sorted(shape(op.results[0])) == [64, 256]
    ]
    assert mm, "the lm_head use of wte has no gradient matmul"


class TiedPair(nn.Module):
    """y = b(a(x)) with a.weight and b.weight one tensor."""

    def __init__(self) -> None:
        super().__init__()
        self.a = nn.Linear(8, 8, bias=False)
        self.b = nn.Linear(8, 8)
        self.b.weight = self.a.weight

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.b(torch.tanh(self.a(x))).square().mean()


def test_tied_weights_in_a_user_module() -> None:
    torch.manual_seed(0)
    model, x = TiedPair(), torch.randn(4, 8)
    imported = trace_and_import(model, (x,), training=True)
    fn = entry(imported.ir)
    assert sorted(label for label, _ in arg_labels(fn, attrs.PARAM)) == ["a.weight", "b.bias"]
    assert sorted(label for label, _ in result_labels(fn, attrs.GRAD_OF)) == ["a.weight", "b.bias"]
    report = compare_with_pytorch(
        imported.ir, model, (x,), training=True, constants=imported.constants
    )
    assert report.ok, report.worst
    assert {c.name for c in report.comparisons} == {"loss", "a.weight", "b.bias"}


# ---- layers and phases -------------------------------------------------------------------------


def test_layer_attributes_on_block_ops(models) -> None:
    spec, imported = models.get("gpt2-tiny")
    fn = entry(imported.ir)
    block_args = {
        arg: int(label.split(".h.")[1].split(".")[0])
        for label, arg in arg_labels(fn, attrs.PARAM)
        if ".h." in label
    }
    seen = defaultdict(int)
    for op in tfm_ops(imported.ir):
        layers = {block_args[v] for v in op.operands if v in block_args}
        if layers:  # an op using block i's weights is in block i
            assert layer_of(op) == layers.pop(), op
        if op.name in ("tfm.attention", "tfm.layer_norm", "tfm.matmul", "tfm.gelu"):
            seen[(op.name, layer_of(op))] += 1
        if op.name == "tfm.embedding":
            assert layer_of(op) is None
    layers = spec.config["layers"]
    for i in range(layers):
        assert seen[("tfm.attention", i)] == 1
        assert seen[("tfm.layer_norm", i)] == 2
        assert seen[("tfm.matmul", i)] == 4
    # the final norm and the logits matmul (lm_head) belong to no block
    assert seen[("tfm.layer_norm", None)] == 1
    assert seen[("tfm.matmul", None)] == 1
    assert set(layer for _, layer in seen) == {None, *range(layers)}


# Views move no data; which block a view at a block boundary belongs to is a convention (HF
# OPT reshapes a block's input only from block 1 on), so the per-block comparison is of real work.
FREE = {"tfm.reshape", "tfm.permute", "tfm.broadcast", "tfm.slice"}


def per_layer(ir) -> dict[tuple[str, int], list[str]]:
    out = defaultdict(list)
    for op in tfm_ops(ir):
        if layer_of(op) is not None and op.name not in FREE:
            out[(phase_of(op), layer_of(op))].append(op.name)
    return out


def _same_ops_per_layer(ir, layers: int) -> None:
    slices = per_layer(ir)
    for phase in ("forward", "backward"):
        first = slices.get((phase, 0), [])
        for i in range(1, layers):
            other = slices.get((phase, i), [])
            diff = [d for d in difflib.ndiff(first, other) if d[0] in "+-"]
            assert not diff, f"{phase} layer {i} differs from layer 0: {diff}"


@pytest.mark.parametrize("name", TINY)
def test_every_layer_holds_the_same_ops_inference(models, name: str) -> None:
    """Passes analyse one block and reuse the result: every block must hold the same ops."""
    spec, imported = models.get(name)
    _same_ops_per_layer(imported.ir, spec.config["layers"])
    assert ("forward", spec.config["layers"] - 1) in per_layer(imported.ir)


@pytest.mark.parametrize("name", TINY)
def test_every_layer_holds_the_same_ops_training(models, name: str) -> None:
    spec, imported = models.get(name, training=True)
    _same_ops_per_layer(imported.ir, spec.config["layers"])


@pytest.mark.parametrize("name", TINY)
def test_training_graph_has_fused_backward_ops(models, name: str) -> None:
    spec, imported = models.get(name, training=True)
    ops = tfm_ops(imported.ir)
    layers = spec.config["layers"]
    fused = [op for op in ops if op.name == "tfm.attention_backward"]
    assert sorted(layer_of(op) for op in fused) == list(range(layers))
    assert all(phase_of(op) == "backward" for op in fused)
    assert all(phase_of(op) == "forward" for op in ops if op.name == "tfm.attention")
    bwd_mm = [op for op in ops if op.name == "tfm.matmul" and phase_of(op) == "backward"]
    fwd_mm = [op for op in ops if op.name == "tfm.matmul" and phase_of(op) == "forward"]
    assert len(bwd_mm) == 2 * len(fwd_mm)  # dX and dW for every forward GEMM
    assert not any(op.name == "tfm.softmax" for op in ops)  # attention stays fused
    if name != "llama-tiny":
        assert sum(op.name == "tfm.layer_norm_backward" for op in ops) == sum(
            op.name == "tfm.layer_norm" for op in ops
        )
    ret = entry(imported.ir).body.block.last_op
    backward_ops = {op for op in ops if phase_of(op) == "backward"}
    for _, value in result_labels(entry(imported.ir), attrs.GRAD_OF):
        if isinstance(value.owner, Operation) and value.owner.name.startswith("tfm."):
            assert value.owner in backward_ops
    loss = dict(result_labels(entry(imported.ir), attrs.OUTPUT))["loss"]
    assert shape(loss) == () and ret.operands[0] is loss
    assert not any(phase_of(op) == "backward" for op in ancestors(loss))


def test_import_is_deterministic(models) -> None:
    spec, imported = models.get("gpt2-tiny", training=True)
    again = trace_and_import(spec.module, spec.example_inputs, training=True)
    assert print_module(again.ir) == print_module(imported.ir)


# ---- meta device -------------------------------------------------------------------------------


def test_meta_import_allocates_no_weights(gpt2_meta) -> None:
    spec, ir, grown = gpt2_meta
    assert all(p.is_meta for p in spec.module.parameters())
    assert all(t.is_meta for t in spec.example_inputs)
    assert grown < 250, f"resident memory grew by {grown:.0f} MiB (the weights are 500 MiB)"
    params = dict(arg_labels(entry(ir), attrs.PARAM))
    assert shape(params["model.transformer.wte.weight"]) == (50257, 768)
    assert shape(params["model.transformer.wpe.weight"]) == (1024, 768)
    assert shape(params["model.transformer.h.11.mlp.c_fc.weight"]) == (768, 3072)
    assert len(params) == 2 + 12 * 12 + 2
    assert sum(int(torch.tensor(shape(a)).prod()) for a in params.values()) == 124_439_808
    assert max(layer_of(op) or 0 for op in tfm_ops(ir)) == 11


def test_meta_import_equals_cpu_import() -> None:
    """Same config, one layer: the meta import is the CPU import, op for op."""
    meta = resolve_model("gpt2", Overrides(layers=1), device="meta")
    cpu = resolve_model("gpt2", Overrides(layers=1), device="cpu")
    meta_ir = import_module(meta.module, meta.example_inputs)
    cpu_ir = import_module(cpu.module, cpu.example_inputs)
    assert print_module(meta_ir) == print_module(cpu_ir)
    assert meta_ir.is_structurally_equivalent(cpu_ir)


def test_full_size_layers_equal_the_one_layer_import(gpt2_meta) -> None:
    _, ir, _ = gpt2_meta
    one = resolve_model("gpt2", Overrides(layers=1), device="meta")
    one_ir = import_module(one.module, one.example_inputs)
    assert per_layer(ir)[("forward", 0)] == per_layer(one_ir)[("forward", 0)]
    assert per_layer(ir)[("forward", 11)] == per_layer(one_ir)[("forward", 0)]


class Tied(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.emb = nn.Embedding(8, 4, device="meta")
        self.head = nn.Linear(4, 8, bias=False, device="meta")
        self.head.weight = self.emb.weight


def test_swap_to_fake_cpu_works_in_place_and_keeps_ties() -> None:
    model = Tied()
    args = swap_to_fake_cpu(model, (torch.zeros(2, 3, dtype=torch.long, device="meta"), 5))
    assert model.emb.weight is model.head.weight and isinstance(model.emb.weight, nn.Parameter)
    assert model.emb.weight.device.type == "cpu" and args[0].device.type == "cpu" and args[1] == 5
    assert isinstance(model.emb.weight, FakeTensor) and isinstance(args[0], FakeTensor)


# ---- errors ------------------------------------------------------------------------------------


class DataDependent(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.sum() > 0:  # Python control flow on a tensor value
            return x * 2
        return x - 1


def test_export_failure_is_one_line() -> None:
    with pytest.raises(TandemError) as info:
        import_module(DataDependent(), (torch.randn(3),))
    msg = str(info.value)
    assert "\n" not in msg and msg.startswith("torch.export of the model failed")


def test_training_needs_a_scalar_loss() -> None:
    """A forward returning logits in training mode is refused (it used to import with a
    ones-tensor gradient seed, and `tandem verify --training` then crashed in PyTorch)."""
    model = nn.Linear(4, 4)
    with pytest.raises(
        TandemError, match=r"returns the scalar loss, got a tensor of shape \[2, 4\]"
    ) as info:
        import_module(model, (torch.randn(2, 4),), training=True)
    assert "\n" not in str(info.value)


def test_imported_ir_reparses(models) -> None:
    _, imported = models.get("llama-tiny", training=True)
    text = print_module(imported.ir)
    assert print_module(parse_text(text)) == text
    assert isinstance(entry(parse_text(text)).sym_name, StringAttr)


# ---- dead code ---------------------------------------------------------------------------------


class DeadGeneric(nn.Module):
    """A tfm.generic (cumsum) whose only user, a concatenation, drops its empty operand."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.cumsum(x[:, :0], 1), x], 1)


def test_unused_generic_ops_are_removed() -> None:
    """tfm.generic lacks the Pure trait that xDSL's region_dce looks for; it goes all the same."""
    ir = import_module(DeadGeneric(), (torch.randn(2, 4),))
    assert tfm_ops(ir) == []


# ---- module structure --------------------------------------------------------------------------

ROOT = Path(__file__).resolve().parent.parent


def import_graph(root: Path, package: str) -> dict[str, set[str]]:
    """Module -> the modules of `package` it imports (imports inside functions too)."""
    files = {
        ".".join(p.relative_to(root).with_suffix("").parts).removesuffix(".__init__"): p
        for p in sorted((root / package).rglob("*.py"))
    }
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                # `from pkg import mod` imports the module pkg.mod; `from mod import name`, mod
                deps.update(
                    f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in files else node.module
                    for a in node.names
                )
        graph[name] = {d for d in deps if d in files and d != name}
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle (`[a, b, a]`), or None when the graph is acyclic."""
    state: dict[str, str] = {}
    path: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = "open"
        path.append(m)
        for d in sorted(graph[m]):
            if state.get(d) == "open":
                return path[path.index(d) :] + [d]
            if d not in state and (cycle := visit(d)) is not None:
                return cycle
        state[m] = "done"
        path.pop()
        return None

    for m in sorted(graph):
        if m not in state and (cycle := visit(m)) is not None:
            return cycle
    return None


def test_frontend_imports_are_acyclic() -> None:
    graph = import_graph(ROOT, "frontends")
    assert "frontends.aten.views" in graph["frontends.aten"]
    assert "frontends.aten" in graph["frontends.fx_import"]
    cycle = find_cycle(graph)
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_check_sees_late_imports(tmp_path: Path) -> None:
    """The check itself: a cycle closed by an import inside a function is found."""
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "a.py").write_text("from pkg.b import f\n")
    (tmp_path / "pkg" / "b.py").write_text("def f():\n    from pkg import a\n")
    graph = import_graph(tmp_path, "pkg")
    assert graph == {"pkg": set(), "pkg.a": {"pkg.b"}, "pkg.b": {"pkg.a"}}
    assert find_cycle(graph) == ["pkg.a", "pkg.b", "pkg.a"]
