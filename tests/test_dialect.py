"""The tfm dialect: every op's custom format round-trips, bad IR is refused with a clear line,
and the generic form is plain MLIR that upstream tools (torch-mlir-opt) parse."""

from __future__ import annotations

import re
import subprocess

import pytest
from xdsl.dialects.builtin import ModuleOp, StringAttr
from xdsl.ir import Block
from xdsl.utils.exceptions import VerifyException

from ir import binary_ops as bi
from ir import linalg_ops as la
from ir import unary_ops as un
from ir.errors import TandemError
from ir.io import parse_text, print_module
from ir.tfm import TFM
from ir.types import tensor

# Function arguments every snippet may use.
ARGS = {
    "x": "tensor<2x4xf32>",
    "y": "tensor<4xf32>",
    "b": "tensor<2x4xi1>",
    "i": "tensor<2x4xi64>",
    "a": "tensor<2x3x4xf32>",
    "w": "tensor<5x4xf32>",
    "q": "tensor<2x4x8x16xf32>",
    "kv": "tensor<2x2x8x16xf32>",
    "m": "tensor<1x1x8x8xi1>",
    "t": "tensor<10x4xf32>",
    "ids": "tensor<2x3xi64>",
    "g3": "tensor<2x3x4xf32>",
    "lab": "tensor<2xi64>",
    "s": "tensor<f32>",
    "h": "tensor<2x8xf16>",
    "u": "tensor<3x2xf32>",
}

X, A, Q, KV = ARGS["x"], ARGS["a"], ARGS["q"], ARGS["kv"]

# One or more op lines per tfm op, in the custom format.
SNIPPETS: dict[str, list[str]] = {
    "tfm.matmul": [
        f"%r = tfm.matmul %a, %w {{transpose_rhs}} : ({A}, {ARGS['w']}) -> tensor<2x3x5xf32>",
        f"%r = tfm.matmul %x, %x {{transpose_lhs}} : ({X}, {X}) -> tensor<4x4xf32>",
        f"%r = tfm.matmul %x, %u {{transpose_lhs, transpose_rhs}} : ({X}, {ARGS['u']}) -> tensor<4x3xf32>",
    ],
    "tfm.attention": [
        f"%r = tfm.attention %q, %kv, %kv {{causal, scale = 0.25 : f64}} : ({Q}, {KV}, {KV}) -> {Q}",
        f"%r = tfm.attention %q, %kv, %kv mask %m {{scale = 0.14433756729740646 : f64}} "
        f": ({Q}, {KV}, {KV}, {ARGS['m']}) -> {Q}",
    ],
    "tfm.attention_backward": [
        f"%r:3 = tfm.attention_backward %q, %q, %kv, %kv, %q {{causal, scale = 0.25 : f64}} "
        f": ({Q}, {Q}, {KV}, {KV}, {Q}) -> ({Q}, {KV}, {KV})",
        f"%r:3 = tfm.attention_backward %q, %q, %kv, %kv, %q mask %m {{scale = 0.25 : f64}} "
        f": ({Q}, {Q}, {KV}, {KV}, {Q}, {ARGS['m']}) -> ({Q}, {KV}, {KV})",
    ],
    "tfm.softmax": [f"%r = tfm.softmax %x {{dim = -1 : i64}} : ({X}) -> {X}"],
    "tfm.log_softmax": [f"%r = tfm.log_softmax %x {{dim = 1 : i64}} : ({X}) -> {X}"],
    "tfm.softmax_backward": [
        f"%r = tfm.softmax_backward %x, %x {{dim = -1 : i64}} : ({X}, {X}) -> {X}"
    ],
    "tfm.log_softmax_backward": [
        f"%r = tfm.log_softmax_backward %x, %x {{dim = 1 : i64}} : ({X}, {X}) -> {X}"
    ],
    "tfm.layer_norm": [
        f"%r = tfm.layer_norm %a, %y, %y {{eps = 1.0e-12 : f64, ndim = 1 : i64}} : ({A}, {ARGS['y']}, {ARGS['y']}) -> {A}",
    ],
    "tfm.layer_norm_backward": [
        f"%r:3 = tfm.layer_norm_backward %a, %a, %y, %y {{eps = 1.0e-05 : f64, ndim = 1 : i64}} "
        f": ({A}, {A}, {ARGS['y']}, {ARGS['y']}) -> ({A}, {ARGS['y']}, {ARGS['y']})",
    ],
    "tfm.rms_norm": [
        f"%r = tfm.rms_norm %a weight %y {{eps = 1.0e-06 : f64, ndim = 1 : i64}} : ({A}, {ARGS['y']}) -> {A}",
        f"%r = tfm.rms_norm %a {{eps = 1.0e-06 : f64, ndim = 2 : i64}} : ({A}) -> {A}",
    ],
    "tfm.gelu_backward": [
        f"%r = tfm.gelu_backward %x, %x {{approximate = #tfm<approximate tanh>}} : ({X}, {X}) -> {X}",
        f"%r = tfm.gelu_backward %x, %x : ({X}, {X}) -> {X}",
    ],
    "tfm.silu_backward": [f"%r = tfm.silu_backward %x, %x : ({X}, {X}) -> {X}"],
    "tfm.gelu": [
        f"%r = tfm.gelu %x {{approximate = #tfm<approximate tanh>}} : ({X}) -> {X}",
        f"%r = tfm.gelu %x : ({X}) -> {X}",
    ],
    **{
        f"tfm.{n}": [f"%r = tfm.{n} %x : ({X}) -> {X}"]
        for n in (
            "silu",
            "relu",
            "tanh",
            "sigmoid",
            "exp",
            "log",
            "sqrt",
            "rsqrt",
            "neg",
            "abs",
            "erf",
            "reciprocal",
            "sin",
            "cos",
        )
    },
    "tfm.not": [f"%r = tfm.not %b : ({ARGS['b']}) -> {ARGS['b']}"],
    **{
        f"tfm.{n}": [f"%r = tfm.{n} %x, %y : ({X}, {ARGS['y']}) -> {X}"]
        for n in ("add", "sub", "mul", "div", "pow", "max", "min")
    },
    **{
        f"tfm.{n}": [f"%r = tfm.{n} %b, %b : ({ARGS['b']}, {ARGS['b']}) -> {ARGS['b']}"]
        for n in ("and", "or")
    },
    **{
        f"tfm.{n}": [f"%r = tfm.{n} %x, %s : ({X}, {ARGS['s']}) -> tensor<2x4xi1>"]
        for n in ("eq", "ne", "lt", "le", "gt", "ge")
    },
    "tfm.where": [f"%r = tfm.where %b, %x, %s : ({ARGS['b']}, {X}, {ARGS['s']}) -> {X}"],
    "tfm.convert": [f"%r = tfm.convert %h : ({ARGS['h']}) -> tensor<2x8xf32>"],
    "tfm.constant": [
        "%r = tfm.constant {value = 0.5 : f64} : tensor<2x16xf32>",
        "%r = tfm.constant {value = -3 : i64} : tensor<i64>",
    ],
    "tfm.arange": [
        "%r = tfm.arange {start = 0 : i64, step = 1 : i64} : tensor<16xi64>",
        "%r = tfm.arange {start = 0.5 : f64, step = 2.0 : f64} : tensor<4xf32>",
    ],
    "tfm.reshape": [f"%r = tfm.reshape %a : ({A}) -> tensor<6x4xf32>"],
    "tfm.permute": [
        f"%r = tfm.permute %a {{perm = array<i64: 2, 0, 1>}} : ({A}) -> tensor<4x2x3xf32>"
    ],
    "tfm.broadcast": [f"%r = tfm.broadcast %y : ({ARGS['y']}) -> {A}"],
    "tfm.slice": [
        f"%r = tfm.slice %a {{dim = 1 : i64, start = 0 : i64, end = 3 : i64, step = 2 : i64}} : ({A}) -> tensor<2x2x4xf32>",
        f"%r = tfm.slice %a {{dim = -1 : i64, start = 1 : i64, end = 3 : i64, step = 1 : i64}} : ({A}) -> tensor<2x3x2xf32>",
    ],
    "tfm.concat": [
        f"%r = tfm.concat %x, %x, %x {{dim = 0 : i64}} : ({X}, {X}, {X}) -> tensor<6x4xf32>",
        f"%r = tfm.concat %x {{dim = -1 : i64}} : ({X}) -> {X}",
    ],
    "tfm.pad": [
        f"%r = tfm.pad %x {{low = array<i64: 1, 0>, high = array<i64: 0, 3>, value = -100.0 : f64}} : ({X}) -> tensor<3x7xf32>",
    ],
    "tfm.embedding": [f"%r = tfm.embedding %t, %ids : ({ARGS['t']}, {ARGS['ids']}) -> {A}"],
    "tfm.embedding_backward": [
        f"%r = tfm.embedding_backward %g3, %ids {{padding_idx = 0 : i64}} : ({ARGS['g3']}, {ARGS['ids']}) -> {ARGS['t']}",
    ],
    "tfm.reduce": [
        f"%r = tfm.reduce %a {{kind = #tfm<reduce_kind sum>, dims = array<i64: 0, 1>}} : ({A}) -> {ARGS['y']}",
        f"%r = tfm.reduce %a {{kind = #tfm<reduce_kind max>, dims = array<i64: -1>, keepdim}} : ({A}) -> tensor<2x3x1xf32>",
        f"%r = tfm.reduce %b {{kind = #tfm<reduce_kind any>, dims = array<i64: 0, 1>}} : ({ARGS['b']}) -> tensor<i1>",
    ],
    "tfm.cross_entropy": [
        f"%r = tfm.cross_entropy %x, %lab {{ignore_index = -100 : i64, reduction = #tfm<reduction mean>}} : ({X}, {ARGS['lab']}) -> tensor<f32>",
        f"%r = tfm.cross_entropy %x, %lab {{ignore_index = 0 : i64, reduction = #tfm<reduction none>}} : ({X}, {ARGS['lab']}) -> tensor<2xf32>",
    ],
    "tfm.nll_loss": [
        f"%r = tfm.nll_loss %x, %lab {{ignore_index = -100 : i64, reduction = #tfm<reduction sum>}} : ({X}, {ARGS['lab']}) -> tensor<f32>",
    ],
    "tfm.nll_loss_backward": [
        f"%r = tfm.nll_loss_backward %s, %x, %lab {{ignore_index = -100 : i64, reduction = #tfm<reduction mean>}} "
        f": ({ARGS['s']}, {X}, {ARGS['lab']}) -> {X}",
    ],
    "tfm.dropout": [f"%r = tfm.dropout %x {{p = 0.1 : f64}} : ({X}) -> {X}"],
    "tfm.prune": [f"%r = tfm.prune %x {{threshold = 6.000000e-02 : f64}} : ({X}) -> {X}"],
    "tfm.generic": [
        f'%r = tfm.generic %i {{target = "aten.cumsum.default", args = [#tfm.operand<0>, 1 : i64], kwargs = {{}}}} : ({ARGS["i"]}) -> {ARGS["i"]}',
        f'%r:2 = tfm.generic %x {{target = "aten.sort.default", args = [#tfm.operand<0>, -1 : i64], kwargs = {{}}}} : ({X}) -> ({X}, {ARGS["i"]})',
        '%r = tfm.generic {target = "aten.randn.default", args = [[2 : i64, 4 : i64]], kwargs = {dtype = f32}} : () -> tensor<2x4xf32>',
    ],
    # a kernel: several ops in a region, the inputs bound to block arguments
    "tfm.fused": [
        f'%r = tfm.fused {{layer = 0 : i64, kernel = "bias_gelu"}} (%xa = %x : {X}, %yb = %y : {ARGS["y"]}) -> {X} {{\n'
        f"  %k1 = tfm.add %xa, %yb : ({X}, {ARGS['y']}) -> {X}\n"
        f"  %k2 = tfm.gelu %k1 {{approximate = #tfm<approximate tanh>}} : ({X}) -> {X}\n"
        f"  tfm.yield %k2 : {X}\n"
        "}",
    ],
    "tfm.yield": [
        f'%r:2 = tfm.fused {{kernel = "pointwise"}} (%xa = %x : {X}) -> ({X}, {X}) {{\n'
        f"  %k1 = tfm.exp %xa : ({X}) -> {X}\n"
        f"  %k2 = tfm.neg %k1 : ({X}) -> {X}\n"
        f"  tfm.yield %k1, %k2 : {X}, {X}\n"
        "}",
    ],
}

CASES = [(name, i, line) for name, lines in SNIPPETS.items() for i, line in enumerate(lines)]


def wrap(*lines: str) -> str:
    """A function taking every ARGS value, holding `lines`, returning nothing."""
    params = ", ".join(f"%{k}: {v}" for k, v in ARGS.items())
    body = "\n".join(f"  {ln}" for ln in lines)
    return f"func.func @f({params}) {{\n{body}\n  func.return\n}}\n"


def only_tfm_op(module: ModuleOp):
    ops = [op for op in module.walk() if op.name.startswith("tfm.")]
    assert len(ops) == 1
    return ops[0]


def snippet_op(module: ModuleOp, name: str):
    """The snippet's op: the only tfm op, or in a kernel snippet the only op named `name`."""
    if name not in ("tfm.fused", "tfm.yield"):
        return only_tfm_op(module)
    ops = [op for op in module.walk() if op.name == name]
    assert len(ops) == 1
    return ops[0]


def test_snippets_name_registered_ops() -> None:
    """Extra round-trip cases beyond each op's docstring example (which every op must have)."""
    registered = {op.name for op in TFM.operations}
    assert set(SNIPPETS) <= registered, set(SNIPPETS) - registered


@pytest.mark.parametrize("name,index,line", CASES, ids=[f"{n}-{i}" for n, i, _ in CASES])
def test_roundtrip(name: str, index: int, line: str) -> None:
    first = parse_text(wrap(line))
    op = snippet_op(first, name)
    assert op.name == name
    printed = print_module(first)
    # custom format, not the quoted generic one
    assert f" {name} " in printed and f'"{name}"' not in printed
    again = parse_text(printed)
    assert print_module(again) == printed
    assert again.is_structurally_equivalent(first)
    generic = print_module(first, generic=True)
    assert f'"{name}"' in generic
    from_generic = parse_text(generic)
    assert print_module(from_generic) == printed
    assert snippet_op(from_generic, name).properties == op.properties


def test_discardable_attributes_roundtrip() -> None:
    line = SNIPPETS["tfm.matmul"][0].replace(
        "{transpose_rhs}", '{layer = 3 : i64, phase = "backward", transpose_rhs}'
    )
    module = parse_text(wrap(line))
    op = only_tfm_op(module)
    assert op.attributes["layer"].value.data == 3
    assert op.attributes["phase"] == StringAttr("backward")
    assert op.transpose_rhs is not None and "transpose_rhs" not in op.attributes
    printed = print_module(module)
    assert "layer = 3 : i64" in printed and 'phase = "backward"' in printed
    assert print_module(parse_text(printed)) == printed


def test_float_properties_are_exact() -> None:
    """Scales and epsilons survive printing bit for bit (1/sqrt(48), 1e-12)."""
    scale = 48**-0.5
    line = SNIPPETS["tfm.attention"][0].replace("0.25", repr(scale))
    module = parse_text(print_module(parse_text(wrap(line))))
    assert only_tfm_op(module).scale.value.data == scale
    ln = parse_text(print_module(parse_text(wrap(SNIPPETS["tfm.layer_norm"][0]))))
    assert only_tfm_op(ln).eps.value.data == 1e-12


def test_programmatic_construction_verifies() -> None:
    block = Block(arg_types=[tensor((2, 3, 4), "f32"), tensor((5, 4), "f32"), tensor((4,), "f32")])
    a, w, y = block.args
    mm = la.MatmulOp(a, w, tensor((2, 3, 5), "f32"), transpose_rhs=True)
    add = bi.AddOp(a, y, tensor((2, 3, 4), "f32"))
    gelu = un.GeluOp(add.result)
    lt = bi.LtOp(a, y, tensor((2, 3, 4), "i1"))
    for op in (mm, add, gelu, lt):
        block.add_op(op)
        op.verify()
    assert mm.dims() == ((2,), 3, 5, 4)
    assert gelu.result.type == add.result.type
    bad = la.MatmulOp(a, w, tensor((2, 3, 5), "f32"))  # K: 4 vs 5 without the transpose
    block.add_op(bad)
    with pytest.raises(VerifyException, match="reduction dims differ"):
        bad.verify()


def test_matmul_dims_with_transposes_and_broadcast() -> None:
    block = Block(arg_types=[tensor((7, 1, 8, 3), "f32"), tensor((5, 8, 6), "f32")])
    lhs, rhs = block.args
    op = la.MatmulOp(lhs, rhs, tensor((7, 5, 3, 6), "f32"), transpose_lhs=True)
    block.add_op(op)
    op.verify()
    assert op.dims() == ((7, 5), 3, 6, 8)


# ---- invalid IR: the lit tests check each verifier's message; here the Python API's form ----


def test_verifier_error_is_one_tandem_line() -> None:
    text = wrap("%r = tfm.matmul %x, %x : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>")
    with pytest.raises(TandemError) as info:
        parse_text(text, "m.mlir")
    msg = str(info.value)
    assert "\n" not in msg
    assert msg.startswith("m.mlir: invalid IR:")
    assert "tfm.matmul: reduction dims differ: lhs 2x4 has K=4, rhs 2x4 has K=2" in msg


@pytest.mark.parametrize("spelling", ["tfm.matmull", "tfm.Matmul", "tfm.attn"])
def test_misspelt_op_is_refused(spelling: str) -> None:
    text = wrap(f"%r = {spelling} %x, %x : (tensor<2x4xf32>, tensor<2x4xf32>) -> tensor<2x4xf32>")
    with pytest.raises(TandemError) as info:
        parse_text(text, "m.mlir")
    msg = str(info.value)
    assert "\n" not in msg
    assert re.match(r"m\.mlir:2:\d+: ", msg), msg  # file:line:col of the op
    assert spelling in msg and "not registered" in msg


def test_misspelt_op_in_generic_form_is_refused() -> None:
    text = wrap('%r = "tfm.softmaxx"(%x) {dim = 1 : i64} : (tensor<2x4xf32>) -> tensor<2x4xf32>')
    with pytest.raises(TandemError, match="tfm.softmaxx"):
        parse_text(text)


def test_unknown_dialect_op_is_refused() -> None:
    text = wrap('%r = "foo.bar"(%x) : (tensor<2x4xf32>) -> tensor<2x4xf32>')
    with pytest.raises(TandemError, match="foo.bar"):
        parse_text(text)


# ---- the generic form is plain MLIR ------------------------------------------------------------


def _torch_mlir_parse(binary: str, text: str) -> str:
    proc = subprocess.run(
        [binary, "--allow-unregistered-dialect"],
        input=text,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr[:2000]
    return proc.stdout


def test_all_snippets_parse_with_torch_mlir_opt(torch_mlir_opt: str) -> None:
    lines = [line.replace("%r", f"%r{n}") for n, (_, _, line) in enumerate(CASES)]
    module = parse_text(wrap(*lines))
    out = _torch_mlir_parse(torch_mlir_opt, print_module(module, generic=True))
    for name in SNIPPETS:
        assert f'"{name}"' in out, name


@pytest.mark.parametrize("training", [False, True], ids=["inference", "training"])
def test_imported_model_parses_with_torch_mlir_opt(
    models, torch_mlir_opt: str, training: bool
) -> None:
    _, imported = models.get("gpt2-tiny", training=training)
    ours = [op.name for op in imported.ir.walk() if op.name.startswith("tfm.")]
    out = _torch_mlir_parse(torch_mlir_opt, print_module(imported.ir, generic=True))
    theirs = [
        line.split('"')[1] for line in out.splitlines() if '"tfm.' in line and '= "tfm.' in line
    ]
    assert theirs == ours
    assert "tfm.param" in out and ("tfm.grad_of" in out) == training


# ---- enum properties: a closed set of spellings, refused at parse time --------------------


@pytest.mark.parametrize(
    "line,expected",
    [
        (
            f"%r = tfm.gelu %x {{approximate = #tfm<approximate fast>}} : ({X}) -> {X}",
            "Expected `none`, or `tanh`",
        ),
        (
            f"%r = tfm.reduce %a {{kind = #tfm<reduce_kind average>, dims = array<i64: 1>}} : ({A}) -> tensor<2x4xf32>",
            "Expected `sum`, `mean`, `max`, `min`, `prod`, `any`, or `all`",
        ),
        (
            f"%r = tfm.cross_entropy %x, %lab {{ignore_index = -100 : i64, reduction = #tfm<reduction avg>}} "
            f": ({X}, {ARGS['lab']}) -> tensor<f32>",
            "Expected `none`, `mean`, or `sum`",
        ),
        (f'%r = tfm.gelu %x {{approximate = "tanh"}} : ({X}) -> {X}', "approximate"),
    ],
)
def test_bad_enum_spelling_is_a_located_error(line: str, expected: str) -> None:
    with pytest.raises(TandemError) as info:
        parse_text(wrap(line), "m.mlir")
    msg = str(info.value)
    assert msg.startswith("m.mlir:") and expected in msg and "\n" not in msg


def test_enum_properties_read_as_python_values() -> None:
    gelu = only_tfm_op(parse_text(wrap(SNIPPETS["tfm.gelu"][0])))
    assert gelu.approximation == "tanh"
    assert only_tfm_op(parse_text(wrap(SNIPPETS["tfm.gelu"][1]))).approximation == "none"
    reduce = only_tfm_op(parse_text(wrap(SNIPPETS["tfm.reduce"][1])))
    assert reduce.reduction == "max"
    loss = only_tfm_op(parse_text(wrap(SNIPPETS["tfm.cross_entropy"][1])))
    assert (loss.mode, loss.ignored) == ("none", 0)


# ---- every op declares its behaviour next to its definition --------------------------------


def test_every_op_declares_its_behaviour() -> None:
    """Kind, view-ness, FLOPs and the interpreter rule live on each op class."""
    from ir.base import TfmOp

    kinds = {
        "matmul",
        "attention",
        "softmax",
        "norm",
        "elementwise",
        "embedding",
        "reduce",
        "loss",
        "data-movement",
        "generic",
        "view",
        "comm",
    }
    for cls in TFM.operations:
        assert issubclass(cls, TfmOp), cls.name
        assert cls.KIND in kinds, (cls.name, cls.KIND)
        assert cls.IS_VIEW == (cls.KIND == "view"), cls.name
        assert cls.interpret is not TfmOp.interpret, f"{cls.name} has no interpreter rule"
        assert "__init__" in {
            k for c in cls.__mro__ if c is not TfmOp and issubclass(c, TfmOp) for k in vars(c)
        }, f"{cls.name} has no builder"


# ---- tfm.generic holds data, never code ------------------------------------------------------

MALICIOUS = """func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {
  %y = tfm.generic %x {target = "aten.abs.default", args = "(torch.save(torch.zeros(1), 'PATH'), %0)[1:], {}"} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}
"""


def test_generic_with_python_source_is_refused_without_running(tmp_path, capfd) -> None:
    """The IR that once made the interpreter write a file through eval: now a parse error."""
    target = tmp_path / "pwned"
    text = MALICIOUS.replace("PATH", str(target))
    with pytest.raises(TandemError) as info:
        parse_text(text, "evil.mlir")
    assert str(info.value).startswith("evil.mlir:2: invalid IR:")
    assert "should be of base attribute array" in str(info.value)
    assert not target.exists()
    evil = tmp_path / "evil.mlir"
    evil.write_text(text)
    from tandem.opt import main

    assert main([str(evil)]) == 1
    err = capfd.readouterr().err
    assert err.startswith("error: ") and "Traceback" not in err
    assert not target.exists()


@pytest.mark.parametrize(
    "target,message",
    [
        ("aten._print.default", "not an ATen operator the interpreter runs"),
        ("aten.add_.Tensor", "mutates its arguments"),
        ("aten.no_such_op.default", "unknown ATen op"),
    ],
)
def test_generic_runs_only_pure_aten_ops(target: str, message: str) -> None:
    import torch

    from backends.interpreter import run_module

    text = f"""func.func @f(%x: tensor<2x4xf32>) -> tensor<2x4xf32> {{
  %y = tfm.generic %x {{target = "{target}", args = [#tfm.operand<0>, #tfm.operand<0>], kwargs = {{}}}} : (tensor<2x4xf32>) -> tensor<2x4xf32>
  func.return %y : tensor<2x4xf32>
}}
"""
    module = parse_text(text)
    with pytest.raises(TandemError, match=message):
        run_module(module, [torch.ones(2, 4)])


@pytest.mark.parametrize(
    "args,message",
    [
        ("[#tfm.operand<3>]", "refers to operand 3 but the op has 1"),
        ("[1 : i64]", "operand 0 is not used by the call"),
        ("[#tfm.operand<0>, 1 : i32]", "expected an operand reference"),
        ("[#tfm.operand<0>, tensor<2xf32>]", "expected an operand reference"),
    ],
)
def test_generic_arguments_are_verified(args: str, message: str) -> None:
    text = wrap(
        f'%r = tfm.generic %x {{target = "aten.abs.default", args = {args}, kwargs = {{}}}} : ({X}) -> {X}'
    )
    with pytest.raises(TandemError, match=re.escape(message)):
        parse_text(text)


# ---- every op's docstring example is real IR: it parses, verifies and round-trips --------------


def _split_types(text: str) -> list[str]:
    out, depth, cur = [], 0, ""
    for ch in text:
        depth += ch == "<"
        depth -= ch == ">"
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    return [t for t in [*out, cur.strip()] if t]


def docstring_example(cls) -> str:
    """The op's IR example wrapped in a function whose arguments are its operands.

    An example is the docstring's first block of lines that starts with an `%`-result line
    naming an op; a region op's block runs to its closing brace. Arguments come from the
    operands of the first line with the types of its functional type (or `%x = %arg : T`).
    """
    import inspect

    lines = inspect.cleandoc(cls.__doc__ or "").splitlines()
    start = next(i for i, ln in enumerate(lines) if ln.lstrip().startswith("%") and " tfm." in ln)
    indent = len(lines[start]) - len(lines[start].lstrip())
    lines = [ln[indent:] for ln in lines]
    block = [lines[start]]
    if lines[start].rstrip().endswith("{"):
        block += lines[start + 1 : lines.index("}", start) + 1]
    first = block[0]
    body = first.split(" = ", 1)[1]
    typed = dict(re.findall(r"%\w+ = (%\w+) : ([^,)]+)", body))
    if not typed:
        head = re.sub(r"\{.*\}", "", body.rsplit(" : ", 1)[0])
        operands = re.findall(r"%\w+", head)
        sig = body.rsplit(" : ", 1)[1]
        types = _split_types(sig.split(") -> ")[0].lstrip("(")) if ") -> " in sig else []
        typed = dict(zip(operands, types, strict=True))
    params = ", ".join(f"{n}: {t}" for n, t in typed.items())
    text = "\n".join(f"  {ln}" for ln in block)
    return f"func.func @example({params}) {{\n{text}\n  func.return\n}}\n"


@pytest.mark.parametrize("cls", sorted(TFM.operations, key=lambda c: c.name), ids=lambda c: c.name)
def test_docstring_example_roundtrips(cls) -> None:
    """New ops need no test edits: their documented example is parsed, verified and printed."""
    text = docstring_example(cls)
    module = parse_text(text, f"{cls.name} docstring")
    assert any(isinstance(op, cls) for op in module.walk()), (
        f"{cls.name}: example has no {cls.name}"
    )
    printed = print_module(module)
    assert print_module(parse_text(printed)) == printed
    assert print_module(parse_text(print_module(module, generic=True))) == printed
