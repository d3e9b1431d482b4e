"""`place`: shard a training step over a cluster's GPUs (tensor, pipeline, data parallel).

    place{cluster=dgx-a100-80gb gpus=8 global-batch=8 t=2 p=2 d=2}

Options name the cluster, the number of GPUs and the global batch; any plan key given (t, p,
d, microbatch, recompute, sp, vp, zero, overlap, tp_overlap) is fixed and the others are searched
(`backends.placement.search`, the cost model with `kernels` as the fusion preset). The module
must be imported at the microbatch size: its batch is the microbatch.

The rewrite (one program for every rank):
* tensor parallelism, the Megatron way (`backends.placement.sharding`): column- then
  row-parallel matmuls, heads split, vocabulary-parallel embedding and head, `tfm.all_reduce`
  / `tfm.all_gather` / `tfm.split` over the `"tp"` group; split parameters are labelled
  `{tfm.shard = "dim/blocks"}`;
* pipeline stages: `stage = k` on every op (virtual stages with `vp > 1`), `tfm.send` /
  `tfm.recv` where a value crosses stages (`backends.placement.stages`);
* data parallelism: the loss and every gradient are averaged over the `"dp"` group
  (`tfm.all_reduce {reduce = mean}`; it runs once per iteration, on the gradients
  accumulated over the microbatches);
* the plan on the module: `tfm.plan = {t = 2, p = 2, d = 2, microbatch = 2, ...}`.

    %y = tfm.matmul %x, %w {layer = 0 : i64} : (tensor<32x64xf32>, tensor<64x256xf32>) -> tensor<32x256xf32>
    // place{... t=2 p=2 d=2}:
    %y = tfm.matmul %x, %w {layer = 0 : i64, stage = 0 : i64} : (tensor<32x64xf32>, tensor<64x128xf32>) -> tensor<32x128xf32>
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ArrayAttr, DictionaryAttr, ModuleOp
from xdsl.passes import ModulePass

from backends.placement import stages as st
from backends.placement.plan import Fixed, Plan, parse_value, plan_attr
from backends.placement.search import Request, search
from backends.placement.sharding import shard_function
from backends.placement.template import Template
from ir import attrs
from ir import comm_ops as co
from ir.errors import PassError, TandemError
from ir.types import shape


@dataclass(frozen=True)
class Place(ModulePass):
    """Shard the training step over `gpus` GPUs of `cluster`; see the module docstring.

    Options: cluster, gpus, global-batch, and the plan keys t, p, d, microbatch, recompute,
    sp, vp, zero, overlap, tp_overlap (any subset; the rest are searched), kernels (the fusion preset
    the search costs layers with: eager, fused, flash or inductor).
    """

    name = "place"

    cluster: str = "dgx-a100-80gb"
    gpus: int = 0
    global_batch: int = 0
    t: int = 0
    p: int = 0
    d: int = 0
    microbatch: int = 0
    recompute: str = ""
    sp: str = ""
    vp: int = 0
    zero: str = ""
    overlap: str = ""
    tp_overlap: str = ""
    kernels: str = "fused"

    def fixed(self) -> Fixed:
        values = {}
        for key in (
            "t",
            "p",
            "d",
            "microbatch",
            "recompute",
            "sp",
            "vp",
            "zero",
            "overlap",
            "tp_overlap",
        ):
            raw = getattr(self, key)
            if raw not in (0, ""):
                values[key] = parse_value(key, raw)
        return Fixed(**values)

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        fns = [f for f in op.ops if isinstance(f, func.FuncOp)]
        if len(fns) != 1:
            raise PassError("place: expected one function in the module")
        fn = fns[0]
        try:
            plan = self.choose(op, fn)
        except PassError:
            raise
        except TandemError as exc:
            raise PassError(f"place: {exc}") from None
        place_function(op, fn, plan, self.global_batch)

    def choose(self, module: ModuleOp, fn: func.FuncOp) -> Plan:
        if self.gpus < 1 or self.global_batch < 1:
            raise PassError("place: gpus and global-batch must be given (positive integers)")
        batch = _batch_of(fn)
        fixed = self.fixed()
        if fixed.microbatch is not None and fixed.microbatch != batch:
            raise PassError(
                f"place: microbatch={fixed.microbatch} but the model is imported with batch "
                f"{batch}; import it at the microbatch size (--batch {fixed.microbatch})"
            )
        fixed = Fixed(**{**fixed.given(), "microbatch": batch})
        request = Request(self.cluster, self.gpus, self.global_batch, fixed, self.kernels)
        template = Template.from_function(fn, batch)
        result = search(template, request, top=1, simulate=False)
        return result.plans[0].plan


def _batch_of(fn: func.FuncOp) -> int:
    entries = fn.arg_attrs.data if isinstance(fn.arg_attrs, ArrayAttr) else []
    for a, entry in zip(fn.body.block.args, entries, strict=False):
        if isinstance(entry, DictionaryAttr) and attrs.INPUT in entry.data and shape(a):
            return shape(a)[0]
    raise PassError("place: the function has no batched input")


def stage_of_layer(plan: Plan):
    """layer index -> virtual stage, from the layers per virtual stage."""
    bounds: list[int] = []
    total = 0
    for n in plan.stage_layers:
        total += n
        bounds.append(total)

    def of(layer: int) -> int:
        for i, b in enumerate(bounds):
            if layer < b:
                return i
        return len(bounds) - 1

    return of


def place_function(module: ModuleOp, fn: func.FuncOp, plan: Plan, global_batch: int) -> None:
    """Rewrite `fn` in place for `plan` and record the plan on `module`."""
    sharded = shard_function(fn, plan.t)
    new_fn = sharded.function(fn.sym_name.data)
    stages = st.assign(new_fn, stage_of_layer(plan), len(plan.stage_layers) - 1)
    if plan.d > 1:
        _average_over_data_parallel(new_fn, plan.d, stages)
    sends = st.insert_p2p(sharded.block, stages)
    module.body.block.insert_op_before(new_fn, fn)
    module.body.block.erase_op(fn)
    module.attributes[attrs.PLAN] = plan_attr(plan, global_batch, sends)


def _average_over_data_parallel(fn: func.FuncOp, d: int, stages: st.Stages) -> None:
    """The loss and every gradient averaged over the data-parallel replicas."""
    ret = fn.body.block.last_op
    assert isinstance(ret, func.ReturnOp)
    outs = []
    for v in ret.operands:
        avg = co.AllReduceOp(v, "dp", d, "mean")
        fn.body.block.insert_op_before(avg, ret)
        stages[avg] = stages.get(v.owner) if v.owner in stages else None  # type: ignore[arg-type]
        outs.append(avg.result)
    for i, v in enumerate(outs):
        ret.operands[i] = v
