"""dynaprop: insert DynaProp's magnitude pruning (`tfm.prune`) at its sites, forward and backward.

    %h = tfm.add %mm, %b {layer = 0 : i64} : (tensor<32x256xf32>, tensor<256xf32>) -> tensor<32x256xf32>
    %a = tfm.gelu %h ...

becomes

    %h = tfm.add %mm, %b {layer = 0 : i64} : (tensor<32x256xf32>, tensor<256xf32>) -> tensor<32x256xf32>
    %hp = tfm.prune %h {dynaprop.site = "ffn_in", layer = 0 : i64, threshold = 0.06 : f64} : ...
    %a = tfm.gelu %hp ...

Sites (`ir.sparsity`): q, k, v (attention operands), scores and probs (inside attention: the
op is spelled out as matmul, mask, softmax, matmul, see `attention.py`), context (attention
result), out_proj, ffn_in, ffn_out (projection outputs, bias included). How projections are
classified is in `sites.py`; the PyTorch runtime `frontends.dynaprop` applies the same rules,
and `tandem verify MODEL -p 'dynaprop{...}'` runs it as the reference.

In a training graph the backward is changed to match: forward pruning passes the gradient
straight through; with `act-grads` the gradient of each site is pruned where the backward
reads it (the operands of dX = dY W^T, dW = X^T dY and db = sum dY; the output gradient and
dQ, dK, dV of attention); with `weight-grads` every projection's weight gradient (the dW
matmul's result) is pruned with tau-bwd.

Measured sparsity (`measured="file.json"`, from `tandem sparsity MODEL --table file.json`):
after the prunes are inserted, every matmul gets the zero fractions of its operands and of
its multiply-accumulate pairs measured on the real model (`sparsity.lhs`, `sparsity.rhs`,
`sparsity`; `backends.sparsity_table`), so a shape-only IR (meta device, fewer layers) is
costed at the measured sparsity without running it:

    %s = tfm.matmul %qp, %kp {layer = 0 : i64, sparsity = 0.163 : f64,
                              sparsity.lhs = 0.085 : f64, sparsity.rhs = 0.085 : f64, ...}

The file must have been measured with the same tau-fwd (tau-bwd when the IR has a backward)
and sites; a one-line error says which differs.

Options:
  tau-fwd: forward threshold (default 0.06); tau-bwd: backward threshold (default 1e-4);
  sites: comma-separated site names, `all` (default) or `none`;
  act-grads, weight-grads: prune activation / weight gradients (default true);
  measured: a measurement (JSON) to annotate the matmuls from (default none: no sparsity);
  mean-layers: every layer gets the mean over the measured layers (for an IR of 1-2 layers
    standing for a deeper model; default false: each layer its own, the mean where absent).
"""

from __future__ import annotations

from dataclasses import dataclass

from xdsl.context import Context
from xdsl.dialects import func
from xdsl.dialects.builtin import ModuleOp
from xdsl.ir import Block, Operation, SSAValue
from xdsl.passes import ModulePass

from backends.sparsity_table import annotate_from_table, load_table
from ir import attrs
from ir.errors import PassError, TandemError
from ir.linalg_ops import AttentionBackwardOp, AttentionOp
from ir.sparse_ops import PruneOp
from ir.sparsity import INSIDE_ATTENTION, DynaPropConfig, weight_site
from ir.types import shape
from passes.dynaprop.attention import unfuse_backward, unfuse_forward
from passes.dynaprop.emit import Emitter
from passes.dynaprop.sites import Analysis, Projection, folded_gradient, is_view, unrepeat


def _after(v: SSAValue) -> Emitter:
    """An emitter placing ops right after the definition of `v` (a block start for arguments)."""
    owner = v.owner
    if isinstance(owner, Operation):
        return Emitter(owner, after=True)
    assert isinstance(owner, Block) and owner.first_op is not None
    return Emitter(owner.first_op)


def _prune_value(v: SSAValue, tau: float, site: str, keep: set[Operation] | None = None) -> None:
    """Prune `v` right after its definition; every use except those in `keep` reads the result."""
    pruned = _after(v).prune(v, tau, site)
    skip = {pruned.owner} | (keep or set())
    v.replace_uses_with_if(pruned, lambda use: use.operation not in skip)


class _Rewriter:
    def __init__(self, fn: func.FuncOp, cfg: DynaPropConfig) -> None:
        self.fn = fn
        self.cfg = cfg
        self.grads: dict[SSAValue, SSAValue] = {}  # gradient value -> its pruned copy

    def prune_use(self, op: Operation, index: int, site: str) -> None:
        """Operand `index` of backward op `op` reads the gradient pruned with tau-bwd.

        The gradient tensor is pruned once where it is computed (a view of it, such as the
        transpose dW reads, is rebuilt on the pruned tensor), so each tensor counts once."""
        v = op.operands[index]
        if v not in self.grads:
            views: list[Operation] = []
            root = v
            while isinstance(root.owner, Operation) and is_view(root.owner):
                views.append(root.owner)
                root = root.owner.operands[0]
            if root not in self.grads:
                e = _after(root)
                e.layer, e.phase = attrs.layer_of(op), attrs.BACKWARD
                self.grads[root] = e.prune(root, self.cfg.tau_bwd, site)
            new = self.grads[root]
            if views:
                e = Emitter(new.owner, after=True)  # type: ignore[arg-type]
                for view in reversed(views):
                    clone = view.clone()
                    clone.operands[0] = new
                    new = e.put(clone)
            self.grads[v] = new
        op.operands[index] = self.grads[v]

    def projection(self, p: Projection) -> None:
        cfg = self.cfg
        if p.role in cfg.sites and p.output is not None:
            _prune_value(p.output, cfg.tau_fwd, p.role)
            if cfg.act_grads:
                for op, i in p.grad_uses:
                    self.prune_use(op, i, p.role)
        if cfg.weight_grads and p.dw is not None:
            _prune_value(p.dw.result, cfg.tau_bwd, weight_site(p.role))

    def attention(self, op: AttentionOp, bwd: AttentionBackwardOp | None) -> None:
        cfg = self.cfg
        # q, k, v: pruned where they are defined; a grouped-query key/value before its repeat
        sources: list[SSAValue] = []
        for i, site in enumerate(("q", "k", "v")):
            value, repeat = unrepeat(op.operands[i])
            sources.append(value)
            if site not in cfg.sites:
                continue
            pruned = _after(value).prune(value, cfg.tau_fwd, site)
            if repeat is not None:
                repeat.operands[0] = pruned
                continue
            op.operands[i] = pruned
            if bwd is not None:
                bwd.operands[1 + i] = pruned
        grad = bwd.grad if bwd is not None else None
        if bwd is not None and grad is not None and cfg.act_grads and "context" in cfg.sites:
            grad = Emitter(bwd).prune(grad, cfg.tau_bwd, "context")
        if any(s in cfg.sites for s in INSIDE_ATTENTION):
            grads = self.unfused(op, bwd, grad)
        else:
            if bwd is not None and grad is not None:
                bwd.operands[0] = grad
            if "context" in cfg.sites:
                _prune_value(op.result, cfg.tau_fwd, "context", {bwd} if bwd is not None else None)
            grads = list(bwd.results) if bwd is not None else []
        if grads and cfg.act_grads:
            self.attention_grads(grads, sources)

    def unfused(
        self, op: AttentionOp, bwd: AttentionBackwardOp | None, grad: SSAValue | None
    ) -> list[SSAValue]:
        """Spell `op` (and its backward) out with the scores and probs sites; dQ, dK, dV."""
        fwd = unfuse_forward(op, op.q, op.k, op.v, self.cfg)
        out = fwd.out
        if "context" in self.cfg.sites:
            out = Emitter(op).prune(out, self.cfg.tau_fwd, "context")
        grads: list[SSAValue] = []
        if bwd is not None and grad is not None:
            grads = list(unfuse_backward(bwd, grad, fwd, self.cfg))
            for old, new in zip(bwd.results, grads, strict=True):
                old.replace_all_uses_with(new)
            bwd.detach()
            bwd.erase()
        op.result.replace_all_uses_with(out)
        op.detach()
        op.erase()
        return grads

    def attention_grads(self, grads: list[SSAValue], sources: list[SSAValue]) -> None:
        """Prune dQ, dK, dV (a repeated key/value's gradient once summed over its group)."""
        for g, src, site in zip(grads, sources, ("q", "k", "v"), strict=True):
            if site not in self.cfg.sites:
                continue
            if shape(g) != shape(src):
                folded = folded_gradient(g, src)
                g = folded if folded is not None else g
            _prune_value(g, self.cfg.tau_bwd, site)


def rewrite_function(fn: func.FuncOp, cfg: DynaPropConfig) -> None:
    """Insert the prune ops of `cfg` into `fn` (see the module docstring)."""
    if any(isinstance(op, PruneOp) for op in fn.body.block.ops):
        raise PassError(f"dynaprop: @{fn.sym_name.data} is already pruned (holds tfm.prune ops)")
    sites = Analysis(fn).run()
    rw = _Rewriter(fn, cfg)
    for p in sites.projections:
        rw.projection(p)
    for op in sites.attention:
        rw.attention(op, sites.backward_of.get(op))


@dataclass(frozen=True)
class DynaPropPass(ModulePass):
    """Insert `tfm.prune` at DynaProp's sites; see the module docstring.

    Options: tau-fwd, tau-bwd, sites, act-grads, weight-grads, measured, mean-layers.
    """

    name = "dynaprop"

    tau_fwd: float | int | str = 0.06
    tau_bwd: float | int | str = 1e-4
    sites: tuple[str, ...] = ("all",)
    act_grads: bool = True
    weight_grads: bool = True
    measured: str = ""
    mean_layers: bool = False

    def config(self) -> DynaPropConfig:
        """The options, validated (a PassError names the bad one)."""
        try:
            return DynaPropConfig(
                self.tau_fwd,  # type: ignore[arg-type]  # strings ("1e-4") are parsed
                self.tau_bwd,  # type: ignore[arg-type]
                tuple(self.sites),
                bool(self.act_grads),
                bool(self.weight_grads),
            )
        except TandemError as exc:
            raise PassError(f"dynaprop: {exc}") from None

    def apply(self, ctx: Context, op: ModuleOp) -> None:
        cfg = self.config()
        fns = [fn for fn in op.ops if isinstance(fn, func.FuncOp)]
        for fn in fns:
            rewrite_function(fn, cfg)
        if self.measured:
            self.annotate(fns, cfg)

    def annotate(self, fns: list[func.FuncOp], cfg: DynaPropConfig) -> None:
        """Write the measured sparsity of `measured` on the matmuls of `fns`."""
        backward = any(
            isinstance(o, PruneOp) and attrs.phase_of(o) == attrs.BACKWARD
            for fn in fns
            for o in fn.body.block.ops
        )
        try:
            table = load_table(self.measured)
            table.check(cfg.tau_fwd, cfg.tau_bwd, cfg.sites, backward)
            for fn in fns:
                annotate_from_table(fn, table, mean_layers=bool(self.mean_layers))
        except TandemError as exc:
            raise PassError(f"dynaprop: {exc}") from None
