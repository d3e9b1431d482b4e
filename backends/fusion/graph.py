"""A block while its ops are grouped into kernels: ops, the kernels formed so far, their order.

The grouping never touches the IR. It keeps what the `fuse` pass's rewritten block would
look like after each kernel: a kernel is one node in the op order, placed where its last op
was, with the ops between that depend on it moved after it; its inputs are the values it
reads from outside (constants are cloned into it, not read), its outputs the values used
outside. Ops found trivially dead while grouping are dropped, as the pass's walker drops
them.

A group grows from an anchor op by taking in neighbours (producers and consumers) that a
kernel may hold (`member`), of the same phase and layer, as long as it stays convex: no path
leaves the group and comes back into it (that kernel could never run). Views are taken in to
connect chains; a producer view only when all its users are in the group.

    g = KernelGraph(block)
    group = g.grow(tanh_op, member=pointwise_or_view)
    kernel = g.collapse(group, "bias_gelu")      # kernel.ops, kernel.inputs, kernel.outputs
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from xdsl.ir import Block, Operation, SSAValue
from xdsl.transforms.dead_code_elimination import would_be_trivially_dead

from backends.fusion.kinds import is_constant, is_view
from ir import attrs
from ir.shape_ops import PermuteOp, ReshapeOp

Member = Callable[[object], bool]
Group = dict[Operation, None]  # an ordered set


@dataclass(eq=False)
class Kernel:
    """Ops that run as one kernel: `ops` in block order, read `inputs` once, write `outputs`."""

    ops: list[Operation]
    name: str
    inputs: list[SSAValue]
    outputs: list[SSAValue]
    reads: set[SSAValue] = field(default_factory=set)
    base: Kernel | None = None  # the kernel this one grew from (`KernelGraph.extend`)

    @property
    def forward(self) -> bool:
        return attrs.phase_of(self.ops[0]) == attrs.FORWARD

    @property
    def head(self) -> Operation:
        """The first op that does work (what the kernel's time is booked on)."""
        return next((op for op in self.ops if not is_view(op)), self.ops[0])


Node = Operation | Kernel


class KernelGraph:
    """The block as grouped so far (see the module docstring)."""

    def __init__(self, block: Block) -> None:
        self.block = block
        ops = list(block.ops)
        self.pos: dict[Node, float] = {op: float(i) for i, op in enumerate(ops)}
        self.next: dict[Node, Node | None] = {}
        self.prev: dict[Node, Node | None] = {}
        for i, op in enumerate(ops):
            self.prev[op] = ops[i - 1] if i else None
            self.next[op] = ops[i + 1] if i + 1 < len(ops) else None
        self.first: Node | None = ops[0] if ops else None
        self.kernel_of: dict[Operation, Kernel] = {}
        self.kernels: list[Kernel] = []
        self.dead: set[Operation] = set()
        self.dead_kernels: set[Kernel] = set()
        self.steps: list[tuple[str, Node]] = []  # ("fuse", kernel) / ("drop", node), in order

    # ---- what the rewritten block would show --------------------------------------------

    def node(self, op: Operation) -> Node:
        return self.kernel_of.get(op, op)

    def owner(self, v: SSAValue) -> Node | None:
        owner = v.owner
        return self.node(owner) if isinstance(owner, Operation) else None

    def producers(self, node: Node) -> list[Node]:
        values = node.inputs if isinstance(node, Kernel) else node.operands
        return [n for v in values if (n := self.owner(v)) is not None]

    def _users_of(self, v: SSAValue) -> Iterator[Node]:
        constant = isinstance(v.owner, Operation) and is_constant(v.owner)
        for use in v.uses:
            user = use.operation
            kernel = self.kernel_of.get(user)
            if kernel is None:
                if user not in self.dead:
                    yield user
            elif not constant and v in kernel.reads and kernel not in self.dead_kernels:
                yield kernel

    def users(self, node: Node) -> Iterator[Node]:
        values = node.outputs if isinstance(node, Kernel) else node.results
        for v in values:
            yield from self._users_of(v)

    def use_count(self, v: SSAValue) -> int:
        """Uses of `v`; a kernel reading it counts once (it is one operand of the kernel)."""
        count = 0
        seen: set[Kernel] = set()
        for user in self._users_of(v):
            if isinstance(user, Kernel):
                if user in seen:
                    continue
                seen.add(user)
            count += 1
        return count

    def order(self) -> list[Node]:
        out = []
        node = self.first
        while node is not None:
            out.append(node)
            node = self.next[node]
        return out

    def is_dead(self, node: Node) -> bool:
        """No uses and no effects (xDSL's trivially dead)."""
        if next(iter(self.users(node)), None) is not None:
            return False
        ops = node.ops if isinstance(node, Kernel) else [node]
        return all(would_be_trivially_dead(op) for op in ops)

    def erase(self, node: Node) -> None:
        self._unlink(node)
        del self.pos[node]
        if isinstance(node, Kernel):
            self.dead_kernels.add(node)
        else:
            self.dead.add(node)
        self.steps.append(("drop", node))

    # ---- growing a group ----------------------------------------------------------------

    def compatible(self, op: object, phase: str, layer: int | None) -> bool:
        """An op of the block not yet in a kernel (or a kernel); the same phase and layer
        (or none)."""
        if not isinstance(op, Operation | Kernel) or op not in self.pos:
            return False
        first = op.ops[0] if isinstance(op, Kernel) else op
        if attrs.phase_of(first) != phase:
            return False
        ops = op.ops if isinstance(op, Kernel) else [op]
        other = next((n for o in ops if (n := attrs.layer_of(o)) is not None), None)
        return layer is None or other is None or other == layer

    def grow(self, anchor: Operation, member: Member) -> Group:
        """The largest convex group around `anchor` of ops `member` accepts."""
        group: Group = {anchor: None}
        phase = attrs.phase_of(anchor)
        layer = attrs.layer_of(anchor)
        frontier: list[Operation] = [anchor]
        while frontier:
            op = frontier.pop()
            for cand in list(self._neighbours(op, group)):
                if cand in group or not (member(cand) and self.compatible(cand, phase, layer)):
                    continue
                assert isinstance(cand, Operation)
                if is_constant(cand):
                    continue  # cloned into the kernel instead
                if is_view(cand) and not self._view_fits(cand, op, group, member):
                    continue
                if self.convex([*group, cand]):
                    group[cand] = None
                    frontier.append(cand)
                    layer = layer if layer is not None else attrs.layer_of(cand)
                    frontier.extend(o for o in group if o is not cand)  # views may now fit
        return group

    def _neighbours(self, op: Operation, group: Group) -> Iterable[Node]:
        for p in self.producers(op):
            if p not in group:
                yield p
        for u in self.users(op):
            if u not in group:
                yield u

    def _view_fits(self, view: Operation, op: Operation, group: Group, member: Member) -> bool:
        """A view before the group joins when all its users are in the group; a view after
        it when it keeps the size (the kernel may write it instead of its input) or when
        all its users may join too."""
        if all(u in group for u in self.users(view)):
            return True
        if view in self.producers(op):
            return False
        return isinstance(view, ReshapeOp | PermuteOp) or all(member(u) for u in self.users(view))

    def convex(self, group: Iterable[Node]) -> bool:
        """No node outside the group both depends on the group and feeds it."""
        ops = list(group)
        tainted = set(self.tainted(ops))
        return not any(p in tainted for op in ops for p in self.producers(op))

    def tainted(self, group: Iterable[Node]) -> list[Node]:
        """Nodes between the group's first and last op that depend on the group, in order."""
        ordered = sorted(group, key=self.pos.__getitem__)
        inside = set(ordered)
        first, last = ordered[0], ordered[-1]
        out: list[Node] = []
        if first is last:
            return out
        seen: set[Node] = set()
        node = self.next[first]
        while node is not None and node is not last:
            if node not in inside and any(p in inside or p in seen for p in self.producers(node)):
                seen.add(node)
                out.append(node)
            node = self.next[node]
        return out

    # ---- forming a kernel ---------------------------------------------------------------

    def collapse(self, group: Iterable[Operation], name: str) -> Kernel:
        """Make `group` one kernel named `name`: placed where its last op was, the nodes
        between that depend on it moved after it."""
        ops = sorted(group, key=self.pos.__getitem__)
        inside = set(ops)
        last = ops[-1]
        moved = self.tainted(ops)
        inputs = _external_inputs(ops, inside, [])
        outputs: list[SSAValue] = [
            r for op in ops for r in op.results if any(u not in inside for u in self._users_of(r))
        ]
        kernel = Kernel(ops, name, inputs, outputs, set(inputs))
        self._insert_after(last, kernel)
        self.pos[kernel] = self.pos[last]
        self._move_after(kernel, moved)
        for op in ops:
            self._unlink(op)
            del self.pos[op]
            self.kernel_of[op] = kernel
        self.kernels.append(kernel)
        self.steps.append(("fuse", kernel))
        return kernel

    def extend(self, kernel: Kernel, extra: Iterable[Operation]) -> Kernel:
        """`kernel` grown by `extra` (ops after it that read it: an epilogue), under the
        same name: placed where the last of `extra` was."""
        added = sorted(extra, key=self.pos.__getitem__)
        inside: set[Node] = {kernel, *added}
        moved = self.tainted(inside)
        inputs = _external_inputs(added, set(kernel.ops) | set(added), list(kernel.inputs))
        ops = [*kernel.ops, *added]
        outputs: list[SSAValue] = [
            r for op in ops for r in op.results if any(u not in inside for u in self._users_of(r))
        ]
        grown = Kernel(ops, kernel.name, inputs, outputs, set(inputs), base=kernel)
        last = added[-1]
        self._insert_after(last, grown)
        self.pos[grown] = self.pos[last]
        self._move_after(grown, moved)
        gone: list[Node] = [kernel, *added]
        for node in gone:
            self._unlink(node)
            del self.pos[node]
        for op in ops:
            self.kernel_of[op] = grown
        self.kernels[self.kernels.index(kernel)] = grown
        self.steps.append(("fuse", grown))
        return grown

    def _move_after(self, anchor: Node, nodes: list[Node]) -> None:
        if not nodes:
            return
        nxt = self.next[anchor]
        lo = self.pos[anchor]
        hi = self.pos[nxt] if nxt is not None and nxt in self.pos else lo + 1.0
        step = (hi - lo) / (len(nodes) + 1)
        prev = anchor
        for i, node in enumerate(nodes, 1):
            self._unlink(node)
            self._insert_after(prev, node)
            self.pos[node] = lo + i * step
            prev = node

    def _unlink(self, node: Node) -> None:
        before, after = self.prev.pop(node), self.next.pop(node)
        if before is None:
            self.first = after
        else:
            self.next[before] = after
        if after is not None:
            self.prev[after] = before

    def _insert_after(self, anchor: Node, node: Node) -> None:
        after = self.next[anchor]
        self.prev[node], self.next[node] = anchor, after
        self.next[anchor] = node
        if after is not None:
            self.prev[after] = node


def _external_inputs(
    ops: Iterable[Operation], inside: set[Operation], inputs: list[SSAValue]
) -> list[SSAValue]:
    """`inputs` extended, in order and once each, by the operands of `ops` that come from
    outside `inside` (constants are rebuilt inside a kernel, never inputs)."""
    for op in ops:
        for v in op.operands:
            owner = v.owner
            if isinstance(owner, Operation) and (owner in inside or is_constant(owner)):
                continue
            if v not in inputs:
                inputs.append(v)
    return inputs
