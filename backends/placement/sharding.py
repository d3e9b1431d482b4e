"""Tensor-parallel sharding of a tfm function, the Megatron way: `shard_function(fn, t)`.

Every value gets a layout (`specs.Spec`) as the ops are rewritten in program order, and every
op is rebuilt with each rank's shapes. Parameters are split where Megatron-LM splits them,
decided from the dataflow rather than from names:

* a forward matmul of a replicated activation with a weight is **column parallel**: the
  weight's output dim is split (in 3 blocks for a fused QKV weight whose output is sliced
  in thirds), so each rank computes its heads or its share of the MLP;
* a forward matmul whose activation is split along the reduction dim is **row parallel**:
  the weight's input dim is split and the partial sums are all-reduced (`tfm.all_reduce`);
* a bias added to a split output is split with it; the head's weight (the tied embedding
  too) is split along the vocabulary, and the embedding becomes a vocabulary-parallel lookup
  (this rank's rows, others masked, then an all-reduce); norms stay replicated.

Backward ops follow from the layouts (the gradient of a column-parallel input is a partial
sum; weight gradients come out split like their weights). Where an op cannot work on the
layout it receives, its operand is gathered (`tfm.all_gather`) or cut to this rank's part
(`tfm.split`, free), so the result always computes what the unsharded function computes.

    %y = tfm.matmul %x, %w : (tensor<32x64xbf16>, tensor<64x192xbf16>) -> tensor<32x192xbf16>
    // t = 2, %w split "1/3":
    %y = tfm.matmul %x, %w : (tensor<32x64xbf16>, tensor<64x96xbf16>) -> tensor<32x96xbf16>

The `batch` axis (a factor f) cuts the batch dim of the inputs instead: the planner uses it
to cost a template imported at microbatch b0 at microbatch b0/f without importing again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, StringAttr, TensorType
from xdsl.ir import Attribute, Block, Operation, Region, SSAValue

from backends.placement import rules
from backends.placement.specs import REPLICATED, Spec, Split, divisible, local_shape, map_reshape
from ir import attrs
from ir import comm_ops as co
from ir.errors import PassError
from ir.types import shape


@dataclass
class Sharded:
    """The rewritten function's block, argument labels and the parameter layouts chosen."""

    block: Block
    arg_attrs: list[DictionaryAttr]
    res_attrs: list[DictionaryAttr]
    result_types: list[Attribute]
    params: dict[str, Split]  # parameter name -> its tensor-parallel split
    specs: dict[SSAValue, Spec] = field(default_factory=dict)  # new value -> its layout
    gshapes: dict[SSAValue, tuple[int, ...]] = field(
        default_factory=dict
    )  # new value -> whole shape
    origin: dict[Operation, Operation] = field(default_factory=dict)  # new op -> source op

    def function(self, name: str) -> func.FuncOp:
        """The rewritten function (takes ownership of the block)."""
        fn = func.FuncOp(name, (list(self.block.arg_types), self.result_types), Region(self.block))
        fn.arg_attrs = ArrayAttr(self.arg_attrs)
        fn.res_attrs = ArrayAttr(self.res_attrs)
        return fn


class Sharder:
    """One rewrite of `fn` with tensor-parallel degree `t` and batch factor `batch`."""

    def __init__(
        self, fn: func.FuncOp, t: int, batch: int, params: dict[str, Split], strict: bool
    ) -> None:
        self.fn = fn
        self.sizes = {"tp": t, "batch": batch}
        self.params = dict(params)  # decided so far (param name -> split)
        self.new_decisions = False
        self.strict = strict
        self.info: dict[SSAValue, tuple[tuple[int, ...], Spec]] = {}
        self.map: dict[SSAValue, SSAValue] = {}
        self.cache: dict[tuple, SSAValue] = {}
        self.vocab: dict[SSAValue, tuple[SSAValue, SSAValue, int]] = {}
        self.param_of: dict[SSAValue, str] = {}
        self.input_args: set[SSAValue] = set()
        self.current: Operation | None = None
        self.origin: dict[Operation, Operation] = {}
        arg_entries = (
            fn.arg_attrs.data
            if isinstance(fn.arg_attrs, ArrayAttr)
            else [DictionaryAttr({})] * len(fn.body.block.args)
        )
        self.arg_entries = list(arg_entries)
        for a, entry in zip(fn.body.block.args, self.arg_entries, strict=True):
            name = entry.data.get(attrs.PARAM) if isinstance(entry, DictionaryAttr) else None
            if isinstance(name, StringAttr):
                self.param_of[a] = name.data
            if isinstance(entry, DictionaryAttr) and attrs.INPUT in entry.data:
                self.input_args.add(a)
        self.block = Block()

    # ---- values and emission -------------------------------------------------------------
    def spec(self, v: SSAValue) -> Spec:
        return self.info[v][1]

    def gshape(self, v: SSAValue) -> tuple[int, ...]:
        return self.info[v][0]

    def local_type(self, gshape: tuple[int, ...], elem: Attribute, spec: Spec) -> TensorType:
        return tensor_type(elem, local_shape(gshape, spec, self.sizes))

    def emit(
        self,
        cls: type[Operation],
        operands: list[SSAValue],
        outs: list[tuple[tuple[int, ...], Attribute, Spec]],
        props: dict[str, Attribute] | None = None,
    ) -> list[SSAValue]:
        """Build `cls` on new values; `outs` are (global shape, element type, spec)."""
        like = self.current
        op = cls.create(
            operands=operands,
            result_types=[self.local_type(s, e, sp) for s, e, sp in outs],
            properties=props or {},
            attributes=dict(like.attributes) if like is not None else {},
        )
        self.block.add_op(op)
        if like is not None:
            self.origin[op] = like
        for r, (s, _e, sp) in zip(op.results, outs, strict=True):
            self.info[r] = (s, sp)
        return list(op.results)

    def elem(self, v: SSAValue) -> Attribute:
        t = v.type
        assert isinstance(t, TensorType)
        return t.element_type

    # ---- layout changes ----------------------------------------------------------------------
    def complete(self, v: SSAValue) -> SSAValue:
        """All-reduce a tensor-parallel partial sum."""
        kind = self.spec(v).partial
        if kind is None:
            return v
        key = (v, "reduce")
        if key not in self.cache:
            (r,) = self.emit(
                co.AllReduceOp,
                [v],
                [(self.gshape(v), self.elem(v), Spec(batch=self.spec(v).batch))],
                _collective_props("tp", self.sizes["tp"], reduce=kind),
            )
            self.cache[key] = r
        return self.cache[key]

    def need(self, v: SSAValue, axis: str, want: Split | None) -> SSAValue:
        """`v` laid out with `want` on `axis` (partial sums completed first)."""
        v = self.complete(v)
        have = self.spec(v).get(axis)
        if have == want:
            return v
        if have is not None:
            v = self._gather(v, axis, have)
        if want is None:
            return v
        key = (v, axis, want)
        if key not in self.cache:
            gs = self.gshape(v)
            if not divisible(gs, want, self.sizes[axis]):
                raise PassError(f"{self._where()}: cannot split {gs} as {want} over {axis}")
            (r,) = self.emit(
                co.SplitOp,
                [v],
                [(gs, self.elem(v), self.spec(v).put(axis, want))],
                _collective_props(axis, self.sizes[axis], dim=want.dim, blocks=want.blocks),
            )
            self.cache[key] = r
        return self.cache[key]

    def _gather(self, v: SSAValue, axis: str, have: Split) -> SSAValue:
        if axis == "batch" and self.strict:
            raise PassError(f"{self._where()}: the batch cannot be gathered across microbatches")
        key = (v, axis, None)
        if key not in self.cache:
            (r,) = self.emit(
                co.AllGatherOp,
                [v],
                [(self.gshape(v), self.elem(v), self.spec(v).put(axis, None))],
                _collective_props(axis, self.sizes[axis], dim=have.dim, blocks=have.blocks),
            )
            self.cache[key] = r
        return self.cache[key]

    def whole(self, v: SSAValue) -> SSAValue:
        """Replicated over the tensor-parallel ranks (the batch layout kept)."""
        return self.need(v, "tp", None)

    def can_split(self, v: SSAValue, axis: str, split: Split | None) -> bool:
        return split is None or divisible(self.gshape(v), split, self.sizes[axis])

    # ---- parameters -------------------------------------------------------------------------
    def param_root(self, v: SSAValue) -> tuple[str, list[tuple[int, ...]]] | None:
        """(parameter name, permutations from `v` back to it) when `v` is a permuted parameter."""
        perms: list[tuple[int, ...]] = []
        while isinstance(v.owner, Operation) and v.owner.name == "tfm.permute":
            perms.append(tuple(v.owner.perm.get_values()))  # type: ignore[attr-defined]
            v = v.owner.operands[0]
        arg = self.arg_of.get(v)
        if arg is None or arg not in self.param_of:
            return None
        return self.param_of[arg], perms

    def decide(self, v: SSAValue, split: Split) -> bool:
        """Split the parameter behind `v` (new value) so that `v` comes out as `split`."""
        if self.sizes["tp"] == 1:
            return False
        root = self.param_root(v)
        if root is None:
            return False
        name, perms = root
        dim = split.dim
        for perm in perms:
            dim = perm[dim]
        decided = Split(dim, split.blocks)
        if name in self.params:
            return self.params[name] == decided
        if not self.can_split(v, "tp", split):
            return False
        self.params[name] = decided
        self.new_decisions = True
        return True

    def _where(self) -> str:
        return attrs.where(self.current) if self.current is not None else "the function"

    # ---- the walk ---------------------------------------------------------------------------
    def run(self) -> Sharded:
        fn = self.fn
        self.arg_of: dict[SSAValue, SSAValue] = {}
        self.demand = demand(fn, self.params, self.sizes["tp"])
        new_args: list[SSAValue] = []
        for a, _entry in zip(fn.body.block.args, self.arg_entries, strict=True):
            spec = REPLICATED
            name = self.param_of.get(a)
            if name in self.params:
                spec = Spec(tp=self.params[name])
            if a in self.input_args and self.sizes["batch"] > 1 and len(shape(a)) >= 1:
                spec = Spec(batch=Split(0))
            na = self.block.insert_arg(self.local_type(shape(a), self.elem(a), spec), len(new_args))
            na.name_hint = a.name_hint
            self.info[na] = (shape(a), spec)
            self.map[a] = na
            self.arg_of[na] = a
            new_args.append(na)
        ret = None
        for op in fn.body.block.ops:
            if isinstance(op, func.ReturnOp):
                ret = op
                break
            if isinstance(op, co.SendOp | co.RecvOp | co._Collective):
                raise PassError(f"{op.name}: the function is already placed")
            self.current = op
            outs = rules.apply(self, op, [self.map[v] for v in op.operands])
            for r, nr in zip(op.results, outs, strict=True):
                self.map[r] = nr
        self.current = None
        return self._finish(ret, new_args)

    def _finish(self, ret: func.ReturnOp | None, new_args: list[SSAValue]) -> Sharded:
        fn = self.fn
        res_entries = (
            list(fn.res_attrs.data)
            if isinstance(fn.res_attrs, ArrayAttr)
            else [DictionaryAttr({})] * (len(ret.operands) if ret else 0)
        )
        outs: list[SSAValue] = []
        for v, entry in zip(ret.operands if ret else [], res_entries, strict=True):
            nv = self.whole(self.map[v]) if self.spec(self.map[v]).partial else self.map[v]
            grad_of = entry.data.get(attrs.GRAD_OF) if isinstance(entry, DictionaryAttr) else None
            want = None
            if isinstance(grad_of, StringAttr):
                want = self.params.get(grad_of.data)
            nv = self.need(nv, "tp", want)
            if self.spec(nv).batch is not None:
                nv = self.need(nv, "batch", None)
            outs.append(nv)
        self.block.add_op(func.ReturnOp(*outs))
        arg_attrs = []
        for a, entry in zip(fn.body.block.args, self.arg_entries, strict=True):
            data = dict(entry.data) if isinstance(entry, DictionaryAttr) else {}
            name = self.param_of.get(a)
            if name in self.params:
                s = self.params[name]
                data[attrs.SHARD] = StringAttr(f"{s.dim}/{s.blocks}")
            arg_attrs.append(DictionaryAttr(data))
        return Sharded(
            self.block,
            arg_attrs,
            list(res_entries),
            [v.type for v in outs],
            dict(self.params),
            {v: sp for v, (_s, sp) in self.info.items()},
            {v: gs for v, (gs, _sp) in self.info.items()},
            self.origin,
        )


def demand(fn: func.FuncOp, params: dict[str, Split], t: int) -> dict[SSAValue, Split]:
    """Layouts the gradient results want, followed back through views and adds.

    A weight gradient that the function returns split is best computed split: the matmul
    producing it then computes only this rank's rows (`rules.matmul`).
    """
    want: dict[SSAValue, Split] = {}
    ret = fn.body.block.last_op
    if t == 1 or not isinstance(ret, func.ReturnOp) or not isinstance(fn.res_attrs, ArrayAttr):
        return want
    for v, entry in zip(ret.operands, fn.res_attrs.data, strict=True):
        grad_of = entry.data.get(attrs.GRAD_OF) if isinstance(entry, DictionaryAttr) else None
        if isinstance(grad_of, StringAttr) and grad_of.data in params:
            want[v] = params[grad_of.data]
    for op in reversed(list(fn.body.block.ops)):
        if not op.results or op.results[0] not in want:
            continue
        s = want[op.results[0]]
        if op.name == "tfm.permute":
            perm = tuple(op.perm.get_values())  # type: ignore[attr-defined]
            want.setdefault(op.operands[0], Split(perm[s.dim], s.blocks))
        elif op.name == "tfm.reshape":
            m = map_reshape(shape(op.results[0]), shape(op.operands[0]), s, t)
            if m is not None:
                want.setdefault(op.operands[0], m)
        elif op.name in ("tfm.add", "tfm.sub"):
            for a in op.operands:
                if shape(a) == shape(op.results[0]):
                    want.setdefault(a, s)
    return want


def _collective_props(axis: str, ranks: int, **extra) -> dict[str, Attribute]:
    from ir.base import int_attr
    from ir.enums import ReduceKind, ReduceKindAttr

    props: dict[str, Attribute] = {"group": StringAttr(axis), "ranks": int_attr(ranks)}
    for k, v in extra.items():
        props[k] = ReduceKindAttr(ReduceKind(v)) if k == "reduce" else int_attr(v)
    return props


_TYPES: dict[tuple[Attribute, tuple[int, ...]], TensorType] = {}


def tensor_type(elem: Attribute, dims: tuple[int, ...]) -> TensorType:
    """A tensor type, built (and verified) once per element type and shape."""
    key = (elem, dims)
    t = _TYPES.get(key)
    if t is None:
        t = _TYPES[key] = TensorType(elem, list(dims))
    return t


def _splittable(fn: func.FuncOp, name: str, split: Split, t: int) -> bool:
    """Can parameter `name` be split as `split` over t ranks (a decision carried over from
    another t)?"""
    entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    for a, entry in zip(fn.body.block.args, entries, strict=False):
        label = entry.data.get(attrs.PARAM) if isinstance(entry, DictionaryAttr) else None
        if isinstance(label, StringAttr) and label.data == name:
            return t > 1 and divisible(shape(a), split, t)
    return False


def shard_function(
    fn: func.FuncOp,
    t: int,
    batch: int = 1,
    *,
    strict: bool = True,
    params: dict[str, Split] | None = None,
) -> Sharded:
    """Rewrite `fn` for `t` tensor-parallel ranks (and a batch cut `batch` times).

    Parameter layouts are decided during the walk, so the walk is repeated until they settle
    (a parameter first seen before the matmul that decides it: the tied embedding).
    """
    params = {name: s for name, s in (params or {}).items() if _splittable(fn, name, s, t)}
    for _ in range(4):
        sharder = Sharder(fn, t, batch, params, strict)
        result = sharder.run()
        if not sharder.new_decisions:
            return result
        params = sharder.params
    raise PassError("tensor-parallel layouts did not settle")  # pragma: no cover
