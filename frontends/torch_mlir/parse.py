"""Parse torch-dialect MLIR with xDSL: `torch.*` ops and types stay unregistered, every
other dialect stays strict (a misspelt `tfm.` or `func.` op is still an error).

    parsed = parse_torch_text(text, "model.mlir")
    parsed.module       # builtin.module; torch ops are xDSL UnregisteredOps
    parsed.where(op)    # "model.mlir:12", for error messages
    parsed.blobs        # dense_resource key -> raw bytes held by the file

xDSL reads MLIR's generic form (`torch-mlir-opt --mlir-print-op-generic`, or
`get_asm(print_generic_op_form=True)` in Python). A file in torch-mlir's custom syntax is
first re-printed generically by torch-mlir's own parser when the package is installed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import cast

from xdsl.context import Context
from xdsl.dialect_interfaces.op_asm import OpAsmDialectInterface
from xdsl.dialects import builtin, func
from xdsl.dialects.builtin import ModuleOp, UnregisteredAttr, UnregisteredOp
from xdsl.ir import Dialect, Operation, TypeAttribute
from xdsl.parser import Parser
from xdsl.utils.exceptions import ParseError

from ir.errors import TandemError
from ir.io import parse_error_line

TORCH_PREFIX = "torch."
# A torch op in generic form: `"torch.aten.add.Tensor"(` (torch ops always print generically).
_TORCH_OP = re.compile(r'"(torch\.[\w.$]+)"\s*\(')
# One blob of the file-level resource section: `key: "0x<alignment><data>"`.
_BLOB = re.compile(r'^\s*("(?:[^"\\]|\\.)*"|[A-Za-z_][\w$.-]*)\s*:\s*"0x([0-9A-Fa-f]*)"', re.M)
_MLIR_DIAG = re.compile(r'"[^"]*":(\d+):(\d+):\s*(.*)')
_LOC_LINE = re.compile(r":(\d+):\d+\)?$")


class TorchContext(Context):
    """A context that accepts unregistered ops, types and attributes of the torch dialect only."""

    def get_optional_op(self, name: str, *, dialect_stack=()) -> type[Operation] | None:
        op = super().get_optional_op(name, dialect_stack=dialect_stack)
        if op is None and name.startswith(TORCH_PREFIX):
            op = UnregisteredOp.with_name(name)
            self._loaded_ops[name] = op
        return op

    def get_optional_type(self, name: str) -> type[TypeAttribute] | None:
        t = super().get_optional_type(name)
        if t is None and name.startswith(TORCH_PREFIX):
            unregistered = cast(
                type[TypeAttribute], UnregisteredAttr.with_name_and_type(name, True)
            )
            self._loaded_types[name] = unregistered
            return unregistered
        return t

    def get_optional_attr(self, name: str):
        a = super().get_optional_attr(name)
        if a is None and name.startswith(TORCH_PREFIX):
            a = UnregisteredAttr.with_name_and_type(name, False)
            self._loaded_attrs[name] = a
        return a


def torch_context() -> TorchContext:
    """A fresh context per parse. Its builtin dialect gets its own resource table: xDSL's shared
    one renames a `dense_resource` key it has seen before (`w` -> `w_0`) on the next parse."""
    ctx = TorchContext()
    ctx.load_dialect(
        Dialect(
            "builtin",
            list(builtin.Builtin.operations),
            list(builtin.Builtin.attributes),
            [OpAsmDialectInterface()],
        )
    )
    ctx.load_dialect(func.Func)
    return ctx


@dataclass
class ParsedTorch:
    """A parsed torch-dialect module plus where each torch op came from."""

    module: ModuleOp
    path: str
    lines: dict[Operation, int] = field(default_factory=dict)  # torch op -> line in the user's file
    text: dict[Operation, str] = field(default_factory=dict)  # torch op -> its generic source line
    blobs: dict[str, bytes] = field(default_factory=dict)

    def where(self, op: Operation) -> str:
        line = self.lines.get(op)
        return f"{self.path}:{line}" if line is not None else self.path


def op_name(op: Operation) -> str:
    """The real name of an op (`torch.aten.mm`), also for unregistered ops."""
    if isinstance(op, UnregisteredOp):
        return op.op_name.data
    return op.name


def split_resources(text: str) -> tuple[str, str]:
    """(IR, file-level metadata `{-# ... #-}`); the metadata always comes last."""
    m = re.search(r"^\{-#", text, re.M)
    return (text, "") if m is None else (text[: m.start()], text[m.start() :])


def read_blobs(metadata: str) -> dict[str, bytes]:
    """dense_resource blobs of a `{-# dialect_resources: ... #-}` section (alignment stripped)."""
    blobs = {}
    for key, hexdata in _BLOB.findall(metadata):
        data = bytes.fromhex(hexdata)
        blobs[key[1:-1] if key.startswith('"') else key] = data[4:]
    return blobs


def _torch_op_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) of every torch op in a generic-form text, in textual order."""
    out: list[tuple[int, str]] = []
    for i, line in enumerate(text.splitlines(), start=1):
        out.extend((i, line) for _ in _TORCH_OP.findall(line))
    return out


def _attach_lines(
    parsed: ParsedTorch, generic: list[tuple[int, str]], user: list[int] | None
) -> None:
    torch_ops = [op for op in parsed.module.walk() if op_name(op).startswith(TORCH_PREFIX)]
    if len(torch_ops) != len(generic):
        return  # unusual layout: errors then name the file without a line
    for k, (op, (line, source)) in enumerate(zip(torch_ops, generic, strict=True)):
        parsed.text[op] = source
        parsed.lines[op] = user[k] if user is not None and k < len(user) else line


def _xdsl_parse(ir_text: str, path: str) -> ModuleOp:
    try:
        return Parser(torch_context(), ir_text, path).parse_module()
    except (ParseError, TandemError):
        raise
    except Exception as exc:  # noqa: BLE001 - xDSL's parser trips on some malformed input
        raise TandemError(f"{path}: invalid MLIR ({type(exc).__name__}: {exc})") from exc


def parse_torch_text(text: str, path: str = "<input>") -> ParsedTorch:
    """Parse torch-dialect MLIR (generic form, or custom form through torch-mlir's parser)."""
    ir_text, metadata = split_resources(text)
    blobs = read_blobs(metadata)
    try:
        module = _xdsl_parse(ir_text, path)
        parsed = ParsedTorch(module, path, blobs=blobs)
        _attach_lines(parsed, _torch_op_lines(ir_text), None)
        return parsed
    except ParseError as exc:
        xdsl_error = exc
    converted = _generic_via_torch_mlir(ir_text, path)
    if converted is None:
        raise TandemError(
            parse_error_line(path, xdsl_error)
            + " (torch-dialect files must be in MLIR's generic form: torch-mlir-opt --mlir-print-op-generic)"
        )
    generic, user_lines = converted
    try:
        module = _xdsl_parse(generic, path)
    except ParseError as exc:
        raise TandemError(
            f"{path}: {exc.msg} (in torch-mlir's generic re-print of the file)"
        ) from exc
    parsed = ParsedTorch(module, path, blobs=blobs)
    _attach_lines(parsed, _torch_op_lines(generic), user_lines)
    return parsed


def _generic_via_torch_mlir(text: str, path: str) -> tuple[str, list[int]] | None:
    """Re-print a custom-syntax file generically with torch-mlir's parser (None: not installed).

    Returns the generic text and, for each torch op in order, its line in the user's file.
    """
    try:
        from torch_mlir import ir
        from torch_mlir.dialects import torch as torch_d
    except ImportError:
        return None
    ctx = ir.Context()
    torch_d.register_dialect(ctx)
    with ctx:
        try:
            module = ir.Module.parse(text)
        except ir.MLIRError as exc:
            m = _MLIR_DIAG.search(str(exc))
            if m is None:
                raise TandemError(f"{path}: {str(exc).strip().splitlines()[-1]}") from exc
            msg = m.group(3)
            if "unregistered dialect" in msg:
                msg = (
                    "unknown operation: a torch-dialect file holds torch, func and builtin ops only"
                )
            raise TandemError(f"{path}:{m.group(1)}:{m.group(2)}: {msg}") from exc
        lines: list[int] = []

        def visit(op):
            if op.name.startswith(TORCH_PREFIX):
                m = _LOC_LINE.search(str(op.location))
                lines.append(int(m.group(1)) if m else 0)
            return ir.WalkResult.ADVANCE

        module.operation.walk(visit, ir.WalkOrder.PRE_ORDER)
        return split_resources(module.operation.get_asm(print_generic_op_form=True))[0], lines
